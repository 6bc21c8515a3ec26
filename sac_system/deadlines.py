"""Bounded waits: nothing a program does on the replay server may block forever.

Reverb's Python client has no timeout on sampling, inserting or server_info on a dead
server (gRPC keeps reconnecting), so every such call goes through `call_with_deadline` or
`wait_for`, bounded by the hyperparameter `replay_server_timeout_seconds` and logged while it
waits. A program that gives up exits with `constants.EXIT_REPLAY_SERVER_GONE`, which tells the
launcher to stop the run instead of restarting the program (docs/design.md §8). Pure module.
"""

import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Optional

from sac_system import constants
from sac_system import files


class ReplayServerGoneError(RuntimeError):
  """The replay server did not answer within replay_server_timeout_seconds."""


def first_line(error: BaseException) -> str:
  """An exception's message cut to its first line (Reverb's carry C++ traces), or its type."""
  return str(error).splitlines()[0] if str(error) else type(error).__name__


Predicate = Callable[[], bool]


def wait_for(what: str, check: Predicate, timeout_s: float, logger: Optional[logging.Logger],
             stop=None, log_every_s: float = 10.0, poll_s: float = 0.5) -> bool:
  """Polls `check()` until it returns True, logging what it waits for; bounded by `timeout_s`.

  Args:
    what: What is awaited, for the log and the error.
    check: Returns True when the wait is over.
    timeout_s: Give up after this many seconds.
    logger: Where "still waiting" lines go, every `log_every_s` seconds (None: nowhere).
    stop: A `program.StopFlag` (anything truthy once a stop was requested), or None.

  Returns:
    True when `check()` succeeded, False when `stop` was set first.

  Raises:
    TimeoutError: naming `what` after `timeout_s` seconds.
  """
  start = last_log = time.monotonic()
  while True:
    if check():
      return True
    if stop:
      return False
    now = time.monotonic()
    if now - start > timeout_s:
      raise TimeoutError(f"gave up after {timeout_s:.0f} s waiting for {what}")
    if logger is not None and now - last_log >= log_every_s:
      logger.info("still waiting for %s (%.0f s of %.0f s)", what, now - start, timeout_s)
      last_log = now
    time.sleep(poll_s)


def call_with_deadline(function: Callable[[], Any], what: str, timeout_s: float,
                       logger: Optional[logging.Logger] = None, log_every_s: float = 30.0):
  """Runs `function()` (a call that may block on the replay server) with a time limit.

  The call runs in a daemon thread; while it blocks, a log line says what is awaited every
  `log_every_s` seconds.

  Returns:
    What `function` returned (or raises what it raised).

  Raises:
    ReplayServerGoneError: naming `what`, after `timeout_s` seconds. The thread is abandoned.
  """
  result: dict = {}

  def target():
    try:
      result["value"] = function()
    except BaseException as error:  # noqa: BLE001  re-raised in the calling thread below
      result["error"] = error

  thread = threading.Thread(target=target, name=f"deadline: {what}", daemon=True)
  start = time.monotonic()
  thread.start()
  while True:
    waited = time.monotonic() - start
    thread.join(min(log_every_s, max(timeout_s - waited, 0.0)))
    if not thread.is_alive():
      break
    waited = time.monotonic() - start
    if waited >= timeout_s:
      raise ReplayServerGoneError(f"gave up after {timeout_s:.0f} s waiting for {what} "
                                  "(replay_server_timeout_seconds)")
    if logger is not None:
      logger.warning("still waiting for %s after %.0f s (gives up after %.0f s)", what, waited,
                     timeout_s)
  if "error" in result:
    raise result["error"]
  return result["value"]


def exit_when_replay_server_gone(run: Callable[[], int], logger: logging.Logger) -> int:
  """Runs a program's main loop; a `ReplayServerGoneError` becomes one logged error line and
  exit code EXIT_REPLAY_SERVER_GONE (abandoned waiting threads do not delay the exit), a full
  disk one line and EXIT_DISK_FULL."""
  try:
    return run()
  except ReplayServerGoneError as error:
    logger.error("%s; stopping", error)
    print(f"error: {error}", file=sys.stderr, flush=True)
    logging.shutdown()
    os._exit(constants.EXIT_REPLAY_SERVER_GONE)
  except Exception as error:  # a full disk is told apart from any other failure
    if not files.disk_full(error):
      raise
    # One line: what failed; the checkpoints written before it are complete and kept.
    logger.error(
        "disk full: %s; writes stopped, the last complete checkpoint is kept; "
        "exiting for the launcher to wait for free space", first_line(error))
    logging.shutdown()
    os._exit(constants.EXIT_DISK_FULL)
