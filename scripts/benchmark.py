#!/usr/bin/env python
"""Benchmark harness: learner, collection and replay speed, memory, and time to solve.

    .venv/bin/python scripts/benchmark.py                 # about 8 minutes
    .venv/bin/python scripts/benchmark.py --quick         # ~1.5 minutes (the tests run it)
    .venv/bin/python scripts/benchmark.py --time_to_solve --seeds 0,1,2   # full training runs
    .venv/bin/python scripts/benchmark.py --only_time_to_solve --seeds 0,1,2,3,4 \
        --solve_run_minutes 3.5 --peer --peer_seeds 0,1,2 --peer_limit_minutes 10   # + SB3

Every measurement of one invocation runs on the same machine in the same minutes, so the
ratios compare like with like. Each part runs in its own process pinned like the programs of
a training run on 2 CPUs: the replay server on the first allowed CPU, the learner on the last.
Default task: LunarLanderContinuous-v3 with sac_system/envs/lunar_lander_params.py and
config/lunar_lander.json; parts 1-3 use batch 256 and (256, 256) networks whatever the config
says (one fixed comparison across machines), part 4 runs the variables file as it is.

1. learner: gradient steps/s of (a) a plain loop calling tf-agents `SacAgent.train` once per
   step inside `tf.function` on a fixed batch, and (b) our `SacLearner` as it runs in training
   (its iterations, weight pushes and sampling from a real Reverb server in another process).
2. collection: env steps/s of a `Worker` collecting with the collect policy and writing to the
   replay server, and raw env steps/s with random actions, in one process on one CPU.
3. replay: Reverb insert rate (items of one transition per env of a worker, as workers write
   them) and sample rate (transitions/s through the learner's dataset), and the server's
   memory once full versus the raw size of the stored transitions (the float32 values of each
   transition: `sac_system/replay_buffer.py`) and versus one trajectory step per transition.
4. with --time_to_solve: wall time and env steps until a worker's greedy eval (10 fixed-seed
   episodes) first reaches a mean >= 200, running ./run_script.sh on the training variables
   file (default training_variables.sh) once per seed; then (the run going on for
   --solve_run_minutes) the wall time of the first policy checkpoint whose mean over 100
   fixed-seed greedy episodes is >= 200, gymnasium's "solved"; each program's CPU use (cores,
   sampled every second) and peak RSS; the learner's gradient steps/s and their share of the
   matmul roofline of the cores it used. With --peer: Stable-Baselines3 SAC with the RL Zoo's
   hyperparameters (scripts/peer_sb3.py, in its own .venv-peers/) on the same eval episodes,
   and the ratio of the median times to the first eval >= 200.

5. with --mujoco halfcheetah,hopper: for each shipped MuJoCo task, parts 1-2 on its config (the
   learner alone and a worker alone: which side bounds a run), then ./run_script.sh on its
   variables file once per --seeds seed until the run ends, and the comparison with SAC's
   published returns at equal env steps, the wall time to given returns and the training's
   env steps/s and gradient steps/s (scripts/mujoco_comparison.py):
   benchmarks/mujoco_<date>_<time>.{json,md,png}. --mujoco_runs hopper=logs/a,hopper=logs/b
   adds runs that already exist (one entry per run), reported without training them. With
   --mujoco_peer, each seed also trains the same-machine reference, SBX's SAC with the config's
   settings (scripts/peer_sbx_mujoco.py, in .venv-peers/), evaluated on our worker 0's episode
   seeds; --mujoco_peer_runs hopper=logs/x_seed0.jsonl adds reference runs that exist. Over
   seeds: medians, IQMs with 95 % CIs and P(ours > reference) at each compared env step.

Results: benchmarks/results_<date>_<time>.json (all numbers, the machine, the settings) and
.md (a short table); --output_dir changes the folder.
"""

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from sac_system.constants import REPO_ROOT as REPO

PYTHON = sys.executable
RESULT_PREFIX = "BENCHMARK_RESULT "
# The speed parts (1-3) compare at batch 256 with (256, 256) networks whatever the config says,
# so that results stay comparable across configs and machines.
SPEED_HYPERPARAMETERS = {
    "batch_size": 256,
    "actor_fc_layers": [256, 256],
    "critic_joint_fc_layers": [256, 256]}
SOLVED_RETURN = 200.0
MIN_TRAINING_WINDOW_S = 10.0  # a time-to-solve run trains at least this long before it stops
SOLVED_EPISODES = 100  # gymnasium's "solved": the mean over 100 episodes


# ----- helpers shared by the roles -----------------------------------------------------------
def rss_mb(field: str = "VmRSS", pid: str = "self") -> float:
  """A memory field of /proc/<pid>/status in MB (VmRSS: now, VmHWM: peak)."""
  with open(f"/proc/{pid}/status") as status:
    for line in status:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024.0
  return 0.0


def peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(result: dict) -> None:
  print(RESULT_PREFIX + json.dumps(result), flush=True)


def load_benchmark_params(args):
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from sac_system import program
  program.import_quietly("sac_system.envs.gym_env")
  program.configure_tensorflow_threads()
  from sac_system.train_params_base import load_params
  return load_params(args.params, args.config)


def random_leaves(spec, rng, outer_shape=()):
  """The nest `spec` filled with values in [-1, 1] (finite losses) and step types MID (no
  episode boundary), as numpy arrays with `outer_shape` in front."""
  import tensorflow as tf

  def make(leaf):
    shape = tuple(outer_shape) + tuple(leaf.shape)
    if leaf.dtype.is_floating:
      return rng.uniform(-1.0, 1.0, shape).astype(leaf.dtype.as_numpy_dtype)
    return np.ones(shape, leaf.dtype.as_numpy_dtype)

  return tf.nest.map_structure(make, spec)


def random_experience(spec, batch_size: int):
  """A minibatch of 2-step trajectories of `spec`, as tensors."""
  import tensorflow as tf

  from sac_system.replay_buffer import TRAJECTORY_STEPS
  return tf.nest.map_structure(
      tf.constant, random_leaves(spec, np.random.default_rng(0), (batch_size, TRAJECTORY_STEPS)))


def timed_rate(step, seconds: float, units_per_call: float, warmup_calls: int = 2):
  """Calls `step` for `seconds` after warm-up calls; returns units per second."""
  for _ in range(warmup_calls):
    step()
  calls, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds or calls == 0:
    step()
    calls += 1
  return calls * units_per_call / (time.perf_counter() - start)


# ----- roles (each runs in its own pinned process) -------------------------------------------
def role_server(args) -> None:
  """Serves the run's tables until stdin closes; then reports its memory."""
  params = load_benchmark_params(args)
  from sac_system import constants
  from sac_system import replay_buffer
  empty_mb = rss_mb()
  # --exp_dir: checkpoint into EXP/replay_buffer as a run's server does (the checkpoint probe)
  server = replay_buffer.make_server(params, exp_dir=args.exp_dir, port=args.port)
  started_mb = rss_mb()
  print("SERVER READY", flush=True)
  sys.stdin.read()  # the orchestrator closes stdin when it is done
  info = server.localhost_client().server_info()[constants.REPLAY_TABLE]
  emit({
      "rss_before_server_mb": empty_mb,
      "rss_empty_server_mb": started_mb,
      "rss_now_mb": rss_mb(),
      "peak_rss_mb": peak_rss_mb(),
      "table_size": info.current_size})
  server.stop()


def role_insert(args) -> None:
  """Fills the replay table with random transitions, one item per vector step of a worker's
  envs, the way workers write them."""
  params = load_benchmark_params(args)
  import reverb
  import tensorflow as tf

  from sac_system.replay_buffer import ReplayWriter
  from sac_system.replay_buffer import TransitionCodec
  spec = params.build_agent().collect_data_spec
  codec = TransitionCodec(spec, params.transitions_per_item)
  rng = np.random.default_rng(0)
  pool = [
      np.stack([
          codec.pack(random_leaves(spec, rng), random_leaves(spec.observation, rng))
          for _ in range(params.transitions_per_item)]) for _ in range(64)]
  step_bytes = sum(np.asarray(leaf).nbytes for leaf in tf.nest.flatten(random_leaves(spec, rng)))
  writer = ReplayWriter(reverb.Client(args.address))
  items = args.items // params.transitions_per_item
  start = time.perf_counter()
  for index in range(items):
    writer(pool[index % len(pool)])
    if index % 100 == 99:
      writer.wait_until_written(600_000)
  writer.wait_until_written(600_000)
  writer.close()
  elapsed = time.perf_counter() - start
  transitions = items * params.transitions_per_item
  emit({
      "transitions": transitions,
      "items": items,
      "transitions_per_item": params.transitions_per_item,
      "insert_transitions_per_second": transitions / elapsed,
      "insert_items_per_second": items / elapsed,
      # what a stored transition holds (replay_buffer.py) and, for comparison, one step of
      # the agent's trajectory (every field once: a transition without its next observation)
      "transition_bytes": codec.size * 4,
      "step_bytes": step_bytes,
      "raw_mb": transitions * codec.size * 4 / 2**20,
      "raw_steps_mb": transitions * step_bytes / 2**20})


def role_checkpoint_probe(args) -> None:
  """Times replay checkpoints of a full table (the server's `client.checkpoint()`, what
  sac_replay_buffer.py calls every replay_checkpoint_interval_seconds) while one thread
  inserts items and another samples, one call at a time, each timing its calls: the pause a
  checkpoint causes is the longest insert or sample during it, against their median outside."""
  params = load_benchmark_params(args)
  import threading

  import reverb

  from sac_system import constants
  from sac_system.replay_buffer import ReplayWriter
  from sac_system.replay_buffer import TransitionCodec
  spec = params.build_agent().collect_data_spec
  codec = TransitionCodec(spec, params.transitions_per_item)
  rows = np.zeros((params.transitions_per_item, codec.size), np.float32)
  client = reverb.Client(args.address)
  stop = threading.Event()
  calls = {"insert": [], "sample": []}  # (start, seconds)

  def inserter():
    writer = ReplayWriter(reverb.Client(args.address))
    while not stop.is_set():
      start = time.perf_counter()
      writer(rows)
      writer.wait_until_written(600_000)
      calls["insert"].append((start, time.perf_counter() - start))
      time.sleep(0.002)
    writer.close()

  def sampler():
    sample_client = reverb.Client(args.address)
    while not stop.is_set():
      start = time.perf_counter()
      next(iter(sample_client.sample(constants.REPLAY_TABLE, num_samples=1, emit_timesteps=False)))
      calls["sample"].append((start, time.perf_counter() - start))
      time.sleep(0.002)

  threads = [
      threading.Thread(target=inserter, daemon=True),
      threading.Thread(target=sampler, daemon=True)]
  for thread in threads:
    thread.start()
  checkpoints = []  # (start, seconds)
  try:
    time.sleep(1.0)
    for _ in range(args.repeats):
      start = time.perf_counter()
      client.checkpoint()
      checkpoints.append((start, time.perf_counter() - start))
      time.sleep(1.0)
  finally:
    stop.set()
    for thread in threads:
      thread.join(timeout=60)
  during, outside = {}, {}
  for kind, timed in calls.items():
    inside = [s for t, s in timed if any(c <= t + s and t <= c + d for c, d in checkpoints)]
    rest = [s for t, s in timed if not any(c <= t + s and t <= c + d for c, d in checkpoints)]
    during[kind] = max(inside) if inside else None
    outside[kind] = float(np.median(rest)) if rest else None
  info = client.server_info()[constants.REPLAY_TABLE]
  folder = os.path.join(args.exp_dir, constants.REPLAY_BUFFER_DIR)
  size = sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(folder) for f in names)
  emit({
      "transitions": int(info.current_size) * params.transitions_per_item,
      "items": int(info.current_size),
      "checkpoint_seconds": [s for _, s in checkpoints],
      "median_checkpoint_seconds": float(np.median([s for _, s in checkpoints])),
      "checkpoint_mb_on_disk": size / 2**20,
      "longest_insert_during_checkpoint_seconds": during["insert"],
      "longest_sample_during_checkpoint_seconds": during["sample"],
      "median_insert_outside_seconds": outside["insert"],
      "median_sample_outside_seconds": outside["sample"],
      "inserts_timed": len(calls["insert"]),
      "samples_timed": len(calls["sample"])})


def sac_step_flops(params, observation_size: int, action_size: int) -> dict:
  """Multiply-add FLOPs of one tf-agents SAC gradient step, counted in network passes.

  With A and C the FLOPs of one forward pass of the actor and of one critic over the batch
  (a backward pass costs 2 forward passes with weight gradients, 1 without), `SacAgent.train`
  does: critic loss: actor on the next observations (A), both target critics (2C), both
  critics forward and backward (6C); actor loss: actor forward and backward (3A), both
  critics forward and back to the actions (4C); alpha loss: the actor again (A). In all
  5A + 12C; an update that shared the actor pass of the actor and alpha losses would need
  4A + 12C, the least any SAC step needs.
  """

  def forward(sizes):
    return 2 * params.batch_size * sum(a * b for a, b in itertools.pairwise(sizes))

  actor = forward([observation_size, *params.actor_fc_layers, 2 * action_size])
  critic = forward([observation_size + action_size, *params.critic_joint_fc_layers, 1])
  return {"tf_agents_step": 5 * actor + 12 * critic, "minimal_step": 4 * actor + 12 * critic}


def matmul_flops_per_second(seconds: float) -> float:
  """float32 matrix-multiply FLOPs/s this process reaches on its CPU: chains of 256 x 256
  products inside one tf.function (the shape of the SAC layers at batch 256)."""
  import tensorflow as tf
  left = tf.random.normal([256, 256])
  right = tf.random.normal([256, 256]) / 16.0

  @tf.function
  def chain(x):
    for _ in range(50):
      x = tf.matmul(x, right)
    return x

  return timed_rate(lambda: chain(left).numpy(), seconds, 50 * 2 * 256**3)


def role_plain_learner(args) -> None:
  """Baseline: tf-agents SacAgent.train once per step inside tf.function, fixed batch; and
  the CPU's matmul rate, the roofline of any learner on it."""
  params = load_benchmark_params(args)
  import tensorflow as tf
  agent = params.build_agent()
  experience = random_experience(agent.collect_data_spec, params.batch_size)
  train = tf.function(agent.train)
  rate = timed_rate(lambda: train(experience), args.seconds, 1)
  observation_size = int(np.prod(agent.collect_data_spec.observation.shape))
  action_size = int(np.prod(agent.collect_data_spec.action.shape))
  emit({
      "grad_steps_per_second": rate,
      "peak_rss_mb": peak_rss_mb(),
      "step_flops": sac_step_flops(params, observation_size, action_size),
      "matmul_flops_per_second": matmul_flops_per_second(args.seconds / 3)})


def role_our_learner(args) -> None:
  """Our SacLearner as in training: iterations of train_steps_per_iteration gradient steps
  sampled from the replay server, a weight push after each; then the dataset alone."""
  params = load_benchmark_params(args)
  from sac_system.learner import SacLearner
  with tempfile.TemporaryDirectory() as exp_dir:
    learner = SacLearner(params, exp_dir, args.address)
    learner.push_variables()

    def iteration():
      if not learner.train_iteration():
        raise RuntimeError("the learner had to wait for data; the benchmark table is too small")
      learner.push_variables()
      learner.checkpoint_if_due()

    rate = timed_rate(iteration, args.seconds, params.train_steps_per_iteration)
    iterator = iter(learner.make_dataset())
    sample_rate = timed_rate(lambda: next(iterator), args.seconds / 2, params.batch_size, 5)
  emit({
      "grad_steps_per_second": rate,
      "sample_transitions_per_second": sample_rate,
      "peak_rss_mb": peak_rss_mb()})


def role_collect(args) -> None:
  """Raw env steps/s (random actions) and a Worker's collection rate with policy inference
  and writing to the replay server, in this one process."""
  params = load_benchmark_params(args)
  from sac_system.workers import Worker
  env = params.make_collect_env(seed=0).gym_env
  env.reset(seed=0)
  rng = np.random.default_rng(0)
  low, high = env.action_space.low, env.action_space.high

  def raw_steps():
    for _ in range(1000):
      _, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
      if terminated or truncated:
        env.reset()

  raw_rate = timed_rate(raw_steps, args.seconds / 2, 1000, 1)
  with tempfile.TemporaryDirectory() as exp_dir:
    worker = Worker(params, 0, exp_dir, args.address)
    worker.variable_source.pull()  # the learner's weights, pushed by the learner role

    def chunk():
      worker.collect(train_step=1)  # not 0: the collect policy, not random actions
      worker.replay_writer.wait_until_written(60_000)

    env_steps_per_chunk = (params.vector_steps_of(params.collect_steps_per_iteration)
                           * params.envs_per_worker)
    rate = timed_rate(chunk, args.seconds, env_steps_per_chunk)
    worker.replay_writer.close()
  emit({
      "raw_env_steps_per_second": raw_rate,
      "worker_env_steps_per_second": rate,
      "envs_per_worker": params.envs_per_worker,
      "peak_rss_mb": peak_rss_mb()})


def role_matmul(args) -> None:
  """The float32 matmul rate of one pinned process (the roofline of a learner per core)."""
  load_benchmark_params(args)
  emit({"matmul_flops_per_second": matmul_flops_per_second(args.seconds / 3)})


def role_replay_memory(args) -> None:
  """One Reverb server in this process, a table of the replay contract's signature for rows of
  --row_floats float32 in items of --rows_per_item, filled with --items random items: the
  server's resident memory growth and its checkpoint's size, per transition and per item."""
  import reverb
  import tensorflow as tf
  rows, per_item = args.row_floats, args.rows_per_item
  directory = tempfile.mkdtemp(prefix="benchmark_replay_memory_")
  signature = {"t": tf.TensorSpec([None, per_item, rows], tf.float32)}
  table = reverb.Table("replay", reverb.selectors.Uniform(), reverb.selectors.Fifo(), 10**9,
                       reverb.rate_limiters.MinSize(1), signature=signature)
  server = reverb.Server([table], port=None,
                         checkpointer=reverb.checkpointers.DefaultCheckpointer(directory))
  client = reverb.Client(f"localhost:{server.port}")
  rng = np.random.default_rng(0)
  batch = rng.random((1000, per_item, rows), dtype=np.float32)
  before = rss_mb()
  with client.trajectory_writer(1) as writer:
    for index in range(args.items):
      writer.append({"t": batch[index % len(batch)]})
      writer.create_item("replay", 1.0, {"t": writer.history["t"][-1:]})
      if index % 1000 == 999:
        writer.flush()
  time.sleep(1.0)
  grown = (rss_mb() - before) * 2**20
  client.checkpoint()
  written = sum(
      os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(directory)
      for name in names)
  shutil.rmtree(directory, ignore_errors=True)
  transitions = args.items * per_item
  emit({
      "row_floats": rows,
      "rows_per_item": per_item,
      "items": args.items,
      "raw_bytes_per_transition": 4 * rows,
      "memory_bytes_per_transition": grown / transitions,
      "memory_bytes_per_item_beyond_rows": grown / args.items - 4 * rows * per_item,
      "checkpoint_bytes_per_transition": written / transitions,
      "checkpoint_bytes_per_item_beyond_rows": written / args.items - 4 * rows * per_item})


def replay_memory_benchmark(args) -> list:
  """What a stored transition costs Reverb, for Pendulum's and Hopper's rows, in items of 1 and
  of 32 (sac_system/checkpoints.py's REPLAY_*_BYTES_PER_ITEM)."""
  results = []
  for row_floats in (11, 29):  # Pendulum: 2 x 3 + 1 + 4; Hopper: 2 x 11 + 3 + 4
    for per_item, items in ((1, 100_000), (32, 5_000)):
      results.append(
          run_role(args, "replay_memory", 0, row_floats=row_floats, rows_per_item=per_item,
                   items=items))
  return results


ROLES = {
    "replay_memory": role_replay_memory,
    "matmul": role_matmul,
    "server": role_server,
    "insert": role_insert,
    "plain_learner": role_plain_learner,
    "our_learner": role_our_learner,
    "collect": role_collect,
    "checkpoint_probe": role_checkpoint_probe}


# ----- orchestration ---------------------------------------------------------------------------
def role_command(args, role: str, cpu: int, **extra) -> list:
  command = [
      "taskset", "-c",
      str(cpu), PYTHON,
      os.path.abspath(__file__), "--role", role, "--params", args.params, "--config", args.config,
      "--seconds",
      str(args.seconds)]
  for key, value in extra.items():
    command += [f"--{key}", str(value)]
  return command


def run_role(args, role: str, cpu: int, **extra) -> dict:
  result = subprocess.run(role_command(args, role, cpu, **extra), cwd=REPO, capture_output=True,
                          text=True, timeout=args.seconds * 10 + 600, check=False)
  lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
  if result.returncode != 0 or not lines:
    raise RuntimeError(f"benchmark role {role} failed (exit {result.returncode}):\n"
                       f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
  return json.loads(lines[-1][len(RESULT_PREFIX):])


def benchmark_config(args, capacity: int) -> str:
  """The config with a table that never rate-limits the benchmark and has `capacity` slots."""
  with open(args.base_config) as config_file:
    config = json.load(config_file)
  config.setdefault("hyperparameters", {}).update({
      **SPEED_HYPERPARAMETERS,
      "replay_capacity": capacity,
      "min_size_to_sample": min(1000, capacity),
      "rate_limiter_slack_items": 10**9,
      # a time-based learner checkpoint would land inside the timed window of short runs
      "learner_checkpoint_interval_seconds": 10**6})
  handle, path = tempfile.mkstemp(prefix="benchmark_config_", suffix=".json")
  with os.fdopen(handle, "w") as config_file:
    json.dump(config, config_file)
  return path


def machine() -> dict:
  model = ""
  with open("/proc/cpuinfo") as cpuinfo:
    for line in cpuinfo:
      if line.startswith("model name"):
        model = line.split(":", 1)[1].strip()
        break
  with open("/proc/meminfo") as meminfo:
    memory_gb = int(meminfo.readline().split()[1]) / 2**20
  import tensorflow as tf
  return {
      "host": platform.node(),
      "cpu_model": model,
      "allowed_cpus": len(os.sched_getaffinity(0)),
      "memory_gb": round(memory_gb, 1),
      "python": platform.python_version(),
      "tensorflow": tf.__version__,
      "platform": platform.platform()}


def start_server_role(args, cpu: int, port: int, exp_dir: str) -> subprocess.Popen:
  """The replay server role on `cpu`, checkpointing into EXP/replay_buffer of `exp_dir`;
  returns once it serves (it stops when its stdin closes)."""
  server = subprocess.Popen(role_command(args, "server", cpu, port=port, exp_dir=exp_dir), cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  while server.stdout.readline().strip() != "SERVER READY":
    if server.poll() is not None or time.monotonic() > deadline:
      server.kill()
      raise RuntimeError("the benchmark's replay server did not start")
  return server


def server_report(server: subprocess.Popen) -> dict:
  """Stops the server role and returns what it reported (its memory, the table size)."""
  output, _ = server.communicate(input="", timeout=120)
  lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
  return json.loads(lines[-1][len(RESULT_PREFIX):]) if lines else {}


def speed_benchmarks(args) -> dict:
  cpus = sorted(os.sched_getaffinity(0))
  server_cpu, learner_cpu = cpus[0], cpus[-1]
  from sac_system.launcher import pick_free_port
  port = pick_free_port()
  address = f"127.0.0.1:{port}"
  args.config = benchmark_config(args, args.capacity)
  results: dict = {}
  exp_dir = tempfile.mkdtemp(prefix="benchmark_replay_")
  server = start_server_role(args, server_cpu, port, exp_dir)
  try:
    print(f"replay server up at {address}; filling {args.capacity} transitions", flush=True)
    results["replay_insert"] = run_role(args, "insert", learner_cpu, address=address,
                                        items=args.capacity)
    print(
        f"  insert: {results['replay_insert']['insert_transitions_per_second']:.0f} "
        f"transitions/s ({results['replay_insert']['insert_items_per_second']:.0f} items/s)",
        flush=True)
    results["replay_checkpoint"] = checkpoint_probe(args, learner_cpu, address, exp_dir)
    results["learner_plain"] = run_role(args, "plain_learner", learner_cpu)
    print(
        f"  plain SacAgent.train loop: "
        f"{results['learner_plain']['grad_steps_per_second']:.1f} grad steps/s", flush=True)
    results["learner_ours"] = run_role(args, "our_learner", learner_cpu, address=address)
    print(
        f"  our learner: {results['learner_ours']['grad_steps_per_second']:.1f} grad steps/s; "
        f"sampling alone {results['learner_ours']['sample_transitions_per_second']:.0f} "
        "transitions/s", flush=True)
    results["collection"] = run_role(args, "collect", server_cpu, address=address)
    print(
        f"  collection: worker {results['collection']['worker_env_steps_per_second']:.0f}, "
        f"raw env {results['collection']['raw_env_steps_per_second']:.0f} env steps/s", flush=True)
  finally:
    results["replay_server"] = server_report(server)
    os.remove(args.config)
    shutil.rmtree(exp_dir, ignore_errors=True)
  memory = results["replay_server"]
  raw_mb = results["replay_insert"]["raw_mb"]
  results["summary"] = {
      "learner_ratio_ours_to_plain": results["learner_ours"]["grad_steps_per_second"]
                                     / results["learner_plain"]["grad_steps_per_second"],
      "collection_ratio_worker_to_raw": results["collection"]["worker_env_steps_per_second"]
                                        / results["collection"]["raw_env_steps_per_second"],
      "replay_items": memory.get("table_size"),
      "replay_transitions": results["replay_insert"]["transitions"],
      "replay_raw_mb": raw_mb,
      "replay_raw_steps_mb": results["replay_insert"]["raw_steps_mb"],
      "replay_server_rss_full_mb": memory.get("rss_now_mb"),
      "replay_server_data_mb": memory.get("rss_now_mb", 0) - memory.get("rss_empty_server_mb", 0)}
  results["summary"]["replay_data_to_raw_ratio"] = (results["summary"]["replay_server_data_mb"]
                                                    / raw_mb)
  plain = results["learner_plain"]
  peak_steps = plain["matmul_flops_per_second"] / plain["step_flops"]["minimal_step"]
  results["summary"].update({
      # the share of the CPU's matmul rate the plain loop's step already uses, and the most
      # any learner doing a SAC step could reach against it at 100 % of that rate
      "plain_loop_share_of_matmul_rate": plain["grad_steps_per_second"]
                                         * plain["step_flops"]["tf_agents_step"]
                                         / plain["matmul_flops_per_second"],
      "roofline_grad_steps_per_second": peak_steps,
      "roofline_ratio_to_plain": peak_steps / plain["grad_steps_per_second"]})
  results["summary"]["replay_data_to_raw_steps_ratio"] = (
      results["summary"]["replay_server_data_mb"] / results["replay_insert"]["raw_steps_mb"])
  return results


def seconds_or_none(value) -> str:
  """'0.075 s', or 'none' when no call overlapped a checkpoint (a tiny table)."""
  return "none" if value is None else f"{value:.3f} s"


def checkpoint_probe(args, cpu: int, address: str, exp_dir: str) -> dict:
  """Runs role_checkpoint_probe against the filled server at `address`; prints its summary."""
  result = run_role(args, "checkpoint_probe", cpu, address=address, exp_dir=exp_dir,
                    repeats=args.repeats)
  print(
      f"  checkpoint of {result['transitions']} transitions: "
      f"{result['median_checkpoint_seconds']:.2f} s (median of {args.repeats}), "
      f"{result['checkpoint_mb_on_disk']:.0f} MB; longest insert / sample during it "
      f"{seconds_or_none(result['longest_insert_during_checkpoint_seconds'])} / "
      f"{seconds_or_none(result['longest_sample_during_checkpoint_seconds'])}", flush=True)
  return result


def replay_checkpoint_benchmark(args) -> dict:
  """A replay server on its own CPU, filled to --capacity transitions of the config's items,
  then checkpointed --repeats times while a client inserts and samples on the other CPU
  (role_checkpoint_probe): what replay_checkpoint_interval_seconds costs (docs/design.md §8.2).
  (The full speed benchmark measures the same after its insert part.)"""
  cpus = sorted(os.sched_getaffinity(0))
  server_cpu, client_cpu = cpus[0], cpus[-1]
  from sac_system.launcher import pick_free_port
  port = pick_free_port()
  address = f"127.0.0.1:{port}"
  args.config = benchmark_config(args, args.capacity)
  exp_dir = tempfile.mkdtemp(prefix="benchmark_replay_checkpoint_")
  server = start_server_role(args, server_cpu, port, exp_dir)
  try:
    print(f"replay server up at {address}; filling {args.capacity} transitions", flush=True)
    fill = run_role(args, "insert", client_cpu, address=address, items=args.capacity)
    result = checkpoint_probe(args, client_cpu, address, exp_dir)
  finally:
    memory = server_report(server)
    os.remove(args.config)
    shutil.rmtree(exp_dir, ignore_errors=True)
  result["server_rss_full_mb"] = memory.get("rss_now_mb")
  result["transitions_per_item"] = fill["transitions_per_item"]
  result["fill_transitions_per_second"] = fill["insert_transitions_per_second"]
  return result


# ----- time to solve -----------------------------------------------------------------------
def program_pids(exp_dir: str) -> dict:
  """pid of each program of the run in `exp_dir`, by script name."""
  pids = {}
  for script in ("sac_replay_buffer", "sac_train", "sac_collect"):
    found = subprocess.run(["pgrep", "-f", f"{script}.py.*{exp_dir}"], capture_output=True,
                           text=True, check=False).stdout.split()
    for index, pid in enumerate(found):
      pids[f"{script}{'_' + str(index) if script == 'sac_collect' else ''}"] = pid
  return pids


def start_run(args, name: str, **variables):
  """Starts `./run_script.sh` on a copy of the variables file with SAC_EXP_NAME=`name` and
  `variables` (SAC_SEED=..., ...) replaced; the copy and the run's output go beside its exp
  dir (<exp dir>.variables.sh, <exp dir>.out).

  Returns:
    (process, exp_dir, start time).
  """
  from sac_system.training_variables import load_training_variables
  with open(args.variables) as variables_file:
    text = variables_file.read()
  for key, value in {"SAC_EXP_NAME": name, **variables}.items():
    text = re.sub(rf"^{key}=.*$", "", text, flags=re.M) + f"\n{key}={value}\n"
  handle, variables_path = tempfile.mkstemp(prefix=f"{name}_", suffix=".sh")
  with os.fdopen(handle, "w") as variables_file:
    variables_file.write(text)
  exp_dir = load_training_variables(variables_path, REPO).exp_dir
  os.makedirs(os.path.dirname(exp_dir), exist_ok=True)
  if os.path.exists(exp_dir):  # never measure an earlier run's records (it is kept, renamed)
    from sac_system.launcher import move_aside
    print(f"  moved an earlier {os.path.basename(exp_dir)} aside to {move_aside(exp_dir)}",
          flush=True)
  shutil.move(variables_path, exp_dir + ".variables.sh")
  variables_path = exp_dir + ".variables.sh"
  start = time.time()
  with open(exp_dir + ".out", "w") as output:  # the child keeps its own copy of the file
    process = subprocess.Popen([os.path.join(REPO, "run_script.sh"), variables_path, "--fresh"],
                               cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
  return process, exp_dir, start


def process_cpu_seconds(pid: str) -> float:
  """CPU seconds (user + system, all threads) a process has used so far."""
  with open(f"/proc/{pid}/stat") as stat:
    fields = stat.read().rsplit(")", 1)[1].split()  # the fields after the command name
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_use(samples: list, begin: float, end: float) -> dict:
  """Cores each program (and the whole machine) kept busy between two times, from the samples
  (time, {program: CPU seconds}, machine busy jiffies, machine total jiffies) taken nearest
  to them."""
  inside = [sample for sample in samples if begin <= sample[0] <= end]
  if len(inside) < 2:
    return {}
  (t0, cpu0, busy0, total0), (t1, cpu1, busy1, total1) = inside[0], inside[-1]
  use = {
      program: round((cpu1[program] - cpu0[program]) / (t1 - t0), 3) for program in cpu1
      if program in cpu0}
  use["machine"] = round((busy1 - busy0) / (total1 - total0) * os.cpu_count(), 3)
  use["seconds"] = round(t1 - t0, 1)
  return use


def variables_and_params(variables_path: str):
  """A training variables file and the params (with its config) that it names."""
  from sac_system.train_params_base import load_params
  from sac_system.training_variables import load_training_variables
  variables = load_training_variables(variables_path, REPO)
  return variables, load_params(variables.params_path, variables.config_path)


def first_solved_checkpoint(args, exp_dir: str, start: float) -> dict:
  """Evaluates the run's policy checkpoints, oldest first, over SOLVED_EPISODES fixed-seed
  greedy episodes each (run.py's episodes of --seed 0) until one's mean reaches
  SOLVED_RETURN: gymnasium's "solved". Its wall time is when the learner wrote it."""
  from sac_system import constants
  from sac_system import evaluation
  variables, params = variables_and_params(exp_dir + ".variables.sh")
  evaluator = evaluation.CheckpointEvaluator(params, exp_dir, variables.params_path)
  checked = []
  try:
    for checkpoint in evaluation.list_checkpoints(exp_dir):
      path = os.path.join(exp_dir, constants.POLICIES_DIR, constants.POLICY_CHECKPOINTS_DIR,
                          checkpoint)
      result = evaluator.evaluate(checkpoint, SOLVED_EPISODES, 0, printer=lambda _line: None)
      checked.append({
          "checkpoint": checkpoint,
          "train_step": result["train_step"],
          "wall_seconds": round(os.path.getmtime(path) - start, 1),
          "mean_return": round(result["eval/average_return"], 1)})
      print(
          f"    {checkpoint} (at {checked[-1]['wall_seconds']:.0f} s): mean "
          f"{checked[-1]['mean_return']:.1f} over {SOLVED_EPISODES} episodes", flush=True)
      if result["eval/average_return"] >= args.solved_return:
        return {"solved_checkpoint": checked[-1], "checkpoints_checked": checked}
  finally:
    evaluator.close()
  return {"solved_checkpoint": None, "checkpoints_checked": checked}


def learner_roofline(args) -> dict:
  """What one gradient step of the variables file's config costs in matmul FLOPs, and the
  matmul rate of one core (a pinned process): the learner's roofline per core."""
  _, params = variables_and_params(args.variables)
  env = params.make_eval_env()
  observation_size = int(np.prod(env.observation_spec().shape))
  action_size = int(np.prod(env.action_spec().shape))
  env.close()
  rate = run_role(args, "matmul", sorted(os.sched_getaffinity(0))[-1])
  return {
      "step_flops": sac_step_flops(params, observation_size, action_size),
      "matmul_flops_per_second_one_core": rate["matmul_flops_per_second"],
      "batch_size": params.batch_size,
      "actor_fc_layers": list(params.actor_fc_layers),
      "critic_joint_fc_layers": list(params.critic_joint_fc_layers)}


def time_to_solve(args, seed: int) -> dict:
  """Runs the variables file with `seed`: the wall time until a worker's eval (10 fixed-seed
  greedy episodes) first reaches SOLVED_RETURN, and (unless --solve_run_minutes is 0) the
  wall time of the first policy checkpoint whose mean over SOLVED_EPISODES episodes does,
  the run going on until --solve_run_minutes; each program's CPU use and the learner's rate."""
  from sac_system import metrics
  process, exp_dir, start = start_run(args, f"benchmark_time_to_solve_seed{seed}", SAC_SEED=seed)
  result = {"seed": seed, "exp_dir": exp_dir, "solved": False}
  peaks: dict = {}
  samples: list = []  # (time, {program: CPU seconds}, machine busy, machine total)
  run_seconds = args.solve_run_minutes * 60
  try:
    while process.poll() is None and time.time() - start < args.solve_limit_minutes * 60:
      time.sleep(1)
      cpu = {}
      for program, pid in program_pids(exp_dir).items():
        try:
          peaks[program] = max(peaks.get(program, 0.0), rss_mb("VmHWM", pid))
          cpu[program] = process_cpu_seconds(pid)
        except (OSError, IndexError):
          pass
      samples.append((time.time(), cpu, *cpu_times()))
      records = metrics.read_records(exp_dir)
      learner = [r for r in records if r.get("source") == "learner"]
      for record in records:
        if (not result["solved"] and str(record.get("source", "")).startswith("worker_")
            and record.get("train_step")
            and record.get("eval/average_return", -1e9) >= args.solved_return):
          env_steps = max([r["env_steps"] for r in learner if r["time"] <= record["time"]] or [0])
          result.update(solved=True, wall_seconds=record["time"] - start,
                        train_step=record["train_step"], env_steps=env_steps,
                        eval_return=record["eval/average_return"])
      trained_since = min([r["time"] for r in learner if r.get("train_step", 0) > 0]
                          or [time.time()])
      # at least MIN_TRAINING_WINDOW_S of training, so that its CPU use is measured
      if (result["solved"] and time.time() - start >= run_seconds
          and time.time() - trained_since >= MIN_TRAINING_WINDOW_S):
        break
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
  stopped = time.time()
  result["peak_rss_mb"] = peaks
  if not result["solved"]:
    result["gave_up_after_seconds"] = stopped - start
  learner = [
      r for r in metrics.read_records(exp_dir)
      if r.get("source") == "learner" and r.get("train_step", 0) > 0 and r["time"] <= stopped]
  if len(learner) >= 2:  # training: from the learner's first report to the stop
    first, last = learner[0], learner[-1]
    result["grad_steps_per_second"] = round((last["train_step"] - first["train_step"]) /
                                            (last["time"] - first["time"]), 1)
    result["first_train_report_seconds"] = round(first["time"] - start, 1)
    result["cpu_cores_training"] = cpu_use(samples, first["time"], last["time"])
    result["cpu_cores_warmup"] = cpu_use(samples, start, first["time"])
  result["cpu_samples"] = [[round(t - start, 1), {
      k: round(v, 2) for k, v in cpu.items()}] for t, cpu, _, _ in samples]
  if args.solve_run_minutes > 0:
    print(f"  seed {seed}: policy checkpoints over {SOLVED_EPISODES} episodes ...", flush=True)
    result.update(first_solved_checkpoint(args, exp_dir, start))
  return result


# ----- the peer: Stable-Baselines3 SAC with the RL Zoo's hyperparameters ----------------------
PEER_ENV = os.path.join(REPO, ".venv-peers")
PEER_REQUIREMENTS = os.path.join(REPO, "scripts", "peer_requirements.txt")


def peer_python() -> str:
  """The peer environment's interpreter, creating `.venv-peers` from scripts/peer_requirements.txt
  when it is missing or its requirements changed. PyTorch lives only there, never in the
  project's environment."""
  import hashlib
  python = os.path.join(PEER_ENV, "bin", "python")
  with open(PEER_REQUIREMENTS, "rb") as requirements:
    digest = hashlib.sha256(requirements.read()).hexdigest()
  stamp = os.path.join(PEER_ENV, ".requirements.sha256")
  if os.path.exists(stamp):
    with open(stamp) as stamp_file:
      if stamp_file.read().strip() == digest:
        return python
  print(f"creating the peer environment {PEER_ENV} (Stable-Baselines3, PyTorch CPU) ...",
        flush=True)
  subprocess.run([sys.executable, "-m", "venv", "--clear", PEER_ENV], check=True)
  subprocess.run([python, "-m", "pip", "install", "--quiet", "-r", PEER_REQUIREMENTS], check=True)
  with open(stamp, "w") as stamp_file:
    stamp_file.write(digest + "\n")
  return python


def peer_time_to_solve(args, seed: int) -> dict:
  """Stable-Baselines3 SAC (scripts/peer_sb3.py) on the machine's CPUs, evaluated like our
  workers: the same 10 fixed-seed greedy episodes (worker 0's of this seed) every 5,000 env
  steps, until the first mean >= SOLVED_RETURN or --peer_limit_minutes (then the time is a
  lower bound)."""
  from sac_system import seeds
  python = peer_python()
  output = os.path.join(tempfile.mkdtemp(prefix="benchmark_peer_"), f"peer_seed{seed}.jsonl")
  eval_seeds = seeds.eval_episode_seeds(seed, 0, 10)
  start = time.time()
  subprocess.run([
      python,
      os.path.join(REPO, "scripts", "peer_sb3.py"), "--seed",
      str(seed), "--eval_seeds", ",".join(map(str, eval_seeds)), "--eval_interval", "5000",
      "--stop_at_return",
      str(args.solved_return), "--time_limit_seconds",
      str(args.peer_limit_minutes * 60), "--output", output], cwd=REPO, check=True,
                 timeout=args.peer_limit_minutes * 60 + 600)
  with open(output) as lines:
    records = [json.loads(line) for line in lines if line.strip()]
  evals = [r for r in records if not r.get("final")]
  solved = next((r for r in evals if r["average_return"] >= args.solved_return), None)
  result = {
      "seed": seed,
      "solved": solved is not None,
      "evals": evals,
      "best_eval_return": max([r["average_return"] for r in evals] or [None])}
  if solved:
    result.update(wall_seconds=solved["wall_seconds"], env_steps=solved["env_steps"])
  else:
    result["gave_up_after_seconds"] = time.time() - start
  final = [r for r in records if r.get("final")]
  if final and final[-1].get("env_steps") and final[-1].get("wall_seconds"):
    result["env_steps_per_second"] = round(final[-1]["env_steps"] / final[-1]["wall_seconds"], 1)
  return result


def cpu_times() -> tuple:
  """(busy, total) jiffies of the whole machine, from /proc/stat."""
  with open("/proc/stat") as stat:
    fields = [int(v) for v in stat.readline().split()[1:]]
  idle = fields[3] + fields[4]  # idle + iowait
  return sum(fields) - idle, sum(fields)


def run_throughput(args, workers: int) -> dict:
  """A training run of the variables file with `workers` workers (with --scaling_config: on
  that generic-gym config) measured over `--throughput_seconds` once the learner has trained
  (after the warm-up), from the learner's reports in metrics.jsonl: env steps/s (= transitions
  the replay buffer took in) and replay items inserted per second, the learner's gradient
  steps/s, the workers' weight-pull latency (their reports' median of medians and max) and
  the machine's CPU use over the window."""
  from sac_system import constants
  from sac_system import metrics
  overrides = {"SAC_NUM_COLLECT_WORKERS": workers}
  if args.scaling_config:
    overrides.update(SAC_PARAMS=os.path.join(REPO, "sac_system", "envs", "gym_params.py"),
                     SAC_CONFIG=os.path.abspath(args.scaling_config))
  process, exp_dir, start = start_run(args, f"benchmark_throughput_{workers}_workers", **overrides)
  window, cpu_start = None, None
  try:
    while process.poll() is None and time.time() - start < args.throughput_seconds + 900:
      time.sleep(2)
      learner = [
          r for r in metrics.read_records(exp_dir, constants.LEARNER_PROGRAM)
          if r.get("train_step", 0) > 0]
      if learner and cpu_start is None:
        cpu_start = cpu_times()
      if learner and learner[-1]["time"] - learner[0]["time"] >= args.throughput_seconds:
        window = (learner[0], learner[-1])
        break
    cpu_end = cpu_times()
  finally:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=180)
  if window is None:
    raise RuntimeError(f"the run in {exp_dir} trained for less than {args.throughput_seconds} s")
  first, last = window
  seconds = last["time"] - first["time"]
  in_window = [
      r for r in metrics.read_records(exp_dir) if constants.is_worker_program(r.get("source", ""))
      and first["time"] <= r["time"] <= last["time"]]
  worker_rates = [
      r["throughput/env_steps_per_second"] for r in in_window
      if "throughput/env_steps_per_second" in r]
  pulls = [
      r["timing/weight_pull_ms_median"] for r in in_window if "timing/weight_pull_ms_median" in r]
  pull_max = [r["timing/weight_pull_ms_max"] for r in in_window if "timing/weight_pull_ms_max" in r]
  with open(os.path.join(exp_dir, constants.RUN_INFO_FILE)) as info_file:
    hyperparameters = json.load(info_file)["hyperparameters"]
  transitions_per_item = (hyperparameters.get("envs_per_worker", 1)
                          * hyperparameters.get("steps_per_item", 1))
  env_rate = (last["env_steps"] - first["env_steps"]) / seconds
  busy = (cpu_end[0] - cpu_start[0]) / max(cpu_end[1] - cpu_start[1], 1)
  return {
      "workers": workers,
      "seconds": seconds,
      "env_steps_per_second": env_rate,
      "replay_items_per_second": env_rate / transitions_per_item,
      "grad_steps_per_second": (last["train_step"] - first["train_step"]) / seconds,
      "median_worker_env_steps_per_second": float(np.median(worker_rates))
                                            if worker_rates else None,
      "weight_pull_ms_median": float(np.median(pulls)) if pulls else None,
      "weight_pull_ms_max": float(np.max(pull_max)) if pull_max else None,
      "machine_cpu_busy": busy,
      "exp_dir": exp_dir}


# ----- MuJoCo against published results ------------------------------------------------------
def mujoco_run(args, task: str, seed: int) -> str:
  """Trains the shipped variables file of `task` with `seed` until the run ends (the config's
  num_iterations) or --mujoco_limit_minutes pass (then it is stopped as Ctrl-C would, and its
  curve so far is reported); returns the exp dir.

  Raises:
    RuntimeError: when the training fails (its exit status and output file).
  """
  args.variables = os.path.join(REPO, f"training_variables_{task}.sh")
  process, exp_dir, _ = start_run(args, f"benchmark_mujoco_{task}_seed{seed}", SAC_SEED=seed)
  stopped = False
  try:
    process.wait(timeout=args.mujoco_limit_minutes * 60)
  except subprocess.TimeoutExpired:
    stopped = True
    print(f"  {task} seed {seed}: stopping at the {args.mujoco_limit_minutes} min limit",
          flush=True)
  finally:
    if process.poll() is None:
      process.send_signal(signal.SIGTERM)
      try:
        process.wait(timeout=600)  # checkpoints are written on the way out
      except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
  if process.returncode != 0 and not stopped:
    raise RuntimeError(f"the {task} run (seed {seed}) failed with exit status "
                       f"{process.returncode}; its output: {exp_dir}.out")
  return exp_dir


def mujoco_peer_run(args, task: str, env_id: str, seed: int, env_steps: int) -> str:
  """SBX's SAC (scripts/peer_sbx_mujoco.py, in .venv-peers) on `env_id` for `env_steps` env
  steps, evaluated on the episode seeds our worker 0 uses with `seed`; returns its JSON lines
  file."""
  from sac_system import seeds
  output = os.path.join(REPO, "logs", "benchmark_peer_mujoco", f"{task}_seed{seed}.jsonl")
  subprocess.run([
      peer_python(),
      os.path.join(REPO, "scripts", "peer_sbx_mujoco.py"), "--env_id", env_id, "--seed",
      str(seed), "--eval_seeds", ",".join(map(str, seeds.eval_episode_seeds(seed, 0, 5))),
      "--eval_interval", "10000", "--total_timesteps",
      str(env_steps), "--time_limit_seconds",
      str(args.mujoco_limit_minutes * 60), "--output", output], cwd=REPO, check=True)
  return output


def seed_of(path: str) -> int:
  """The seed in a run's path (`.../seed3`, `hopper_seed3.jsonl`)."""
  match = re.search(r"seed(\d+)", os.path.basename(path.rstrip("/")))
  if not match:
    raise ValueError(f"{path}: no seed<N> in its name")
  return int(match.group(1))


def listed_runs(text) -> dict:
  """TASK=PATH,... as task -> paths (a task may be named once per run)."""
  runs: dict = {}
  for item in (text or "").split(","):
    if item:
      task, path = item.split("=", 1)
      runs.setdefault(task, []).append(path)
  return runs


def mujoco_benchmark(args, report: dict) -> str:
  """Part 5: returns the stem of the files written."""
  import mujoco_comparison

  from sac_system import constants
  existing = listed_runs(args.mujoco_runs)
  existing_peers = listed_runs(args.mujoco_peer_runs)
  trained = [t for t in (args.mujoco or "").split(",") if t]
  tasks = trained + [task for task in [*existing, *existing_peers] if task not in trained]
  tasks = list(dict.fromkeys(tasks))
  report["tasks"] = {}
  for task in tasks:
    config = os.path.join(REPO, "config", f"{task}.json")
    with open(config) as config_file:
      env_id = json.load(config_file)["env_id"]
    result: dict = {"task": task, "env_id": env_id, "runs": []}
    if not args.mujoco_skip_speed:
      args.params = os.path.join(REPO, "sac_system", "envs", "gym_params.py")
      args.base_config = config
      print(f"{task}: the learner alone and a worker alone ...", flush=True)
      speed = speed_benchmarks(args)
      result.update(learner_alone=speed["learner_ours"]["grad_steps_per_second"],
                    worker_alone=speed["collection"]["worker_env_steps_per_second"],
                    raw_env_steps_per_second=speed["collection"]["raw_env_steps_per_second"])
    runs = [(None, os.path.abspath(exp_dir)) for exp_dir in existing.get(task, [])]
    if task in trained:
      for seed in [int(s) for s in args.seeds.split(",")]:
        print(f"{task} seed {seed}: training {os.path.basename(config)} ...", flush=True)
        runs.append((seed, mujoco_run(args, task, seed)))
    for given_seed, exp_dir in runs:
      seed = given_seed
      if seed is None:
        with open(os.path.join(exp_dir, constants.RUN_INFO_FILE)) as info_file:
          seed = json.load(info_file)["seed"]
      result["runs"].append({"seed": seed, **mujoco_comparison.summarize_run(exp_dir, task)})
    peers = [(seed_of(path), os.path.abspath(path)) for path in existing_peers.get(task, [])]
    if task in trained and args.mujoco_peer:
      from sac_system.train_params_base import load_params
      params = load_params(os.path.join(REPO, "sac_system", "envs", "gym_params.py"), config)
      env_steps = params.total_train_steps + params.min_size_to_sample
      for seed in [int(s) for s in args.seeds.split(",")]:
        print(f"{task} seed {seed}: the reference, SBX SAC, {env_steps} env steps ...", flush=True)
        peers.append((seed, mujoco_peer_run(args, task, env_id, seed, env_steps)))
    result["reference_runs"] = [{
        "seed": seed,
        **mujoco_comparison.summarize_peer(path, task)} for seed, path in sorted(peers)]
    result["statistics"] = mujoco_comparison.seed_statistics(result["runs"],
                                                             result["reference_runs"])
    result["variants"] = mujoco_comparison.variant_statistics(result["runs"],
                                                              result["reference_runs"])
    report["tasks"][task] = result
  stem = os.path.join(args.output_dir,
                      f"mujoco_{report['date'].replace(' ', '_').replace(':', '')}")
  os.makedirs(args.output_dir, exist_ok=True)
  paths = mujoco_comparison.write(report, stem)
  print(mujoco_comparison.markdown(report))
  print("wrote " + ", ".join(paths))
  return stem


# ----- report --------------------------------------------------------------------------------
def roofline_share(run: dict, roofline: dict) -> float:
  """The learner's matmul FLOPs per second in training over the matmul rate of the cores its
  CPU time amounts to."""
  cores = run.get("cpu_cores_training", {}).get("sac_train")
  if not cores or not run.get("grad_steps_per_second"):
    return float("nan")
  return (run["grad_steps_per_second"] * roofline["step_flops"]["tf_agents_step"] /
          (roofline["matmul_flops_per_second_one_core"] * cores))


def whole_seconds(seconds) -> str:
  """A wall time for the tables: whole seconds, or "not reached"."""
  return "not reached" if seconds is None or math.isinf(seconds) else f"{seconds:.0f} s"


def time_cell(run: dict) -> str:
  """A run's time to its first eval at the threshold, or how long it ran without one."""
  if run["solved"]:
    return whole_seconds(run.get("wall_seconds"))
  return f"not in {run.get('gave_up_after_seconds', 0):.0f} s"


def checkpoint_cell(run: dict) -> str:
  """When the run's first checkpoint solved over 100 episodes was written, and at what step."""
  if "checkpoints_checked" not in run:
    return "-"
  first = run.get("solved_checkpoint")
  if not first:
    return f"none of {len(run['checkpoints_checked'])}"
  return f"{whole_seconds(first['wall_seconds'])} ({first['train_step']} steps)"


def cores_cell(cores: dict) -> str:
  """CPU cores in training: replay / learner / workers / machine."""
  if not cores:
    return "-"
  workers = sum(v for k, v in cores.items() if k.startswith("sac_collect"))
  return (f"{cores.get('sac_replay_buffer', 0):.2f} / {cores.get('sac_train', 0):.2f} / "
          f"{workers:.2f} / {cores.get('machine', 0):.2f}")


def time_to_solve_markdown(report: dict) -> list:
  """Rows of the time-to-solve runs: one per seed, then the median and worst over seeds."""
  runs = report.get("time_to_solve", [])
  roofline = report.get("learner_roofline")
  if not runs:
    return []
  solved = f"{report.get('solved_return', SOLVED_RETURN):g}"
  lines = [
      "", f"Training runs of `{report.get('variables')}` (time from the command):", "",
      f"| seed | first eval >= {solved} (10 episodes) | env steps | first checkpoint with "
      f"{SOLVED_EPISODES}-episode mean >= {solved} | learner grad steps/s | roofline share per "
      "core used | CPU cores in training: replay / learner / workers / machine |",
      "|---|---|---|---|---|---|---|"]
  first_evals, checkpoints = [], []
  for run in runs:
    first_evals.append(run.get("wall_seconds") if run["solved"] else float("inf"))
    if "checkpoints_checked" in run:
      first_solved = run.get("solved_checkpoint")
      checkpoints.append(first_solved["wall_seconds"] if first_solved else float("inf"))
    share = roofline_share(run, roofline) if roofline else float("nan")
    lines.append(f"| {run['seed']} | {time_cell(run)} | {run.get('env_steps', '-')} | "
                 f"{checkpoint_cell(run)} | {run.get('grad_steps_per_second', float('nan')):.0f} "
                 f"| {100 * share:.0f} % | {cores_cell(run.get('cpu_cores_training', {}))} |")
  lines.append(f"| **median** | **{whole_seconds(float(np.median(first_evals)))}** | | "
               + (f"**{whole_seconds(float(np.median(checkpoints)))}**" if checkpoints else "-")
               + " | | | |")
  lines.append(f"| **worst** | **{whole_seconds(max(first_evals))}** | | "
               + (f"**{whole_seconds(max(checkpoints))}**" if checkpoints else "-") + " | | | |")
  peers = report.get("peer", [])
  if peers:
    lines += [
        "", "The peer: Stable-Baselines3 SAC, RL Zoo hyperparameters (scripts/peer_sb3.py), "
        "the same eval episodes:", "",
        f"| seed | first eval >= {solved} | env steps | best eval | env steps/s |",
        "|---|---|---|---|---|"]
    peer_times = []
    for run in peers:
      peer_times.append(run["wall_seconds"] if run["solved"] else run["gave_up_after_seconds"])
      best = run.get("best_eval_return")
      lines.append(f"| {run['seed']} | {time_cell(run)} | {run.get('env_steps', '-')} | "
                   f"{'-' if best is None else f'{best:.0f}'} | "
                   f"{run.get('env_steps_per_second', float('nan')):.0f} |")
    bound = "" if all(run["solved"] for run in peers) else ">= "
    ratio = float(np.median(peer_times)) / float(np.median(first_evals))
    lines.append(f"| **median** | **{bound}{np.median(peer_times):.0f} s** | | | |")
    lines += [
        "", f"**Ratio of median times to the first eval >= {solved}, peer / ours: {bound}"
        f"{ratio:.1f}×**" + (" (a lower bound: a peer run was stopped at its time limit, "
                             "counted at that limit)" if bound else "") + "."]
  if roofline:
    lines += [
        "", f"Learner roofline: one gradient step of batch {roofline['batch_size']}, actor "
        f"{roofline['actor_fc_layers']}, critics {roofline['critic_joint_fc_layers']} = "
        f"{roofline['step_flops']['tf_agents_step'] / 1e6:.0f} MFLOP of matmuls; one core "
        f"multiplies {roofline['matmul_flops_per_second_one_core'] / 1e9:.0f} GFLOP/s "
        "(float32, 256 x 256)."]
  return lines


def markdown(report: dict) -> str:
  lines = [
      f"# Benchmark {report['date']} ({report['mode']})", "",
      f"Machine: {report['machine']['cpu_model']}, {report['machine']['allowed_cpus']} CPUs, "
      f"{report['machine']['memory_gb']} GB, TF {report['machine']['tensorflow']}. "
      f"Command: `{report['command']}`", "", "| measure | value |", "|---|---|"]
  speed = report.get("speed")
  if speed:
    summary = speed["summary"]
    lines += [
        f"| plain `SacAgent.train` loop (batch {report['batch_size']}) | "
        f"{speed['learner_plain']['grad_steps_per_second']:.1f} grad steps/s |",
        f"| our learner, sampling from Reverb | "
        f"{speed['learner_ours']['grad_steps_per_second']:.1f} grad steps/s |",
        f"| **learner ratio (ours / plain)** | **{summary['learner_ratio_ours_to_plain']:.2f}** "
        "(target >= 2) |", f"| roofline: CPU matmul rate (float32, 256 x 256) | "
        f"{speed['learner_plain']['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s; the plain "
        f"loop's steps use {100 * summary['plain_loop_share_of_matmul_rate']:.0f} % of it; a "
        f"SAC step at 100 % would run {summary['roofline_grad_steps_per_second']:.0f} steps/s "
        f"= **{summary['roofline_ratio_to_plain']:.2f}×** the plain loop |",
        f"| Reverb sampling alone (learner's dataset) | "
        f"{speed['learner_ours']['sample_transitions_per_second']:.0f} transitions/s |",
        f"| Reverb insert ({speed['replay_insert']['transitions_per_item']} transitions per "
        "item) | "
        f"{speed['replay_insert']['insert_transitions_per_second']:.0f} transitions/s |",
        f"| raw env, random actions | "
        f"{speed['collection']['raw_env_steps_per_second']:.0f} env steps/s |",
        f"| worker ({speed['collection']['envs_per_worker']} envs): collect policy + replay "
        "writes | "
        f"{speed['collection']['worker_env_steps_per_second']:.0f} env steps/s |",
        f"| **collection ratio (worker / raw)** | "
        f"**{summary['collection_ratio_worker_to_raw']:.2f}** (target >= 0.4) |",
        f"| replay server RSS, {summary['replay_transitions']} transitions "
        f"({summary['replay_items']} items) | "
        f"{summary['replay_server_rss_full_mb']:.0f} MB total, "
        f"{summary['replay_server_data_mb']:.0f} MB above the empty server |",
        f"| raw size of those transitions | {summary['replay_raw_mb']:.0f} MB "
        f"(data / raw = **{summary['replay_data_to_raw_ratio']:.2f}**; target <= 2) |",
        f"| raw size of their trajectory steps (no next observation) | "
        f"{summary['replay_raw_steps_mb']:.0f} MB (data / raw = "
        f"{summary['replay_data_to_raw_steps_ratio']:.2f}) |",
        f"| peak RSS: replay server / our learner / worker | "
        f"{speed['replay_server'].get('peak_rss_mb', 0):.0f} / "
        f"{speed['learner_ours']['peak_rss_mb']:.0f} / "
        f"{speed['collection']['peak_rss_mb']:.0f} MB |"]
  for entry in report.get("replay_memory", []):
    lines.append(
        f"| Reverb per transition, rows of {entry['row_floats']} floats "
        f"({entry['raw_bytes_per_transition']} B raw), items of {entry['rows_per_item']} | "
        f"memory {entry['memory_bytes_per_transition']:.0f} B "
        f"({entry['memory_bytes_per_item_beyond_rows']:.0f} B/item beyond the rows), "
        f"checkpoint {entry['checkpoint_bytes_per_transition']:.0f} B "
        f"({entry['checkpoint_bytes_per_item_beyond_rows']:.0f} B/item) |")
  probe = report.get("replay_checkpoint") or (speed or {}).get("replay_checkpoint")
  if probe:
    lines += [
        f"| replay checkpoint of a full table: {probe['transitions']} transitions "
        f"({probe['items']} items) | "
        f"{probe['median_checkpoint_seconds']:.2f} s (median of "
        f"{len(probe['checkpoint_seconds'])}: " + ", ".join(f"{s:.2f}"
                                                            for s in probe['checkpoint_seconds'])
        + f" s), {probe['checkpoint_mb_on_disk']:.0f} MB on disk |",
        f"| longest insert / sample call during a checkpoint | "
        f"{seconds_or_none(probe['longest_insert_during_checkpoint_seconds'])} / "
        f"{seconds_or_none(probe['longest_sample_during_checkpoint_seconds'])} |",
        f"| median insert / sample call outside checkpoints | "
        f"{probe['median_insert_outside_seconds'] * 1000:.2f} / "
        f"{probe['median_sample_outside_seconds'] * 1000:.2f} ms |",
    ] + ([f"| replay server RSS, full | {probe['server_rss_full_mb']:.0f} MB |"]
         if probe.get("server_rss_full_mb") else [])
  lines += time_to_solve_markdown(report)
  runs = report.get("run_throughput", [])
  if runs:
    latency = report.get("step_latency_seconds")
    lines += [
        "", f"Training runs of `{report.get('scaling_config') or report.get('variables')}`" +
        (f" (each env step waits {latency * 1000:.0f} ms)" if latency else "")
        + f", {runs[0]['seconds']:.0f} s each after the warm-up:", "", "| workers | env steps/s" +
        (" (ideal)" if latency else "")
        + " | replay items/s | grad steps/s | a worker: env steps/s | weight pull: median "
        "(max) ms | machine CPU busy |", "|---|---|---|---|---|---|---|"]
    for run in runs:
      per_worker = run["median_worker_env_steps_per_second"]
      pull = run.get("weight_pull_ms_median")
      lines.append(f"| {run['workers']} | {run['env_steps_per_second']:.0f}"
                   + (f" ({run['workers'] / latency:.0f})" if latency else "")
                   + f" | {run.get('replay_items_per_second', 0):.1f} | "
                   f"{run['grad_steps_per_second']:.0f} | "
                   + (f"{per_worker:.0f}" if per_worker else "-") + " | "
                   + (f"{pull:.1f} ({run['weight_pull_ms_max']:.0f})" if pull is not None else "-")
                   + f" | {100 * run.get('machine_cpu_busy', 0):.0f} % |")
  if len(lines) == 6 or not lines[6].startswith("| "):
    del lines[4:6]  # a table without rows (only training runs): no table
  return "\n".join(lines) + "\n"


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
  parser.add_argument("--time_to_solve", action="store_true",
                      help="also run full trainings until eval >= 200 (long)")
  parser.add_argument("--only_time_to_solve", action="store_true",
                      help="skip the speed measurements")
  parser.add_argument("--seeds", default="0,1,2", help="seeds of the time-to-solve runs")
  parser.add_argument("--solve_limit_minutes", type=float, default=30.0,
                      help="give up on a seed after this long")
  parser.add_argument(
      "--solve_run_minutes", type=float, default=4.0,
      help="train each seed this long (at least until its first eval >= 200), then "
      "evaluate its policy checkpoints over 100 episodes until one's mean is >= 200; "
      "0: stop at the first eval >= 200 and skip the checkpoints")
  parser.add_argument("--solved_return", type=float, default=SOLVED_RETURN,
                      help="the mean return that counts as solved (Lunar Lander: 200)")
  parser.add_argument(
      "--peer", action="store_true",
      help="also time Stable-Baselines3 SAC with the RL Zoo's LunarLanderContinuous "
      "hyperparameters to its first eval >= 200 (installs .venv-peers on first use)")
  parser.add_argument("--peer_seeds", default=None, help="seeds of the peer (default --seeds)")
  parser.add_argument("--peer_limit_minutes", type=float, default=15.0,
                      help="stop a peer run after this long (its time is then a lower bound)")
  parser.add_argument("--variables", default=os.path.join(REPO, "training_variables.sh"),
                      help="training variables file of the time-to-solve runs")
  parser.add_argument("--params", default=os.path.join(REPO, "sac_system", "envs",
                                                       "lunar_lander_params.py"))
  parser.add_argument("--config", default=os.path.join(REPO, "config", "lunar_lander.json"))
  parser.add_argument(
      "--run_throughput", default=None, metavar="WORKERS",
      help="comma-separated worker counts: a training run of --variables with "
      "each, measuring its env steps/s and gradient steps/s (e.g. 1,2)")
  parser.add_argument(
      "--scaling_config", default=None, metavar="CONFIG",
      help="with --run_throughput: run each worker count on this generic-gym "
      "config (sac_system/envs/gym_params.py), e.g. config/lunar_lander_latency.json, "
      "whose env steps wait step_latency_seconds")
  parser.add_argument("--throughput_seconds", type=float, default=120.0,
                      help="seconds of training measured per --run_throughput run")
  parser.add_argument("--seconds", type=float, default=None, help="seconds per timed part")
  parser.add_argument("--capacity", type=int, default=None,
                      help="transitions inserted (and replay capacity)")
  parser.add_argument(
      "--mujoco", default=None, metavar="TASKS",
      help="comma-separated shipped MuJoCo tasks (halfcheetah, hopper, walker2d, "
      "ant): train each with --seeds and compare with published SAC results")
  parser.add_argument(
      "--mujoco_runs", default=None, metavar="TASK=EXP_DIR,...",
      help="also report on these existing runs, without training them (a task "
      "may appear once per run)")
  parser.add_argument(
      "--mujoco_peer", action="store_true",
      help="with --mujoco: also train the same-machine reference, SBX's SAC with the "
      "config's settings (scripts/peer_sbx_mujoco.py in .venv-peers), per seed, after ours")
  parser.add_argument(
      "--mujoco_peer_runs", default=None, metavar="TASK=JSONL,...",
      help="also report on these existing reference runs (their file names carry seed<N>)")
  parser.add_argument("--mujoco_limit_minutes", type=float, default=240.0,
                      help="stop a MuJoCo training run after this long")
  parser.add_argument("--mujoco_skip_speed", action="store_true",
                      help="skip measuring the learner and a worker alone")
  parser.add_argument(
      "--replay_checkpoint", action="store_true",
      help="only time replay checkpoints of a table filled to --capacity "
      "transitions, and the pause they cause to inserts and samples")
  parser.add_argument(
      "--replay_memory", action="store_true",
      help="only measure what a stored transition costs Reverb in memory and in a checkpoint, "
      "for rows of 11 and 29 floats in items of 1 and 32")
  parser.add_argument("--row_floats", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--rows_per_item", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--repeats", type=int, default=None,
                      help="replay checkpoints timed (default 5; --quick 2)")
  parser.add_argument("--output_dir", default=os.path.join(REPO, "benchmarks"))
  # internal: the pinned processes
  parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
  parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--address", help=argparse.SUPPRESS)
  parser.add_argument("--items", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--exp_dir", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.role:
    ROLES[args.role](args)
    return 0
  mujoco = bool(args.mujoco or args.mujoco_runs or args.mujoco_peer_runs)
  args.seconds = args.seconds or (8.0 if args.quick or mujoco else 30.0)
  args.capacity = args.capacity or (20_000 if args.quick or mujoco else 1_000_000)
  args.repeats = args.repeats or (2 if args.quick else 5)
  args.base_config = args.config
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  from sac_system import program
  program.import_quietly("sac_system.envs.gym_env")
  now = datetime.datetime.now()
  command = " ".join(["scripts/benchmark.py"] + sys.argv[1:])
  if mujoco:
    mujoco_benchmark(
        args, {
            "date": now.strftime("%Y-%m-%d %H:%M"),
            "command": command,
            "machine": machine(),
            "seconds_per_part": args.seconds})
    return 0
  from sac_system.train_params_base import load_params
  params = load_params(args.params, args.config)
  if not args.only_time_to_solve:  # the settings the speed parts run with
    for name, value in SPEED_HYPERPARAMETERS.items():
      setattr(params, name, value)
  report = {
      "date": now.strftime("%Y-%m-%d %H:%M"),
      "mode": "quick" if args.quick else "full",
      "command": command,
      "machine": machine(),
      "params": os.path.relpath(args.params, REPO),
      "config": os.path.relpath(args.config, REPO),
      "batch_size": params.batch_size,
      "actor_fc_layers": list(params.actor_fc_layers),
      "critic_joint_fc_layers": list(params.critic_joint_fc_layers),
      "seconds_per_part": args.seconds,
      "solved_return": args.solved_return}
  if args.replay_memory:
    report["replay_memory"] = replay_memory_benchmark(args)
  elif args.replay_checkpoint:
    report["replay_checkpoint"] = replay_checkpoint_benchmark(args)
  elif not args.only_time_to_solve and not args.run_throughput:
    report["speed"] = speed_benchmarks(args)
  runs = []  # (report key, what varies, the values, one run)
  if args.run_throughput:
    runs.append(("run_throughput", "worker(s)", args.run_throughput, run_throughput))
    if args.scaling_config:
      with open(args.scaling_config) as config_file:
        report["step_latency_seconds"] = json.load(config_file).get("step_latency_seconds")
      path = os.path.abspath(args.scaling_config)
      report["scaling_config"] = (os.path.relpath(path, REPO)
                                  if path.startswith(REPO + os.sep) else path)
  if args.time_to_solve or args.only_time_to_solve:
    runs.append(("time_to_solve", "seed", args.seeds, time_to_solve))
    report["learner_roofline"] = learner_roofline(args)
  if args.peer:
    runs.append(("peer", "seed", args.peer_seeds or args.seeds, peer_time_to_solve))
  for key, varies, values, run in runs:
    report["variables"] = os.path.relpath(args.variables, REPO)
    report[key] = []
    for value in [int(v) for v in values.split(",")]:
      what = "scripts/peer_sb3.py" if key == "peer" else report["variables"]
      print(f"{key}, {varies} {value}: running {what} ...", flush=True)
      report[key].append(run(args, value))
      print(f"  {report[key][-1]}", flush=True)
  os.makedirs(args.output_dir, exist_ok=True)
  stem = os.path.join(
      args.output_dir, f"results_{now.strftime('%Y-%m-%d_%H%M')}" +
      ("_quick" if args.quick else "") + ("_replay_checkpoint" if args.replay_checkpoint else "") +
      ("_replay_memory" if args.replay_memory else "") +
      ("_worker_scaling" if args.scaling_config else ""))
  with open(stem + ".json", "w") as json_file:
    json.dump(report, json_file, indent=2)
  with open(stem + ".md", "w") as md_file:
    md_file.write(markdown(report))
  print(markdown(report))
  print(f"wrote {stem}.json and {stem}.md")
  return 0


if __name__ == "__main__":
  sys.exit(main())
