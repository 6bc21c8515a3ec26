"""Evaluating saved policies: what run.py does (load, run seeded episodes, write results).

A policy checkpoint `EXP/policies/checkpoints/policy_checkpoint_%010d` holds the actor's
variables at that train_step; it is loaded into the greedy SavedModel `EXP/policies/
greedy_policy` written by the learner. The environment is the params' eval environment
(`env_ctor()` with `eval_env_args_kwargs()`), so a run's own config decides the physics.
Nothing here talks to the replay buffer.
"""

import itertools
import json
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from sac_system import constants
from sac_system import files
from sac_system import seeds
from sac_system.episodes import run_episodes
from sac_system.episodes import summarize_episodes
from sac_system.errors import UserInputError
from sac_system.train_params_base import TrainParamsBase

# `--checkpoint random`: a uniformly random policy on the same seeded episodes, the baseline.
RANDOM = "random"
CHECKPOINT_PATTERN = re.compile(r"^policy_checkpoint_(\d{10})$")


def list_checkpoints(exp_dir: str) -> List[str]:
  """Policy checkpoint names in EXP/policies/checkpoints, oldest first."""
  directory = os.path.join(exp_dir, constants.POLICIES_DIR, constants.POLICY_CHECKPOINTS_DIR)
  if not os.path.isdir(directory):
    return []
  return sorted(name for name in os.listdir(directory) if CHECKPOINT_PATTERN.match(name))


def resolve_checkpoint(exp_dir: str, name: str) -> str:
  """Checks `name` (or "latest") against the run's checkpoints; returns the checkpoint name.

  Raises:
    UserInputError: for a missing exp dir or an unknown checkpoint (listing the ones there).
  """
  if not os.path.isdir(exp_dir):
    raise UserInputError("--exp_dir", exp_dir, "no such experiment directory")
  if name == RANDOM:
    return name
  names = list_checkpoints(exp_dir)
  if not names:
    raise UserInputError(
        "--exp_dir", exp_dir, "has no policy checkpoints yet (expected "
        f"{constants.POLICIES_DIR}/{constants.POLICY_CHECKPOINTS_DIR}/"
        "policy_checkpoint_*)")
  if name == "latest":
    return names[-1]
  if name not in names:
    shown = ", ".join(names[-5:]) + (f" (and {len(names) - 5} older)" if len(names) > 5 else "")
    raise UserInputError(
        "--checkpoint", name, f"no such checkpoint in {exp_dir}; there are: "
        f"{shown}, 'latest', or 'random'")
  return name


def train_step_of(checkpoint: str) -> Optional[int]:
  """The train_step a checkpoint was saved at; None for RANDOM."""
  match = CHECKPOINT_PATTERN.match(checkpoint)
  return int(match.group(1)) if match else None


def load_greedy_policy(exp_dir: str, checkpoint: str):
  """The greedy SavedModel policy with the checkpoint's variables, as a py policy."""
  from tf_agents.policies import py_tf_eager_policy
  policies = os.path.join(exp_dir, constants.POLICIES_DIR)
  policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
      os.path.join(policies, constants.GREEDY_POLICY_DIR), load_specs_from_pbtxt=True)
  policy.update_from_checkpoint(os.path.join(policies, constants.POLICY_CHECKPOINTS_DIR,
                                             checkpoint))
  return policy


def check_specs(policy, env, params_path: str) -> None:
  """Raises UserInputError when the env's observations/actions do not fit the saved policy."""
  from tf_agents.specs import tensor_spec
  pairs = (("observation", policy.time_step_spec.observation, env.observation_spec()),
           ("action", policy.action_spec, env.action_spec()))
  for what, saved, built in pairs:
    saved_spec = tensor_spec.from_spec(saved)
    built_spec = tensor_spec.from_spec(built)
    if (saved_spec.shape != built_spec.shape) or (saved_spec.dtype != built_spec.dtype):
      raise UserInputError(
          params_path, "TrainParams.env_ctor", f"the environment's {what} spec {built_spec.shape} "
          f"{built_spec.dtype.name} does not match the saved policy's "
          f"{saved_spec.shape} {saved_spec.dtype.name}: wrong --params/--config "
          "for this exp dir?")


def write_video(frames: Sequence[np.ndarray], path: str, fps: int) -> None:
  """Writes frames to an mp4 (H.264, via the ffmpeg binary that imageio-ffmpeg ships),
  atomically: a crash mid-write never leaves a truncated video in place."""
  import imageio
  with files.atomic_path(path) as temporary, imageio.get_writer(temporary, fps=fps, codec="libx264",
                                                                macro_block_size=2,
                                                                ffmpeg_log_level="error") as writer:
    for frame in frames:
      writer.append_data(frame)


def write_csv(path: str, header: str, lines: Sequence[str]) -> None:
  """Writes a CSV atomically, so a crash never leaves half a table."""
  files.write_text(path, "\n".join([header, *lines]) + "\n")


class CheckpointEvaluator:
  """Runs seeded greedy episodes of a run's policy checkpoints on the params' eval env.

  The greedy SavedModel is loaded once; each checkpoint then only updates its variables.
  """

  def __init__(self, params: TrainParamsBase, exp_dir: str, params_path: str):
    self.exp_dir = exp_dir
    self.params_path = params_path
    self.make_env = params.make_eval_env
    self.env = params.make_eval_env()
    self.saved_policy = None  # the greedy SavedModel, loaded once
    self.numpy_policy = None  # its actor in numpy, when it matches

  @property
  def policy(self):
    """What acts: the numpy copy of the actor when it matches the SavedModel, else the
    SavedModel (None before the first load)."""
    return self.numpy_policy or self.saved_policy

  def load(self, checkpoint: str) -> None:
    """Loads `checkpoint`'s variables (and, the first time, the SavedModel; specs checked).

    Episodes are then acted by the numpy copy of the actor (`numpy_policy`), several times
    faster per step than the SavedModel's TensorFlow call, when it gives the SavedModel's
    greedy actions; otherwise (another kind of actor) by the SavedModel itself.
    """
    if self.saved_policy is None:
      self.saved_policy = load_greedy_policy(self.exp_dir, checkpoint)
      check_specs(self.saved_policy, self.env, self.params_path)
      from sac_system.numpy_policy import numpy_greedy_policy_of
      self.numpy_policy = numpy_greedy_policy_of(self.saved_policy, self.env)
    else:
      self.saved_policy.update_from_checkpoint(
          os.path.join(self.exp_dir, constants.POLICIES_DIR, constants.POLICY_CHECKPOINTS_DIR,
                       checkpoint))
    if self.numpy_policy is not None:
      self.numpy_policy.refresh()

  def policy_for(self, checkpoint: str, seed: int):
    """The greedy policy of `checkpoint`; for RANDOM, uniformly random actions seeded from
    `seed`."""
    if checkpoint == RANDOM:
      from tf_agents.policies import random_py_policy
      return random_py_policy.RandomPyPolicy(self.env.time_step_spec(), self.env.action_spec(),
                                             seed=seeds.run_py_random_policy_seed(seed))
    self.load(checkpoint)
    return self.policy

  def evaluate(self, checkpoint: str, num_episodes: int, seed: int, video: bool = False,
               printer=print) -> Dict:
    """Runs `num_episodes` episodes and writes EXP/eval/<ckpt>_seed<seed>.json (and the video
    EXP/videos/<ckpt>_seed<seed>.mp4 when `video`). Returns the results dict."""
    policy = self.policy_for(checkpoint, seed)
    frames: List[np.ndarray] = []
    on_step = None
    from sac_system import env_contract
    for line in env_contract.fallback_warnings(self.env):
      printer(f"warning: {line}")
    if video and not env_contract.implements(self.env, "render"):
      printer("no video: the environment does not implement render() (an RGB frame)")
      video = False
    if video:
      self.env.enable_rendering()
      # An env whose frames are slow to render (Minitaur) films every k-th step only, and
      # its render_fps says how fast those frames play.
      stride = int(getattr(self.env, "video_frame_stride", 1))
      steps = itertools.count()

      def on_step(_time_step):
        if next(steps) % stride == 0:
          frames.append(np.asarray(self.env.render()))

    episode_seeds = seeds.run_py_episode_seeds(seed, num_episodes)
    results = []
    for index, episode_seed in enumerate(episode_seeds):
      episode, = run_episodes(self.env, policy, [episode_seed], on_step=on_step)
      results.append(episode)
      printer(f"episode {index + 1}/{num_episodes}: return {episode.episode_return:9.2f}  "
              f"length {episode.length}" + "".join(f"  {key} {value:.3f}"
                                                   for key, value in episode.metrics.items()))
    summary = summarize_episodes(results, "eval")
    printer(f"mean return {summary['eval/average_return']:.2f} +- "
            f"{summary['eval/return_std']:.2f} over {num_episodes} episodes ({checkpoint}, "
            f"seed {seed})")
    name = f"{checkpoint}_seed{seed}"
    output = {
        "checkpoint": checkpoint,
        "train_step": train_step_of(checkpoint),
        "seed": seed,
        "episode_seeds": episode_seeds,
        "returns": [episode.episode_return for episode in results],
        "lengths": [episode.length for episode in results],
        "episode_metrics": [episode.metrics for episode in results],
        **summary}
    files.write_json(os.path.join(self.exp_dir, constants.EVAL_DIR, name + ".json"), output)
    if video:
      gym_env = getattr(self.env, "gym_env", self.env)
      fps = int((getattr(gym_env, "metadata", None) or {}).get("render_fps", 30) or 30)
      path = os.path.join(self.exp_dir, constants.VIDEOS_DIR, name + ".mp4")
      write_video(frames, path, fps)
      output["video"] = path
      output["frames"] = len(frames)
      printer(f"video: {path} ({len(frames)} frames at {fps} fps)")
    return output

  def close(self) -> None:
    self.env.close()


def evaluate_all(evaluator: CheckpointEvaluator, every: int, num_episodes: int, seed: int,
                 printer=print) -> Dict[str, str]:
  """Evaluates every `every`-th checkpoint (always the latest too) and writes
  EXP/eval/all_seed<seed>.csv (train_step, checkpoint, mean, std) and a PNG of return vs
  train_step beside it. Returns their paths."""
  names = list_checkpoints(evaluator.exp_dir)
  chosen = names[::every]
  if chosen[-1] != names[-1]:
    chosen.append(names[-1])
  rows = []
  for checkpoint in chosen:
    result = evaluator.evaluate(checkpoint, num_episodes, seed, printer=lambda _line: None)
    rows.append((result["train_step"], checkpoint, result["eval/average_return"],
                 result["eval/return_std"]))
    printer(f"{checkpoint}: mean return {rows[-1][2]:.2f} +- {rows[-1][3]:.2f} over "
            f"{num_episodes} episodes")
  base = os.path.join(evaluator.exp_dir, constants.EVAL_DIR, f"all_seed{seed}")
  write_csv(base + ".csv", "train_step,checkpoint,mean_return,std_return", [
      f"{train_step},{checkpoint},{mean:.4f},{std:.4f}"
      for train_step, checkpoint, mean, std in rows])
  from sac_system import plotting
  plotting.plot_checkpoint_returns(
      rows, f"{os.path.basename(evaluator.exp_dir)}: greedy return "
      f"of each checkpoint ({num_episodes} episodes, seed {seed})", base + ".png")
  printer(f"wrote {base}.csv and {base}.png")
  return {"csv": base + ".csv", "png": base + ".png"}


def resolve_exp_dir(exp_dir: str, repo_root: Optional[str] = None) -> str:
  """An exp dir given relative to the repo root (as in the README) or to the current dir."""
  if os.path.isabs(exp_dir) or os.path.isdir(exp_dir) or repo_root is None:
    return os.path.abspath(exp_dir)
  return os.path.join(repo_root, exp_dir)


def run_files(exp_dir: str, params_path: Optional[str] = None,
              config_path: Optional[str] = None) -> Tuple[str, str]:
  """The params file and JSON config a run trained with, read from its exp dir.

  The launcher copies both into the exp dir (`params.py`, `config.json`) and records the
  params file's own path in `run_info.json`. That path is used while it holds what the copy
  holds, so that a params file importing modules beside it still imports them; otherwise
  the copy. `params_path` and `config_path` (run.py's `--params` and `--config`) may still
  be given: they must hold what the run trained with.

  Raises:
    UserInputError: the exp dir holds no copy and none was given, or a given file differs
      from the copy.
  """
  params_copy = os.path.join(exp_dir, constants.PARAMS_COPY)
  config_copy = os.path.join(exp_dir, constants.CONFIG_COPY)
  if params_path is None or config_path is None:
    for flag, given, copy in (("--params", params_path, params_copy), ("--config", config_path,
                                                                       config_copy)):
      if given is None and not os.path.isfile(copy):
        raise UserInputError(
            "--exp_dir", exp_dir, f"holds no {os.path.basename(copy)} (the launcher writes one "
            f"when a run starts): is it a run's exp dir? Otherwise pass {flag}")
  if (config_path is not None and os.path.isfile(config_path) and os.path.isfile(config_copy)
      and _json_of(config_path, "--config") != _json_of(config_copy, "--exp_dir")):
    raise UserInputError(
        "--config", config_path, f"differs from {config_copy}, the config this run trained "
        "with: leave --config out to use it (--grid evaluates under other env parameters)")
  if (params_path is not None and os.path.isfile(params_path) and os.path.isfile(params_copy)
      and not _same_text(params_path, params_copy, "--params")):
    raise UserInputError(
        "--params", params_path, f"differs from {params_copy}, the params this run trained "
        "with: leave --params out to use them")
  if params_path is None:
    params_path = params_copy
    original = _recorded_params_file(exp_dir)
    if original and os.path.isfile(original) and _same_text(original, params_copy, "--params"):
      params_path = original
  return params_path, config_path or config_copy


def _json_of(path: str, flag: str):
  try:
    with open(path) as json_file:
      return json.load(json_file)
  except (OSError, ValueError) as error:
    raise UserInputError(flag, path, f"expected a readable JSON config ({error})") from None


def _same_text(path: str, other: str, flag: str) -> bool:
  try:
    with open(path, "rb") as first, open(other, "rb") as second:
      return first.read() == second.read()
  except OSError as error:
    raise UserInputError(flag, path, f"expected a readable params file ({error})") from None


def _recorded_params_file(exp_dir: str) -> Optional[str]:
  try:
    with open(os.path.join(exp_dir, constants.RUN_INFO_FILE)) as info_file:
      return json.load(info_file).get("params_file")
  except (OSError, ValueError, AttributeError):
    return None


# ----- robustness grid -------------------------------------------------------------------------
def parse_grid_axis(spec: str) -> Tuple[str, List[float]]:
  """Parses one `--grid` value: `name=v1,v2,...` or `name=low:high:count` (evenly spaced).

  Raises:
    UserInputError: naming the flag value and what was expected.
  """
  name, separator, values_text = spec.partition("=")
  name = name.strip()
  expected = "expected name=v1,v2,... or name=low:high:count, e.g. gravity=-11:-5:4"
  if not separator or not name or not values_text.strip():
    raise UserInputError("--grid", spec, expected)
  try:
    if ":" in values_text:
      low, high, count = values_text.split(":")
      count = int(count)
      if count < 1:
        raise ValueError
      values = [float(v) for v in np.linspace(float(low), float(high), count)]
    else:
      values = [float(v) for v in values_text.split(",")]
  except ValueError:
    raise UserInputError("--grid", spec, expected) from None
  if not all(np.isfinite(values)) or len(set(values)) != len(values):
    raise UserInputError("--grid", spec, "values must be finite and distinct")
  return name, values


def grid_cells(axes: Sequence[Tuple[str, List[float]]], state_keys: Sequence[str]) -> List[Dict]:
  """Every combination of the axes' values, as `set_state` dicts (first axis slowest).

  A cell fixes its parameters: for a gridded parameter `p` whose environment also has a
  `p_spread` key (per-episode randomization, see `envs/lunar_lander_physics.py`), the spread is set
  to 0, and gridding `enable_wind` turns `wind_probability` off.
  """
  cells = [{}]
  for name, values in axes:
    cells = [{**cell, name: value} for cell in cells for value in values]
  for cell in cells:
    for name in list(cell):
      if f"{name}_spread" in state_keys:
        cell[f"{name}_spread"] = 0.0
      if name == "enable_wind" and "wind_probability" in state_keys:
        cell["wind_probability"] = None
  return cells


def grid_file_stem(checkpoint: str, axes: Sequence[Tuple[str, List[float]]], seed: int) -> str:
  """The name (without .csv/.png) of a robustness grid's files under EXP/eval:
  robustness_<ckpt>_<p1>-x-<p2>[_<fixed>=<v>]_seed<seed>."""
  varying = "-x-".join(name for name, values in axes if len(values) > 1)
  fixed = "".join(f"_{name}={values[0]:g}" for name, values in axes if len(values) == 1)
  return f"robustness_{checkpoint}_{varying}{fixed}_seed{seed}"


def check_grid(axis_specs: Sequence[str], env, make_env=None):
  """Parses and checks `--grid` values against an environment: each parameter once, one or
  two with several values, every cell a state the env accepts (its validate_state, else
  set_state on a throwaway env from `make_env`: `env_contract.check_states`).

  Returns:
    (axes, the varying axes, the cells as set_state dicts).

  Raises:
    UserInputError: naming --grid.
  """
  axes = [parse_grid_axis(spec) for spec in axis_specs]
  names = [name for name, _ in axes]
  if len(set(names)) != len(names):
    raise UserInputError("--grid", ",".join(names), "each parameter may appear once")
  varying = [(name, values) for name, values in axes if len(values) > 1]
  if not 1 <= len(varying) <= 2:
    raise UserInputError(
        "--grid", " ".join(axis_specs), "expected one or two parameters with "
        "several values (others may be fixed with a single value)")
  cells = grid_cells(axes, env.state_keys())
  from sac_system import env_contract
  env_contract.check_states(env, make_env, [(",".join(names), cell) for cell in cells], "--grid",
                            "--params")
  return axes, varying, cells


def robustness_grid(evaluator: CheckpointEvaluator, checkpoint: str, axis_specs: Sequence[str],
                    num_episodes: int, seed: int, printer=print) -> Dict[str, str]:
  """Evaluates one checkpoint on every cell of a grid of environment parameters.

  Each cell runs the same `num_episodes` seeded episodes (episode seeds from `seed`), so cells
  differ only by their physics. Writes EXP/eval/robustness_<ckpt>_<p1>-x-<p2>[_<fixed>=<v>]
  _seed<seed>.csv (one
  row per cell: the axis values, mean/std/min/max return, mean episode length) and a PNG: a
  heatmap of the mean return for two axes with several values, a line for one.

  Raises:
    UserInputError: for a bad axis, a parameter the env does not accept, or more than two
      axes with several values.
  """
  env = evaluator.env
  axes, varying, cells = check_grid(axis_specs, env, evaluator.make_env)
  names = [name for name, _ in axes]
  policy = evaluator.policy_for(checkpoint, seed)
  episode_seeds = seeds.run_py_episode_seeds(seed, num_episodes)
  rows = []
  for index, cell in enumerate(cells):
    env.set_state(cell)
    summary = summarize_episodes(run_episodes(env, policy, episode_seeds), "eval")
    rows.append([float(cell[name]) for name in names] + [
        summary["eval/average_return"], summary["eval/return_std"], summary["eval/min_return"],
        summary["eval/max_return"], summary["eval/average_episode_length"]])
    printer(f"cell {index + 1}/{len(cells)} " + " ".join(f"{name}={cell[name]:g}" for name in names)
            + f": mean return {rows[-1][len(names)]:8.2f} +- {rows[-1][len(names) + 1]:.2f}")
  base = os.path.join(evaluator.exp_dir, constants.EVAL_DIR, grid_file_stem(checkpoint, axes, seed))
  write_csv(base + ".csv", ",".join(names) + ",mean_return,std_return,min_return,max_return,"
            "mean_length", [",".join(f"{value:.6g}" for value in row) for row in rows])
  from sac_system import plotting
  fixed = ", ".join(f"{name}={values[0]:g}" for name, values in axes if len(values) == 1)
  title = (f"{os.path.basename(evaluator.exp_dir)} {checkpoint}: mean greedy return over "
           f"{num_episodes} episodes (seed {seed})" + (f"\n{fixed}" if fixed else ""))
  columns = {name: np.array([row[i] for row in rows]) for i, name in enumerate(names)}
  means = np.array([row[len(names)] for row in rows])
  plotting.plot_grid([(name, values, columns[name]) for name, values in varying], means, title,
                     base + ".png")
  printer(f"wrote {base}.csv and {base}.png")
  return {"csv": base + ".csv", "png": base + ".png"}
