"""The SLURM batch job on a real single-node SLURM cluster (munged, slurmctld, slurmd started by
scripts/slurm_local_cluster.sh; needs root, as in CI)."""

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


def test_multinode_jobs_put_head_and_workers_in_separate_jobs(slurm_cluster, tmp_path):
  """The multi-node variant on the one test node: a head job running the replay server and
  learner, and a workers job with 2 SLURM tasks, each finding the server by the head's host
  name and port."""
  variables = write_variables(tmp_path, write_config(tmp_path, TINY), workers=2, name="multinode")
  exp_dir = tmp_path / "logs" / "multinode"
  fields, sizing_output = submit("slurm_train_multinode.sbatch", variables, tmp_path)
  assert fields["JobState"] == "COMPLETED", fields
  match = re.search(
      r"submitted head job (\d+) \(4 CPUs\) and workers job (\d+) \(2 task\(s\) "
      r"of 1 CPU\(s\)\)", sizing_output)
  assert match, sizing_output
  head_job, workers_job = match.groups()
  head = wait_for_job(head_job, 600)
  workers = wait_for_job(workers_job, 300)
  head_output = (exp_dir / f"slurm-{head_job}-head.out").read_text()
  workers_output = (exp_dir / f"slurm-{workers_job}-workers.out").read_text()
  assert head["JobState"] == "COMPLETED", head_output[-3000:]
  assert workers["JobState"] == "COMPLETED", workers_output[-3000:]
  assert workers["NumTasks"] == "2"
  address = (exp_dir / f"replay_address.{head_job}").read_text().strip()
  host = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
  assert address.startswith(f"{host}:")
  assert "run finished" in head_output and f"replay server at {address}" in workers_output
  for worker in (0, 1):
    log = (exp_dir / "logs" / f"worker_{worker}.log").read_text()
    assert f"SLURM_PROCID={worker}" in log and f"--replay_address {address}" in log
    assert "eval at train_step 100" in log, log[-2000:]  # each worker's final evaluation
  assert (exp_dir / "policies" / "checkpoints" / "policy_checkpoint_0000000100").is_dir()
