"""Training plots from metrics.jsonl: eval rounds grouped across workers, PNG written."""

import json
import os

import numpy as np
import pytest

from sac_system import plotting
from sac_system.metrics import append_record
from sac_system.metrics import summarize_episode_states


def write_run(exp_dir, curriculum=False):
  os.makedirs(exp_dir, exist_ok=True)
  with open(os.path.join(exp_dir, "run_info.json"), "w") as info:
    json.dump({"hyperparameters": {"eval_interval": 5, "train_steps_per_iteration": 100}}, info)
  for k in range(1, 6):
    append_record(
        exp_dir, {
            "time": 100.0 + 60 * k,
            "source": "learner",
            "train_step": 500 * k,
            "iteration": 5 * k,
            "env_steps": 1000 * k,
            "learner/critic_loss": 1.0 / k,
            "learner/actor_loss": -k,
            "learner/alpha": 0.5 / k})
    for worker, offset in (("worker_0", 0), ("worker_1", 10)):
      record = {
          "time": 130.0 + 60 * k,
          "source": worker,
          "train_step": 500 * k + offset,
          "iteration": 5 * k,
          "env_steps": 500 * k,
          "eval/average_return": 10.0 * k + offset,
          "collect/average_return": -k}
      if curriculum:
        record["curriculum/gravity"] = -6.0 - k
        record["curriculum/gravity_spread"] = 0.1 * k
        record.update(
            summarize_episode_states([{
                "gravity": -6.0 - k - 0.1 * k}, {
                    "gravity": -6.0 - k + 0.1 * k}]))
      append_record(exp_dir, record)


def test_eval_rounds_average_workers_and_keep_their_spread(tmp_path):
  write_run(str(tmp_path))
  series = plotting.load_run(str(tmp_path))
  # round k holds worker_0 (10k) and worker_1 (10k + 10): mean 10k + 5, min 10k, max 10k + 10
  np.testing.assert_allclose(series["eval_mean"], [15, 25, 35, 45, 55])
  np.testing.assert_allclose(series["eval_min"], [10, 20, 30, 40, 50])
  np.testing.assert_allclose(series["eval_max"], [20, 30, 40, 50, 60])
  # total env steps come from the learner's counter at the eval's time (interpolated)
  np.testing.assert_allclose(series["eval_env_steps"][:4], [1500, 2500, 3500, 4500])
  np.testing.assert_allclose(series["eval_minutes"], [0.5, 1.5, 2.5, 3.5, 4.5])  # from 1st record


def test_plot_several_runs_with_curriculum(tmp_path):
  write_run(str(tmp_path / "a"))
  write_run(str(tmp_path / "b"), curriculum=True)
  path = plotting.plot_training([str(tmp_path / "a"), str(tmp_path / "b")],
                                str(tmp_path / "out" / "plot.png"))
  with open(path, "rb") as png:
    assert png.read(8) == b"\x89PNG\r\n\x1a\n"
  assert os.listdir(tmp_path / "out") == ["plot.png"]  # no temporary file left beside it
  series = plotting.load_run(str(tmp_path / "b"))
  assert sorted(plotting._extra_keys([
      ("b",
       series)])) == ["curriculum/gravity", "curriculum/gravity_spread", "randomization/gravity"]
  # randomization rows: train_step, mean, min, max of the episodes drawn between two reports
  np.testing.assert_allclose(series["randomization/gravity"][0], [500, -7.0, -7.1, -6.9])


def test_a_run_without_metrics_is_an_error(tmp_path):
  with pytest.raises(ValueError, match="has no records"):
    plotting.load_run(str(tmp_path))


def test_the_solved_line_is_the_threshold_the_run_recorded(tmp_path, monkeypatch):
  """A dashed line at gymnasium's reward_threshold from run_info.json (Lunar Lander's 200,
  HalfCheetah's 4800), none for a run that recorded none; never a guess from the returns."""
  drawn = []
  import matplotlib.axes
  original = matplotlib.axes.Axes.axhline
  monkeypatch.setattr(matplotlib.axes.Axes, "axhline",
                      lambda self, y=0, *a, **k: drawn.append(y) or original(self, y, *a, **k))
  write_run(str(tmp_path / "a"))
  plotting.plot_training([str(tmp_path / "a")], str(tmp_path / "a.png"))
  assert drawn == [] and plotting.reward_threshold(str(tmp_path / "a")) is None
  info_path = tmp_path / "a" / "run_info.json"
  info = json.loads(info_path.read_text())
  info_path.write_text(json.dumps({**info, "reward_threshold": 4800.0}))
  plotting.plot_training([str(tmp_path / "a")], str(tmp_path / "b.png"))
  assert drawn == [4800.0, 4800.0]  # against env steps and against wall time
