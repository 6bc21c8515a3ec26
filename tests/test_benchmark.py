"""The benchmark harness keeps working: its quick mode runs every part (real pinned processes,
a real Reverb server on loopback) and writes its results. It asserts that numbers were
produced, never a speed: speeds live in benchmarks/, measured on an otherwise idle machine."""

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_quick_benchmark_writes_every_number(tmp_path):
  result = subprocess.run([
      sys.executable, "scripts/benchmark.py", "--quick", "--seconds", "1", "--capacity", "5000",
      "--output_dir",
      str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  [json_path] = glob.glob(str(tmp_path / "results_*_quick.json"))
  report = json.load(open(json_path))
  assert report["machine"]["allowed_cpus"] >= 1 and report["batch_size"] == 256
  speed = report["speed"]
  for part, key in (("learner_plain", "grad_steps_per_second"), ("learner_ours",
                                                                 "grad_steps_per_second"),
                    ("learner_ours", "sample_transitions_per_second"), ("replay_insert",
                                                                        "insert_items_per_second"),
                    ("replay_insert", "insert_transitions_per_second"), ("learner_plain",
                                                                         "matmul_flops_per_second"),
                    ("collection", "raw_env_steps_per_second"), ("collection",
                                                                 "worker_env_steps_per_second"),
                    ("collection", "peak_rss_mb"), ("replay_server", "peak_rss_mb")):
    assert speed[part][key] > 0, (part, key)
  summary = speed["summary"]
  probe = speed["replay_checkpoint"]  # checkpoints of the full table while clients use it
  assert len(probe["checkpoint_seconds"]) == 2 and probe["median_checkpoint_seconds"] > 0
  assert probe["checkpoint_mb_on_disk"] > 0 and probe["inserts_timed"] > 0
  per_item = speed["replay_insert"]["transitions_per_item"]
  # whole items within the capacity, all of them in the table
  assert summary["replay_items"] == 5000 // per_item == probe["items"]
  assert summary["replay_transitions"] == summary["replay_items"] * per_item
  for key in ("learner_ratio_ours_to_plain", "collection_ratio_worker_to_raw", "replay_raw_mb",
              "replay_raw_steps_mb", "replay_server_rss_full_mb", "plain_loop_share_of_matmul_rate",
              "roofline_grad_steps_per_second", "roofline_ratio_to_plain"):
    assert summary[key] > 0, key
  flops = speed["learner_plain"]["step_flops"]
  assert 0 < flops["minimal_step"] < flops["tf_agents_step"]
  table = open(json_path[:-len(".json")] + ".md").read()
  assert "learner ratio (ours / plain)" in table and "collection ratio" in table
  assert "roofline" in table
  assert os.path.basename(json_path) in result.stdout


def test_sac_step_flops_counts_the_passes_of_tf_agents_step():
  """5 actor and 12 critic forward-pass equivalents per step (benchmarks/README.md), with the
  actor's output layer giving a mean and a std per action dimension."""
  sys.path.insert(0, os.path.join(REPO, "scripts"))
  import benchmark

  class Params:
    batch_size = 256
    actor_fc_layers = (256, 256)
    critic_joint_fc_layers = (256, 256)

  actor = 2 * 256 * (8 * 256 + 256 * 256 + 256 * 4)  # Lunar Lander: 8 observations, 2 actions
  critic = 2 * 256 * (10 * 256 + 256 * 256 + 256 * 1)
  flops = benchmark.sac_step_flops(Params, 8, 2)
  assert flops == {
      "tf_agents_step": 5 * actor + 12 * critic,
      "minimal_step": 4 * actor + 12 * critic}
  assert flops["tf_agents_step"] == 595_591_168


def test_run_throughput_measures_a_real_run_per_worker_count(tmp_path):
  """--run_throughput with --scaling_config starts the variables file on that generic-gym
  config with each worker count (here one: 2, to keep the suite short), its env steps waiting
  step_latency_seconds; measures it once the learner trains, and stops it (the launcher's
  SIGTERM: nothing left running)."""
  from conftest import write_config
  from conftest import write_variables
  config = write_config(tmp_path, {"num_iterations": 100_000}, step_latency_seconds=0.01)
  (tmp_path / "base").mkdir()
  variables = write_variables(tmp_path, write_config(tmp_path / "base", {}))
  result = subprocess.run([
      sys.executable, "scripts/benchmark.py", "--run_throughput", "2", "--throughput_seconds", "3",
      "--variables", variables, "--scaling_config", config, "--output_dir",
      str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=400)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  [json_path] = glob.glob(str(tmp_path / "results_*.json"))
  report = json.load(open(json_path))
  assert report["step_latency_seconds"] == 0.01
  runs = report["run_throughput"]
  assert [run["workers"] for run in runs] == [2]
  for run in runs:
    assert run["seconds"] >= 3 and run["env_steps_per_second"] > 0
    assert run["grad_steps_per_second"] > 0
    # tiny items of one transition; two workers each waiting 10 ms per step: at most 200/s
    assert run["replay_items_per_second"] == pytest.approx(run["env_steps_per_second"])
    assert run["env_steps_per_second"] < 2 / 0.01
    assert 0 < run["machine_cpu_busy"] <= 1
    info = json.load(open(os.path.join(run["exp_dir"], "run_info.json")))
    assert info["config_file"] == config  # the scaling config, not the variables file's
    leftover = subprocess.run(["pgrep", "-f", run["exp_dir"]], capture_output=True, text=True)
    assert not leftover.stdout.split()
  table = open(json_path[:-len(".json")] + ".md").read()
  assert "(each env step waits 10 ms)" in table and "| 2 | " in table and "(200) |" in table


def test_time_to_solve_times_a_real_run_and_its_first_solved_checkpoint(tmp_path):
  """--only_time_to_solve on a tiny run (Pendulum, 50-step episodes) with a threshold every
  eval meets: the run's first eval is found, the run goes on for --solve_run_minutes, then its
  policy checkpoints are evaluated over 100 episodes, oldest first, until one's mean meets
  the threshold; each program's CPU use and the learner's rate are measured, and the run is
  stopped (nothing left running)."""
  from conftest import write_config
  from conftest import write_variables
  config = write_config(tmp_path, {"num_iterations": 100_000})
  variables = write_variables(tmp_path, config)
  result = subprocess.run([
      sys.executable, "scripts/benchmark.py", "--only_time_to_solve", "--seeds", "3",
      "--solve_run_minutes", "0.3", "--solve_limit_minutes", "3", "--solved_return=-1e6",
      "--seconds", "3", "--variables", variables, "--output_dir",
      str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=400)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  [json_path] = glob.glob(str(tmp_path / "results_*.json"))
  report = json.load(open(json_path))
  [run] = report["time_to_solve"]
  assert run["solved"] and 0 < run["wall_seconds"] < 180 and run["env_steps"] > 0
  assert run["grad_steps_per_second"] > 0
  cores = run["cpu_cores_training"]
  assert cores["sac_train"] > 0 and 0 < cores["machine"] <= os.cpu_count()
  assert {"sac_replay_buffer", "sac_train", "sac_collect_0"} <= set(run["peak_rss_mb"])
  first = run["solved_checkpoint"]
  assert first == run["checkpoints_checked"][0]  # the oldest one already meets -1e6
  assert first["checkpoint"].startswith("policy_checkpoint_") and first["mean_return"] < 0
  assert 0 < first["wall_seconds"] < 180
  assert os.path.exists(os.path.join(run["exp_dir"], "eval", f"{first['checkpoint']}_seed0.json"))
  roofline = report["learner_roofline"]
  assert roofline["step_flops"]["tf_agents_step"] > 0
  assert roofline["matmul_flops_per_second_one_core"] > 0
  leftover = subprocess.run(["pgrep", "-f", run["exp_dir"]], capture_output=True, text=True)
  assert not leftover.stdout.split()
  table = open(json_path[:-len(".json")] + ".md").read()
  assert "first checkpoint with 100-episode mean >= -1e+06" in table and "**median**" in table


def test_time_to_solve_table_takes_medians_and_worst_over_seeds_and_the_peer_ratio():
  """The markdown of time-to-solve runs: per seed, then the median and worst over seeds (an
  unsolved seed counts as worst); with peer runs, the ratio of median times, a lower bound
  when a peer run hit its time limit."""
  sys.path.insert(0, os.path.join(REPO, "scripts"))
  import benchmark

  def ours(seed, seconds, checkpoint):
    return {
        "seed": seed,
        "solved": True,
        "wall_seconds": seconds,
        "env_steps": 1000,
        "grad_steps_per_second": 400.0,
        "cpu_cores_training": {
            "sac_train": 1.0,
            "sac_replay_buffer": 0.1,
            "sac_collect_0": 0.2,
            "machine": 1.3},
        "solved_checkpoint": {
            "checkpoint": "policy_checkpoint_0000005000",
            "train_step": 5000,
            "wall_seconds": checkpoint,
            "mean_return": 210.0},
        "checkpoints_checked": []}

  report = {
      "variables": "training_variables.sh",
      "solved_return": 200.0,
      "time_to_solve": [ours(0, 50.0, 90.0),
                        ours(1, 70.0, 100.0),
                        ours(2, 60.0, 150.0)],
      "learner_roofline": {
          "step_flops": {
              "tf_agents_step": 100e6},
          "matmul_flops_per_second_one_core": 80e9,
          "batch_size": 256,
          "actor_fc_layers": [128, 128],
          "critic_joint_fc_layers": [128, 128]},
      "peer": [{
          "seed": 0,
          "solved": True,
          "wall_seconds": 1200.0,
          "env_steps": 90000,
          "best_eval_return": 230.0,
          "env_steps_per_second": 75.0}, {
              "seed": 1,
              "solved": False,
              "gave_up_after_seconds": 600.0,
              "best_eval_return": 120.0,
              "env_steps_per_second": 75.0}]}
  lines = benchmark.time_to_solve_markdown(report)
  text = "\n".join(lines)
  assert "| **median** | **60 s** | | **100 s** |" in text
  assert "| **worst** | **70 s** | | **150 s** |" in text
  assert "| 0 | 50 s | 1000 | 90 s (5000 steps) | 400 | 50 % | 0.10 / 1.00 / 0.20 / 1.30 |" in text
  assert "| 1 | not in 600 s |" in text
  assert "peer / ours: >= 15.0×" in text  # median(1200, 600) / median(50, 70, 60)
  report["time_to_solve"][2] = {
      "seed": 2,
      "solved": False,
      "gave_up_after_seconds": 300.0,
      "checkpoints_checked": [{
          "mean_return": 10.0}],
      "solved_checkpoint": None}
  text = "\n".join(benchmark.time_to_solve_markdown(report))
  assert "| **worst** | **not reached** | | **not reached** |" in text
  assert "| 2 | not in 300 s | - | none of 1 |" in text
