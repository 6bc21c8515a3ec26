"""Evaluates a saved policy of a run and writes a video of it.

    .venv/bin/python sac_system/run.py --exp_dir logs/NAME --checkpoint latest
    .venv/bin/python sac_system/run.py --params sac_system/envs/lunar_lander_params.py \
        --exp_dir logs/NAME --config config/lunar_lander.json --num_episodes 5 \
        --checkpoint policy_checkpoint_0000500000 --seed 108

Inputs: the exp dir (relative to the repo root or absolute), whose copies of the params file
and JSON config build the eval environment (`--params` and `--config` may still be given; they
must hold what the run trained with), a checkpoint name under EXP/policies/checkpoints (or
`latest`, `all` with `--every N`, or `random` for a uniformly random policy), the number of
episodes and a seed (episode seeds derive from it: same seed, same episodes).
Outputs: one line per episode and the mean +- std on stdout; EXP/eval/<ckpt>_seed<seed>.json;
the video EXP/videos/<ckpt>_seed<seed>.mp4 (rendered headless; --no_video skips it). With
`--checkpoint all`: EXP/eval/all_seed<seed>.csv (train_step, mean, std) and .png. With
`--grid p=values` (repeatable): a robustness grid of env parameters, the same seeded episodes
in every cell, EXP/eval/robustness_<ckpt>_<p1>-x-<p2>_seed<seed>.csv and a heatmap .png.
Talks to: nothing; it runs alone.
"""

from absl import app
from absl import flags

from sac_system import constants
from sac_system import errors
from sac_system import program

flags.DEFINE_string(
    "params", None, "Params .py file defining class TrainParams (default: the one the run "
    "trained with, from the exp dir).")
flags.DEFINE_string("config", None, "JSON config (default: the run's copy, EXP/config.json).")
flags.DEFINE_string("exp_dir", None, "Experiment directory, e.g. logs/NAME.")
flags.DEFINE_string(
    "checkpoint", "latest", "Checkpoint name under EXP/policies/checkpoints, "
    "`latest`, `all` (every --every-th checkpoint: CSV and PNG, no video), or `random` "
    "(uniformly random actions on the same seeded episodes: the baseline).")
flags.DEFINE_integer("every", 1, "With --checkpoint all: evaluate every N-th checkpoint (and the "
                     "latest).", lower_bound=1)
flags.DEFINE_integer("num_episodes", 5, "Episodes to run.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed from which the episode seeds derive.", lower_bound=0)
flags.DEFINE_boolean("no_video", False, "Skip writing the mp4 of the episodes.")
flags.DEFINE_multi_string(
    "grid", None, "Robustness grid: evaluate the checkpoint on every "
    "combination of env parameter values, --num_episodes each. Repeat "
    "per parameter: --grid gravity=-11:-3:5 (low:high:count) --grid "
    "wind_power=0,10,20 --grid enable_wind=1 (one value: fixed). Writes "
    "EXP/eval/robustness_*.csv and a heatmap PNG; no video.")
flags.mark_flags_as_required(["exp_dir"])


def main(argv):
  del argv
  program.setup_process("run")
  program.import_quietly("sac_system.envs.gym_env")
  from sac_system import evaluation
  from sac_system.train_params_base import load_params
  values = flags.FLAGS
  try:
    exp_dir = evaluation.resolve_exp_dir(values.exp_dir, constants.REPO_ROOT)
    everything = values.checkpoint == "all"
    if everything and values.grid:
      raise errors.UserInputError("--grid", " ".join(values.grid), "evaluates one checkpoint; "
                                  "use it without --checkpoint all")
    params_path, config_path = evaluation.run_files(exp_dir, values.params, values.config)
    checkpoint = evaluation.resolve_checkpoint(exp_dir,
                                               "latest" if everything else values.checkpoint)
    params = load_params(params_path, config_path)
    evaluator = evaluation.CheckpointEvaluator(params, exp_dir, params_path)
    try:
      if everything:
        evaluation.evaluate_all(evaluator, values.every, values.num_episodes, values.seed)
      elif values.grid:
        evaluation.robustness_grid(evaluator, checkpoint, values.grid, values.num_episodes,
                                   values.seed)
      else:
        evaluator.evaluate(checkpoint, values.num_episodes, values.seed, not values.no_video)
    finally:
      evaluator.close()
  except errors.UserInputError as error:
    return errors.report(error)
  return 0


if __name__ == "__main__":
  app.run(main)
