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
      sys.executable, "scripts/benchmark.py", "--quick", "--seconds", "3", "--capacity", "5000",
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
