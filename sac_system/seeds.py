"""Every random stream of a run, derived from the run seed (docs/design.md §9).

One function per stream, so that two streams can never coincide by accident and a change of
how one is derived is visible in one place. A restarted worker mixes in the env steps it had
already collected, so it does not replay the episodes of its first start. Pure module.
"""

from typing import List

import numpy as np

# Purposes mixed into derived seeds: each stream has its own.
_COLLECT_ENV, _POLICY, _EVAL_ENV = 0, 1, 2
_LEARNER = 1_000_003
_RUN_PY_EPISODES = 7_919
_RUN_PY_RANDOM_POLICY = 7_927


def derive_seed(*parts: int) -> int:
  """A 31-bit seed derived from several integers (run seed, worker id, purpose, ...)."""
  return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] % (2**31 - 1))


def collect_env_seed(run_seed: int, worker_id: int, env_steps_before: int, env_index: int) -> int:
  """Seed of collection env `env_index` of worker `worker_id`."""
  return derive_seed(run_seed, worker_id, _COLLECT_ENV, env_steps_before, env_index)


def policy_seed(run_seed: int, worker_id: int, env_steps_before: int) -> int:
  """Seed of a worker's action sampling (TF's global seed and the numpy actor's noise)."""
  return derive_seed(run_seed, worker_id, _POLICY, env_steps_before)


def eval_episode_seeds(run_seed: int, worker_id: int, episodes: int) -> List[int]:
  """The fixed episode seeds of a worker's evaluations: the same at every evaluation."""
  return [derive_seed(run_seed, worker_id, _EVAL_ENV, k) for k in range(episodes)]


def learner_seed(run_seed: int) -> int:
  """TF's global seed in the learner (minibatch shuffling, the actor's samples)."""
  return derive_seed(run_seed, _LEARNER)


def run_py_random_policy_seed(seed: int) -> int:
  """Seed of `run.py --checkpoint random`'s actions (its episodes are those of --seed)."""
  return derive_seed(seed, _RUN_PY_RANDOM_POLICY)


def run_py_episode_seeds(seed: int, episodes: int) -> List[int]:
  """Episode seeds of `run.py --seed`: the same --seed gives the same episodes."""
  return [derive_seed(seed, _RUN_PY_EPISODES, k) for k in range(episodes)]
