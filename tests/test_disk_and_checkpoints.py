"""What disks and memory do to a run (sac_system/checkpoints.py, docs/design.md §8.7): the
estimate of what a run writes and holds, checked before start; damaged learner and policy
checkpoints moved aside on resume, the newest good one used, none good refused; a real small
file system too small for the run."""

import contextlib
import json
import os
import subprocess

import pytest

from conftest import REPO
from conftest import write_config
from conftest import write_variables
from sac_system import checkpoints
from sac_system import constants
from sac_system.errors import UserInputError
from sac_system.metrics import read_records
from sac_system.train_params_base import load_params


def params_with(tmp_path, **hyperparameters):
  return load_params(os.path.join(REPO, "sac_system", "envs", "gym_params.py"),
                     write_config(tmp_path, hyperparameters))


def test_the_footprint_counts_rows_items_checkpoints_and_logs(tmp_path):
  params = params_with(tmp_path, replay_capacity=1_000_000, steps_per_item=1, num_iterations=1000,
                       train_steps_per_iteration=100, policy_checkpoint_interval=10_000,
                       actor_fc_layers=[256, 256], critic_joint_fc_layers=[256, 256])
  estimate = checkpoints.footprint(params, observation_size=3, action_size=1)
  rows = 1_000_000 * 4 * (2 * 3 + 1 + 4)  # Pendulum: 44 bytes a transition
  assert estimate.replay_memory == rows + 1_000_000 * checkpoints.REPLAY_MEMORY_BYTES_PER_ITEM
  assert estimate.replay_checkpoint == 2 * (
      rows + 1_000_000 * checkpoints.REPLAY_CHECKPOINT_BYTES_PER_ITEM)
  actor = (3 * 256 + 256) + (256 * 256 + 256) + (256 * 2 + 2)
  assert estimate.policy_checkpoints == 11 * 4 * actor + 3 * 2**20 + 3 * 4 * actor
  # items of 32 transitions cost Reverb far less per transition
  packed = checkpoints.footprint(
      params_with(tmp_path, replay_capacity=1_000_000, steps_per_item=32), 3, 1)
  assert packed.replay_memory < estimate.replay_memory / 5


def test_the_footprints_row_is_the_replay_contracts(tmp_path):
  from sac_system import replay_buffer
  params = params_with(tmp_path)  # Pendulum: 3 observations, 1 action
  codec = replay_buffer.TransitionCodec.for_agent(params, params.build_agent())
  assert checkpoints.row_floats(3, 1) == codec.size


def test_disk_and_memory_checks_name_the_keys(tmp_path):
  estimate = checkpoints.Footprint(replay_checkpoint=900 * 2**20, learner_checkpoints=2**20,
                                   policy_checkpoints=2**20, logs=2**20,
                                   replay_memory=30_000 * 2**20)
  with pytest.raises(UserInputError) as error:
    checkpoints.check_disk(estimate, 500 * 2**20, "the file system of /x", "c.json", print)
  assert str(error.value).startswith(
      "c.json: hyperparameters.replay_capacity: the run would write about 903 MB (replay "
      "checkpoints 900 MB (replay_capacity), policy checkpoints 1 MB (num_iterations, "
      "policy_checkpoint_interval)")
  assert "but the file system of /x has 500 MB free" in str(error.value)
  warnings = []
  checkpoints.check_disk(estimate, 1000 * 2**20, "/x", "c.json", warnings.append)
  assert len(warnings) == 1 and "90 % of the 1,000 MB free on /x" in warnings[0]
  checkpoints.check_disk(estimate, 10_000 * 2**20, "/x", "c.json", warnings.append)
  assert len(warnings) == 1
  with pytest.raises(UserInputError) as error:
    checkpoints.check_replay_memory(estimate, "c.json", 3, 500, limit=(24_000, "this machine"))
  assert str(error.value) == (
      "c.json: hyperparameters.replay_capacity: a full replay table holds about 30,000 MB; "
      "with the replay server and 3 other program(s) the run needs about 32,000 MB but this "
      "machine has 24,000 MB: lower replay_capacity")
  checkpoints.check_replay_memory(estimate, "c.json", 3, 500, limit=(40_000, "x"))


def test_the_slurm_jobs_memory_is_the_limit_when_it_has_one(monkeypatch):
  monkeypatch.setenv("SLURM_MEM_PER_NODE", "4000")
  assert checkpoints.memory_limit_mb() == (4000, "the SLURM job's --mem")
  monkeypatch.delenv("SLURM_MEM_PER_NODE")
  limit, what = checkpoints.memory_limit_mb()
  assert what == "this machine" and limit > 1000


def write_learner_checkpoints(directory, steps):
  import tensorflow as tf
  step = tf.Variable(0, dtype=tf.int64)
  weights = tf.Variable(tf.random.normal([64, 64]))
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, weights=weights), directory,
                                       max_to_keep=len(steps), checkpoint_name="ckpt")
  for value in steps:
    step.assign(value)
    weights.assign_add(tf.ones([64, 64]))
    manager.save(checkpoint_number=value)
  return weights


def damage(path, how):
  size = os.path.getsize(path)
  if how == "truncate":
    os.truncate(path, size // 2)
  else:
    with open(path, "r+b") as damaged:
      damaged.seek(size // 3)
      damaged.write(os.urandom(512))


def test_damaged_checkpoints_are_moved_aside_and_the_newest_good_one_is_used(tmp_path):
  import tensorflow as tf
  exp = tmp_path / "exp"
  directory = exp / "train" / "checkpoints"
  write_learner_checkpoints(str(directory), [100, 200, 300])
  (directory / "ckpt-400_temp").mkdir()  # a write cut short
  damage(directory / "ckpt-300.data-00000-of-00001", "truncate")
  damage(directory / "ckpt-200.data-00000-of-00001", "garbage")
  original = (directory / "ckpt-300.data-00000-of-00001").read_bytes()
  policies = exp / "policies" / "checkpoints"
  for name in ("policy_checkpoint_0000000100", "policy_checkpoint_0000000200"):
    tf.train.Checkpoint(
        v=tf.Variable(tf.ones([32, 32]))).write(str(policies / name / "variables" / "variables"))
  damage(policies / "policy_checkpoint_0000000200" / "variables" / "variables.data-00000-of-00001",
         "garbage")
  (policies / ".policy_checkpoint_0000000300.partial").mkdir()
  lines = []
  moved = checkpoints.verify_run(str(exp), lines.append)
  assert tf.train.latest_checkpoint(str(directory)).endswith("ckpt-100")
  assert checkpoints.learner_checkpoint_steps(str(directory)) == [100]
  assert sorted(os.listdir(policies)) == ["policy_checkpoint_0000000100"]
  assert len(moved["learner"]) == 5 and len(moved["policy"]) == 2
  assert len(lines) == 5 and all(line.startswith("warning: ") for line in lines)
  assert "ckpt-300: the learner checkpoint cannot be read (IndexError" in lines[1]
  assert lines[1].endswith(", resuming from ckpt-100")
  assert "Checksum does not match" in lines[2]
  # never deleted: the damaged files are kept, byte for byte, under EXP/corrupt/<time>/
  (aside,) = os.listdir(exp / "corrupt")
  kept = exp / "corrupt" / aside / "train" / "checkpoints" / "ckpt-300.data-00000-of-00001"
  assert kept.read_bytes() == original
  assert (exp / "corrupt" / aside / "policies" / "checkpoints"
          / "policy_checkpoint_0000000200").is_dir()
  # a second look finds nothing more to move
  assert checkpoints.verify_run(str(exp), lines.append) == {"learner": [], "policy": []}


def test_the_learner_sets_aside_what_a_write_cut_short_left(tmp_path):
  import tensorflow as tf
  directory = tmp_path / "train" / "checkpoints"
  write_learner_checkpoints(str(directory), [100, 200])
  state = (directory / "checkpoint").read_text()
  write_learner_checkpoints(str(tmp_path / "other"), [300])  # a ckpt-300 the state never named
  for name in os.listdir(tmp_path / "other"):
    if name.startswith("ckpt-300"):
      os.replace(tmp_path / "other" / name, directory / name)
  (directory / "checkpoint").write_text(state)
  damage(directory / "ckpt-300.index", "truncate")  # its index merged only in part
  (directory / "ckpt-300_temp").mkdir()
  lines = []
  done = checkpoints.set_aside_unfinished(str(tmp_path), lines.append)
  assert len(done) == 3 and len(lines) == 2
  assert checkpoints.learner_checkpoint_steps(str(directory)) == [200, 100]
  assert tf.train.latest_checkpoint(str(directory)).endswith("ckpt-200")
  assert not (directory / "ckpt-300_temp").exists()  # never restorable: its space is freed
  (aside,) = os.listdir(tmp_path / "corrupt")
  assert (tmp_path / "corrupt" / aside / "train" / "checkpoints" / "ckpt-300.index").exists()
  assert checkpoints.set_aside_unfinished(str(tmp_path), lines.append) == []


def test_no_readable_learner_checkpoint_refuses_the_resume(tmp_path):
  directory = tmp_path / "train" / "checkpoints"
  write_learner_checkpoints(str(directory), [100, 200])
  for step in (100, 200):
    damage(directory / f"ckpt-{step}.data-00000-of-00001", "truncate")
  with pytest.raises(UserInputError) as error:
    checkpoints.verify_run(str(tmp_path), print)
  assert str(error.value).startswith(f"{directory}: none of the 2 learner checkpoint(s) can be "
                                     "read (moved aside to ")
  assert "add --fresh to start over" in str(error.value)


def launch(variables, *extra):
  return subprocess.run([os.path.join(REPO, "train_script.sh"), variables, *extra], cwd=REPO,
                        capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_run_resumes_past_damaged_checkpoints_and_refuses_when_none_is_left(tmp_path):
  config = write_config(tmp_path, {
      "num_iterations": 8,
      "learner_checkpoint_interval": 20,
      "policy_checkpoint_interval": 20})
  variables = write_variables(tmp_path, config)
  exp_dir = tmp_path / "logs" / "run"
  first = launch(variables)
  assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
  directory = exp_dir / "train" / "checkpoints"
  steps = checkpoints.learner_checkpoint_steps(str(directory))
  assert steps[0] == 80 and len(steps) == 3, steps
  damage(directory / "ckpt-80.data-00000-of-00001", "truncate")
  newest_policy = sorted(os.listdir(exp_dir / "policies" / "checkpoints"))[-1]
  damage(
      exp_dir / "policies" / "checkpoints" / newest_policy / "variables"
      / "variables.data-00000-of-00001", "garbage")
  # the same command with a longer budget resumes from ckpt-60, the count never goes back
  with open(config) as config_file:
    content = json.load(config_file)
  content["hyperparameters"]["num_iterations"] = 12
  with open(config, "w") as config_file:
    json.dump(content, config_file)
  second = launch(variables)
  assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
  assert "ckpt-80: the learner checkpoint cannot be read" in second.stdout
  assert "resuming from ckpt-60" in second.stdout
  assert f"{newest_policy}: the policy checkpoint cannot be read" in second.stdout
  learner = read_records(str(exp_dir), "learner")
  assert learner[-1]["train_step"] == 120
  resumed = [r["train_step"] for r in learner if r["time"] > learner[0]["time"]]
  assert resumed == sorted(resumed)  # train_step never went back
  assert "the learner checkpoint is at train_step 60 but train_step 80 was already reached" in (
      open(exp_dir / "logs" / "learner.log").read())
  (aside,) = os.listdir(exp_dir / "corrupt")
  assert (exp_dir / "corrupt" / aside / "train" / "checkpoints"
          / "ckpt-80.data-00000-of-00001").exists()
  # every learner checkpoint damaged: refused before anything starts, one line, files kept
  for step in checkpoints.learner_checkpoint_steps(str(directory)):
    damage(directory / f"ckpt-{step}.data-00000-of-00001", "garbage")
  logs_before = open(exp_dir / "logs" / "learner.log").read()
  third = launch(variables)
  assert third.returncode == 2, third.stdout[-2000:] + third.stderr[-2000:]
  (line,) = third.stderr.strip().splitlines()
  assert line.startswith(f"error: {directory}: none of the 3 learner checkpoint(s) can be read")
  assert "add --fresh to start over" in line
  assert open(exp_dir / "logs" / "learner.log").read() == logs_before  # nothing started
  assert len(os.listdir(exp_dir / "corrupt")) == 2


@contextlib.contextmanager
def tmpfs(mount, size):
  """A size-limited tmpfs of the test's own at `mount` (root only), unmounted afterwards."""
  mount.mkdir()
  subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], check=True)
  try:
    yield mount
  finally:
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_file_system(tmp_path):
  """40 MB: too small for the run below."""
  with tmpfs(tmp_path / "small", "40m") as mount:
    yield mount


@pytest.mark.slow
def test_a_run_that_would_not_fit_its_file_system_is_refused(tmp_path, small_file_system):
  # Pendulum, 1M transitions of 44 bytes: ~90 MB of replay checkpoints on a 40 MB disk
  config = write_config(tmp_path, {"replay_capacity": 1_000_000})
  variables = write_variables(tmp_path, config, logs=f"{small_file_system}/logs")
  result = launch(variables)
  assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
  (line,) = result.stderr.strip().splitlines()
  assert line.startswith(f"error: {config}: hyperparameters.replay_capacity: the run would write "
                         "about ")
  assert f"the file system of {small_file_system} has 40 MB free" in line
  assert os.listdir(small_file_system) == []  # nothing written


@pytest.fixture
def run_file_system(tmp_path):
  """256 MB: room for a whole tiny run, until another file fills it."""
  with tmpfs(tmp_path / "disk", "256m") as mount:
    yield mount


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_stops_writes_waits_and_the_run_finishes(
    tmp_path, run_file_system):
  import time

  from conftest import learner_step
  from conftest import wait_for
  config = write_config(tmp_path, {"num_iterations": 40})
  variables = write_variables(tmp_path, config, logs=f"{run_file_system}/logs")
  exp_dir = run_file_system / "logs" / "run"
  process = subprocess.Popen([os.path.join(REPO, "train_script.sh"), variables], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  output = []
  try:
    wait_for(lambda: learner_step(str(exp_dir)) >= 40, 240, "the learner's first reports")
    # another user's file fills the disk (bounded by the tmpfs's size)
    filler = run_file_system / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True,
                   check=False)
    stopped_at = learner_step(str(exp_dir))
    time.sleep(25)  # the learner's next checkpoint or report meets the full disk
    assert process.poll() is None  # the launcher waits; it did not die
    # the checkpoint the state file names is complete (a write cut short is not named there)
    import tensorflow as tf
    latest = tf.train.latest_checkpoint(str(exp_dir / "train" / "checkpoints"))
    assert latest and checkpoints.unreadable(latest) is None
    filler.unlink()
    remaining, _ = process.communicate(timeout=420)
    output.append(remaining)
  finally:
    if process.poll() is None:
      process.kill()
      process.wait()
  text = "".join(output)
  assert process.returncode == 0, text[-4000:]
  assert "Traceback" not in text
  assert "stopped: the disk of" in text and "is full" in text, text[-3000:]
  assert "MB free again on the disk of" in text
  log = open(exp_dir / "logs" / "learner.log").read()
  assert "disk full: " in log and "the last complete checkpoint is kept" in log
  learner = read_records(str(exp_dir), "learner")
  steps = [r["train_step"] for r in learner]
  assert steps == sorted(steps) and steps[-1] == 400 and stopped_at < 400


def test_a_damaged_replay_checkpoint_is_moved_aside_and_the_table_starts_empty(tmp_path):
  import numpy as np
  import reverb

  from conftest import free_port
  from sac_system import replay_buffer
  params = params_with(tmp_path)
  exp_dir = tmp_path / "exp"
  port = free_port()
  server = replay_buffer.make_server(params, str(exp_dir), port)
  client = reverb.Client(f"localhost:{port}")
  agent = params.build_agent()
  codec = replay_buffer.TransitionCodec.for_agent(params, agent)
  writer = replay_buffer.ReplayWriter(client)
  for _ in range(50):
    writer(np.ones((params.transitions_per_item, codec.size), np.float32))
  writer.wait_until_written(10_000)
  writer.close()
  client.checkpoint()
  server.stop()
  (saved,) = os.listdir(exp_dir / "replay_buffer")
  chunks = exp_dir / "replay_buffer" / saved / "chunks.tfrecord"
  original = chunks.read_bytes()
  damage(chunks, "garbage")
  lines = []

  class Logger:

    def warning(self, message, *args):
      lines.append(message % args)

  server = replay_buffer.make_server(params, str(exp_dir), port, Logger())
  try:
    info = reverb.Client(f"localhost:{port}").server_info()[constants.REPLAY_TABLE]
    assert replay_buffer.transitions_stored(info, params.transitions_per_item) == 0
  finally:
    server.stop()
  (line,) = lines
  assert f"the replay checkpoint {exp_dir}/replay_buffer/{saved} cannot be read" in line
  assert line.endswith("starting with an empty replay table: the learner keeps its checkpoint "
                       "and waits until the workers refill min_size_to_sample transitions")
  (aside,) = os.listdir(exp_dir / "corrupt")
  assert (exp_dir / "corrupt" / aside / "replay_buffer" / saved
          / "chunks.tfrecord").stat().st_size == len(original)
