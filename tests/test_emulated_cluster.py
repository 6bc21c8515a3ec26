"""Training across separate hosts, and host and network faults, on an emulated multi-host SLURM
cluster (scripts/emulated_cluster.py: a controller and 6 nodes, each its own network namespace,
host name and slurmd; needs root, as in CI).

Two runs at once, each with its head (replay server and learner) on one node and one worker on
each of two others; they find each other by host name. Every command that talks to the
cluster runs inside one of its hosts (`Cluster.run`); the test itself only reads the shared
files (exp dir, logs, metrics.jsonl)."""

import concurrent.futures
import importlib.util
import os
import re
import subprocess
import time

import pytest

from conftest import REPO
from conftest import learner_step
from conftest import wait_for
from conftest import write_config
from conftest import write_variables
from sac_system.metrics import read_records

pytestmark = pytest.mark.slow

_spec = importlib.util.spec_from_file_location("emulated_cluster",
                                               os.path.join(REPO, "scripts", "emulated_cluster.py"))
emulated_cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emulated_cluster)

# Each env step waits 50 ms (a robot's or a remote simulator's latency): a worker collects at
# most 20 steps/s, so the learner (one gradient step per inserted transition) trains at a known
# pace whatever the machine's speed.
STEP_LATENCY_S = 0.05
BUDGET = 3500
LINK_CUT_S = 65
# Two runs of six programs each start at once, beside the rest of the suite: on 2 busy CPUs
# their TensorFlow start-up alone has taken over 4 minutes.
STARTUP_S = 420


@pytest.fixture(scope="module")
def cluster():
  emulated_cluster.install_missing()  # slurm-wlm and munge on a fresh machine (root)
  started = time.monotonic()
  emulated = emulated_cluster.up(nodes=6, cpus=5)
  up_seconds = time.monotonic() - started
  namespaces = [h.namespace for h in emulated.hosts.values()] + [emulated.switch]
  inodes = emulated.namespace_inodes()
  try:
    assert up_seconds < 30, f"the emulated cluster took {up_seconds:.0f} s to come up"
    yield emulated
  finally:
    emulated.down()
  left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
  assert not any(name in left for name in namespaces), left
  assert not os.path.exists(emulated.folder)
  assert len(inodes) == len(namespaces)
  assert not emulated_cluster.processes_in_namespaces(inodes)  # no process of any host is left


def hostname(cluster, host):
  return cluster.hosts[host].hostname


def env_steps(exp_dir, worker):
  rows = read_records(exp_dir, f"worker_{worker}")
  return rows[-1]["env_steps"] if rows else 0


def submit(cluster, variables, tmp_path, head, workers):
  """Submits the multi-node script from the controller, as a user on the login node would: the
  head pinned to host `head`, one worker on each of the hosts `workers` (`--exclusive`, every
  other node excluded). Returns the entry job's output, the head job and the workers array."""
  others = [hostname(cluster, n) for n in cluster.nodes if n not in workers]
  result = cluster.run(
      "ctl", [
          "sbatch", "--parsable", f"--output={tmp_path}/entry-%j.out",
          "scripts/slurm_train_multinode.sbatch", variables], cwd=REPO, check=False, env={
              "SAC_SBATCH_OPTIONS": f"--nodelist={hostname(cluster, head)}",
              "SAC_SBATCH_WORKER_OPTIONS": f"--exclusive --exclude={','.join(others)}"})
  assert result.returncode == 0, result.stderr
  entry = result.stdout.strip().split(";")[0]
  wait_for(lambda: job(cluster, entry).get("JobState") == "COMPLETED", 120, "the entry job")
  output = (tmp_path / f"entry-{entry}.out").read_text()
  match = re.search(r"submitted head job (\d+) .* and workers array (\d+)", output)
  assert match, output
  return output, match.group(1), match.group(2)


def job(cluster, job_id):
  """`scontrol show job` fields of one job (an array task: "<array>_<task>")."""
  result = cluster.run("ctl", ["scontrol", "show", "job", str(job_id)], check=False)
  return dict(re.findall(r"(\w+)=(\S+)", result.stdout))


def job_done(cluster, job_id):
  return job(cluster,
             job_id).get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")


def tiny_config(tmp_path, **hyperparameters):
  return write_config(
      tmp_path, {
          "min_size_to_sample": 100,
          "eval_interval": 100,
          "policy_checkpoint_interval": 100000,
          "learner_checkpoint_interval_seconds": 5.0,
          "replay_checkpoint_interval_seconds": 5.0,
          **hyperparameters}, step_latency_seconds=STEP_LATENCY_S)


def worker_faults(cluster, tmp_path):
  """Head on n1, workers on n2 and n3. n2's cable is pulled for over a minute and plugged back:
  its worker waits (bounded, logged) and carries on by itself. Then n3 dies outright (every
  process, its slurmd): the learner goes on with worker 0; when n3 boots again SLURM requeues
  worker 1's task there and it rejoins, continuing its env-step count. The run then finishes:
  exit 0, a final evaluation from every worker."""
  # BUDGET gradient steps: at most 20 per second per worker, the faults below are over before
  # the learner can get there (the test checks that it did not).
  config = tiny_config(tmp_path, num_iterations=BUDGET // 10, replay_server_timeout_seconds=240.0)
  variables = write_variables(tmp_path, config, workers=2, name="across")
  exp_dir = str(tmp_path / "logs" / "across")
  output, head_job, workers_job = submit(cluster, variables, tmp_path, "n1", ("n2", "n3"))
  assert "(2 task(s) of 1 CPU(s))" in output
  try:
    wait_for(
        lambda: learner_step(exp_dir) >= 200 and env_steps(exp_dir, 0) > 0 and env_steps(
            exp_dir, 1) > 0, STARTUP_S, "both workers to feed the learner")
    head_out = open(f"{exp_dir}/slurm-{head_job}-head.out").read()
    n1, n2, n3 = (hostname(cluster, h) for h in ("n1", "n2", "n3"))
    assert f"head job {head_job} on {n1}: replay server and learner at {n1}:" in head_out
    address = open(f"{exp_dir}/replay_address.{head_job}").read().strip()
    assert address.startswith(f"{n1}:")
    for worker, host in ((0, n2), (1, n3)):
      worker_out = open(f"{exp_dir}/slurm-{workers_job}_{worker}-worker.out").read()
      assert f"worker {worker} (job " in worker_out and f"on {host}: replay server at {address}" \
          in worker_out

    # 1. n2's cable out for over a minute: worker 0 waits, the learner goes on with worker 1
    cut_at = time.time()
    cluster.link("n2", up=False)
    step_at_cut = learner_step(exp_dir)
    time.sleep(LINK_CUT_S)
    step_before_restore, worker0_before = learner_step(exp_dir), env_steps(exp_dir, 0)
    cluster.link("n2", up=True)
    restored_at = time.time()
    assert step_before_restore > step_at_cut + 200, "the learner stopped while n2 was cut off"
    wait_for(lambda: env_steps(exp_dir, 0) > worker0_before + 50, 120,
             "worker 0 to collect again after n2's link came back")
    recovered_s = time.time() - restored_at
    worker0_log = open(f"{exp_dir}/logs/worker_0.log").read()
    waits = [
        line for line in worker0_log.splitlines()
        if "still waiting for" in line and "gives up after 240 s" in line]
    assert waits, worker0_log[-3000:]  # the wait was logged, with its bound
    assert job(cluster, f"{workers_job}_0")["JobState"] == "RUNNING"  # no human, no requeue
    print(f"worker 0 collected again {recovered_s:.0f} s after a {LINK_CUT_S} s link cut "
          f"(cut at {time.strftime('%H:%M:%S', time.localtime(cut_at))})")

    # 2. n3 dies: its slurmd, its worker and everything else on it
    assert cluster.kill("n3") >= 3
    killed_at = time.time()
    step_at_kill, worker1_at_kill = learner_step(exp_dir), env_steps(exp_dir, 1)
    wait_for(lambda: learner_step(exp_dir) > step_at_kill + 200, 60,
             "the learner to go on with worker 0 alone")
    assert not [r for r in read_records(exp_dir, "worker_1") if r["time"] > killed_at + 1]
    cluster.boot("n3")
    wait_for(lambda: job(cluster, f"{workers_job}_1").get("Restarts", "0") != "0", 90,
             "SLURM to requeue worker 1's task")
    wait_for(lambda: [r for r in read_records(exp_dir, "worker_1") if r["time"] > killed_at + 1],
             180, "worker 1 to rejoin")
    rejoined = [r for r in read_records(exp_dir, "worker_1") if r["time"] > killed_at + 1]
    assert rejoined[0]["env_steps"] >= worker1_at_kill  # it continued its count
    print(f"worker 1 rejoined at train_step {learner_step(exp_dir)}, "
          f"{rejoined[0]['time'] - killed_at:.0f} s after n3 died")
    assert learner_step(exp_dir) < BUDGET, "the run ended before the faults were over"

    # 3. the run finishes: every worker's final evaluation, exit 0
    wait_for(lambda: job_done(cluster, head_job), 300, "the run to finish")
    wait_for(lambda: all(job_done(cluster, f"{workers_job}_{w}") for w in (0, 1)), 120,
             "the workers to end")
  except BaseException:
    cluster.run("ctl", ["scancel", head_job, workers_job], check=False)
    raise
  head = job(cluster, head_job)
  head_out = open(f"{exp_dir}/slurm-{head_job}-head.out").read()
  assert head["JobState"] == "COMPLETED" and head["ExitCode"] == "0:0", head_out[-3000:]
  assert "run finished" in head_out
  for worker in (0, 1):
    state = job(cluster, f"{workers_job}_{worker}")
    assert state["JobState"] == "COMPLETED", state
    log = open(f"{exp_dir}/logs/worker_{worker}.log").read()
    assert f"eval at train_step {BUDGET}" in log, log[-2000:]
  worker1_out = open(f"{exp_dir}/slurm-{workers_job}_1-worker.out").read()
  assert "restart count 1" in worker1_out
  steps = [r["train_step"] for r in read_records(exp_dir, "learner")]
  assert steps == sorted(steps) and steps[-1] == BUDGET


def head_cut(cluster, tmp_path):
  """Head on n4, workers on n5 and n6. n4's (the head's) cable is pulled for longer than
  replay_server_timeout_seconds: both workers stop with the error naming the replay server.
  Submitting the same command again cancels the old head (which saves its checkpoints), and
  the new jobs resume from the checkpoints: train_step never goes back, the replay data comes
  back, the run finishes."""
  config = tiny_config(tmp_path, num_iterations=100000, replay_server_timeout_seconds=15.0)
  variables = write_variables(tmp_path, config, workers=2, name="head_cut")
  exp_dir = str(tmp_path / "logs" / "head_cut")
  _, head_job, workers_job = submit(cluster, variables, tmp_path, "n4", ("n5", "n6"))
  try:
    wait_for(lambda: learner_step(exp_dir) >= 200 and env_steps(exp_dir, 1) > 0, STARTUP_S,
             "the workers to feed the learner")
    cluster.link("n4", up=False)
    wait_for(lambda: all(job_done(cluster, f"{workers_job}_{w}") for w in (0, 1)), 90,
             "the workers to give up on the head")
    cluster.link("n4", up=True)
    for worker in (0, 1):
      state = job(cluster, f"{workers_job}_{worker}")
      assert state["JobState"] == "FAILED" and state["ExitCode"] == "1:0", state
      output = open(f"{exp_dir}/slurm-{workers_job}_{worker}-worker.out").read()
      assert (f"worker_{worker} lost the replay server at {hostname(cluster, 'n4')}:" in output
              and "for longer than replay_server_timeout_seconds (15 s)" in output), output[-2000:]
    assert job(cluster, head_job)["JobState"] == "RUNNING"
    stopped_at = learner_step(exp_dir)

    # the same command again, with a budget the resumed run reaches soon
    tiny_config(tmp_path, num_iterations=stopped_at // 10 + 40, replay_server_timeout_seconds=15.0)
    output, new_head, new_workers = submit(cluster, variables, tmp_path, "n4", ("n5", "n6"))
    assert f"cancelling this run's earlier jobs still in the queue: {head_job}" in output
    assert (tmp_path / "logs" / "head_cut"
            / "slurm_jobs").read_text().split() == [new_head, new_workers]
    wait_for(lambda: job_done(cluster, new_head), 300, "the resumed run to finish")
  except BaseException:
    recorded = tmp_path / "logs" / "head_cut" / "slurm_jobs"
    jobs = recorded.read_text().split() if recorded.exists() else []
    cluster.run("ctl", ["scancel", head_job, workers_job] + jobs, check=False)
    raise
  old_head = open(f"{exp_dir}/slurm-{head_job}-head.out").read()
  assert "received SIGTERM" in old_head
  head = job(cluster, new_head)
  new_out = open(f"{exp_dir}/slurm-{new_head}-head.out").read()
  assert head["JobState"] == "COMPLETED" and head["ExitCode"] == "0:0", new_out[-3000:]
  assert "resuming the run" in new_out and "run finished" in new_out
  learner_log = open(f"{exp_dir}/logs/learner.log").read().split("=== ")[-1]
  resumed_from = int(
      learner_log.split("resumed from the learner checkpoint at train_step ")[1].split()[0])
  assert resumed_from >= stopped_at - 10
  # the old head's replay buffer saved on scancel's SIGTERM; the new one restored it
  old_server, new_server = open(f"{exp_dir}/logs/replay_buffer.log").read().split("=== ")[-2:]
  saved = int(
      old_server.split("final replay checkpoint on SIGTERM")[1].split("(at least ")[1].split()[0])
  restored = int(new_server.split("the replay table holds ")[1].split()[0])
  assert restored >= saved > 0
  steps = [r["train_step"] for r in read_records(exp_dir, "learner")]
  assert steps == sorted(steps) and steps[-1] == (stopped_at // 10 + 40) * 10


def test_runs_across_hosts_survive_link_cuts_and_a_dead_host(cluster, tmp_path):
  """The two scenarios at once, each its own run on its own three nodes: their envs mostly
  wait, so together they take the time of the longer one."""
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    futures = []
    for name, scenario in (("worker_faults", worker_faults), ("head_cut", head_cut)):
      (tmp_path / name).mkdir()
      futures.append(pool.submit(scenario, cluster, tmp_path / name))
    for future in futures:
      future.result()  # raises the scenario's assertion, if any
