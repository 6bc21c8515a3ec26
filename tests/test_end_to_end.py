"""The README's commands as a user runs them: real scripts, real processes, a real Reverb
server on loopback. Checks exit codes, the exp-dir layout, the logs, metrics.jsonl, bad-input
errors, Ctrl-C, resume, and that no process of a run is left behind."""

import glob
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO
from conftest import learner_step
from conftest import wait_for
from conftest import write_config
from conftest import write_variables
from sac_system import private_network
from sac_system.metrics import read_records

pytestmark = pytest.mark.slow


def leftover_processes(exp_dir):
  result = subprocess.run(["pgrep", "-f", exp_dir], capture_output=True, text=True)
  return result.stdout.split()


def test_tiny_training_run_with_two_workers(tmp_path):
  # Pendulum's gravity `g` follows a curriculum whose entries fall inside the run; each
  # worker steps 2 collection envs, 2 vector steps per replay item (items of 4 transitions).
  curriculum = {"g": {"iters": [4, 10, 15], "range": [8.0, 12.0]}}
  config = write_config(
      tmp_path, {
          "num_iterations": 20,
          "min_size_to_sample": 100,
          "eval_interval": 8,
          "policy_checkpoint_interval": 100,
          "learner_checkpoint_interval": 100,
          "envs_per_worker": 2,
          "steps_per_item": 2}, curriculum=curriculum)
  variables = write_variables(tmp_path, config, workers=2)
  exp_dir = str(tmp_path / "logs" / "run")
  started = time.monotonic()
  result = subprocess.run([os.path.join(REPO, "run_script.sh"), variables], cwd=REPO,
                          capture_output=True, text=True, timeout=420)
  elapsed = time.monotonic() - started
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert "new run in" in result.stdout and "run finished" in result.stdout
  assert "programs share CPUs" in result.stdout  # 4 programs on fewer CPUs: warned, not failed
  assert "private network: the replay port" in result.stdout

  for path in ("config.json", "params.py", "variables.sh", "cpu_plan.json", "run_info.json",
               "metrics.jsonl", "logs/replay_buffer.log", "logs/learner.log", "logs/worker_0.log",
               "logs/worker_1.log", "train/checkpoints/checkpoint",
               "policies/policy/saved_model.pb", "policies/collect_policy/saved_model.pb",
               "policies/greedy_policy/saved_model.pb"):
    assert os.path.exists(os.path.join(exp_dir, path)), path
  checkpoints = sorted(os.listdir(os.path.join(exp_dir, "policies", "checkpoints")))
  assert checkpoints[-1] == "policy_checkpoint_0000000200" and len(checkpoints) >= 2
  assert glob.glob(os.path.join(exp_dir, "replay_buffer", "*", "*"))  # a replay checkpoint
  assert not os.path.exists(os.path.join(exp_dir, "reverb"))
  for program in ("learner", "worker_0", "worker_1"):
    assert glob.glob(os.path.join(exp_dir, "summaries", program, "events.out.tfevents.*"))

  learner = read_records(exp_dir, "learner")
  assert learner[-1]["train_step"] == 200 and learner[-1]["iteration"] == 20
  steps = [r["train_step"] for r in learner]
  assert steps == sorted(steps)
  # the replay table counts items of 4 transitions; reports count transitions
  sizes = [r["replay/size"] for r in learner if "replay/size" in r]
  assert sizes and all(size % 4 == 0 and size >= 100 for size in sizes), sizes
  for worker in ("worker_0", "worker_1"):
    evals = [r for r in read_records(exp_dir, worker) if "eval/average_return" in r]
    assert evals and evals[-1]["train_step"] == 200, worker  # the final evaluation
    assert all(r["env_steps"] % 2 == 0 for r in read_records(exp_dir, worker))  # 2 envs in lockstep
    for key in ("time", "source", "train_step", "iteration", "env_steps"):
      assert key in evals[-1]
    # the curriculum: each value reported is the one of the last entry the iteration reached
    applied = [(r["iteration"], r["curriculum/g"]) for r in read_records(exp_dir, worker)
               if "curriculum/g" in r]
    assert applied and applied[-1][1] == 12.0, (worker, applied)
    expected = {4: 8.0, 10: 10.0, 15: 12.0}
    for iteration, value in applied:
      assert value == expected[max(i for i in expected if i <= iteration)], (worker, applied)
    assert [value for _, value in applied] == sorted(value for _, value in applied)
    log = open(os.path.join(exp_dir, "logs", f"{worker}.log")).read()
    assert "set_state({'g': 12.0})" in log
  plan = json.load(open(os.path.join(exp_dir, "cpu_plan.json")))
  for program, cpus in plan["programs"].items():
    log = open(os.path.join(exp_dir, "logs", f"{program}.log")).read()
    assert f"taskset -c {','.join(map(str, cpus))} " in log
    assert f"pinned to {len(cpus)} CPU(s) {cpus}" in log
  assert "SLURM_PROCID=1" in open(os.path.join(exp_dir, "logs", "worker_1.log")).read()
  assert not leftover_processes(exp_dir)
  print(f"tiny run took {elapsed:.0f} s")

  # run.py exactly as the launcher's summary prints it: the exp dir alone names the run
  printed = [line.strip() for line in result.stdout.splitlines() if "sac_system/run.py" in line]
  assert printed == [
      f".venv/bin/python sac_system/run.py --exp_dir {exp_dir} --num_episodes 5 "
      "--checkpoint policy_checkpoint_0000000200 --seed 108"]
  summary = subprocess.run(shlex.split(printed[0]), cwd=REPO, capture_output=True, text=True,
                           timeout=120)
  assert summary.returncode == 0, summary.stderr[-2000:]
  assert len(
      json.load(open(f"{exp_dir}/eval/policy_checkpoint_0000000200_seed108.json"))["returns"]) == 5
  # the original system's flags still work: twice with one seed gives the same returns
  command = [
      sys.executable, "sac_system/run.py", "--params", "sac_system/envs/gym_params.py", "--exp_dir",
      exp_dir, "--config", config, "--num_episodes", "2", "--checkpoint",
      "policy_checkpoint_0000000200", "--seed", "108"]
  outputs = []
  for _ in range(2):
    evaluation = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    assert "mean return" in evaluation.stdout
    outputs.append(json.load(open(f"{exp_dir}/eval/policy_checkpoint_0000000200_seed108.json")))
  assert outputs[0]["returns"] == outputs[1]["returns"] and len(outputs[0]["returns"]) == 2
  import imageio
  video = f"{exp_dir}/videos/policy_checkpoint_0000000200_seed108.mp4"
  with imageio.get_reader(video) as reader:
    frames = reader.count_frames()
  assert frames == sum(length + 1 for length in outputs[0]["lengths"])  # reset frame + steps
  missing = subprocess.run(command[:-3] + ["policy_checkpoint_0000000123", "--seed", "1"], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
  assert missing.returncode == 2
  assert "no such checkpoint" in missing.stderr and "policy_checkpoint_0000000200" in missing.stderr

  # a config or params file other than the run's: one line naming the flag and the run's copy
  other = tmp_path / "other.json"
  other.write_text(json.dumps({"env_id": "MountainCarContinuous-v0"}))
  mismatch = subprocess.run([c if c != config else str(other) for c in command], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
  assert mismatch.returncode == 2
  assert mismatch.stderr.strip().splitlines()[-1] == (
      f"error: --config: {other}: differs from {exp_dir}/config.json, the config this run "
      "trained with: leave --config out to use it (--grid evaluates under other env parameters)")
  wrong_params = subprocess.run([
      c if c != "sac_system/envs/gym_params.py" else "sac_system/envs/minitaur_params.py"
      for c in command], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert wrong_params.returncode == 2
  assert "error: --params: sac_system/envs/minitaur_params.py: differs from" in wrong_params.stderr
  # a folder that is no run's exp dir
  not_a_run = subprocess.run([sys.executable, "sac_system/run.py", "--exp_dir",
                              str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert not_a_run.returncode == 2
  assert f"error: --exp_dir: {tmp_path}: " in not_a_run.stderr

  # every checkpoint: a CSV row per checkpoint and a PNG
  everything = subprocess.run(
      command[:-6] + ["--num_episodes", "1", "--checkpoint", "all", "--seed", "5"], cwd=REPO,
      capture_output=True, text=True, timeout=300)
  assert everything.returncode == 0, everything.stderr[-2000:]
  rows = open(f"{exp_dir}/eval/all_seed5.csv").read().splitlines()
  assert rows[0] == "train_step,checkpoint,mean_return,std_return"
  assert [int(row.split(",")[0])
          for row in rows[1:]] == [int(name.rsplit("_", 1)[1]) for name in checkpoints]
  assert open(f"{exp_dir}/eval/all_seed5.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"

  # robustness grid over Pendulum's gravity: a CSV row per cell and a PNG
  grid = subprocess.run(command[:-6] + ["--num_episodes", "2", "--seed", "5", "--grid", "g=6:12:3"],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
  assert grid.returncode == 0, grid.stderr[-2000:]
  base = f"{exp_dir}/eval/robustness_policy_checkpoint_0000000200_g_seed5"
  rows = open(base + ".csv").read().splitlines()
  assert rows[0] == "g,mean_return,std_return,min_return,max_return,mean_length"
  assert [float(row.split(",")[0]) for row in rows[1:]] == [6.0, 9.0, 12.0]
  assert all(float(row.split(",")[-1]) == 50 for row in rows[1:])  # 50-step episodes
  assert open(base + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
  bad_grid = subprocess.run(command[:-6] + ["--grid", "mass=1,2"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
  assert bad_grid.returncode == 2 and bad_grid.stderr.strip().splitlines()[-1].startswith(
      "error: --grid: mass: unknown set_state key 'mass' for Pendulum-v1"), bad_grid.stderr

  # training curves: written by the launcher at the end, and by the plot script for 2 runs
  assert open(f"{exp_dir}/training.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
  assert "training curves:" in result.stdout
  plot = subprocess.run([
      command[0], "scripts/plot_training.py", exp_dir, exp_dir, "-o",
      str(tmp_path / "both.png")], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert plot.returncode == 0, plot.stderr
  assert (tmp_path / "both.png").stat().st_size > 10_000


def start(variables):
  return subprocess.Popen([os.path.join(REPO, "train_script.sh"), variables], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ctrl_c_stops_everything_and_the_same_command_resumes(tmp_path):
  config = write_config(tmp_path, {
      "num_iterations": 100000,
      "min_size_to_sample": 100,
      "learner_checkpoint_interval": 50})
  variables = write_variables(tmp_path, config)
  exp_dir = str(tmp_path / "logs" / "run")
  process = start(variables)
  wait_for(lambda: learner_step(exp_dir) >= 100, 240, "the learner to train")
  # the run trains in its private network namespace: its replay port refuses connections from
  # this (the host's) namespace and accepts them from inside the run's
  server_pid = pids_of("sac_replay_buffer.py", exp_dir)[0]
  assert private_network.namespace_id(str(server_pid)) != private_network.namespace_id()
  port = int(json.load(open(f"{exp_dir}/run_info.json"))["replay_address"].rsplit(":", 1)[1])
  with pytest.raises(ConnectionRefusedError):
    socket.create_connection(("127.0.0.1", port), timeout=5)
  inside = subprocess.run([
      "nsenter", f"--net=/proc/{server_pid}/ns/net", sys.executable, "-c",
      f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"],
                          capture_output=True, text=True, timeout=60)
  assert inside.returncode == 0, inside.stderr
  process.send_signal(signal.SIGINT)
  stopped = time.monotonic()
  output, _ = process.communicate(timeout=60)
  assert time.monotonic() - stopped < 30, output
  assert process.returncode == 130, output
  assert not leftover_processes(exp_dir)
  assert "final replay checkpoint on SIGTERM" in open(f"{exp_dir}/logs/replay_buffer.log").read()
  saved = learner_step(exp_dir)
  assert saved >= 100

  process = start(variables)
  wait_for(lambda: learner_step(exp_dir) > saved + 20, 240, "the resumed learner to train")
  process.send_signal(signal.SIGTERM)
  output, _ = process.communicate(timeout=60)
  assert process.returncode == 143, output
  assert "resuming the run" in output
  learner_log = open(f"{exp_dir}/logs/learner.log").read()
  assert "resumed from the learner checkpoint at train_step" in learner_log
  steps = [r["train_step"] for r in read_records(exp_dir, "learner")]
  assert steps == sorted(steps)  # train_step never went backwards across the restart
  replay_log = open(f"{exp_dir}/logs/replay_buffer.log").read().split("=== ")[-1]
  restored = int(replay_log.split("the replay table holds ")[1].split()[0])
  assert restored >= 100  # the replay data of the first run came back
  assert not leftover_processes(exp_dir)

  # --fresh starts over and moves the old run aside, never deleting it
  old_metrics = open(f"{exp_dir}/metrics.jsonl").read()
  process = subprocess.Popen([os.path.join(REPO, "run_script.sh"), variables, "--fresh"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  wait_for(
      lambda: os.path.exists(f"{exp_dir}/run_info.json") and not json.load(
          open(f"{exp_dir}/run_info.json"))["resumed"], 120, "the fresh run")
  process.send_signal(signal.SIGTERM)
  output, _ = process.communicate(timeout=60)
  assert "--fresh: moved the previous run aside to" in output and "new run in" in output
  moved = glob.glob(f"{exp_dir}.old-*")
  assert len(moved) == 1 and open(f"{moved[0]}/metrics.jsonl").read() == old_metrics
  assert not leftover_processes(exp_dir)


def pids_of(script, exp_dir):
  result = subprocess.run(["pgrep", "-f", f"{script}.*{exp_dir}"], capture_output=True, text=True)
  return [int(pid) for pid in result.stdout.split()]


def replay_sizes(exp_dir, marker):
  """Transition counts in replay_buffer.log lines containing `marker`, oldest first."""
  log = open(f"{exp_dir}/logs/replay_buffer.log").read()
  return [int(line.split(marker)[1].split()[0]) for line in log.splitlines() if marker in line]


REPLAY_CHECKPOINT_S = 4.0


def test_chaos_kill_worker_server_and_learner_then_sigterm_and_resume(tmp_path):
  """SIGKILL a worker, the replay server and the learner in turn: each time the run recovers by
  itself within 60 s, train_step never goes backwards, replay data of the last checkpoint comes
  back; then SIGTERM the launcher and run the same command: it resumes and finishes (exit 0,
  final policy checkpoint)."""
  config = write_config(
      tmp_path, {
          "num_iterations": 100000,
          "min_size_to_sample": 100,
          "replay_checkpoint_interval_seconds": REPLAY_CHECKPOINT_S,
          "learner_checkpoint_interval": 100000,
          "learner_checkpoint_interval_seconds": 3.0,
          "policy_checkpoint_interval": 100000})
  variables = write_variables(tmp_path, config)
  exp_dir = str(tmp_path / "logs" / "run")

  def restarts(program):
    return [r for r in read_records(exp_dir, "launcher") if r.get("program") == program]

  def recovered(what, progress, timeout=60):
    wait_for(progress, timeout, f"the run to recover after {what}")

  process = start(variables)
  try:
    wait_for(lambda: learner_step(exp_dir) >= 100, 240, "the learner to train")
    # 1. a worker
    killed_at = time.time()
    for pid in pids_of("sac_collect.py", exp_dir):
      os.kill(pid, signal.SIGKILL)
    recovered(
        "killing the worker",
        lambda: restarts("worker_0") and any(r["time"] > killed_at + 2
                                             for r in read_records(exp_dir, "worker_0")))
    assert "start (restart 1)" in open(f"{exp_dir}/logs/worker_0.log").read()

    # 2. the replay server, once it has written a checkpoint: it comes back with every
    # transition inserted up to one checkpoint interval (plus the checkpoint's own time and the
    # learner's report cadence) before the kill
    wait_for(lambda: replay_sizes(exp_dir, "(at least "), 60, "a replay checkpoint")
    time.sleep(REPLAY_CHECKPOINT_S + 2)
    step_before = learner_step(exp_dir)
    killed_at = time.time()
    for pid in pids_of("sac_replay_buffer.py", exp_dir):
      os.kill(pid, signal.SIGKILL)
    checkpointed = replay_sizes(exp_dir, "(at least ")[-1]
    inserted_before = max(r["env_steps"] for r in read_records(exp_dir, "learner")
                          if r["time"] <= killed_at - REPLAY_CHECKPOINT_S - 3)
    recovered("killing the replay server",
              lambda: restarts("replay_buffer") and learner_step(exp_dir) > step_before + 50)
    restored = replay_sizes(exp_dir, "the replay table holds ")[-1]
    assert restored >= checkpointed > 0
    assert restored >= inserted_before > 0, (restored, inserted_before)

    # 3. the learner, between two of its checkpoints
    step_before = learner_step(exp_dir)
    for pid in pids_of("sac_train.py", exp_dir):
      os.kill(pid, signal.SIGKILL)
    recovered("killing the learner",
              lambda: restarts("learner") and learner_step(exp_dir) > step_before + 50, 90)
    assert "start (restart 1)" in open(f"{exp_dir}/logs/learner.log").read()
  finally:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
  assert process.returncode == 143, output
  for program in ("worker_0", "replay_buffer", "learner"):
    assert f"restarting {program}" in output
  assert not leftover_processes(exp_dir)
  steps = [r["train_step"] for r in read_records(exp_dir, "learner")]
  assert steps == sorted(steps), "train_step went backwards"
  for worker_steps in ([r["train_step"] for r in read_records(exp_dir, "worker_0")],):
    assert worker_steps == sorted(worker_steps)
  stopped_at = learner_step(exp_dir)

  # 4. SIGTERM above; the same command resumes. A shorter budget lets the resumed run finish.
  write_config(
      tmp_path, {
          "num_iterations": stopped_at // 10 + 30,
          "min_size_to_sample": 100,
          "replay_checkpoint_interval_seconds": REPLAY_CHECKPOINT_S,
          "learner_checkpoint_interval": 100000,
          "learner_checkpoint_interval_seconds": 3.0,
          "policy_checkpoint_interval": 100000})
  final = subprocess.run([os.path.join(REPO, "train_script.sh"), variables], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
  assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
  assert "resuming the run" in final.stdout and "run finished" in final.stdout
  steps = [r["train_step"] for r in read_records(exp_dir, "learner")]
  assert steps == sorted(steps) and steps[-1] == (stopped_at // 10 + 30) * 10
  resumed_log = open(f"{exp_dir}/logs/learner.log").read().split("=== ")[-1]
  resumed_from = int(
      resumed_log.split("resumed from the learner checkpoint at train_step ")[1].split()[0])
  assert resumed_from >= stopped_at - 10  # saved on SIGTERM (less the last partial iteration)
  final_checkpoints = [
      line for line in open(f"{exp_dir}/logs/replay_buffer.log").read().splitlines()
      if "final replay checkpoint on SIGTERM" in line]
  saved = int(final_checkpoints[0].split("(at least ")[1].split()[0])
  assert replay_sizes(exp_dir, "the replay table holds ")[-1] >= saved > 0
  checkpoints = sorted(os.listdir(f"{exp_dir}/policies/checkpoints"))
  assert checkpoints[-1] == f"policy_checkpoint_{steps[-1]:010d}"
  assert not leftover_processes(exp_dir)


def test_a_replay_server_gone_past_the_limit_stops_the_run_with_a_clear_error(tmp_path):
  """Workers of a multi-node run whose head never answers: no hang, no restart loop; the run
  stops after replay_server_timeout_seconds naming the server."""
  from conftest import free_port
  config = write_config(tmp_path, {"replay_server_timeout_seconds": 5.0})
  variables = write_variables(tmp_path, config)
  address = f"127.0.0.1:{free_port()}"
  started = time.monotonic()
  result = subprocess.run([
      os.path.join(REPO, "train_script.sh"), variables, "--role", "workers", "--replay_address",
      address, "--worker_ids", "0"], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
  assert time.monotonic() - started < 60
  assert (f"worker_0 lost the replay server at {address} for longer than "
          "replay_server_timeout_seconds (5 s): stopping the run") in result.stdout
  assert "restarting worker_0" not in result.stdout
  log = open(tmp_path / "logs" / "run" / "logs" / "worker_0.log").read()
  assert f"gave up after 5 s waiting for the replay server at {address}" in log
  assert not leftover_processes(str(tmp_path / "logs" / "run"))
