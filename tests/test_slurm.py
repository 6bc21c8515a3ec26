"""The SLURM batch job on a real single-node SLURM cluster (munged, slurmctld, slurmd started by
scripts/slurm_local_cluster.sh; needs root, as in CI)."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import REPO
from conftest import write_config
from conftest import write_variables

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm_cluster():
  setup = subprocess.run([os.path.join(REPO, "scripts", "slurm_local_cluster.sh")],
                         capture_output=True, text=True, timeout=600)
  if setup.returncode != 0:
    pytest.fail("could not start the local SLURM cluster (needs root and Debian packages "
                f"slurm-wlm and munge): {setup.stderr[-2000:]}")
  return True


def job_state(job_id):
  result = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True)
  fields = dict(re.findall(r"(\w+)=(\S+)", result.stdout))
  return fields


def wait_for_job(job_id, timeout):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    fields = job_state(job_id)
    if fields.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                  "OUT_OF_MEMORY"):
      return fields
    time.sleep(2)
  subprocess.run(["scancel", str(job_id)])
  raise AssertionError(f"job {job_id} did not finish within {timeout} s: {job_state(job_id)}")


def submit(script, variables, tmp_path):
  """Submits `script` as a user would; returns the sizing job's output once it completed."""
  result = subprocess.run([
      "sbatch", "--parsable", f"--output={tmp_path}/sizing-%j.out", f"scripts/{script}",
      str(variables)], cwd=REPO, capture_output=True, text=True, timeout=60)
  assert result.returncode == 0, result.stderr
  job = result.stdout.strip().split(";")[0]
  fields = wait_for_job(job, 120)
  return fields, (tmp_path / f"sizing-{job}.out").read_text()


TINY = {
    "num_iterations": 10,
    "min_size_to_sample": 100,
    "eval_interval": 5,
    "policy_checkpoint_interval": 50}


def test_sbatch_runs_the_training_job(slurm_cluster, tmp_path):
  variables = write_variables(tmp_path, write_config(tmp_path, TINY), name="slurm_run")
  exp_dir = tmp_path / "logs" / "slurm_run"
  fields, sizing_output = submit("slurm_train.sbatch", variables, tmp_path)
  assert fields["JobState"] == "COMPLETED", fields
  match = re.search(r"submitted job (\d+) with --cpus-per-task=5", sizing_output)
  assert match, sizing_output
  job_id = match.group(1)

  fields = wait_for_job(job_id, 600)
  output = (exp_dir / f"slurm-{job_id}.out").read_text()
  assert fields["JobState"] == "COMPLETED" and fields["ExitCode"] == "0:0", output[-3000:]
  assert fields["NumCPUs"] == "5"  # 1 + 1 + 1 * 1 + 2
  assert f"job {job_id} on" in output and "run finished" in output
  worker_log = (exp_dir / "logs" / "worker_0.log").read_text()
  assert "SLURM_PROCID=0" in worker_log
  assert (exp_dir / "policies" / "checkpoints" / "policy_checkpoint_0000000100").is_dir()
  leftover = subprocess.run(["pgrep", "-f", str(exp_dir)], capture_output=True, text=True)
  assert not leftover.stdout.split()


def test_sbatch_with_bad_variables_fails_at_once(slurm_cluster, tmp_path):
  variables = tmp_path / "vars.sh"
  variables.write_text("SAC_PARAMS=sac_system/envs/gym_params.py\n")
  fields, output = submit("slurm_train.sbatch", variables, tmp_path)
  assert fields["JobState"] == "FAILED"
  assert f"error: {variables}: SAC_CONFIG: missing" in output


def test_multinode_workers_refused_by_sbatch_leave_no_head_behind(slurm_cluster, tmp_path,
                                                                  monkeypatch):
  """When sbatch refuses the workers array (here a bad SAC_SBATCH_WORKER_OPTIONS), the entry job
  fails saying so and cancels the head it had submitted, which stays recorded in slurm_jobs for
  the next submission. (Runs across hosts: tests/test_emulated_cluster.py.)"""
  variables = write_variables(tmp_path, write_config(tmp_path, TINY), workers=2, name="refused")
  monkeypatch.setenv("SAC_SBATCH_WORKER_OPTIONS", "--no-such-option")
  fields, output = submit("slurm_train_multinode.sbatch", variables, tmp_path)
  assert fields["JobState"] == "FAILED", output
  assert "error: submitting the workers failed" in output
  head_job = re.search(r"cancelled the head job (\d+)", output).group(1)
  assert (tmp_path / "logs" / "refused" / "slurm_jobs").read_text().split() == [head_job]
  assert wait_for_job(head_job, 120)["JobState"] == "CANCELLED"


def job_records(job_id):
  """One dict per record of `scontrol show job` (an array job shows one per task)."""
  result = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True)
  return [
      dict(re.findall(r"(\w+)=(\S+)", block)) for block in result.stdout.split("\n\n")
      if block.strip()]


def test_sweep_runs_as_job_arrays(slurm_cluster, tmp_path):
  """`./sweep_script.sh SWEEP.sh --slurm`: 2 tiny variants x 1 seed as one job array per
  variant (each task sized like a single-node job) and a report job after them. (Several seeds
  and a task's grid step are tested through the local queue, tests/test_sweep.py.)"""
  config = write_config(tmp_path, {"num_iterations": 4, "eval_interval": 2})
  variables = write_variables(tmp_path, config)
  sweep_file = tmp_path / "sweep.sh"
  sweep_file.write_text(f"""\
SWEEP_NAME=arrays
SWEEP_SEEDS="0"
SWEEP_LOGS_DIR={tmp_path}/sweeps
SWEEP_VARIANT_base="{variables}"
SWEEP_VARIANT_batch16="{variables} hyperparameters.batch_size=16"
SWEEP_THRESHOLD=-2000
""")
  result = subprocess.run([os.path.join(REPO, "sweep_script.sh"),
                           str(sweep_file), "--slurm"], cwd=REPO, capture_output=True, text=True,
                          timeout=180)
  assert result.returncode == 0, result.stdout + result.stderr
  arrays = re.findall(
      r"submitted array job (\d+) for variant (\w+): runs ([\d,]+) with "
      r"--cpus-per-task=5", result.stdout)
  assert sorted((variant, runs) for _, variant, runs in arrays) == [("base", "0"), ("batch16", "1")]
  report_job = re.search(r"submitted report job (\d+)", result.stdout).group(1)
  report = wait_for_job(report_job, 600)
  sweep_dir = tmp_path / "sweeps" / "arrays"
  for job_id, variant, _ in arrays:
    records = job_records(job_id)
    assert sorted(r["ArrayTaskId"] for r in records) == (["0"] if variant == "base" else ["1"])
    for record in records:
      task = record["ArrayTaskId"]
      output = (sweep_dir / variant / f"slurm-{job_id}_{task}.out").read_text()
      assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0", output[-3000:]
      assert record["NumCPUs"] == "5" and "run finished" in output
  for variant in ("base", "batch16"):
    for seed in (0,):
      exp_dir = sweep_dir / variant / f"seed{seed}"
      info = json.loads((exp_dir / "run_info.json").read_text())
      assert info["finished"] and info["seed"] == seed and info["final_train_step"] == 40
      assert info["hyperparameters"]["batch_size"] == (16 if variant == "batch16" else 8)
  assert report["JobState"] == "COMPLETED", (sweep_dir
                                             / f"slurm-report-{report_job}.out").read_text()
  summary = json.loads((sweep_dir / "report" / "report.json").read_text())
  assert {
      name: v["seeds"] for name, v in summary["variants"].items()} == {
          "base": [0],
          "batch16": [0]}
  for name in ("report.md", "curves.png", "final.csv", "time_to_threshold.csv"):
    assert (sweep_dir / "report" / name).stat().st_size > 0
  # submitted again: every run is finished, only the report job runs
  again = subprocess.run([os.path.join(REPO, "sweep_script.sh"),
                          str(sweep_file), "--slurm"], cwd=REPO, capture_output=True, text=True,
                         timeout=180)
  assert again.returncode == 0 and "submitted array job" not in again.stdout, again.stdout
  assert again.stdout.count("every run finished already") == 2
  subprocess.run(["scancel", re.search(r"submitted report job (\d+)", again.stdout).group(1)])
