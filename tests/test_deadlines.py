"""Bounded waits on peers (deadlines.call_with_deadline) and derived seeds."""

import logging
import threading
import time

import pytest

from sac_system import deadlines
from sac_system import seeds


def test_a_call_that_returns_in_time_gives_its_value():
  assert deadlines.call_with_deadline(lambda: 42, "the answer", 5.0) == 42


def test_a_call_that_raises_passes_its_error_on():

  def broken():
    raise KeyError("inner")

  with pytest.raises(KeyError, match="inner"):
    deadlines.call_with_deadline(broken, "a broken call", 5.0)


def test_a_call_that_blocks_gives_up_with_the_peer_named_and_logs_while_waiting(caplog):
  release = threading.Event()
  started = time.monotonic()
  with caplog.at_level(logging.WARNING), pytest.raises(deadlines.ReplayServerGoneError) as error:
    deadlines.call_with_deadline(release.wait, "pulling the policy weights on X", 1.0,
                                 logging.getLogger("test"), log_every_s=0.3)
  assert 0.9 < time.monotonic() - started < 3.0
  assert str(error.value) == ("gave up after 1 s waiting for pulling the policy weights on X "
                              "(replay_server_timeout_seconds)")
  waits = [r.message for r in caplog.records if "still waiting for pulling" in r.message]
  assert 2 <= len(waits) <= 4
  release.set()


def test_derived_seeds_differ_by_every_part():
  derived = {
      seeds.derive_seed(0, worker, purpose, offset) for worker in range(3) for purpose in range(3)
      for offset in (0, 1000)}
  assert len(derived) == 18
  assert seeds.derive_seed(5, 1, 2) == seeds.derive_seed(5, 1, 2)


def test_the_named_streams_of_a_run_never_coincide():
  """Collection envs, action sampling, evaluation, the learner and run.py draw from distinct
  streams; a restarted worker (more env steps before) gets new collection seeds."""
  streams = ([
      seeds.collect_env_seed(0, worker, before, env) for worker in range(2) for before in (0, 500)
      for env in range(2)]
             + [seeds.policy_seed(0, worker, before) for worker in range(2) for before in (0, 500)]
             + seeds.eval_episode_seeds(0, 0, 5) + seeds.eval_episode_seeds(0, 1, 5)
             + [seeds.learner_seed(0)] + seeds.run_py_episode_seeds(0, 5))
  assert len(set(streams)) == len(streams)
  assert seeds.eval_episode_seeds(3, 1, 4) == seeds.eval_episode_seeds(3, 1, 4)
  assert all(0 <= seed < 2**31 - 1 for seed in streams)
