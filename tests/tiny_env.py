"""A tiny gymnasium env for tests: move a point on a line to a target.

Observation (x, target), action in [-1, 1], x += 0.25 * action, reward -|x - target|.
Terminates when |x - target| < 0.1; the registered time limit truncates at 20 steps.
Constructor keyword `target` (in [-1, 1]) is what `set_state` can change.
"""

import gymnasium as gym
import numpy as np

ENV_ID = "SacSystemTinyReach-v0"


class TinyReach(gym.Env):

  def __init__(self, target: float = 0.5, render_mode=None):
    if not -1.0 <= target <= 1.0:
      raise ValueError(f"target must be in [-1, 1], got {target}")
    self.target = float(target)
    self.render_mode = render_mode
    self.observation_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
    self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    self.x = 0.0

  def reset(self, *, seed=None, options=None):
    super().reset(seed=seed)
    self.x = float(self.np_random.uniform(-1.0, 1.0))
    return np.array([self.x, self.target], np.float32), {}

  def step(self, action):
    self.x = float(np.clip(self.x + 0.25 * float(np.asarray(action).reshape(-1)[0]), -2, 2))
    distance = abs(self.x - self.target)
    return (np.array([self.x, self.target], np.float32), -distance, distance < 0.1, False, {})

  def render(self):
    frame = np.zeros((16, 32, 3), np.uint8)
    frame[:, int(np.clip((self.x + 2) * 7.9, 0, 31))] = 255
    return frame


if ENV_ID not in gym.registry:
  gym.register(ENV_ID, entry_point=TinyReach, max_episode_steps=20)
