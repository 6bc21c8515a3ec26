"""The sweep report's statistics (sac_system/aggregate.py) against values computed by hand, on
synthetic runs whose every number is known."""

import csv
import json
import os

import numpy as np
import pytest

from sac_system import aggregate
from sac_system import constants
from sac_system import files
from sac_system import metrics


# ----- the statistics --------------------------------------------------------------------------
def test_iqm_is_the_mean_of_the_middle_half():
  assert aggregate.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
  assert aggregate.iqm([0, 0, 0, 0, 100, 100, 100, 100]) == pytest.approx(50.0)
  # an outlier moves the mean, not the IQM
  assert aggregate.iqm([10, 11, 12, 13, 14, 15, 16, 1e6]) == pytest.approx(np.mean([12, 13, 14,
                                                                                    15]))
  assert aggregate.iqm([7.0] * 5) == pytest.approx(7.0)


def test_bootstrap_intervals_contain_the_true_value_and_shrink_with_more_seeds():
  rng = np.random.default_rng(3)
  widths = []
  for seeds in (5, 40):
    values = rng.normal(100.0, 10.0, size=seeds)
    found = aggregate.estimates(values, reps=4000)
    for statistic, (point, low, high) in found.items():
      assert low <= point <= high, statistic
      assert low < 100.0 < high, (statistic, seeds, low, high)
    assert found["mean"][0] == pytest.approx(np.mean(values))
    assert found["median"][0] == pytest.approx(np.median(values))
    widths.append(found["mean"][2] - found["mean"][1])
  assert widths[1] < widths[0] / 2
  # the same data, the same report: the bootstrap's random state is fixed
  assert aggregate.estimates([1, 5, 2, 8], reps=500) == aggregate.estimates([1, 5, 2, 8], reps=500)


def test_probability_of_improvement():
  a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
  point, low, high = aggregate.probability_of_improvement(a, a, reps=2000)
  assert point == pytest.approx(0.5) and low <= 0.5 <= high
  assert aggregate.probability_of_improvement(a + 10, a, reps=500)[0] == pytest.approx(1.0)
  assert aggregate.probability_of_improvement(a, a + 10, reps=500)[0] == pytest.approx(0.0)
  # by hand: x=[1, 3], y=[2, 2]: 1 > 2 no (twice), 3 > 2 yes (twice): 2 of 4 pairs
  assert aggregate.pairwise_improvement(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 0.5
  # ties count half: x=[2], y=[2, 1]: 0.5 + 1 over 2 pairs
  assert aggregate.pairwise_improvement(np.array([2.0]), np.array([2.0, 1.0])) == 0.75


def test_pairwise_improvement_equals_rliables_metric():
  from rliable import metrics as rliable_metrics
  rng = np.random.default_rng(0)
  for _ in range(20):
    x = rng.integers(0, 5, size=rng.integers(2, 8)).astype(float)  # small integers: ties
    y = rng.integers(0, 5, size=rng.integers(2, 8)).astype(float)
    assert aggregate.pairwise_improvement(x, y) == pytest.approx(
        rliable_metrics.probability_of_improvement(x[:, None], y[:, None]))


def test_first_reaching_and_common_grid():
  assert aggregate.first_reaching([1, 2, 3, 4], [0, 250, 100, 300], 200) == 2.0
  assert aggregate.first_reaching([1, 2], [0, 199.9], 200) is None
  grid, table = aggregate.common_grid([(np.array([0.0, 10.0]), np.array([0.0, 10.0])),
                                       (np.array([2.0, 8.0]), np.array([5.0, 5.0]))], points=4)
  np.testing.assert_allclose(grid, [2, 4, 6, 8])  # only where both curves have data
  np.testing.assert_allclose(table, [[2, 4, 6, 8], [5, 5, 5, 5]])
  grid, _ = aggregate.common_grid([(np.array([0.0, 1.0]), np.zeros(2)),
                                   (np.array([2.0, 3.0]), np.zeros(2))])
  assert not len(grid)


def test_run_clock_leaves_a_resumes_downtime_out():
  launcher = constants.LAUNCHER_SOURCE
  records = [
      {
          "time": 100.0,
          "source": launcher,
          "event": "start"},
      {
          "time": 130.0,
          "source": "learner"},
      {
          "time": 1000.0,
          "source": launcher,
          "event": "start"},  # 870 s stopped
      {
          "time": 1010.0,
          "source": "learner"}]
  clock = metrics.run_clock(records)
  assert clock(130.0) == 30.0
  assert clock(1010.0) == 40.0
  # a run written before the launcher recorded starts counts from its first record
  assert metrics.run_clock([{"time": 5.0}, {"time": 7.0}])(7.0) == 2.0


# ----- a synthetic sweep -------------------------------------------------------------------------
# Per variant and seed: (eval returns at train_step 10, 20, 30, 40; minutes of those evals;
# grid cell returns for gravity -10, -5 x wind 0, 10).
SYNTHETIC = {
    "a": {
        0: ([0, 150, 210, 250], [1, 2, 3, 4], [250, 200, 150, 100]),
        1: ([0, 150, 220, 230], [1, 2, 3, 4], [240, 190, 140, 90]),
        2: ([0, 50, 100, 240], [1, 2, 3, 4], [260, 210, 160, 110]),
        3: ([0, 100, 205, 260], [1, 2, 3, 4], [250, 200, 150, 80]),},
    "b": {
        0: ([0, 10, 20, 30], [1, 2, 3, 4], [100, 100, 100, 100]),
        1: ([0, 20, 30, 40], [1, 2, 3, 4], [110, 90, 100, 100]),
        2: ([0, 30, 40, 50], [1, 2, 3, 4], [100, 100, 100, 100]),
        3: ([0, 40, 50, 60], [1, 2, 3, 4], [100, 100, 100, 100]),}}
CELLS = [(-10.0, 0.0), (-10.0, 10.0), (-5.0, 0.0), (-5.0, 10.0)]
GRID = ["gravity=-10,-5", "wind_power=0,10"]


def write_run(exp_dir, returns, minutes, grid_returns, downtime_s=0.0):
  os.makedirs(os.path.join(exp_dir, "eval"), exist_ok=True)
  os.makedirs(os.path.join(exp_dir, "policies", "checkpoints", "policy_checkpoint_0000000040"))
  files.write_json(
      os.path.join(exp_dir, constants.RUN_INFO_FILE), {
          "finished": "2026-11-21T00:00:00",
          "hyperparameters": {
              "eval_interval": 1,
              "train_steps_per_iteration": 10}})
  start = 1000.0
  metrics.append_record(exp_dir, {
      "time": start,
      "source": "launcher",
      "event": "start",
      "train_step": 0,
      "env_steps": 0})
  for index, (value, minute) in enumerate(zip(returns, minutes)):
    step = 10 * (index + 1)
    at = start + 60 * minute + (downtime_s if index >= 2 else 0.0)
    if index == 2 and downtime_s:  # stopped after the second eval, resumed downtime_s later
      metrics.append_record(
          exp_dir, {
              "time": at - 60 * minute + 60 * minutes[1] + 1,
              "source": "launcher",
              "event": "start",
              "train_step": 20,
              "env_steps": 0})
    metrics.append_record(
        exp_dir, {
            "time": at,
            "source": "learner",
            "train_step": step,
            "iteration": index + 1,
            "env_steps": 100 * (index + 1)})
    metrics.append_record(
        exp_dir, {
            "time": at,
            "source": "worker_0",
            "train_step": step,
            "env_steps": 100 * (index + 1),
            "eval/average_return": value})
  stem = "robustness_policy_checkpoint_0000000040_gravity-x-wind_power_seed108"
  with open(os.path.join(exp_dir, "eval", stem + ".csv"), "w") as grid_file:
    writer = csv.writer(grid_file)
    writer.writerow([
        "gravity", "wind_power", "mean_return", "std_return", "min_return", "max_return",
        "mean_length"])
    for (gravity, wind), value in zip(CELLS, grid_returns):
      writer.writerow([gravity, wind, value, 1, value - 1, value + 1, 300])


@pytest.fixture
def synthetic_sweep(tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  runs = []
  for variant, seeds in SYNTHETIC.items():
    for seed, (returns, minutes, grid) in seeds.items():
      exp_dir = os.path.join(sweep_dir, variant, f"seed{seed}")
      # seed 1 of a was stopped for 10 minutes after its second eval and resumed
      write_run(exp_dir, returns, minutes, grid, downtime_s=600.0 if
                (variant, seed) == ("a", 1) else 0.0)
      runs.append({
          "index": len(runs),
          "name": f"{variant}/seed{seed}",
          "variant": variant,
          "seed": seed,
          "exp_dir": exp_dir,
          "variables": exp_dir + ".sh"})
  unfinished = os.path.join(sweep_dir, "b", "seed9")
  os.makedirs(unfinished)
  runs.append({
      "index": len(runs),
      "name": "b/seed9",
      "variant": "b",
      "seed": 9,
      "exp_dir": unfinished,
      "variables": unfinished + ".sh"})
  files.write_json(
      os.path.join(sweep_dir, "sweep.json"), {
          "name": "synthetic",
          "sweep_dir": sweep_dir,
          "seeds": [0, 1, 2, 3, 9],
          "variants": [{
              "name": "a",
              "reward_threshold": 200.0}, {
                  "name": "b",
                  "reward_threshold": 200.0}],
          "runs": runs,
          "grid": GRID,
          "grid_episodes": 5,
          "grid_seed": 108,
          "threshold": None})
  return sweep_dir


def test_report_of_a_synthetic_sweep(synthetic_sweep):
  paths = aggregate.write_report(synthetic_sweep, reps=2000)
  with open(paths["json"]) as report_file:
    report = json.load(report_file)
  a, b = report["variants"]["a"], report["variants"]["b"]
  assert report["threshold"] == 200.0  # the env's reward_threshold recorded in the plan
  assert report["left_out"] == ["b/seed9 (not finished)"]

  # final return = the last eval: a: 250, 230, 240, 260 -> IQM of the middle two 240, 250
  assert a["final_returns"] == [250, 230, 240, 260]
  assert a["final"]["iqm"][0] == pytest.approx(245.0)
  assert a["final"]["mean"][0] == pytest.approx(245.0)
  assert b["final"]["median"][0] == pytest.approx(45.0)
  low, high = a["final"]["iqm"][1:]
  assert 230 <= low <= 245.0 <= high <= 260

  # time to the first eval >= 200: seeds 0 and 3 at 3 min, seed 2 at 4 min, seed 1 at 3 min
  # less the second between its stop and its last record (its 10 minutes stopped are not
  # counted); env steps 300, 300, 400, 300
  times = {r["seed"]: r["minutes"] for r in a["time_to_threshold"]}
  assert times == pytest.approx({0: 3.0, 1: 179 / 60, 2: 4.0, 3: 3.0}, abs=1e-3)
  assert [r["env_steps"] for r in a["time_to_threshold"]] == pytest.approx([300, 300, 400, 300],
                                                                           abs=1)
  assert a["reached"] == 4 and a["median_minutes"] == pytest.approx(3.0, abs=0.02)
  assert a["minutes_to_threshold"]["iqm"][0] == pytest.approx(3.0, abs=0.02)
  assert b["reached"] == 0 and b["median_minutes"] == float("inf")
  assert "minutes_to_threshold" not in b

  # a's every final return beats b's: P(a > b) = 1, P(b > a) = 0
  poi = {(p["x"], p["y"], p["on"]): p["estimate"][0] for p in report["probability_of_improvement"]}
  assert poi[("a", "b", "final return")] == 1.0 and poi[("b", "a", "final return")] == 0.0
  # grid means per seed: a 175, 165, 185, 170; b 100, 100, 100, 100 -> a always above
  assert poi[("a", "b", "grid mean")] == 1.0

  # grid: cell (-10, 0) of a has 250, 240, 260, 250 over seeds -> IQM 250
  grid = a["grid"]
  assert grid["cells"] == 4 and grid["per_seed_mean_over_cells"] == [175, 165, 185, 170]
  assert grid["cells_iqm_at_threshold"] == 2  # (-10, 0): 250 and (-10, 10): 200
  assert grid["cells_at_threshold_per_seed"] == [2, 1, 2, 2]
  assert grid["worst_cell"] == {"gravity": -5.0, "wind_power": 10.0, "iqm": pytest.approx(95.0)}
  with open(paths["grid_a_csv"]) as grid_file:
    rows = {(float(r["gravity"]), float(r["wind_power"])): r for r in csv.DictReader(grid_file)}
  cell = rows[(-10.0, 0.0)]
  assert float(cell["iqm_return"]) == pytest.approx(250.0)
  assert float(cell["ci_low"]) <= 250.0 <= float(cell["ci_high"])
  assert float(cell["min_seed"]) == 240.0 and float(cell["max_seed"]) == 260.0
  assert cell["seeds"] == "4"

  for key in ("curves_png", "time_to_threshold_png", "grid_a_png", "grid_b_png", "final_csv",
              "curves_env_steps", "curves_wall_time", "markdown"):
    assert os.path.getsize(paths[key]) > 0, key
  with open(paths["curves_env_steps"]) as curve_file:
    curve = [r for r in csv.DictReader(curve_file) if r["variant"] == "a"]
  # at env steps 400 (the last eval) a's returns are 250, 230, 240, 260 -> IQM 245
  assert float(curve[-1]["env_steps"]) == pytest.approx(400)
  assert float(curve[-1]["iqm_return"]) == pytest.approx(245.0)
  with open(paths["markdown"]) as markdown_file:
    text = markdown_file.read()
  assert "| a | 4 | 245.0 [" in text and "Left out: b/seed9 (not finished)." in text


def test_report_refuses_a_sweep_without_finished_runs(tmp_path):
  sweep_dir = str(tmp_path)
  files.write_json(
      os.path.join(sweep_dir, "sweep.json"), {
          "name": "empty",
          "sweep_dir": sweep_dir,
          "seeds": [0],
          "variants": [{
              "name": "a"}],
          "runs": [{
              "index": 0,
              "name": "a/seed0",
              "variant": "a",
              "seed": 0,
              "exp_dir": os.path.join(sweep_dir, "a", "seed0"),
              "variables": "x"}],
          "grid": [],
          "grid_episodes": 5,
          "grid_seed": 108,
          "threshold": None})
  assert aggregate.main([sweep_dir]) == 2
  assert aggregate.main([str(tmp_path / "nothing")]) == 2
