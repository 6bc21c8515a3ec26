"""Starts, supervises and stops the N+2 programs of a training run (what train_script.sh runs).

    python -m sac_system.launcher VARS.sh

1. Checks everything before any process starts: the training-variables file, the params file
   and JSON config (hyperparameters, env construction, curriculum keys and values), the exp
   dir and the port. Bad input: one line `error: <file>: <key>: <problem>` on stderr, exit 2,
   nothing started and no exp dir touched.
2. Reads the allowed CPU ids (`Cpus_allowed_list` in /proc/self/status), assigns them to the
   replay server, the learner and worker 0..N-1 in that order, prints the plan and writes it
   to EXP/cpu_plan.json.
3. Starts each program under `taskset -c <its ids>`, logging to EXP/logs/<program>.log;
   workers get SLURM_PROCID=i. A program that exits abnormally is restarted after a short
   back-off (its log and metrics.jsonl record the restart); one that keeps crashing stops the
   run.
4. Shows a progress line read from EXP/metrics.jsonl. The learner reaching its step budget
   ends the run (workers finish their final evaluation, the server checkpoints): exit 0.
   SIGINT/SIGTERM stop every program (learner and server save first): exit 128+signal.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

from sac_system import constants
from sac_system import cpu_allocation
from sac_system import errors
from sac_system import files
from sac_system import metrics
from sac_system import private_network
from sac_system import program as program_setup
from sac_system.constants import REPO_ROOT
from sac_system.errors import UserInputError
from sac_system.train_params_base import TrainParamsBase
from sac_system.training_variables import TrainingVariables
from sac_system.training_variables import load_training_variables

# How long the replay server may take to come up.
SERVER_START_TIMEOUT_S = 180.0
# After the learner finishes, workers get this long to run their final evaluation and exit.
WORKER_FINAL_GRACE_S = 180.0
# On SIGINT/SIGTERM: time for the learner and workers to save and exit, then for the server.
STOP_GRACE_S = 20.0
SERVER_STOP_GRACE_S = 8.0
# Restart policy: back-off doubles from RESTART_BACKOFF_S up to RESTART_BACKOFF_MAX_S; more
# than MAX_RESTARTS restarts of one program within RESTART_WINDOW_S stops the run.
RESTART_BACKOFF_S = 2.0
RESTART_BACKOFF_MAX_S = 30.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 600.0
# A program stopped by a full disk is restarted once DISK_FREE_TO_RESUME_MB are free on the exp
# dir's file system, checked every DISK_CHECK_INTERVAL_S; after DISK_FULL_WAIT_S the run stops.
DISK_FREE_TO_RESUME_MB = 64
DISK_CHECK_INTERVAL_S = 10.0
DISK_FULL_WAIT_S = 900.0
PROGRESS_INTERVAL_S = 5.0
# Resident memory of one program (TensorFlow + tf-agents + Reverb client), for the capacity
# check; the measured peaks of each program are in benchmarks/README.md.
PROGRAM_MEMORY_MB = 500
MAX_WORKERS_PER_CPU = 8
# Below this much free disk space not even a program's log fits: refuse to start (what the run
# itself will write is estimated from its settings: `check_footprint`).
MIN_FREE_DISK_MB = 16
# What one launcher runs: everything, the head of a multi-node job, or some of its workers.
ROLE_ALL, ROLE_HEAD, ROLE_WORKERS = "all", "head", "workers"


def log(message: str) -> None:
  print(f"[sac_system {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----- checks before anything starts --------------------------------------------------------
def check_port_free(host: str, port: int, source: str) -> None:
  """Raises UserInputError naming SAC_REPLAY_PORT when `port` is already in use."""
  with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind(("", port))
    except OSError:
      raise UserInputError(
          source, "SAC_REPLAY_PORT", f"port {port} is already in use; pick a "
          f"free one or leave SAC_REPLAY_PORT unset to pick one") from None


def pick_free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("", 0))
    return probe.getsockname()[1]


def check_capacity(variables: TrainingVariables, allowed_cpus: int,
                   memory_total_mb: Optional[int] = None) -> None:
  """Rejects more programs than this machine can ever run: each is a TensorFlow process of
  about PROGRAM_MEMORY_MB resident memory, and more than MAX_WORKERS_PER_CPU workers per
  allowed CPU would only thrash.

  Raises:
    UserInputError: naming SAC_NUM_COLLECT_WORKERS.
  """
  workers = variables.num_collect_workers
  if workers > MAX_WORKERS_PER_CPU * allowed_cpus:
    raise UserInputError(
        variables.path, "SAC_NUM_COLLECT_WORKERS",
        f"{workers} workers cannot run on the {allowed_cpus} CPU(s) this job "
        f"may use (at most {MAX_WORKERS_PER_CPU * allowed_cpus})")
  if memory_total_mb is None:
    with open("/proc/meminfo") as meminfo:
      memory_total_mb = int(
          next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) // 1024
  needed_mb = (workers + 2) * PROGRAM_MEMORY_MB
  if needed_mb > memory_total_mb:
    raise UserInputError(
        variables.path, "SAC_NUM_COLLECT_WORKERS",
        f"{workers} workers and 2 other programs need about {needed_mb} MB "
        f"but this machine has {memory_total_mb} MB")


def existing_ancestor(path: str) -> str:
  """`path` when it exists, else its nearest existing parent: where an exp dir will live."""
  while path and not os.path.exists(path):
    path = os.path.dirname(path)
  return path


def check_exp_dir(exp_dir: str, source: str) -> bool:
  """Checks that the exp dir can be written. Returns True when a run was started there
  before (a resume): it has a run_info.json. (A multi-node job makes the exp dir for its
  SLURM output before the run starts.)"""
  if os.path.exists(exp_dir) and not os.path.isdir(exp_dir):
    raise UserInputError(source, "SAC_EXP_NAME", f"{exp_dir} exists and is not a directory")
  parent = existing_ancestor(exp_dir)
  if not os.access(parent, os.W_OK | os.X_OK):
    raise UserInputError(source, "SAC_LOGS_DIR", f"cannot write to {parent}")
  free_mb = shutil.disk_usage(parent).free // 2**20
  if free_mb < MIN_FREE_DISK_MB:
    raise UserInputError(
        source, "SAC_LOGS_DIR", f"only {free_mb} MB free on the disk of "
        f"{parent}; a run needs at least {MIN_FREE_DISK_MB} MB for its logs")
  return os.path.isfile(os.path.join(exp_dir, constants.RUN_INFO_FILE))


def directory_bytes(path: str) -> int:
  """Bytes of the files under `path` (0 when it does not exist)."""
  total = 0
  for root, _, names in os.walk(path):
    for name in names:
      try:
        total += os.lstat(os.path.join(root, name)).st_size
      except OSError:
        pass
  return total


def check_footprint(variables: TrainingVariables, params: TrainParamsBase, found: Dict[str, Any],
                    resuming: bool, workers: int) -> None:
  """The replay table against the memory of this machine (or SLURM job), and what the run
  will write against the free space of the exp dir's file system (`checkpoints.footprint`);
  on resume, what the exp dir already holds counts as written. `found` is what
  `check_params` found (the observation and action sizes).

  Raises:
    UserInputError: naming hyperparameters.replay_capacity.
  """
  from sac_system import checkpoints
  estimate = checkpoints.footprint(params, found["observation"], found["action"])
  checkpoints.check_replay_memory(estimate, variables.config_path, 1 + workers, PROGRAM_MEMORY_MB)
  parent = existing_ancestor(variables.exp_dir)
  free = shutil.disk_usage(parent).free
  if resuming:
    free += directory_bytes(variables.exp_dir)
  checkpoints.check_disk(estimate, free, f"the file system of {parent}", variables.config_path, log)


def move_aside(exp_dir: str) -> str:
  """Renames an existing exp dir to `<exp_dir>.old-<time>` (never deletes it); returns the
  new name."""
  stamp = time.strftime("%Y%m%d-%H%M%S")
  target = f"{exp_dir}.old-{stamp}"
  suffix = 1
  while os.path.exists(target):
    target = f"{exp_dir}.old-{stamp}-{suffix}"
    suffix += 1
  os.rename(exp_dir, target)
  return target


# Hyperparameters a resumed run must keep: they define the Reverb tables (a replay checkpoint
# restores only into identical tables) or the shapes in the learner checkpoint.
RESUME_FIXED_HYPERPARAMETERS = ("replay_capacity", "samples_per_insert", "min_size_to_sample",
                                "rate_limiter_slack_items", "actor_fc_layers",
                                "critic_joint_fc_layers")


def check_resume_compatible(variables: TrainingVariables, params: TrainParamsBase) -> None:
  """On resume, checks that the config keeps what the run's checkpoints were made with.

  Raises:
    UserInputError: naming the config file and the changed hyperparameter.
  """
  path = os.path.join(variables.exp_dir, constants.RUN_INFO_FILE)
  try:
    with open(path) as info_file:
      info = json.load(info_file)
    previous = info["hyperparameters"]
  except (OSError, ValueError, KeyError, TypeError):
    return  # a run that never got as far as writing run_info.json has no checkpoints
  from sac_system.replay_buffer import REPLAY_FORMAT
  if info.get("replay_format", 1) != REPLAY_FORMAT and any(
      os.listdir(os.path.join(variables.exp_dir, name))
      for name in (constants.REPLAY_BUFFER_DIR, constants.LEGACY_REPLAY_BUFFER_DIR)
      if os.path.isdir(os.path.join(variables.exp_dir, name))):
    raise UserInputError(
        path, "replay_format", f"{info.get('replay_format', 1)}: this run's "
        "replay checkpoint was written by an older sac_system in another item "
        f"format (now {REPLAY_FORMAT}) and cannot be restored; add --fresh to "
        "start over (the old run is moved aside)")
  current = json.loads(json.dumps(params.hyperparameters()))
  # The item size fixes the replay table's signature; how it is split into envs and steps
  # may change.
  if "envs_per_worker" in previous:
    before = previous["envs_per_worker"] * previous.get("steps_per_item", 1)
    if before != params.transitions_per_item:
      raise UserInputError(
          variables.config_path, "hyperparameters.steps_per_item",
          f"envs_per_worker * steps_per_item is {params.transitions_per_item} but the run in "
          f"{variables.exp_dir} was started with {before} transitions per replay item; its "
          "replay checkpoint needs the same table: restore the old values, or add --fresh to "
          "start over (the old run is moved aside)")
  for key in RESUME_FIXED_HYPERPARAMETERS:
    if key in previous and previous[key] != current[key]:
      raise UserInputError(
          variables.config_path, f"hyperparameters.{key}",
          f"is {current[key]} but the run in {variables.exp_dir} was started with "
          f"{previous[key]}; its replay and learner checkpoints need the same tables and "
          "networks: restore the old value, or add --fresh to start over (the old run is "
          "moved aside)")


def check_params(variables: TrainingVariables, warn=None,
                 found: Optional[Dict[str, Any]] = None) -> TrainParamsBase:
  """`check_params_files` on the files a training-variables file names."""
  return check_params_files(variables.params_path, variables.config_path, variables.seed, warn,
                            found)


def check_params_files(params_path: str, config_path: str, seed: Optional[int] = None, warn=None,
                       found: Optional[Dict[str, Any]] = None) -> TrainParamsBase:
  """Loads the params and builds both environments once: each gets one reset and one random
  step checked against its specs, and every curriculum value is tried on it
  (`env_contract.py`).

  Args:
    params_path: The params file.
    config_path: The JSON config.
    seed: Overrides the params' seed (SAC_SEED), when given.
    warn: Called with one line per contract fallback in use (e.g. unseeded episodes).
    found: When given, gets what the environments tell: the collection env's "observation"
      and "action" sizes (floats) and the eval env's "reward_threshold" (gymnasium's
      "solved" return, which plots draw; None when it has none).

  Returns:
    The validated `TrainParams`.

  Raises:
    UserInputError: naming the file and key of the first problem.
  """
  program_setup.import_quietly("sac_system.envs.gym_env")  # before tf-agents' first import
  from sac_system import env_contract
  from sac_system.curriculum import Curriculum
  from sac_system.train_params_base import load_params
  params = load_params(params_path, config_path, seed)
  curriculum = Curriculum.from_config(params.env_config.get("curriculum"), config_path)
  states = [(f"curriculum.{name}", {
      name: value}) for name, values in curriculum.all_values().items() for value in values]
  warnings: List[str] = []
  for role, make in (("collect", params.make_collect_env), ("eval", params.make_eval_env)):

    def build(role=role, make=make):
      try:
        with program_setup.quiet_stderr():  # an env library's banner is not the user's error
          return make()
      except UserInputError:
        raise
      except Exception as error:  # noqa: BLE001  the user's env_ctor may raise anything
        problem = env_contract.abstract_method_problem(error) or (
            f"building the {role} environment raised {type(error).__name__}: {error}")
        raise UserInputError(params_path, "TrainParams.env_ctor", problem) from None

    env = build()
    try:
      env_contract.check_environment(env, params_path, role)
      if found is not None and role == "eval":
        found["reward_threshold"] = getattr(env, "reward_threshold", None)
      if found is not None and role == "collect":
        for name, spec in (("observation", env.observation_spec()), ("action", env.action_spec())):
          found[name] = sum(int(np.prod(leaf.shape)) for leaf in env_contract.leaves(spec))
      warnings += [line for line in env_contract.fallback_warnings(env) if line not in warnings]
      if role == "collect" or params.eval_follows_curriculum:
        env_contract.check_states(env, build, states, config_path, params_path)
    finally:
      env.close()
  for line in warnings:
    (warn or log)(f"warning: {params_path}: TrainParams.env_ctor: {line}")
  return params


def enter_private_network(variables: TrainingVariables, argv: List[str]) -> Optional[str]:
  """Puts a single-host run in its own network namespace (sac_system/private_network.py).

  Outside it, re-executes the launcher with `argv` under `unshare` (this call then does not
  return). Inside it, brings the namespace's loopback up.

  Returns:
    None when the run is private or the user chose to share the host's network; otherwise
    why it is not private, for the warning line.

  Raises:
    UserInputError: naming SAC_PRIVATE_NETWORK when it is `yes` and cannot be honoured.
  """
  if private_network.inside():
    try:
      private_network.bring_loopback_up()
    except OSError as error:
      raise UserInputError(
          variables.path, "SAC_PRIVATE_NETWORK", "the run's private network has no loopback "
          f"({error}); set SAC_PRIVATE_NETWORK=no to share the machine's network") from None
    return None
  if variables.private_network == "no":
    return None
  if variables.replay_host not in private_network.LOOPBACK_HOSTS:
    why = f"SAC_REPLAY_HOST is {variables.replay_host}, not loopback"
  else:
    why = private_network.available()
  if why is None:
    command = private_network.unshare_prefix() + [sys.executable, "-m", "sac_system.launcher"]
    sys.stdout.flush()
    os.execvpe(command[0], command + argv,
               dict(os.environ, **{private_network.INSIDE_ENV: private_network.namespace_id()}))
  if variables.private_network == "yes":
    raise UserInputError(variables.path, "SAC_PRIVATE_NETWORK",
                         f"is yes, but the run cannot have a private network: {why}")
  return why


# ----- processes -----------------------------------------------------------------------------
class Program:
  """One supervised program: its command, CPUs, log file and restart history."""

  def __init__(self, name: str, argv: List[str], cpus, log_path: str,
               extra_env: Optional[Dict[str, str]] = None):
    self.name = name
    self.argv = argv
    self.cpus = tuple(cpus)
    self.log_path = log_path
    self.extra_env = extra_env or {}
    self.process: Optional[subprocess.Popen] = None
    self.restarts = 0
    self.restart_times: List[float] = []
    self.restart_at: Optional[float] = None
    self.waiting_for_disk_since: Optional[float] = None  # stopped by a full disk since then
    self.finished = False  # exited 0 on its own

  def start(self) -> bool:
    """Starts the program; False (nothing started) when its log cannot be opened on a full
    disk."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2",
               SAC_LAUNCHER_PID=str(os.getpid()), **self.extra_env)
    command = ["taskset", "-c", cpu_allocation.format_cpu_list(self.cpus)] + self.argv
    log_file = None
    try:
      log_file = open(self.log_path, "ab")  # noqa: SIM115  closed below, once the child has it
      log_file.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start (restart "
                     f"{self.restarts}): {' '.join(command)}\n".encode())
      log_file.flush()
    except OSError as error:
      if log_file is not None:
        with contextlib.suppress(OSError):  # its buffer cannot be written either
          log_file.close()
      if not files.disk_full(error):
        raise
      return False
    with log_file:
      # A new session: a Ctrl-C in the terminal reaches only the launcher, which then stops
      # the programs in order (learner and workers first, the server last).
      self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, cwd=REPO_ROOT,
                                      start_new_session=True)
    self.restart_at = None
    self.waiting_for_disk_since = None
    return True

  @property
  def running(self) -> bool:
    return self.process is not None and self.process.poll() is None

  def signal(self, signum: int) -> None:
    if self.running:
      try:
        os.killpg(self.process.pid, signum)
      except ProcessLookupError:
        pass

  def tail(self, lines: int = 5) -> str:
    try:
      with open(self.log_path, errors="replace") as log_file:
        return "".join(log_file.readlines()[-lines:])
    except OSError:
      return ""


def stop_programs(programs: List[Program], grace_s: float) -> None:
  """SIGTERM to `programs`, then SIGKILL to any still running after `grace_s`."""
  for program in programs:
    program.signal(signal.SIGTERM)
  deadline = time.monotonic() + grace_s
  while time.monotonic() < deadline and any(p.running for p in programs):
    time.sleep(0.2)
  for program in programs:
    if program.running:
      log(f"{program.name} did not stop within {grace_s:.0f} s: killing it")
      program.signal(signal.SIGKILL)
      program.process.wait()


class Progress:
  """Follows EXP/metrics.jsonl incrementally and formats the progress line."""

  def __init__(self, exp_dir: str, total_iterations: int):
    self.path = metrics.metrics_path(exp_dir)
    self.total_iterations = total_iterations
    self.offset = 0
    self.learner: Dict = {}
    self.workers: Dict[str, Dict] = {}
    self.last_eval: Optional[Dict] = None
    self.best_eval: Optional[Dict] = None

  def update(self) -> None:
    if not os.path.exists(self.path):
      return
    with open(self.path) as metrics_file:
      metrics_file.seek(self.offset)
      for line in metrics_file:
        if not line.endswith("\n"):
          break  # a record being written; read it next time
        self.offset += len(line.encode())
        try:
          record = json.loads(line)
        except json.JSONDecodeError:
          continue
        self._take(record)

  def _take(self, record: Dict) -> None:
    source = record.get("source", "")
    if source == constants.LEARNER_PROGRAM:
      self.learner.update(record)
    elif constants.is_worker_program(source):
      self.workers.setdefault(source, {}).update(record)
      if record.get("eval/average_return") is not None:
        self.last_eval = record
        if (self.best_eval is None
            or record["eval/average_return"] > self.best_eval["eval/average_return"]):
          self.best_eval = record

  @property
  def env_steps(self) -> int:
    return sum(int(w.get("env_steps", 0)) for w in self.workers.values())

  def line(self, restarts: int, elapsed_s: float) -> str:
    parts = [
        time.strftime("%H:%M:%S", time.gmtime(elapsed_s)),
        f"iter {self.learner.get('iteration', 0)}/{self.total_iterations}",
        f"train_step {self.learner.get('train_step', 0)}", f"env steps {self.env_steps}"]
    if self.last_eval:
      parts.append(f"eval {self.last_eval['eval/average_return']:.1f} "
                   f"(@{self.last_eval['train_step']})")
    grad_rate = self.learner.get("throughput/grad_steps_per_second")
    if grad_rate is not None:
      parts.append(f"{grad_rate:.0f} grad/s")
    env_rate = sum(w.get("throughput/env_steps_per_second") or 0 for w in self.workers.values())
    parts.append(f"{env_rate:.0f} env steps/s")
    parts.append(f"restarts {restarts}")
    return " | ".join(parts)


class Launcher:
  """Runs one training run from its validated variables and params."""

  def __init__(self, variables: TrainingVariables, params: TrainParamsBase, port: int,
               role: str = ROLE_ALL, replay_address: Optional[str] = None,
               worker_ids: Optional[List[int]] = None, reward_threshold: Optional[float] = None):
    """Args:
      variables, params: The validated training variables and params.
      reward_threshold: The eval env's "solved" return, recorded for plots (or None).
      port: The replay server's port.
      role: ROLE_ALL (every program), ROLE_HEAD (replay server and learner) or ROLE_WORKERS
        (only the workers `worker_ids`, connecting to `replay_address`): the multi-node
        SLURM job runs one head and one workers launcher per worker task.
    """
    self.variables = variables
    self.params = params
    self.reward_threshold = reward_threshold
    self.port = port
    self.role = role
    self.exp_dir = variables.exp_dir
    self.address = replay_address or f"{variables.replay_host}:{port}"
    self.worker_ids = (list(range(variables.num_collect_workers))
                       if worker_ids is None else list(worker_ids))
    self.programs: List[Program] = []
    self.server: Optional[Program] = None
    self.learner: Optional[Program] = None
    self.workers: List[Program] = []
    self.stop_signal: Optional[int] = None
    self.progress = Progress(self.exp_dir, params.num_iterations)

  def prepare_exp_dir(self, resuming: bool) -> None:
    from sac_system import replay_buffer
    os.makedirs(replay_buffer.checkpoint_dir(self.exp_dir), exist_ok=True)
    for sub in (constants.LOGS_DIR, constants.SUMMARIES_DIR):
      os.makedirs(os.path.join(self.exp_dir, sub), exist_ok=True)
    shutil.copyfile(self.variables.config_path, os.path.join(self.exp_dir, constants.CONFIG_COPY))
    shutil.copyfile(self.variables.params_path, os.path.join(self.exp_dir, constants.PARAMS_COPY))
    shutil.copyfile(self.variables.path, os.path.join(self.exp_dir, constants.VARIABLES_COPY))
    info = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "resumed": resuming,
        "replay_address": self.address,
        "seed": self.params.seed,
        "hyperparameters": self.params.hyperparameters(),
        "reward_threshold": self.reward_threshold,
        "replay_format": replay_buffer.REPLAY_FORMAT,
        "params_file": self.variables.params_path,
        "config_file": self.variables.config_path}
    files.write_json(os.path.join(self.exp_dir, constants.RUN_INFO_FILE), info)

  def build_programs(self, plan: cpu_allocation.CpuPlan) -> None:
    python = sys.executable
    common = [
        "--params", self.variables.params_path, "--config", self.variables.config_path, "--exp_dir",
        self.exp_dir, "--seed",
        str(self.params.seed)]
    logs = os.path.join(self.exp_dir, constants.LOGS_DIR)

    def program(name, script, extra, env=None):
      return Program(name, [python, os.path.join(REPO_ROOT, "sac_system", script)] + common + extra,
                     plan.cpus_of(name), os.path.join(logs, f"{name}.log"), env)

    if self.role != ROLE_WORKERS:
      self.server = program(constants.REPLAY_PROGRAM, "sac_replay_buffer.py",
                            ["--port", str(self.port)])
      self.learner = program(constants.LEARNER_PROGRAM, "sac_train.py",
                             ["--replay_address", self.address])
    if self.role != ROLE_HEAD:
      self.workers = [
          program(constants.worker_program(worker_id), "sac_collect.py",
                  ["--replay_address", self.address, "--worker_id",
                   str(worker_id)], {"SLURM_PROCID": str(worker_id)})
          for worker_id in self.worker_ids]
    self.programs = [p for p in (self.server, self.learner) if p is not None] + self.workers

  def _on_signal(self, signum, _frame) -> None:
    if self.stop_signal is None:
      self.stop_signal = signum
      print(file=sys.stderr)
      log(f"received {signal.Signals(signum).name}: stopping every program "
          f"(the learner and the replay server save first)")

  def wait_for_server(self) -> bool:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and self.stop_signal is None:
      if not self.server.running:
        return False
      try:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
          return True
      except OSError:
        time.sleep(0.5)
    return False

  def record_restart(self, program: Program, code: int) -> None:
    self.record_event("restart", program=program.name, exit_code=code,
                      **{f"restarts/{program.name}": program.restarts})

  def supervise_once(self) -> Optional[int]:
    """Handles exits and restarts. Returns an exit code when the run is over."""
    now = time.monotonic()
    for program in self.programs:
      if program.finished:
        continue
      if program.restart_at is not None:
        if now >= program.restart_at:
          if program.waiting_for_disk_since is not None:
            free_mb = self.disk_free_mb()
            if free_mb < DISK_FREE_TO_RESUME_MB:
              if now - program.waiting_for_disk_since >= DISK_FULL_WAIT_S:
                log(f"the disk of {self.exp_dir} stayed full ({free_mb} MB free) for "
                    f"{DISK_FULL_WAIT_S / 60:.0f} min: stopping the run; free space and run "
                    "the same command to resume it (the last complete checkpoints are kept)")
                return 1
              program.restart_at = now + DISK_CHECK_INTERVAL_S
              continue
            log(f"{free_mb} MB free again on the disk of {self.exp_dir}: restarting "
                f"{program.name}")
          else:
            log(f"restarting {program.name} (restart {program.restarts})")
          if not program.start():
            self.wait_for_disk(program, now)
        continue
      code = program.process.poll()
      if code is None:
        continue
      if code == 0 and program is not self.server:
        program.finished = True
        if program is self.learner:
          return 0
        if self.learner is None and all(w.finished for w in self.workers):
          return 0  # a workers-only launcher ends when its workers have
        continue
      if code == constants.EXIT_REPLAY_SERVER_GONE:
        log(f"{program.name} lost the replay server at {self.address} for longer than "
            f"replay_server_timeout_seconds ({self.params.replay_server_timeout_seconds:.0f} s): "
            f"stopping the run. Its log ends with:\n{program.tail(5)}")
        return 1
      if code == constants.EXIT_DISK_FULL:
        self.wait_for_disk(program, now)
        continue
      program.restart_times = [t for t in program.restart_times if now - t < RESTART_WINDOW_S]
      if len(program.restart_times) >= MAX_RESTARTS:
        log(f"{program.name} exited with code {code} and has been restarted {MAX_RESTARTS} "
            f"times in {RESTART_WINDOW_S:.0f} s: stopping the run. Its log ends with:\n"
            f"{program.tail(10)}")
        return 1
      program.restarts += 1
      program.restart_times.append(now)
      backoff = min(RESTART_BACKOFF_S * 2**(len(program.restart_times) - 1), RESTART_BACKOFF_MAX_S)
      program.restart_at = now + backoff
      log(f"{program.name} exited with code {code}; restarting in {backoff:.0f} s "
          f"(see {program.log_path})")
      self.record_restart(program, code)
    return None

  def disk_free_mb(self) -> int:
    return shutil.disk_usage(self.exp_dir).free // 2**20

  def wait_for_disk(self, program: Program, now: float) -> None:
    """A program stopped by a full disk (or whose log could not be opened) waits for free
    space, checked every DISK_CHECK_INTERVAL_S, up to DISK_FULL_WAIT_S (not a crash: its
    restarts are not counted)."""
    if program.waiting_for_disk_since is None:
      program.waiting_for_disk_since = now
      log(f"{program.name} stopped: the disk of {self.exp_dir} is full ({self.disk_free_mb()} "
          f"MB free); its last complete checkpoint is kept. Waiting up to "
          f"{DISK_FULL_WAIT_S / 60:.0f} min for {DISK_FREE_TO_RESUME_MB} MB free, then it "
          "restarts")
    program.restart_at = now + DISK_CHECK_INTERVAL_S

  def run(self) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
      signal.signal(signum, self._on_signal)
    started = time.monotonic()
    clients = [p for p in self.programs if p is not self.server]
    if self.server is not None and not self.server.start():
      log(f"cannot open {self.server.log_path}: the disk of {self.exp_dir} is full; free "
          "space and run the same command to resume")
      return 1
    # The learner and workers start at once: they import TensorFlow and build their agents
    # (~4 s) while the server does, then wait for it (bounded, connect_and_make_reporter).
    for program in clients:
      if not program.start():
        self.wait_for_disk(program, time.monotonic())
    if self.server is not None:
      if not self.wait_for_server():
        if self.stop_signal is None:
          log(f"the replay server did not come up; its log ends with:\n{self.server.tail(15)}")
        stop_programs(clients, STOP_GRACE_S)
        stop_programs([self.server], SERVER_STOP_GRACE_S)
        return 128 + self.stop_signal if self.stop_signal else 1
      log(f"replay server listening at {self.address}")
    log(f"started {'the learner and ' if self.learner else ''}{len(self.workers)} worker(s); "
        f"logs in {os.path.join(self.exp_dir, constants.LOGS_DIR)}")
    servers = [self.server] if self.server else []
    interactive = sys.stdout.isatty()
    last_progress = 0.0
    code = None
    while code is None and self.stop_signal is None:
      time.sleep(0.5)
      code = self.supervise_once()
      now = time.monotonic()
      if now - last_progress >= (PROGRESS_INTERVAL_S if interactive else 30.0):
        self.progress.update()
        line = self.progress.line(sum(p.restarts for p in self.programs), now - started)
        print(f"\r{line}\033[K" if interactive else line, end="" if interactive else "\n",
              flush=True)
        last_progress = now
    if interactive:
      print()
    if self.stop_signal is not None:
      stop_programs(clients, STOP_GRACE_S)
      stop_programs(servers, SERVER_STOP_GRACE_S)
      code = 128 + self.stop_signal
    elif code == 0:
      if self.learner is not None:
        log("the learner reached its step budget; waiting for the workers' final evaluation")
      deadline = time.monotonic() + WORKER_FINAL_GRACE_S
      while (time.monotonic() < deadline and self.stop_signal is None
             and any(w.running for w in self.workers)):
        time.sleep(0.5)
      stop_programs(self.workers, STOP_GRACE_S)
      stop_programs(servers, SERVER_STOP_GRACE_S + 10)
    else:
      stop_programs(clients, STOP_GRACE_S)
      stop_programs(servers, SERVER_STOP_GRACE_S)
    if code == 0 and self.learner is not None:
      self.mark_finished()
    self.summary(code, time.monotonic() - started)
    return code

  def record_event(self, event: str, at: Optional[float] = None, **extra) -> None:
    """Appends a launcher record (`start`, `restart`, `finished`) to metrics.jsonl; `start`
    is the clock that wall-time curves and sweeps' time to a threshold count from
    (docs/design.md §7)."""
    try:
      self._append_event(event, at, extra)
    except OSError as error:
      if not files.disk_full(error):
        raise
      log(f"could not record the {event} in metrics.jsonl: the disk is full")

  def _append_event(self, event: str, at: Optional[float], extra: dict) -> None:
    metrics.append_record(
        self.exp_dir, {
            "time": round(time.time() if at is None else at, 3),
            "source": constants.LAUNCHER_SOURCE,
            "train_step": int(self.progress.learner.get("train_step", 0)),
            "iteration": int(self.progress.learner.get("iteration", 0)),
            "env_steps": self.progress.env_steps,
            "event": event,
            **extra})

  def mark_finished(self) -> None:
    """The learner reached its step budget: says so in run_info.json (what a sweep reads to
    skip the run) and in metrics.jsonl."""
    path = os.path.join(self.exp_dir, constants.RUN_INFO_FILE)
    try:
      with open(path) as info_file:
        info = json.load(info_file)
    except (OSError, ValueError):
      info = {}
    self.progress.update()
    final = int(self.progress.learner.get("train_step", 0))
    if final < self.params.total_train_steps:  # a learner stopped from outside also exits 0
      log(f"the learner exited at train_step {final} of {self.params.total_train_steps}: the "
          "run is not finished; run the same command to resume it")
      return
    info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info["final_train_step"] = final
    files.write_json(path, info)
    self.record_event("finished")

  def write_training_plot(self) -> None:
    """Draws EXP/training.png from metrics.jsonl; a failure to plot never fails the run."""
    path = os.path.join(self.exp_dir, constants.TRAINING_PLOT)
    try:
      from sac_system import plotting
      plotting.plot_training([self.exp_dir], path)
      log(f"training curves: {path}")
    except Exception as error:  # noqa: BLE001  a failure to plot never fails the run
      log(f"could not draw {path}: {type(error).__name__}: {error}")

  def summary(self, code: int, elapsed_s: float) -> None:
    if self.learner is None:
      log(f"workers {self.worker_ids} done (exit code {code})")
      return
    self.write_training_plot()
    self.progress.update()
    state = {0: "finished", 1: "failed"}.get(code, "stopped")
    log(f"run {state} after {elapsed_s / 60:.1f} min: "
        + self.progress.line(sum(p.restarts for p in self.programs), elapsed_s))
    if self.progress.best_eval:
      best = self.progress.best_eval
      log(f"best eval return {best['eval/average_return']:.1f} at train_step {best['train_step']}")
    checkpoints = os.path.join(self.exp_dir, constants.POLICIES_DIR,
                               constants.POLICY_CHECKPOINTS_DIR)
    names = sorted(os.listdir(checkpoints)) if os.path.isdir(checkpoints) else []
    if names:
      log(f"latest policy checkpoint: {names[-1]}; evaluate it with\n  .venv/bin/python "
          f"sac_system/run.py --exp_dir {shown_path(self.exp_dir)} --num_episodes 5 "
          f"--checkpoint {names[-1]} --seed 108")
    if code not in (0, None) and self.stop_signal is not None:
      log(f"run it again with the same command to resume from {self.exp_dir}")


def shown_path(path: str) -> str:
  """A path as a command run from the repository root takes it: relative inside the
  repository, absolute outside it (a user's own folder)."""
  path = os.path.abspath(path)
  inside = os.path.commonpath([path, REPO_ROOT]) == REPO_ROOT
  return os.path.relpath(path, REPO_ROOT) if inside else path


def main(argv=None) -> int:
  launched = time.time()
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("variables", help="training-variables file, e.g. training_variables.sh")
  parser.add_argument(
      "--role", choices=(ROLE_ALL, ROLE_HEAD, ROLE_WORKERS), default=ROLE_ALL,
      help="all programs (default); the replay server and learner of a "
      "multi-node job; or only workers, which connect to --replay_address")
  parser.add_argument("--port", type=int, help="replay server port (head; overrides "
                      "SAC_REPLAY_PORT)")
  parser.add_argument("--replay_address", help="host:port of the replay server (workers)")
  parser.add_argument("--worker_ids", help="comma-separated worker ids (workers; default: "
                      "$SLURM_PROCID)")
  parser.add_argument(
      "--fresh", action="store_true",
      help="start over: move an existing exp dir aside to <dir>.old-<time> "
      "(it is never deleted) instead of resuming it")
  argv = sys.argv[1:] if argv is None else list(argv)
  args = parser.parse_args(argv)
  shared_network_why = None
  try:
    variables = load_training_variables(args.variables, REPO_ROOT)
    if args.role == ROLE_ALL:
      shared_network_why = enter_private_network(variables, argv)
    if args.port is not None:
      variables = dataclasses.replace(variables, replay_port=args.port)
    if args.role == ROLE_WORKERS:
      if not args.replay_address:
        raise UserInputError("--replay_address", "", "required with --role workers")
      ids = args.worker_ids or os.environ.get("SLURM_PROCID", "")
      if not re.fullmatch(r"\d+(,\d+)*", ids):
        raise UserInputError("--worker_ids", ids, "expected comma-separated worker ids "
                             "(or SLURM_PROCID set)")
      worker_ids = [int(i) for i in ids.split(",")]
    else:
      worker_ids = None
    if args.role != ROLE_WORKERS:
      check_capacity(variables, len(cpu_allocation.read_allowed_cpus()))
    resuming = check_exp_dir(variables.exp_dir, variables.path)
    if variables.replay_port is not None and args.role != ROLE_WORKERS:
      check_port_free(variables.replay_host, variables.replay_port, variables.path)
    found: Dict[str, Any] = {}
    params = check_params(variables, found=found)
    if args.role != ROLE_WORKERS:
      check_footprint(variables, params, found, resuming and not args.fresh,
                      variables.num_collect_workers if args.role == ROLE_ALL else 0)
    if resuming and not args.fresh and args.role != ROLE_WORKERS:
      check_resume_compatible(variables, params)
      from sac_system import checkpoints
      checkpoints.verify_run(variables.exp_dir, log)
  except UserInputError as error:
    return errors.report(error)
  port = variables.replay_port or pick_free_port()
  if private_network.inside():
    log(f"private network: the replay port {port} is reachable only by this run's programs "
        "(SAC_PRIVATE_NETWORK)")
  elif shared_network_why is not None:
    if "SAC_REPLAY_HOST" in shared_network_why:
      remedy = ("set SAC_REPLAY_HOST=127.0.0.1 for a private network, or SAC_PRIVATE_NETWORK=no "
                "to share the machine's network on purpose")
    elif os.geteuid() == 0:
      remedy = ("close the port with a firewall, or set SAC_PRIVATE_NETWORK=no to share it on "
                "purpose")
    else:
      remedy = ("run where unprivileged user namespaces are allowed, close the port with a "
                "firewall, or set SAC_PRIVATE_NETWORK=no to share it on purpose")
    log(f"warning: the replay server's port {port} is open to every host that reaches this "
        f"machine ({shared_network_why}); {remedy} (docs/design.md §8.6)")
  requests = []
  if args.role != ROLE_WORKERS:
    requests += [(constants.REPLAY_PROGRAM, variables.reverb_cpus),
                 (constants.LEARNER_PROGRAM, variables.train_cpus)]
  if args.role != ROLE_HEAD:
    requests += [(constants.worker_program(i), variables.collect_worker_cpus)
                 for i in (worker_ids or range(variables.num_collect_workers))]
  plan = cpu_allocation.allocate_requests(cpu_allocation.read_allowed_cpus(), requests)
  launcher = Launcher(variables, params, port, args.role, args.replay_address, worker_ids,
                      found.get("reward_threshold"))
  if args.role == ROLE_WORKERS:
    os.makedirs(os.path.join(variables.exp_dir, constants.LOGS_DIR), exist_ok=True)
    log(f"workers {worker_ids} of the run in {variables.exp_dir} on "
        f"{socket.gethostname()}, replay server at {args.replay_address}; CPU plan:")
  else:
    if args.fresh and os.path.isdir(variables.exp_dir) and os.listdir(variables.exp_dir):
      log(f"--fresh: moved the previous run aside to {move_aside(variables.exp_dir)}")
      resuming = False
    launcher.prepare_exp_dir(resuming)
    launcher.record_event("start", at=launched)
    files.write_json(os.path.join(variables.exp_dir, constants.CPU_PLAN_FILE), plan.to_json())
    checkpoint = os.path.join(variables.exp_dir, constants.TRAIN_DIR,
                              constants.LEARNER_CHECKPOINTS_DIR, "checkpoint")
    if resuming:
      log(f"resuming the run in {variables.exp_dir}"
          + (" from its learner checkpoint" if os.path.exists(checkpoint) else ""))
    else:
      log(f"new run in {variables.exp_dir}")
    log(f"{params.num_iterations} iterations x {params.train_steps_per_iteration} gradient "
        f"steps, {variables.num_collect_workers} worker(s), seed {params.seed}; CPU plan:")
  for line in plan.describe():
    log("  " + line)
  launcher.build_programs(plan)
  return launcher.run()


if __name__ == "__main__":
  sys.exit(main())
