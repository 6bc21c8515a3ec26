"""Shared test helpers: the repo root, tiny configs, free ports."""

import json
import os
import socket
import sys

import pytest

from sac_system.constants import REPO_ROOT as REPO

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (8, 8) networks, batch 8, a few hundred steps: every part runs for real in seconds.
TINY_HYPERPARAMETERS = {
    "actor_fc_layers": [8, 8],
    "critic_joint_fc_layers": [8, 8],
    "batch_size": 8,
    "min_size_to_sample": 40,
    "samples_per_insert": 8.0,
    "rate_limiter_slack_items": 40,
    "replay_capacity": 10000,
    "train_steps_per_iteration": 10,
    "num_iterations": 6,
    "collect_steps_per_iteration": 20,
    "eval_interval": 2,
    "eval_episodes": 2,
    "policy_checkpoint_interval": 20,
    "learner_checkpoint_interval": 20,
    "summary_interval": 10}

# The curriculum example of the original system's README (Minitaur's payload and feet friction,
# by learner iteration), shipped verbatim in config/minitaur.json.
README_CURRICULUM = {
    "mass": {
        "iters": [0, 20000, 30000, 40000, 50000],
        "range": [0.0, 10.0]},
    "friction": {
        "iters": [50000, 60000, 70000, 90000, 120000],
        "range": [0.1, 0.5]}}


def write_config(directory, hyperparameters=None, **extra):
  """Writes a generic-gym config for Pendulum-v1 (50-step episodes) and returns its path."""
  config = {
      "env_id": "Pendulum-v1",
      "max_episode_steps": 50,
      "hyperparameters": {
          **TINY_HYPERPARAMETERS,
          **(hyperparameters or {})},
      **extra}
  path = os.path.join(str(directory), "config.json")
  with open(path, "w") as config_file:
    json.dump(config, config_file)
  return path


def write_variables(tmp_path, config, workers=1, name="run", extra="",
                    params="sac_system/envs/gym_params.py", seed=3, logs=None):
  """Writes tmp_path/vars.sh (generic gym params by default); the exp dir is
  `logs`/name, tmp_path/logs/name unless given."""
  path = tmp_path / "vars.sh"
  path.write_text(f"""\
SAC_PARAMS={params}
SAC_CONFIG={config}
SAC_EXP_NAME={name}
SAC_LOGS_DIR={logs or f"{tmp_path}/logs"}
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=1
SAC_NUM_COLLECT_WORKERS={workers}
SAC_COLLECT_WORKER_CPUS=1
SAC_SEED={seed}
{extra}""")
  return str(path)


def learner_step(exp_dir) -> int:
  """The learner's latest reported train_step in EXP/metrics.jsonl (0 before its first)."""
  from sac_system.metrics import read_records
  rows = read_records(exp_dir, "learner")
  return rows[-1]["train_step"] if rows else 0


def wait_for(predicate, timeout, what):
  """Polls `predicate()` every second (the programs' own bounded wait); TimeoutError naming
  `what` after `timeout` s."""
  from sac_system import deadlines
  deadlines.wait_for(what, predicate, timeout, logger=None, poll_s=1.0)


def free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


@pytest.fixture
def repo():
  return REPO


class FakeVariables:
  """Stands in for the variable table: each pull advances train_step along `steps`."""

  def __init__(self, steps):
    self.steps = list(steps)
    self.pulls = 0

  def ready(self):
    return True

  def pull(self):
    step = self.steps[min(self.pulls, len(self.steps) - 1)]
    self.pulls += 1
    return step


class RecordingWriter:
  """Stands in for the replay writer: keeps the items a worker writes."""

  def __init__(self):
    self.items = []

  def __call__(self, rows):
    self.items.append(rows)

  def wait_until_written(self, timeout_ms):
    del timeout_ms

  def close(self):
    self.closed = True
