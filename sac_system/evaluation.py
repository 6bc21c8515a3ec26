"""Evaluating saved policies: what run.py does (load, run seeded episodes, write results).

A policy checkpoint `EXP/policies/checkpoints/policy_checkpoint_%010d` holds the actor's
variables at that train_step; it is loaded into the greedy SavedModel `EXP/policies/
greedy_policy` written by the learner. The environment is the params' eval environment
(`env_ctor()` with `eval_env_args_kwargs()`), so a run's own config decides the physics.
"""

import json
import os
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from sac_system import constants
from sac_system.errors import UserInputError

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
  names = list_checkpoints(exp_dir)
  if not names:
    raise UserInputError("--exp_dir", exp_dir, "has no policy checkpoints yet (expected "
                         f"{constants.POLICIES_DIR}/{constants.POLICY_CHECKPOINTS_DIR}/"
                         "policy_checkpoint_*)")
  if name == "latest":
    return names[-1]
  if name not in names:
    shown = ", ".join(names[-5:]) + (f" (and {len(names) - 5} older)" if len(names) > 5 else "")
    raise UserInputError("--checkpoint", name, f"no such checkpoint in {exp_dir}; there are: "
                         f"{shown}, or 'latest'")
  return name


def train_step_of(checkpoint: str) -> int:
  return int(CHECKPOINT_PATTERN.match(checkpoint).group(1))


def load_greedy_policy(exp_dir: str, checkpoint: str):
  """The greedy SavedModel policy with the checkpoint's variables, as a py policy."""
  from tf_agents.policies import py_tf_eager_policy  # pylint: disable=import-outside-toplevel
  policies = os.path.join(exp_dir, constants.POLICIES_DIR)
  policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
      os.path.join(policies, "greedy_policy"), load_specs_from_pbtxt=True)
  policy.update_from_checkpoint(
      os.path.join(policies, constants.POLICY_CHECKPOINTS_DIR, checkpoint))
  return policy


def check_specs(policy, env, params_path: str) -> None:
  """Raises UserInputError when the env's observations/actions do not fit the saved policy."""
  from tf_agents.specs import tensor_spec  # pylint: disable=import-outside-toplevel
  pairs = (("observation", policy.time_step_spec.observation, env.observation_spec()),
           ("action", policy.action_spec, env.action_spec()))
  for what, saved, built in pairs:
    saved_spec = tensor_spec.from_spec(saved)
    built_spec = tensor_spec.from_spec(built)
    if (saved_spec.shape != built_spec.shape) or (saved_spec.dtype != built_spec.dtype):
      raise UserInputError(params_path, "TrainParams.env_ctor",
                           f"the environment's {what} spec {built_spec.shape} "
                           f"{built_spec.dtype.name} does not match the saved policy's "
                           f"{saved_spec.shape} {saved_spec.dtype.name}: wrong --params/--config "
                           "for this exp dir?")


def episode_seeds(seed: int, num_episodes: int) -> List[int]:
  """Episode seeds derived from --seed: the same --seed gives the same episodes."""
  from sac_system.runtime import derive_seed  # pylint: disable=import-outside-toplevel
  return [derive_seed(seed, 7_919, k) for k in range(num_episodes)]


def write_video(frames: Sequence[np.ndarray], path: str, fps: int) -> None:
  """Writes frames to an mp4 (H.264, via the ffmpeg binary that imageio-ffmpeg ships)."""
  import imageio  # pylint: disable=import-outside-toplevel
  os.makedirs(os.path.dirname(path), exist_ok=True)
  temporary = path + ".partial.mp4"
  with imageio.get_writer(temporary, fps=fps, codec="libx264", macro_block_size=2,
                          ffmpeg_log_level="error") as writer:
    for frame in frames:
      writer.append_data(frame)
  os.replace(temporary, path)  # a crash mid-write never leaves a truncated video in place


class CheckpointEvaluator:
  """Runs seeded greedy episodes of a run's policy checkpoints on the params' eval env.

  The greedy SavedModel is loaded once; each checkpoint then only updates its variables.
  """

  def __init__(self, params, exp_dir: str, params_path: str):
    self.exp_dir = exp_dir
    self.params_path = params_path
    self.env = params.make_eval_env()
    self.policy = None

  def load(self, checkpoint: str) -> None:
    """Loads `checkpoint`'s variables (and, the first time, the SavedModel; specs checked)."""
    if self.policy is None:
      self.policy = load_greedy_policy(self.exp_dir, checkpoint)
      check_specs(self.policy, self.env, self.params_path)
    else:
      self.policy.update_from_checkpoint(os.path.join(
          self.exp_dir, constants.POLICIES_DIR, constants.POLICY_CHECKPOINTS_DIR, checkpoint))

  def evaluate(self, checkpoint: str, num_episodes: int, seed: int, video: bool = False,
               printer=print) -> Dict:
    """Runs `num_episodes` episodes and writes EXP/eval/<ckpt>_seed<seed>.json (and the video
    EXP/videos/<ckpt>_seed<seed>.mp4 when `video`). Returns the results dict."""
    from sac_system.workers import run_episodes, summarize_episodes  # pylint: disable=import-outside-toplevel
    self.load(checkpoint)
    frames: List[np.ndarray] = []
    on_step = None
    if video:
      self.env.enable_rendering()
      on_step = lambda _time_step: frames.append(np.asarray(self.env.render()))
    seeds = episode_seeds(seed, num_episodes)
    results = []
    for index, episode_seed in enumerate(seeds):
      (episode_return, length), = run_episodes(self.env, self.policy, [episode_seed],
                                               on_step=on_step)
      results.append((episode_return, length))
      printer(f"episode {index + 1}/{num_episodes}: return {episode_return:9.2f}  "
              f"length {length}")
    summary = summarize_episodes(results, "eval")
    printer(f"mean return {summary['eval/average_return']:.2f} +- "
            f"{summary['eval/return_std']:.2f} over {num_episodes} episodes ({checkpoint}, "
            f"seed {seed})")
    name = f"{checkpoint}_seed{seed}"
    output = {"checkpoint": checkpoint, "train_step": train_step_of(checkpoint), "seed": seed,
              "episode_seeds": seeds, "returns": [r for r, _ in results],
              "lengths": [n for _, n in results], **summary}
    eval_dir = os.path.join(self.exp_dir, constants.EVAL_DIR)
    os.makedirs(eval_dir, exist_ok=True)
    with open(os.path.join(eval_dir, name + ".json"), "w") as results_file:
      json.dump(output, results_file, indent=2)
    if video:
      gym_env = getattr(self.env, "gym_env", None)
      fps = int(getattr(gym_env, "metadata", {}).get("render_fps", 30) or 30)
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
  with open(base + ".csv.partial", "w") as csv_file:
    csv_file.write("train_step,checkpoint,mean_return,std_return\n")
    for train_step, checkpoint, mean, std in rows:
      csv_file.write(f"{train_step},{checkpoint},{mean:.4f},{std:.4f}\n")
  os.replace(base + ".csv.partial", base + ".csv")
  from sac_system import plotting  # pylint: disable=import-outside-toplevel
  plotting.plot_checkpoint_returns(rows, f"{os.path.basename(evaluator.exp_dir)}: greedy return "
                                   f"of each checkpoint ({num_episodes} episodes, seed {seed})",
                                   base + ".png")
  printer(f"wrote {base}.csv and {base}.png")
  return {"csv": base + ".csv", "png": base + ".png"}


def resolve_exp_dir(exp_dir: str, repo_root: Optional[str] = None) -> str:
  """An exp dir given relative to the repo root (as in the README) or to the current dir."""
  if os.path.isabs(exp_dir) or os.path.isdir(exp_dir) or repo_root is None:
    return os.path.abspath(exp_dir)
  return os.path.join(repo_root, exp_dir)
