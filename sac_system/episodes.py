"""Episodes: running seeded episodes with a policy and summarizing them.

Shared by the online workers (`workers.py`: evaluation and the collection statistics) and
offline evaluation (`evaluation.py`, what run.py does). Imports neither TensorFlow nor
Reverb: offline evaluation must not depend on the replay buffer.
"""

import collections
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np


class Episode(NamedTuple):
  """One episode's return and length, and what the env reports of it at its end
  (`env.episode_metrics()`, e.g. Minitaur's forward distance; empty for most envs)."""
  episode_return: float
  length: int
  metrics: Dict[str, float]


def run_episodes(env, policy, seeds: Sequence[int],
                 on_step: Optional[Callable] = None) -> List[Episode]:
  """Runs one episode per seed with `policy`.

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
    results.append(Episode(episode_return, length, getattr(env, "episode_metrics", dict)()))
  return results


# What `summarize_episodes` reports of every evaluation, as `<prefix>/<name>`.
SUMMARY_NAMES = ("average_return", "return_std", "min_return", "max_return",
                 "average_episode_length", "episodes")


def summarize_episodes(episodes: Sequence[Episode], prefix: str) -> dict:
  """`<prefix>/average_return`, `return_std`, `min_return`, `max_return`,
  `average_episode_length`, `episodes`, and the mean of each episode metric as
  `<prefix>/<metric>` (e.g. `eval/forward_distance`)."""
  returns = np.array([episode.episode_return for episode in episodes], dtype=np.float64)
  lengths = np.array([episode.length for episode in episodes], dtype=np.float64)
  values = (returns.mean(), returns.std(), returns.min(), returns.max(), lengths.mean(),
            len(episodes))
  summary = {f"{prefix}/{name}": float(value) for name, value in zip(SUMMARY_NAMES, values)}
  for key in sorted(episodes[0].metrics):
    summary[f"{prefix}/{key}"] = float(np.mean([episode.metrics[key] for episode in episodes]))
  return summary


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
