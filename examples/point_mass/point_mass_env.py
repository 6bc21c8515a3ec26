"""A point mass on a plane, pushed by a 2-D force towards a goal: the smallest environment that
sac_system trains, written as the original contract asks (docs/your_own_environment.md).

Observation: position (2), velocity (2) and goal (2). Action: a force in [-1, 1]^2.
Reward: minus the distance to the goal, each step. An episode ends after 100 steps
(a time limit: ts.truncation, so the critic bootstraps through it) or when the mass is within
0.05 of the goal at low speed (ts.termination, a bonus of 10).

Parameters that `set_state(dict)` changes, applied at the next reset:
  goal_distance  how far from the start the goal is drawn (the curriculum's key), in (0, 2]
  mass           the point's mass, in (0, 10]
  mass_spread    physics randomization: each episode draws its mass uniformly from
                 mass * [1 - spread, 1 + spread], spread in [0, 1)
"""

import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

TIME_LIMIT = 100
DT = 0.05
RANGES = {"goal_distance": (0.0, 2.0), "mass": (0.0, 10.0), "mass_spread": (0.0, 1.0)}


class PointMassEnv(py_environment.PyEnvironment):

  def __init__(self, goal_distance=1.0, mass=1.0, mass_spread=0.0):
    super().__init__()
    self._observation_spec = array_spec.ArraySpec((6,), np.float32, "observation")
    self._action_spec = array_spec.BoundedArraySpec((2,), np.float32, -1.0, 1.0, "action")
    self._parameters = {}
    self.set_state({"goal_distance": goal_distance, "mass": mass, "mass_spread": mass_spread})
    self._rng = np.random.default_rng()
    self._position = self._velocity = self._goal = np.zeros(2)
    self._mass = mass
    self._steps = 0

  # ----- the original contract ---------------------------------------------------------------
  def observation_spec(self):
    return self._observation_spec

  def action_spec(self):
    return self._action_spec

  def set_state(self, state):
    """Checks every value at once (a bad one raises ValueError naming it); applies them at
    the next reset."""
    for key, value in state.items():
      if key not in RANGES:
        raise ValueError(f"unknown key {key!r}; known: {', '.join(RANGES)}")
      low, high = RANGES[key]
      inside = low <= value < high if key == "mass_spread" else low < value <= high
      if not inside:
        raise ValueError(f"{key} must be in {'[' if key == 'mass_spread' else '('}{low}, "
                         f"{high}{')' if key == 'mass_spread' else ']'}, got {value}")
    self._parameters.update({key: float(value) for key, value in state.items()})

  def get_state(self):
    return dict(self._parameters)

  def _reset(self):
    spread = self._parameters["mass_spread"]
    self._mass = self._parameters["mass"] * self._rng.uniform(1 - spread, 1 + spread)
    self._position = self._rng.uniform(-0.5, 0.5, 2)
    self._velocity = np.zeros(2)
    angle = self._rng.uniform(0, 2 * np.pi)
    self._goal = self._position + self._parameters["goal_distance"] * np.array([
        np.cos(angle), np.sin(angle)])
    self._steps = 0
    return ts.restart(self._observation())

  def _step(self, action):
    force = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
    self._velocity = 0.95 * self._velocity + DT * force / self._mass * 10.0
    self._position = self._position + DT * self._velocity
    self._steps += 1
    distance = float(np.linalg.norm(self._goal - self._position))
    if distance < 0.05 and np.linalg.norm(self._velocity) < 0.2:
      return ts.termination(self._observation(), 10.0 - distance)
    if self._steps >= TIME_LIMIT:
      return ts.truncation(self._observation(), -distance)
    return ts.transition(self._observation(), -distance)

  # ----- optional: what each buys is in docs/your_own_environment.md -------------------------
  def seed(self, seed):
    """Seeds the random stream of the following episodes (reproducible evaluations)."""
    self._rng = np.random.default_rng(seed)

  def render(self, mode="rgb_array"):
    """A 64x64 frame: the goal green, the mass white."""
    frame = np.zeros((64, 64, 3), np.uint8)
    for point, color in ((self._goal, (0, 200, 0)), (self._position, (255, 255, 255))):
      # the plane's [-3, 3] x [-3, 3] onto the frame, y upwards
      row = int(np.clip((3.0 - point[1]) / 6.0 * 61, 0, 61))
      col = int(np.clip((point[0] + 3.0) / 6.0 * 61, 0, 61))
      frame[row:row + 3, col:col + 3] = color
    return frame

  def _observation(self):
    return np.concatenate([self._position, self._velocity, self._goal]).astype(np.float32)
