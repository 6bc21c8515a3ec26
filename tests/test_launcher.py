"""The launcher's pure parts: the progress line from metrics.jsonl, restart bookkeeping, and
the pre-start checks."""

import json
import os
import socket

import pytest

from conftest import REPO
from sac_system import launcher
from sac_system.errors import UserInputError
from sac_system.metrics import MetricsReporter


def test_progress_line_follows_metrics_incrementally(tmp_path):
  exp_dir = str(tmp_path)
  progress = launcher.Progress(exp_dir, total_iterations=50)
  progress.update()  # no file yet
  assert "iter 0/50" in progress.line(0, 5)
  MetricsReporter(exp_dir, "learner").report(1200, 12, 3000, {
      "throughput/grad_steps_per_second": 98.4,
      "learner/critic_loss": 1.0})
  for worker, steps in (("worker_0", 1500), ("worker_1", 1600)):
    MetricsReporter(exp_dir, worker).report(1100, 11, steps,
                                            {"throughput/env_steps_per_second": 50.0})
  MetricsReporter(exp_dir, "worker_1").report(1000, 10, 1600, {"eval/average_return": -12.5})
  with open(os.path.join(exp_dir, "metrics.jsonl"), "a") as metrics_file:
    metrics_file.write('{"source": "worker_0", "train_')  # a record being written
  progress.update()
  line = progress.line(restarts=2, elapsed_s=3725)
  assert line == ("01:02:05 | iter 12/50 | train_step 1200 | env steps 3100 | eval -12.5 "
                  "(@1000) | 98 grad/s | 100 env steps/s | restarts 2")
  with open(os.path.join(exp_dir, "metrics.jsonl"), "a") as metrics_file:
    metrics_file.write('step": 1300, "iteration": 13, "env_steps": 1700}\n')
  MetricsReporter(exp_dir, "worker_0").report(1400, 14, 1800, {"eval/average_return": 30.0})
  progress.update()
  assert progress.workers["worker_0"]["env_steps"] == 1800
  assert progress.best_eval["eval/average_return"] == 30.0
  assert "eval 30.0 (@1400)" in progress.line(0, 1)


def test_check_port_free(tmp_path):
  with socket.socket() as busy:
    busy.bind(("", 0))
    busy.listen()
    port = busy.getsockname()[1]
    with pytest.raises(UserInputError, match=f"SAC_REPLAY_PORT: port {port} is already in use"):
      launcher.check_port_free("127.0.0.1", port, "vars.sh")
  launcher.check_port_free("127.0.0.1", launcher.pick_free_port(), "vars.sh")


def test_check_exp_dir(tmp_path):
  assert launcher.check_exp_dir(str(tmp_path / "new" / "run"), "v.sh") is False
  (tmp_path / "old").mkdir()
  assert launcher.check_exp_dir(str(tmp_path / "old"), "v.sh") is False  # e.g. SLURM output only
  (tmp_path / "old" / "run_info.json").write_text("{}")
  assert launcher.check_exp_dir(str(tmp_path / "old"), "v.sh") is True
  (tmp_path / "file").write_text("x")
  with pytest.raises(UserInputError, match=r"SAC_EXP_NAME: .* is not a directory"):
    launcher.check_exp_dir(str(tmp_path / "file"), "v.sh")


def test_restart_back_off_and_crash_loop(tmp_path, monkeypatch):
  monkeypatch.setattr(launcher.Program, "start", lambda self:
                      (setattr(self, "restart_at", None), True)[1])

  class Exited:

    def __init__(self, code):
      self.code = code
      self.pid = -1

    def poll(self):
      return self.code

  class FakeLauncher(launcher.Launcher):

    def __init__(self):
      self.exp_dir = str(tmp_path)
      self.progress = launcher.Progress(str(tmp_path), 10)
      self.programs = [
          launcher.Program(name, [], (0,), str(tmp_path / f"{name}.log"))
          for name in ("replay_buffer", "learner", "worker_0")]
      self.server, self.learner, *self.workers = self.programs
      for program in self.programs:
        program.process = Exited(None)

  run = FakeLauncher()
  worker = run.programs[2]
  delays = []
  for _ in range(launcher.MAX_RESTARTS):
    worker.process = Exited(-9)
    assert run.supervise_once() is None
    delays.append(worker.restart_at - launcher.time.monotonic())
    worker.restart_at = 0  # due now
    assert run.supervise_once() is None and worker.restart_at is None
  assert worker.restarts == launcher.MAX_RESTARTS
  assert [round(d) for d in delays] == [2, 4, 8, 16, 30]  # doubling, capped
  restarts = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  assert [r["restarts/worker_0"] for r in restarts] == [1, 2, 3, 4, 5]
  assert all(r["source"] == "launcher" and r["exit_code"] == -9 for r in restarts)
  worker.process = Exited(1)
  assert run.supervise_once() == 1  # a crash loop stops the run
  run.programs[2].process = Exited(None)
  run.programs[1].process = Exited(0)
  assert run.supervise_once() == 0  # the learner finishing ends the run

  # a full disk: not a crash; the program waits for free space, then restarts; a disk that
  # stays full stops the run
  free = {"mb": 0}
  monkeypatch.setattr(FakeLauncher, "disk_free_mb", lambda self: free["mb"])
  learner = run.programs[1]
  learner.process, learner.finished = Exited(launcher.constants.EXIT_DISK_FULL), False
  assert run.supervise_once() is None and learner.waiting_for_disk_since is not None
  for _ in range(3):  # checked again and again, never counted as restarts
    learner.restart_at = 0
    assert run.supervise_once() is None and learner.restart_at > 0
  assert learner.restarts == 0
  free["mb"] = launcher.DISK_FREE_TO_RESUME_MB
  learner.restart_at = 0
  assert run.supervise_once() is None and learner.restart_at is None
  free["mb"] = 0
  learner.process = Exited(launcher.constants.EXIT_DISK_FULL)
  assert run.supervise_once() is None
  learner.waiting_for_disk_since -= launcher.DISK_FULL_WAIT_S
  learner.restart_at = 0
  assert run.supervise_once() == 1

  workers_only = FakeLauncher()
  workers_only.programs = workers_only.workers = workers_only.programs[2:]
  workers_only.server = workers_only.learner = None
  assert workers_only.supervise_once() is None
  workers_only.workers[0].process = Exited(0)
  assert workers_only.supervise_once() == 0  # a workers-only launcher ends with its workers


def test_capacity_check(tmp_path):
  from sac_system.training_variables import validate_variables
  base = {
      "SAC_PARAMS": "p.py",
      "SAC_CONFIG": "c.json",
      "SAC_EXP_NAME": "x",
      "SAC_REVERB_CPUS": "1",
      "SAC_TRAIN_CPUS": "1",
      "SAC_COLLECT_WORKER_CPUS": "1"}

  def variables(workers):
    return validate_variables({
        **base, "SAC_NUM_COLLECT_WORKERS": str(workers)}, "v.sh", str(tmp_path), check_files=False)

  launcher.check_capacity(variables(16), allowed_cpus=2, memory_total_mb=24_000)
  with pytest.raises(
      UserInputError, match=r"v.sh: SAC_NUM_COLLECT_WORKERS: 17 workers cannot "
      r"run on the 2 CPU\(s\)"):
    launcher.check_capacity(variables(17), allowed_cpus=2, memory_total_mb=24_000)
  with pytest.raises(UserInputError, match="need about 5000 MB but this machine has 4000 MB"):
    launcher.check_capacity(variables(8), allowed_cpus=64, memory_total_mb=4000)


def test_move_aside_keeps_the_old_run(tmp_path):
  run = tmp_path / "run"
  (run / "train").mkdir(parents=True)
  (run / "train" / "checkpoint").write_text("old")
  first = launcher.move_aside(str(run))
  run.mkdir()
  second = launcher.move_aside(str(run))
  assert first != second and not run.exists()
  assert open(os.path.join(first, "train", "checkpoint")).read() == "old"
  assert os.path.basename(first).startswith("run.old-")


def test_too_little_disk_space_is_refused(tmp_path, monkeypatch):
  usage = launcher.shutil.disk_usage(str(tmp_path))
  monkeypatch.setattr(launcher.shutil, "disk_usage", lambda _: usage._replace(free=10 * 2**20))
  with pytest.raises(UserInputError, match="SAC_LOGS_DIR: only 10 MB free"):
    launcher.check_exp_dir(str(tmp_path / "run"), "v.sh")


@pytest.mark.parametrize("name",
                         sorted(n for n in os.listdir(REPO) if n.startswith("training_variables")))
def test_shipped_variables_pass_every_pre_start_check(name, repo):
  """Params, config, both environments and every curriculum value of each shipped file."""
  from sac_system.training_variables import load_training_variables
  variables = load_training_variables(os.path.join(repo, name), repo)
  params = launcher.check_params(variables)
  # the params are the file's class with the config's overrides applied
  assert type(params).__name__ == "TrainParams" and params.config_path == variables.config_path
  with open(variables.config_path) as config_file:
    overrides = json.load(config_file).get("hyperparameters", {})
  resolved = json.loads(json.dumps(params.hyperparameters()))
  assert overrides and {key: resolved[key] for key in overrides} == overrides


def test_resume_refuses_changed_table_definitions(tmp_path, repo):
  """A resumed run must keep what its replay and learner checkpoints were made with; other
  hyperparameters (e.g. num_iterations) may change."""
  from conftest import write_config
  from conftest import write_variables
  from sac_system.training_variables import load_training_variables
  config = write_config(tmp_path)
  variables = load_training_variables(write_variables(tmp_path, config), repo)
  params = launcher.check_params(variables)
  os.makedirs(variables.exp_dir)
  os.makedirs(os.path.join(variables.exp_dir, "reverb", "2026-01-01"))
  info = {"hyperparameters": json.loads(json.dumps(params.hyperparameters()))}
  with open(os.path.join(variables.exp_dir, "run_info.json"), "w") as info_file:
    json.dump(info, info_file)
  with pytest.raises(UserInputError) as error:  # a run from before packed transitions
    launcher.check_resume_compatible(variables, params)
  assert "run_info.json: replay_format: 1: this run's replay checkpoint" in str(error.value)
  from sac_system.replay_buffer import REPLAY_FORMAT
  with open(os.path.join(variables.exp_dir, "run_info.json"), "w") as info_file:
    json.dump({**info, "replay_format": REPLAY_FORMAT - 1}, info_file)
  with pytest.raises(UserInputError, match=r"replay_format: 2: .*--fresh"):  # one item per env step
    launcher.check_resume_compatible(variables, params)
  with open(os.path.join(variables.exp_dir, "run_info.json"), "w") as info_file:
    json.dump({**info, "replay_format": REPLAY_FORMAT}, info_file)
  launcher.check_resume_compatible(variables, params)  # unchanged: fine
  for key, value in (("num_iterations", 999), ("eval_interval", 7)):
    write_config(tmp_path, {key: value})
    launcher.check_resume_compatible(variables, launcher.check_params(variables))
  # items of 4 transitions: 4 envs x 1 step may become 2 envs x 2 steps, not 2 x 1
  with open(os.path.join(variables.exp_dir, "run_info.json"), "w") as info_file:
    json.dump(
        {
            "hyperparameters": {
                **info["hyperparameters"], "envs_per_worker": 4},
            "replay_format": REPLAY_FORMAT}, info_file)
  write_config(tmp_path, {"envs_per_worker": 2, "steps_per_item": 2})
  launcher.check_resume_compatible(variables, launcher.check_params(variables))
  write_config(tmp_path, {"envs_per_worker": 2})
  with pytest.raises(UserInputError) as error:
    launcher.check_resume_compatible(variables, launcher.check_params(variables))
  assert str(error.value).startswith(f"{config}: hyperparameters.steps_per_item: "
                                     "envs_per_worker * steps_per_item is 2 but the run in")
  assert "with 4 transitions per replay item" in str(error.value)
  with open(os.path.join(variables.exp_dir, "run_info.json"), "w") as info_file:
    json.dump({**info, "replay_format": REPLAY_FORMAT}, info_file)
  for key, value, words in (("replay_capacity", 5000, "is 5000 but the run in"),
                            ("actor_fc_layers", [16, 16], "is [16, 16] but"),
                            ("samples_per_insert", 4.0, "was started with 8.0")):
    write_config(tmp_path, {key: value})
    with pytest.raises(UserInputError) as error:
      launcher.check_resume_compatible(variables, launcher.check_params(variables))
    message = str(error.value)
    assert message.startswith(f"{config}: hyperparameters.{key}: ") and words in message
    assert "--fresh" in message and "\n" not in message


def test_the_environments_checks_report_what_they_found(tmp_path):
  """check_params_files hands back the collection env's sizes and the eval env's "solved"
  return (gymnasium's reward_threshold), which the run records for plots."""
  from conftest import write_config
  config = write_config(tmp_path, env_id="MountainCarContinuous-v0", max_episode_steps=50)
  found = {}
  launcher.check_params_files(os.path.join(REPO, "sac_system", "envs", "gym_params.py"), config,
                              found=found)
  assert found == {"observation": 2, "action": 1, "reward_threshold": 90.0}
