"""What a run writes and whether its checkpoints can be read back (docs/design.md §8.2, §8.7).

- `footprint`: the disk space and the replay server's memory a run needs, from its
  hyperparameters and its environment's spec, checked against the exp dir's free space and the
  machine's (or the SLURM job's) memory before anything starts.
- `verify_run`: on resume, every learner checkpoint (EXP/train/checkpoints) and policy
  checkpoint (EXP/policies/checkpoints) is read back in full; one that cannot be read is moved
  aside to EXP/corrupt/<time>/ (never deleted) with a one-line warning, and the learner resumes
  from the newest good one. When learner checkpoints exist but none can be read, the run is
  refused (`--fresh` starts over) instead of training from scratch under the old run's name.

TensorFlow is imported only inside the functions that read checkpoints.
"""

import dataclasses
import glob
import itertools
import os
import re
import shutil
import time
from typing import Callable, Dict, List, Optional

from sac_system import constants
from sac_system.errors import UserInputError

CORRUPT_DIR = "corrupt"
# Checkpoints and models besides the replay data: a learner checkpoint holds the actor, two
# critics, two target critics and Adam's two moments of each trained variable.
LEARNER_CHECKPOINTS_KEPT = 3
# Reverb's cost per stored item beyond its rows' float32 bytes (its item, chunk and index
# records), in the server's memory and in a replay checkpoint; measured on Reverb 0.14 with
# items of 1 and of 32 rows (benchmarks/README.md, "Replay memory per transition"). The replay
# server's own resident memory (TensorFlow and Reverb) comes on top.
REPLAY_MEMORY_BYTES_PER_ITEM = 3_000
REPLAY_CHECKPOINT_BYTES_PER_ITEM = 60
REPLAY_SERVER_BASE_MB = 500
# Logs, metrics.jsonl and TensorBoard summaries per million gradient steps.
LOG_BYTES_PER_MILLION_STEPS = 200 * 2**20
# A run whose estimate fills more than this share of the free space gets a warning.
DISK_WARNING_SHARE = 0.8
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.index$")


@dataclasses.dataclass(frozen=True)
class Footprint:
  """What a run writes (bytes, by part) and what its replay table holds in memory."""
  replay_checkpoint: int
  learner_checkpoints: int
  policy_checkpoints: int
  logs: int
  replay_memory: int

  @property
  def disk(self) -> int:
    return self.replay_checkpoint + self.learner_checkpoints + self.policy_checkpoints + self.logs


def mlp_parameters(sizes: List[int]) -> int:
  """Weights and biases of a dense network with these layer widths (input first)."""
  return sum(a * b + b for a, b in itertools.pairwise(sizes))


def row_floats(observation_size: int, action_size: int) -> int:
  """Floats in one packed transition of the replay contract (`TransitionCodec.size` for one
  observation and one action array): step type, observation, action, next step type, reward,
  discount, next observation."""
  return 2 * observation_size + action_size + 4


def footprint(params, observation_size: int, action_size: int) -> Footprint:
  """The run's disk and replay memory from its hyperparameters and spec sizes.

  A stored transition is one float32 row of the replay contract's `TransitionCodec`: step
  types, observation, action, reward, discount, next observation (`replay_buffer.py` §3.2).
  Reverb keeps one replay checkpoint (the newest; a new one is complete before the old one
  goes), so the disk holds up to two while one is written.
  """
  row_bytes = 4 * row_floats(observation_size, action_size)
  items = -(-params.replay_capacity // params.transitions_per_item)
  rows = params.replay_capacity * row_bytes
  replay = rows + items * REPLAY_CHECKPOINT_BYTES_PER_ITEM
  actor = mlp_parameters([observation_size, *params.actor_fc_layers, 2 * action_size])
  critic = mlp_parameters([observation_size + action_size, *params.critic_joint_fc_layers, 1])
  learner = 4 * 3 * (actor + 4 * critic)  # variables, and Adam's two moments of each
  policies = (params.total_train_steps // params.policy_checkpoint_interval + 1) * 4 * actor
  logs = int(LOG_BYTES_PER_MILLION_STEPS * max(params.total_train_steps, 1) / 1e6) + 2**20
  return Footprint(replay_checkpoint=2 * replay, learner_checkpoints=LEARNER_CHECKPOINTS_KEPT *
                   (learner + 2**16), policy_checkpoints=policies + 3 * 2**20 + 3 * 4 * actor,
                   logs=logs, replay_memory=rows + items * REPLAY_MEMORY_BYTES_PER_ITEM)


def _mb(count: int) -> str:
  return f"{count / 2**20:,.0f} MB"


def check_disk(estimate: Footprint, free_bytes: int, where: str, config_path: str,
               warn: Callable[[str], None]) -> None:
  """Refuses a run whose estimated writes exceed the free space of the exp dir's file system;
  warns above DISK_WARNING_SHARE of it.

  Raises:
    UserInputError: naming the config and the keys that drive the estimate.
  """
  parts = (f"replay checkpoints {_mb(estimate.replay_checkpoint)} (replay_capacity), policy "
           f"checkpoints {_mb(estimate.policy_checkpoints)} (num_iterations, "
           f"policy_checkpoint_interval), learner checkpoints "
           f"{_mb(estimate.learner_checkpoints)}, logs {_mb(estimate.logs)}")
  if estimate.disk > free_bytes:
    raise UserInputError(
        config_path, "hyperparameters.replay_capacity", f"the run would write about "
        f"{_mb(estimate.disk)} ({parts}) but {where} has {_mb(free_bytes)} free: lower "
        "replay_capacity, or put SAC_LOGS_DIR on a larger disk")
  if estimate.disk > DISK_WARNING_SHARE * free_bytes:
    warn(f"warning: {config_path}: the run will write about {_mb(estimate.disk)} ({parts}), "
         f"{100 * estimate.disk / free_bytes:.0f} % of the {_mb(free_bytes)} free on {where}")


def memory_limit_mb(meminfo_path: str = "/proc/meminfo") -> tuple:
  """(MB, what it is): the SLURM job's memory when it has a limit, else the machine's."""
  value = os.environ.get("SLURM_MEM_PER_NODE", "")
  if value.isdigit() and int(value) > 0:
    return int(value), "the SLURM job's --mem"
  with open(meminfo_path) as meminfo:
    total = next(line for line in meminfo if line.startswith("MemTotal")).split()[1]
  return int(total) // 1024, "this machine"


def check_replay_memory(estimate: Footprint, config_path: str, other_programs: int, program_mb: int,
                        limit: Optional[tuple] = None) -> None:
  """Refuses a replay table that cannot fit beside the run's programs in memory.

  Raises:
    UserInputError: naming hyperparameters.replay_capacity.
  """
  limit_mb, what = limit or memory_limit_mb()
  needed_mb = (estimate.replay_memory / 2**20 + REPLAY_SERVER_BASE_MB + other_programs * program_mb)
  if needed_mb > limit_mb:
    raise UserInputError(
        config_path, "hyperparameters.replay_capacity", f"a full replay table holds about "
        f"{_mb(estimate.replay_memory)}; with the replay server and {other_programs} other "
        f"program(s) the run needs about {needed_mb:,.0f} MB but {what} has {limit_mb:,} MB: "
        "lower replay_capacity")


# ----- reading checkpoints back ---------------------------------------------------------------
def unreadable(prefix: str) -> Optional[str]:
  """Why the TensorFlow checkpoint at `prefix` cannot be read in full, or None: every tensor
  is read (a truncated or overwritten data file fails its checksum or its size)."""
  import tensorflow as tf
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except Exception as error:  # noqa: BLE001  TF raises several types for a damaged file
    return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
  return None


def move_aside(paths: List[str], exp_dir: str, stamp: str) -> str:
  """Moves `paths` (keeping their place under `exp_dir`) to EXP/corrupt/<stamp>/; returns the
  folder."""
  target = os.path.join(exp_dir, CORRUPT_DIR, stamp)
  for path in paths:
    destination = os.path.join(target, os.path.relpath(path, exp_dir))
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.move(path, destination)
  return target


def learner_checkpoint_steps(directory: str) -> List[int]:
  """The steps of the learner checkpoints in `directory` (those with an index file), newest
  first."""
  names = os.listdir(directory) if os.path.isdir(directory) else []
  return sorted((int(m.group(1)) for m in map(_CHECKPOINT.match, names) if m), reverse=True)


def verify_run(exp_dir: str, warn: Callable[[str], None]) -> Dict[str, List[str]]:
  """Reads back every learner and policy checkpoint of a run being resumed; moves the ones that
  cannot be read (and a learner's unfinished `_temp` writes) to EXP/corrupt/<time>/ with one
  warning line each, and points the learner's state file at the newest good checkpoint.

  Returns:
    {"learner": [...], "policy": [...]}: the paths moved aside.

  Raises:
    UserInputError: when learner checkpoints exist but none can be read.
  """
  stamp = time.strftime("%Y%m%d-%H%M%S")
  moved: Dict[str, List[str]] = {"learner": [], "policy": []}
  directory = os.path.join(exp_dir, constants.TRAIN_DIR, constants.LEARNER_CHECKPOINTS_DIR)
  unfinished = glob.glob(os.path.join(directory, "ckpt-*_temp*"))
  if unfinished:
    target = move_aside(unfinished, exp_dir, stamp)
    moved["learner"] += unfinished
    warn(f"warning: {directory}: an unfinished learner checkpoint write "
         f"({os.path.basename(unfinished[0])}) moved aside to {target}")
  steps = learner_checkpoint_steps(directory)
  prefixes = [os.path.join(directory, f"ckpt-{step}") for step in steps]
  problems = {prefix: unreadable(prefix) for prefix in prefixes}
  good = [prefix for prefix in prefixes if problems[prefix] is None]
  for prefix in prefixes:
    if problems[prefix] is None:
      continue
    paths = glob.glob(prefix + ".*")
    target = move_aside(paths, exp_dir, stamp)
    moved["learner"] += paths
    warn(f"warning: {prefix}: the learner checkpoint cannot be read ({problems[prefix]}); "
         f"moved aside to {target}"
         + (f", resuming from ckpt-{learner_step_of(good[0])}" if good else ""))
  if steps and not good:
    raise UserInputError(
        directory, "", f"none of the {len(steps)} learner checkpoint(s) can be read (moved "
        f"aside to {os.path.join(exp_dir, CORRUPT_DIR, stamp)}); add --fresh to start over "
        "(the old run is moved aside), or put readable checkpoints back")
  if moved["learner"] and good:
    # The state file lists the good ones with their times, so that tf's CheckpointManager
    # keeps pruning them to the newest LEARNER_CHECKPOINTS_KEPT (it never deletes a listed
    # checkpoint without a time).
    import tensorflow as tf
    oldest_first = sorted(good, key=learner_step_of)
    times = [os.path.getmtime(prefix + ".index") for prefix in oldest_first]
    tf.compat.v1.train.update_checkpoint_state(directory, oldest_first[-1],
                                               all_model_checkpoint_paths=oldest_first,
                                               all_model_checkpoint_timestamps=times,
                                               last_preserved_timestamp=min(times) - 1.0)
  policies = os.path.join(exp_dir, constants.POLICIES_DIR, constants.POLICY_CHECKPOINTS_DIR)
  for name in sorted(os.listdir(policies)) if os.path.isdir(policies) else []:
    path = os.path.join(policies, name)
    if name.startswith("."):  # a write the learner did not finish (renamed into place when done)
      why: Optional[str] = "an unfinished write"
    else:
      why = unreadable(os.path.join(path, "variables", "variables"))
    if why is not None:
      target = move_aside([path], exp_dir, stamp)
      moved["policy"].append(path)
      warn(f"warning: {path}: the policy checkpoint cannot be read ({why}); moved aside to "
           f"{target}")
  return moved


def set_aside_unfinished(exp_dir: str, warn: Callable[[str], None]) -> List[str]:
  """What a learner checkpoint write cut short leaves (a full disk, a kill), for the learner's
  start: a `ckpt-N_temp` folder, never restorable, is deleted (it holds the space the write
  took); a `ckpt-N` newer than the newest one the state file lists that cannot be read (its
  index merged only in part) is moved aside. The checkpoints the state file lists are left.

  Returns:
    The paths deleted or moved.
  """
  import tensorflow as tf
  directory = os.path.join(exp_dir, constants.TRAIN_DIR, constants.LEARNER_CHECKPOINTS_DIR)
  done = []
  for unfinished in glob.glob(os.path.join(directory, "ckpt-*_temp*")):
    warn(f"removing an unfinished learner checkpoint write: {unfinished}")
    shutil.rmtree(unfinished, ignore_errors=True)
    done.append(unfinished)
  latest = tf.train.latest_checkpoint(directory)
  newest = learner_step_of(latest) if latest else -1
  for step in learner_checkpoint_steps(directory):
    prefix = os.path.join(directory, f"ckpt-{step}")
    if step > newest and unreadable(prefix) is not None:
      paths = glob.glob(prefix + ".*")
      target = move_aside(paths, exp_dir, time.strftime("%Y%m%d-%H%M%S"))
      warn(f"an unfinished learner checkpoint {prefix} (newer than the newest complete one) "
           f"moved aside to {target}")
      done += paths
  return done


def learner_step_of(prefix: str) -> int:
  return int(prefix.rsplit("-", 1)[1])
