"""Episodes: running seeded episodes with a policy and summarizing them.

Shared by the online workers (`workers.py`: evaluation and the collection statistics) and
offline evaluation (`evaluation.py`, what run.py does). Imports neither TensorFlow nor
Reverb: offline evaluation must not depend on the replay buffer.
"""

import collections
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np


def run_episodes(env, policy, seeds: Sequence[int],
                 on_step: Optional[Callable] = None) -> List[Tuple[float, int]]:
  """Runs one episode per seed with `policy` and returns (return, length) for each.

  Args:
    env: A `PyEnvironment` with `seed_next_reset` (`envs/gym_env.py`).
    policy: A py policy (e.g. the greedy eval policy).
    seeds: One seed per episode.
    on_step: Called with each time step (e.g. to render video frames).
  """
  results = []
  for seed in seeds:
    env.seed_next_reset(seed)
    time_step = env.reset()
    policy_state = policy.get_initial_state(None)
    episode_return, length = 0.0, 0
    if on_step:
      on_step(time_step)
    while not time_step.is_last():
      action_step = policy.action(time_step, policy_state)
      policy_state = action_step.state
      time_step = env.step(action_step.action)
      episode_return += float(time_step.reward)
      length += 1
      if on_step:
        on_step(time_step)
    results.append((episode_return, length))
  return results


def summarize_episodes(results: Sequence[Tuple[float, int]], prefix: str) -> dict:
  """`<prefix>/average_return`, `return_std`, `min_return`, `max_return`,
  `average_episode_length` and `episodes` of (return, length) pairs."""
  returns = np.array([r for r, _ in results], dtype=np.float64)
  lengths = np.array([n for _, n in results], dtype=np.float64)
  return {
      f"{prefix}/average_return": float(returns.mean()),
      f"{prefix}/return_std": float(returns.std()),
      f"{prefix}/min_return": float(returns.min()),
      f"{prefix}/max_return": float(returns.max()),
      f"{prefix}/average_episode_length": float(lengths.mean()),
      f"{prefix}/episodes": float(len(results))}


class CollectStats:
  """Counts of the collection stream over a worker's envs: env steps, episodes, the last 10
  episode returns and lengths (what tf-agents' py_metrics report, without their per-step nest
  handling)."""

  def __init__(self, num_envs: int = 1, window: int = 10):
    self.env_steps = 0
    self.episodes = 0
    self.returns: collections.deque = collections.deque(maxlen=window)
    self.lengths: collections.deque = collections.deque(maxlen=window)
    self._return = [0.0] * num_envs
    self._length = [0] * num_envs

  def observe(self, env_index: int, reward: float, episode_ended: bool) -> None:
    """Counts one env step of env `env_index`."""
    self.env_steps += 1
    self._return[env_index] += reward
    self._length[env_index] += 1
    if episode_ended:
      self.episodes += 1
      self.returns.append(self._return[env_index])
      self.lengths.append(self._length[env_index])
      self._return[env_index], self._length[env_index] = 0.0, 0
