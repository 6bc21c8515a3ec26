"""The MuJoCo comparison (scripts/mujoco_comparison.py, benchmark.py --mujoco_runs): returns at
equal env steps, time to given returns and training rates, checked on a synthetic run whose
numbers are known; every published number carries its source."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "scripts"))
import mujoco_comparison

from sac_system.metrics import append_record


def write_run(exp_dir, seed=0):
  """Learner reports every 10 s from t=100: 1,000 env steps and 1,000 gradient steps per 10 s
  after a warm-up of 10,000 env steps at t=100; an eval every 10,000 env steps with return
  = env steps / 100 (so 1,000 at 100k)."""
  os.makedirs(exp_dir, exist_ok=True)
  with open(os.path.join(exp_dir, "run_info.json"), "w") as info:
    json.dump(
        {
            "seed": seed,
            "reward_threshold": 4800.0,
            "hyperparameters": {
                "eval_interval": 100,
                "train_steps_per_iteration": 100}}, info)
  append_record(exp_dir, {"time": 90.0, "source": "learner", "train_step": 0, "env_steps": 0})
  for k in range(31):
    time, env_steps = 100.0 + 100 * k, 10_000 + 10_000 * k
    append_record(exp_dir, {
        "time": time,
        "source": "learner",
        "train_step": 10_000 * k,
        "env_steps": env_steps})
    if k:
      append_record(
          exp_dir, {
              "time": time,
              "source": "worker_0",
              "train_step": 10_000 * k,
              "env_steps": env_steps,
              "eval/average_return": env_steps / 100.0})


def test_returns_at_equal_env_steps_time_to_returns_and_rates(tmp_path):
  write_run(str(tmp_path))
  curve = mujoco_comparison.eval_curve(str(tmp_path))
  # evals at 20k, 30k, ... 310k with return = steps / 100; the window (80k, 100k] holds 90k, 100k
  assert mujoco_comparison.return_at(curve, 100_000) == pytest.approx(950.0)
  assert mujoco_comparison.return_at(curve, 300_000) == pytest.approx(2950.0)
  assert mujoco_comparison.return_at(curve, 1_000_000) is None  # the run stopped at 310k
  hit = mujoco_comparison.first_reaching(curve, 2000)
  assert hit["env_steps"] == 200_000 and hit["minutes"] == pytest.approx((2000 - 90) / 60)
  assert mujoco_comparison.first_reaching(curve, 1e6) is None
  rates = mujoco_comparison.training_rates(str(tmp_path))
  assert rates["env_steps_per_second"] == pytest.approx(100.0)
  assert rates["grad_steps_per_second"] == pytest.approx(100.0)
  assert rates["warmup_seconds"] == pytest.approx(110.0)  # first record to the first train step
  assert mujoco_comparison.bound(rates, 150.0, 900.0).startswith("the learner")
  assert mujoco_comparison.bound(rates, 950.0, 120.0).startswith("collection")


def test_every_published_number_has_its_source():
  assert set(mujoco_comparison.PUBLISHED) >= {"halfcheetah", "hopper"}
  for task, references in mujoco_comparison.PUBLISHED.items():
    assert references, task
    for reference in references:
      assert reference["source"] and reference["url"].startswith("https://"), reference
      assert reference["version"] and reference["what"] in ("table", "figure"), reference
      assert reference["points"] and all(
          isinstance(n, int) and isinstance(value, (int, float))
          for n, value in reference["points"].items()), reference


@pytest.mark.slow
def test_the_harness_reports_existing_runs(tmp_path):
  write_run(str(tmp_path / "runs" / "hopper"), seed=4)
  write_run(str(tmp_path / "runs" / "hopper_again"), seed=5)
  result = subprocess.run([
      sys.executable, "scripts/benchmark.py", "--mujoco_runs",
      f"hopper={tmp_path}/runs/hopper,hopper={tmp_path}/runs/hopper_again", "--mujoco_skip_speed",
      "--output_dir",
      str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  names = sorted(os.listdir(tmp_path / "out"))
  assert [os.path.splitext(name)[1] for name in names] == [".json", ".md", ".png"]
  report = json.load(open(tmp_path / "out" / names[0]))
  runs = report["tasks"]["hopper"]["runs"]
  assert [run["seed"] for run in runs] == [4, 5]
  assert runs[0]["returns_at"]["300000"] == pytest.approx(2950.0)
  text = open(tmp_path / "out" / names[1]).read()
  assert "## Hopper-v5" in text and "| ours, seed 4" in text and "| ours, seed 5" in text
  assert "| ours, median of 2 seeds | 950 | 1950 | 2950 |" in text
  for reference in mujoco_comparison.PUBLISHED["hopper"]:
    assert reference["source"] in text
