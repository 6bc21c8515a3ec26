"""What every program of a run does at start: logging, TF threads, flags, signals, peers.

The replay buffer, the learner and the workers (`sac_replay_buffer.py`, `sac_train.py`,
`sac_collect.py`) and `run.py` are thin entry points; their common start-up lives here.
"""

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from typing import Iterator, Optional

from sac_system import constants
from sac_system import errors

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def setup_process(program: str) -> logging.Logger:
  """Sets up logging and quiets TensorFlow's C++ start-up noise. Call before importing TF."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stdout, force=True)
  if os.environ.get("SAC_LAUNCHER_PID") == str(os.getppid()):
    die_with_parent()
  return logging.getLogger(program)


def allowed_cpu_count() -> int:
  """CPUs this process is pinned to (`taskset`), which bounds useful threads."""
  return len(os.sched_getaffinity(0))


def intra_op_threads_for(program: str, cpus: int) -> int:
  """TensorFlow's intra-op threads (one op split over several cores) for a program pinned to
  `cpus` CPUs. The learner gets half of them (at least one): the matrices of SAC's small
  networks are too small to split with profit, while its independent ops (two critics, their
  targets, the actor's passes) run side by side on the inter-op threads, one per CPU. On 2
  CPUs that trains small networks faster than 2 intra-op threads or one CPU (docs/design.md
  §2.3). Other programs use all their CPUs for both."""
  return max(1, cpus // 2) if program == constants.LEARNER_PROGRAM else cpus


def configure_tensorflow_threads(logger: Optional[logging.Logger] = None,
                                 program: Optional[str] = None) -> int:
  """Matches TensorFlow's intra- and inter-op thread pools to the pinned CPUs, so programs
  pinned to different CPUs never oversubscribe a core (`intra_op_threads_for`). Must run
  before TF executes an op."""
  import tensorflow as tf
  cpus = allowed_cpu_count()
  intra = intra_op_threads_for(program or "", cpus)
  tf.config.threading.set_intra_op_parallelism_threads(intra)
  tf.config.threading.set_inter_op_parallelism_threads(cpus)
  if logger:
    logger.info("pinned to %d CPU(s) %s; TensorFlow uses %d intra-op and %d inter-op threads", cpus,
                sorted(os.sched_getaffinity(0)), intra, cpus)
  return cpus


class StopFlag:
  """Set by SIGTERM/SIGINT; long loops poll it and stop at the next safe point."""

  def __init__(self, logger: Optional[logging.Logger] = None):
    self._event = threading.Event()
    self._logger = logger
    self.signal_name: Optional[str] = None

  def install(self) -> "StopFlag":
    for signum in (signal.SIGTERM, signal.SIGINT):
      signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, _frame):
    self.signal_name = signal.Signals(signum).name
    if self._logger:
      self._logger.info("received %s: stopping at the next safe point", self.signal_name)
    self._event.set()

  def __bool__(self) -> bool:
    return self._event.is_set()

  def wait(self, seconds: float) -> bool:
    return self._event.wait(seconds)


def define_run_flags() -> None:
  """Flags every program of a run takes: --params, --config, --exp_dir, --seed."""
  from absl import flags
  flags.DEFINE_string("params", None, "Params .py file defining class TrainParams.")
  flags.DEFINE_string("config", None, "JSON config (env_config, hyperparameters, curriculum).")
  flags.DEFINE_string("exp_dir", None, "Experiment directory (logs/NAME).")
  flags.DEFINE_integer("seed", None, "Run seed; overrides the params' seed.")
  flags.mark_flags_as_required(["params", "config", "exp_dir"])


def define_client_flags() -> None:
  """Flags of the programs that connect to the replay buffer (learner, workers)."""
  from absl import flags
  flags.DEFINE_string("replay_address", None, "host:port of the replay buffer.")
  flags.mark_flag_as_required("replay_address")


def load_params_from_flags():
  """Loads TrainParams from --params/--config/--seed; on bad input prints one line and exits 2."""
  from absl import flags

  from sac_system.train_params_base import load_params
  values = flags.FLAGS
  try:
    return load_params(values.params, values.config, values.seed)
  except errors.UserInputError as error:
    sys.exit(errors.report(error))


def start_program(program: str):
  """The common start of the replay buffer, learner and worker programs: logging, params from
  the flags (bad input: one line, exit 2), TF threads matched to the pinned CPUs, and a stop
  flag set by SIGTERM/SIGINT.

  Returns:
    (logger, params, stop flag).
  """
  logger = setup_process(program)
  params = load_params_from_flags()
  configure_tensorflow_threads(logger, program)
  return logger, params, StopFlag(logger).install()


def connect_and_make_reporter(program: str, logger: logging.Logger, stop: StopFlag,
                              timeout_s: float):
  """Waits (at most `timeout_s`) for the replay buffer at --replay_address to serve both
  tables, then returns the program's metrics reporter (metrics.jsonl and TensorBoard in
  EXP/summaries/<program>), or None when a stop came first.

  Raises:
    deadlines.ReplayServerGoneError: when the server does not serve within `timeout_s`.
  """
  import tensorflow as tf
  from absl import flags

  from sac_system import replay_buffer
  from sac_system.metrics import MetricsReporter
  if not replay_buffer.wait_for_replay_server(flags.FLAGS.replay_address, timeout_s, logger, stop):
    return None
  exp_dir = flags.FLAGS.exp_dir
  writer = tf.summary.create_file_writer(os.path.join(exp_dir, constants.SUMMARIES_DIR, program))
  return MetricsReporter(exp_dir, program, writer)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
  """Asks Linux to send `signum` to this process when the launcher that started it dies, so a
  killed launcher leaves no orphans (the programs save on SIGTERM). No-op off Linux."""
  try:
    import ctypes
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, int(signum))
  except (OSError, AttributeError):
    return
  if os.getppid() == 1:  # the parent died before prctl took effect
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
  """Points file descriptor 2 to /dev/null for the block, so that what libraries print there
  (C++ start-up messages, gym's notice, pybullet's banner) stays off the user's terminal, where
  bad input must be one line. Exceptions still propagate."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def import_quietly(module: str) -> None:
  """Imports `module` with TensorFlow's C++ start-up messages and gym's notice (printed by
  tf-agents' `gym` dependency on import) kept off the user's terminal (`quiet_stderr`)."""
  previous = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  try:
    with quiet_stderr():
      importlib.import_module(module)
  finally:
    if previous is None:
      del os.environ["TF_CPP_MIN_LOG_LEVEL"]
    else:
      os.environ["TF_CPP_MIN_LOG_LEVEL"] = previous
