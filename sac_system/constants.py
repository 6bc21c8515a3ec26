"""Names shared by every program of a run: Reverb tables, variable keys, exp-dir layout.

Defined once here and imported everywhere (the launcher, the three programs, run.py, the
scripts and the tests), so that a rename cannot leave one program looking for a table or
folder another one no longer writes. docs/design.md §7 describes the exp dir. Pure module.
"""

import os

# The repository root: relative paths in variables files, README commands and run.py's
# --exp_dir are taken from here.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Reverb tables. The names match tf-agents' defaults (`reverb_replay_buffer.DEFAULT_TABLE`,
# `reverb_variable_container.DEFAULT_TABLE`) so tf-agents helpers work without arguments.
REPLAY_TABLE = "uniform_table"
VARIABLE_TABLE = "variables"

# Keys of the nest pushed to VARIABLE_TABLE (tf-agents `reverb_variable_container` keys).
POLICY_KEY = "policy_variables"
TRAIN_STEP_KEY = "train_step"

# Exp-dir layout. The learner's checkpoint and policy folders are tf-agents' own names
# (`learner.TRAIN_DIR`, `learner.POLICY_SAVED_MODEL_DIR`, `policy_saver`'s policy names).
REPLAY_BUFFER_DIR = "replay_buffer"
LEGACY_REPLAY_BUFFER_DIR = "reverb"  # its name before; replay_buffer.checkpoint_dir moves it
TRAIN_DIR = "train"
LEARNER_CHECKPOINTS_DIR = "checkpoints"
POLICIES_DIR = "policies"
GREEDY_POLICY_DIR = "greedy_policy"
POLICY_CHECKPOINTS_DIR = "checkpoints"
POLICY_CHECKPOINT_FORMAT = "policy_checkpoint_%010d"
SUMMARIES_DIR = "summaries"
LOGS_DIR = "logs"
VIDEOS_DIR = "videos"
EVAL_DIR = "eval"
METRICS_FILE = "metrics.jsonl"
CONFIG_COPY = "config.json"
PARAMS_COPY = "params.py"
VARIABLES_COPY = "variables.sh"
CPU_PLAN_FILE = "cpu_plan.json"
RUN_INFO_FILE = "run_info.json"
TRAINING_PLOT = "training.png"

# Exit code of a learner or worker that gave up on an unresponsive replay buffer
# (hyperparameter replay_server_timeout_seconds): the launcher stops the run instead of
# restarting the program.
EXIT_REPLAY_SERVER_GONE = 3
# Exit code of a program whose write met a full disk (ENOSPC) or quota (EDQUOT): its last
# complete checkpoint is kept; the launcher waits for free space, then restarts it
# (docs/design.md §8.7).
EXIT_DISK_FULL = 4

# Most gradient steps the learner runs in one tf.function call. An iteration of more
# train_steps_per_iteration runs as several calls, so the schedule (iterations) and this
# performance setting stay apart; longer calls gain little once per-call overhead is amortized.
TRAIN_STEPS_PER_CALL = 100

# Program names, as used for log files (`logs/<program>.log`), the CPU plan and `source` in
# metrics.jsonl.
REPLAY_PROGRAM = "replay_buffer"
LEARNER_PROGRAM = "learner"
LAUNCHER_SOURCE = "launcher"
_WORKER_PREFIX = "worker_"


def worker_program(worker_id: int) -> str:
  """Name of worker `worker_id` in logs, summaries and metrics.jsonl."""
  return f"{_WORKER_PREFIX}{worker_id}"


def is_worker_program(name: str) -> bool:
  """Whether `name` (a program name or a metrics.jsonl `source`) is a worker's."""
  return str(name).startswith(_WORKER_PREFIX)
