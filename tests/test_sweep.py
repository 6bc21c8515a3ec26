"""Sweeps (sac_system/sweep.py): the sweep file, its checks before anything runs, the plan and
the runs' states; and (slow) the local queue of ./sweep_script.sh stopped and run again."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import REPO
from conftest import write_config
from conftest import write_variables
from sac_system import constants
from sac_system import metrics
from sac_system import sweep
from sac_system.errors import UserInputError
from sac_system.training_variables import load_training_variables


# ----- pure parts --------------------------------------------------------------------------------
def test_seeds():
  assert sweep.parse_seeds("0-4", "f") == [0, 1, 2, 3, 4]
  assert sweep.parse_seeds(" 3 1,2 ", "f") == [3, 1, 2]
  assert sweep.parse_seeds("0-1 5", "f") == [0, 1, 5]
  for text, problem in (("", "SWEEP_SEEDS: empty"), ("3-1", "expected whole numbers"),
                        ("a", "expected whole numbers"), ("1 0-2", "seed 1 appears twice"),
                        ("-1", "expected whole numbers")):
    with pytest.raises(UserInputError, match=problem):
      sweep.parse_seeds(text, "f")


def test_config_overrides():
  config = {"env_id": "Pendulum-v1", "hyperparameters": {"batch_size": 8}}
  result = sweep.apply_config_overrides(config, [("hyperparameters.batch_size", 128),
                                                 ("env_kwargs.g", 9.0),
                                                 ("hyperparameters.actor_fc_layers", [4, 4])],
                                        "s.sh", "SWEEP_VARIANT_x")
  assert result == {
      "env_id": "Pendulum-v1",
      "env_kwargs": {
          "g": 9.0},
      "hyperparameters": {
          "batch_size": 128,
          "actor_fc_layers": [4, 4]}}
  assert config["hyperparameters"] == {"batch_size": 8}  # the original is left alone
  with pytest.raises(UserInputError, match=r"SWEEP_VARIANT_x: env_id\.x: env_id is "):
    sweep.apply_config_overrides(config, [("env_id.x", 1)], "s.sh", "SWEEP_VARIANT_x")
  assert sweep.parse_override_value("128") == 128
  assert sweep.parse_override_value("[64, 64]") == [64, 64]
  assert sweep.parse_override_value("true") is True
  assert sweep.parse_override_value("uniform") == "uniform"


def test_cpu_slots():
  assert sweep.cpu_slots([0, 1], 3) == [(0, 1)]  # fewer CPUs than a run asks for: one slot
  assert sweep.cpu_slots([0, 1, 2, 3, 4, 5, 6], 3) == [(0, 1, 2), (3, 4, 5)]
  assert sweep.cpu_slots([4, 5, 6], 3) == [(4, 5, 6)]


# ----- checks before anything runs --------------------------------------------------------------
def write_sweep(tmp_path, variants, seeds="1,2", extra=""):
  config = write_config(tmp_path, {"num_iterations": 4, "eval_interval": 2})
  variables = write_variables(tmp_path, config)
  lines = ["SWEEP_NAME=tiny", f'SWEEP_SEEDS="{seeds}"', f"SWEEP_LOGS_DIR={tmp_path}/sweeps"]
  lines += [
      f'SWEEP_VARIANT_{name}="{variables} {overrides}"' for name, overrides in variants.items()]
  path = tmp_path / "sweep.sh"
  path.write_text("\n".join(lines) + "\n" + extra)
  return str(path)


@pytest.mark.parametrize("variants, seeds, extra, expected", [
    ({
        "a": ""}, "", "", "SWEEP_SEEDS: empty"),
    ({
        "a": ""}, "1", "SWEEP_SEED=3\n", "SWEEP_SEED: unknown variable; did you mean SWEEP_SEEDS?"),
    ({
        "a": "hyperparameters.batch_szie=16"
    }, "1", "", "SWEEP_VARIANT_a: its config: hyperparameters.batch_szie: unknown hyperparameter"),
    ({
        "a": "",
        "b": "hyperparameters.gamma=2"
    }, "1", "", "SWEEP_VARIANT_b: its config: hyperparameters.gamma: must be in [0, 1]"),
    ({
        "a": "SAC_SEED=4"}, "1", "", "SWEEP_VARIANT_a: SAC_SEED: set by the sweep"),
    ({
        "a": "SAC_TRAIN_CPU=2"}, "1", "", "SAC_TRAIN_CPU: unknown variable; did you mean "
     "SAC_TRAIN_CPUS?"),
    ({
        "a": "batch_size"}, "1", "", "SWEEP_VARIANT_a: 'batch_size': expected key=value"),
    ({
        "a": "config=nothing.json"
    }, "1", "", "SWEEP_VARIANT_a: config=nothing.json: file not found"),
    ({
        "_x": ""}, "1", "", "SWEEP_VARIANT__x: a variant's name takes letters"),
    ({
        "a": ""}, "1", 'SWEEP_GRID="g=1:2"\n', "SWEEP_GRID: 'g=1:2': expected name=v1"),
    ({
        "a": ""
    }, "1", 'SWEEP_GRID="g=8,9 g=10"\n', "SWEEP_GRID: g,g: each parameter may appear once"),
    ({
        "a": ""}, "1", 'SWEEP_GRID="gg=8,9"\n', "SWEEP_GRID: gg: "),
    ({
        "a": ""}, "1", 'SWEEP_GRID="g=8"\n', "expected one or two parameters with several"),
    ({
        "a": "SAC_NUM_COLLECT_WORKERS=5000"
    }, "1", "", "SWEEP_VARIANT_a: SAC_NUM_COLLECT_WORKERS=5000: 5000 workers cannot run"),
    ({
        "report": ""}, "1", "", "SWEEP_VARIANT_report: 'report' is the report's folder"),])
def test_bad_sweep_files_are_refused_before_anything_is_written(tmp_path, capfd, variants, seeds,
                                                                extra, expected):
  path = write_sweep(tmp_path, variants, seeds, extra)
  assert sweep.main([path]) == 2
  # (in this process, gym's import notice may reach the captured stderr first; the command's
  # own stderr is one line: test_the_command_prints_one_line)
  error = capfd.readouterr().err.strip().splitlines()[-1]
  assert error.startswith(f"error: {path}: ") and expected in error, error
  assert not (tmp_path / "sweeps").exists()


def test_the_command_prints_one_line(tmp_path):
  path = write_sweep(tmp_path, {"a": "hyperparameters.batch_szie=16"}, "1")
  result = subprocess.run([os.path.join(REPO, "sweep_script.sh"), path], capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr.splitlines() == [
      f"error: {path}: SWEEP_VARIANT_a: its config: hyperparameters.batch_szie: unknown "
      "hyperparameter" + result.stderr.split("unknown hyperparameter")[1].rstrip("\n")]
  assert not (tmp_path / "sweeps").exists()
  path = tmp_path / "empty.sh"
  path.write_text("SWEEP_NAME=x\nSWEEP_SEEDS=1\n")
  result = subprocess.run([os.path.join(REPO, "sweep_script.sh"),
                           str(path)], capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert result.stderr == (f"error: {path}: SWEEP_VARIANT_<name>: no variant; expected at least "
                           'one line such as SWEEP_VARIANT_default="training_variables.sh"\n')


def test_a_run_trained_with_another_config_is_refused(tmp_path, capfd):
  path = write_sweep(tmp_path, {"a": ""}, "1")
  exp_dir = tmp_path / "sweeps" / "tiny" / "a" / "seed1"
  exp_dir.mkdir(parents=True)
  (exp_dir / "config.json").write_text(json.dumps({"env_id": "Pendulum-v1"}))
  assert sweep.main([path, "--status"]) == 2
  assert (f"SWEEP_VARIANT_a: {exp_dir} was trained with another config than this variant's now"
          in capfd.readouterr().err)


def test_the_plan_and_the_states_of_runs(tmp_path):
  path = write_sweep(tmp_path, {
      "small": "",
      "big": "hyperparameters.batch_size=16 SAC_TRAIN_CPUS=2"}, seeds="0-1",
                     extra='SWEEP_GRID="g=8,12"\nSWEEP_GRID_EPISODES=3\n')
  plan = sweep.plan_sweep(path)
  assert not (tmp_path / "sweeps").exists()  # planning writes nothing
  sweep.write_plan(plan)
  sweep_dir = tmp_path / "sweeps" / "tiny"
  assert [run["name"]
          for run in plan["runs"]] == ["big/seed0", "big/seed1", "small/seed0", "small/seed1"]
  assert plan["grid"] == ["g=8,12"] and plan["grid_episodes"] == 3
  big = next(v for v in plan["variants"] if v["name"] == "big")
  assert big["slurm_cpus"] == 1 + 2 + 1 + 2 and big["num_iterations"] == 4
  with open(sweep_dir / "big" / "config.json") as config_file:
    assert json.load(config_file)["hyperparameters"]["batch_size"] == 16
  run = plan["runs"][1]
  variables = load_training_variables(run["variables"], REPO)  # an ordinary variables file
  assert variables.exp_dir == str(sweep_dir / "big" / "seed1") == run["exp_dir"]
  assert variables.seed == 1 and variables.train_cpus == 2 and variables.replay_port is None
  assert json.loads((sweep_dir / "sweep.json").read_text())["runs"][1] == run

  assert sweep.run_state(plan, run) == sweep.QUEUED
  os.makedirs(
      os.path.join(run["exp_dir"], "policies", "checkpoints", "policy_checkpoint_0000000040"))
  assert sweep.run_state(plan, run) == sweep.INTERRUPTED
  with open(os.path.join(run["exp_dir"], constants.RUN_INFO_FILE), "w") as info:
    json.dump({"finished": "now"}, info)
  assert sweep.run_state(plan, run) == sweep.GRID_PENDING
  csv = sweep.grid_csv(plan, run)
  assert csv.endswith("eval/robustness_policy_checkpoint_0000000040_g_seed108.csv")
  os.makedirs(os.path.dirname(csv))
  open(csv, "w").close()
  assert sweep.run_state(plan, run) == sweep.FINISHED


# ----- the local queue, stopped and run again ----------------------------------------------------
def learner_steps(exp_dir):
  return [r["train_step"] for r in metrics.read_records(exp_dir, constants.LEARNER_PROGRAM)]


@pytest.mark.slow
def test_local_queue_stopped_and_run_again_skips_finished_runs_and_resumes_the_other(tmp_path):
  path = write_sweep(tmp_path, {"a": "hyperparameters.num_iterations=30"}, seeds="1,2",
                     extra='SWEEP_GRID="g=8,12"\nSWEEP_GRID_EPISODES=1\n')
  sweep_dir = tmp_path / "sweeps" / "tiny"
  first, second = str(sweep_dir / "a" / "seed1"), str(sweep_dir / "a" / "seed2")
  command = [os.path.join(REPO, "sweep_script.sh"), path]
  output = tmp_path / "first.out"
  with open(output, "w") as out:
    queue = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + 240
    # stop it once the second run's learner has trained
    while time.monotonic() < deadline and not [s for s in learner_steps(second) if s > 0]:
      assert queue.poll() is None, output.read_text()[-3000:]
      time.sleep(0.2)
    queue.send_signal(signal.SIGINT)
    code = queue.wait(timeout=120)
  finally:
    if queue.poll() is None:
      queue.kill()
  text = output.read_text()
  assert code == 128 + signal.SIGINT, text[-3000:]
  assert "a/seed1: finished" in text and "stopped; 1/2 finished" in text, text[-3000:]
  assert sweep.run_finished_training({"exp_dir": first})
  assert not sweep.run_finished_training({"exp_dir": second})
  stopped_at = max(learner_steps(second))
  first_records = len(metrics.read_records(first))
  assert not subprocess.run(["pgrep", "-f", str(sweep_dir)], capture_output=True,
                            text=True).stdout.split()  # nothing left running

  again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
  assert "1 finished already, 1 to run" in again.stdout
  assert "a/seed2: resuming" in again.stdout and "a/seed1: " not in again.stdout.split(
      "1 to run")[1]
  assert len(metrics.read_records(first)) == first_records  # the finished run was not touched
  steps = learner_steps(second)
  assert steps[-1] == 300 and min(steps[steps.index(stopped_at):]) >= stopped_at
  assert "resuming the run in" in (sweep_dir / "a" / "seed2.out").read_text()
  for exp_dir in (first, second):  # each final policy's grid, run by its task
    assert os.path.isfile(
        os.path.join(exp_dir, "eval", "robustness_policy_checkpoint_0000000300_"
                     "g_seed108.csv"))
  report = json.loads((sweep_dir / "report" / "report.json").read_text())
  assert report["variants"]["a"]["seeds"] == [1, 2]
  assert report["variants"]["a"]["grid"]["seeds"] == [1, 2]
  assert (sweep_dir / "report" / "curves.png").stat().st_size > 0
