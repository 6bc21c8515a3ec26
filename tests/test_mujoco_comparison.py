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


def write_run(exp_dir, seed=0, offset=0.0):
  """Learner reports every 10 s from t=100: 1,000 env steps and 1,000 gradient steps per 10 s
  after a warm-up of 10,000 env steps at t=100; an eval every 10,000 env steps with return
  = env steps / 100 + offset (so 1,000 + offset at 100k)."""
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
              "eval/average_return": env_steps / 100.0 + offset})


def test_returns_at_equal_env_steps_time_to_returns_and_rates(tmp_path):
  write_run(str(tmp_path))
  curve = mujoco_comparison.eval_curve(str(tmp_path))
  # evals at 20k, 30k, ... 310k with return = steps / 100; read at 90k and 100k
  assert mujoco_comparison.return_at(curve, 100_000) == pytest.approx(950.0)
  assert mujoco_comparison.return_at(curve, 25_000) is None  # 15k is before the first eval
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
  assert "| ours, median of 2 seeds | 450 | 950 | 1950 | 2950 |" in text
  for reference in mujoco_comparison.PUBLISHED["hopper"]:
    assert reference["source"] in text


def write_peer(path, seed_offset=0.0, steps_offset=0):
  """A reference run's JSON lines: an eval every 10,000 env steps from 10,001 (shifted by
  `steps_offset`), return = env steps / 100 + `seed_offset`, 100 env steps/s, 2 s per eval."""
  with open(path, "w") as peer:
    for k in range(12):
      env_steps = 10_001 + 10_000 * k + steps_offset
      peer.write(
          json.dumps({
              "env_steps": env_steps,
              "grad_steps": env_steps - 10_000,
              "wall_seconds": 10 + 102 * k,
              "eval_seconds": 2.0,
              "average_return": env_steps / 100 + seed_offset}) + "\n")
    peer.write(json.dumps({"final": True, "reason": "done"}) + "\n")


def test_both_sides_are_read_at_the_same_env_steps_whatever_their_cadence(tmp_path):
  # the same underlying curve (return = env steps / 100) evaluated at other steps
  for offset in (0, 1_050, 4_999):
    write_peer(str(tmp_path / "peer_seed0.jsonl"), steps_offset=offset)
    curve = mujoco_comparison.peer_curve(str(tmp_path / "peer_seed0.jsonl"))
    assert mujoco_comparison.return_at(curve, 100_000) == pytest.approx(950.0), offset
  summary = mujoco_comparison.summarize_peer(str(tmp_path / "peer_seed0.jsonl"), "hopper")
  assert summary["rates"]["grad_steps_per_second"] == pytest.approx(100.0)  # evals left out
  assert summary["first_reaching"]["1000"]["env_steps"] == 100_001 + 4_999


def hopper_report(runs, reference, **result):
  """A report of one Hopper-v5 comparison as the harness writes it, for `markdown`."""
  return {
      "date": "d",
      "command": "c",
      "machine": {
          "cpu_model": "x",
          "allowed_cpus": 2},
      "tasks": {
          "hopper": {
              "task": "hopper",
              "env_id": "Hopper-v5",
              "runs": runs,
              "reference_runs": reference,
              **result}}}


def test_seed_statistics_against_the_reference(tmp_path):
  ours, reference = [], []
  for seed in range(5):
    write_run(str(tmp_path / f"ours{seed}"), seed=seed)
    ours.append(mujoco_comparison.summarize_run(str(tmp_path / f"ours{seed}"), "hopper"))
    write_peer(str(tmp_path / f"peer_seed{seed}.jsonl"), seed_offset=100.0 * (seed + 1))
    reference.append(
        mujoco_comparison.summarize_peer(str(tmp_path / f"peer_seed{seed}.jsonl"), "hopper"))
  statistics = mujoco_comparison.seed_statistics(ours, reference, reps=500)
  assert set(statistics) == {"50000", "100000"}  # the reference stops at 120k
  entry = statistics["100000"]
  assert entry["ours_median"] == pytest.approx(950.0)
  assert entry["reference_median"] == pytest.approx(950.0 + 300.0)
  assert entry["p_ours_better"][0] == 0.0  # every reference seed is ahead
  point, low, high = entry["reference_iqm"]
  assert point == pytest.approx(950.0 + 300.0) and low <= point <= high
  report = hopper_report(ours, [{
      "seed": i,
      **r} for i, r in enumerate(reference)], statistics=statistics)
  for run, seed in zip(ours, range(5)):
    run["seed"] = seed
  text = mujoco_comparison.markdown(report)
  assert "| reference, median of 5 seeds | 750 | 1250 |" in text
  assert "| 100k | 950 [950, 950] | 1250 [" in text and "| 0.00 [0.00, 0.00] | 5 vs 5 |" in text


def test_variants_are_the_folders_holding_our_runs(tmp_path):
  """Two variants of 3 seeds each (b ahead of a by 100 at every eval, by seed as well), and a
  reference between them: each variant's median and its probability of beating the
  reference and the other variant, in the report."""
  ours, reference = [], []
  for seed in range(3):
    for variant, offset in (("a", 0.0), ("b", 100.0 + seed)):
      exp_dir = str(tmp_path / variant / f"seed{seed}")
      write_run(exp_dir, seed=seed, offset=offset)
      ours.append({"seed": seed, **mujoco_comparison.summarize_run(exp_dir, "hopper")})
    write_peer(str(tmp_path / f"peer_seed{seed}.jsonl"), seed_offset=50.0)
    reference.append({
        "seed": seed,
        **mujoco_comparison.summarize_peer(str(tmp_path / f"peer_seed{seed}.jsonl"), "hopper")})
  variants = mujoco_comparison.variant_statistics(ours, reference, reps=200)
  assert list(variants) == ["a", "b"] and variants["a"]["seeds"] == [0, 1, 2]
  a, b = variants["a"]["at"]["100000"], variants["b"]["at"]["100000"]
  assert a["median"] == pytest.approx(950.0) and b["median"] == pytest.approx(1051.0)
  assert a["p_better_than"]["b"][0] == 0.0 and b["p_better_than"]["a"][0] == 1.0
  assert a["p_better_than_reference"][0] == 0.0 and b["p_better_than_reference"][0] == 1.0
  report = hopper_report(ours, reference, variants=variants)
  text = mujoco_comparison.markdown(report)
  assert "| b | 100k | 3 | 1051 | " in text
  assert "| 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | - |" in text
  # one variant: no table of variants
  report["tasks"]["hopper"]["variants"] = {"a": variants["a"]}
  assert "by variant" not in mujoco_comparison.markdown(report)
