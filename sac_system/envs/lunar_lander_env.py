"""Continuous Lunar Lander (gymnasium `LunarLanderContinuous-v3`) with physics set by `set_state`.

`set_state` keys are those of `lunar_lander_physics`: the physics (`gravity`, `enable_wind`,
`wind_power`, `turbulence_power`) and their per-episode randomization (`<p>_spread`,
`<p>_distribution`, `wind_probability`). New values take effect at the next reset, where the
episode's physics are drawn and gymnasium rebuilds the Box2D world; the seed stream is not
disturbed. The draws come from their own generator, seeded from each explicitly seeded reset,
so an episode run with a fixed seed (evaluation) always gets the same physics.
"""

import collections
from typing import Any, Dict, List, Optional

import numpy as np

from sac_system.envs.gym_env import GymnasiumEnvironment
from sac_system.envs.lunar_lander_physics import DEFAULT_RANDOMIZATION
from sac_system.envs.lunar_lander_physics import ENV_ID
from sac_system.envs.lunar_lander_physics import PHYSICS_RANGES
from sac_system.envs.lunar_lander_physics import RANDOMIZED
from sac_system.envs.lunar_lander_physics import STATE_KEYS
from sac_system.envs.lunar_lander_physics import draw_physics
from sac_system.envs.lunar_lander_physics import validate_lunar_lander_state

# Episodes whose drawn physics are kept until `pop_episode_states` collects them.
MAX_RECORDED_EPISODES = 10_000
# Mixed into an episode's seed to seed the physics draws (independent of gymnasium's stream).
_PHYSICS_SEED_SALT = 0x5EED


class LunarLanderEnvironment(GymnasiumEnvironment):
  """`LunarLanderContinuous-v3` whose gravity, wind and turbulence can change, or be
  re-drawn, between episodes."""

  def __init__(self, gravity: float = -10.0, enable_wind: bool = False, wind_power: float = 15.0,
               turbulence_power: float = 1.5, max_episode_steps=None, render_mode=None,
               **randomization):
    """Builds the env. `randomization` takes the `<p>_spread`, `<p>_distribution` and
    `wind_probability` keys of `lunar_lander_physics.py` (default: no randomization)."""
    physics = validate_lunar_lander_state({
        "gravity": gravity,
        "enable_wind": enable_wind,
        "wind_power": wind_power,
        "turbulence_power": turbulence_power})
    self._settings = {
        **physics,
        **DEFAULT_RANDOMIZATION,
        **validate_lunar_lander_state(randomization)}
    self._physics_rng = np.random.default_rng()
    self._episode_physics: collections.deque = collections.deque(maxlen=MAX_RECORDED_EPISODES)
    super().__init__(ENV_ID, physics, max_episode_steps=max_episode_steps, render_mode=render_mode)

  @property
  def randomized(self) -> bool:
    """Whether episodes draw their physics (a spread above 0 or a wind probability)."""
    return (self._settings["wind_probability"] is not None
            or any(self._settings[f"{name}_spread"] > 0 for name in RANDOMIZED))

  def state_keys(self):
    return list(STATE_KEYS)

  def validate_state(self, state):
    return validate_lunar_lander_state(state)

  def _current_state(self):
    return dict(self._settings)

  def _apply_state(self, state):
    self._settings.update(state)

  def _before_reset(self, seed: Optional[int]) -> None:
    if seed is not None:
      self._physics_rng = np.random.default_rng([int(seed), _PHYSICS_SEED_SALT])
    physics = draw_physics(self._settings, self._physics_rng)
    # gymnasium's LunarLander reads these attributes in reset() (the Box2D world is rebuilt
    # there with self.gravity; wind indices are drawn there when enable_wind is set).
    lander = self.gym_env.unwrapped
    for key, value in physics.items():
      setattr(lander, key, value)
    if self.randomized:
      self._episode_physics.append(physics)

  def episode_physics(self) -> Dict[str, Any]:
    """The physics of the current episode."""
    lander = self.gym_env.unwrapped
    return {key: getattr(lander, key) for key in PHYSICS_RANGES}

  def pop_episode_states(self) -> List[Dict[str, Any]]:
    episodes = list(self._episode_physics)
    self._episode_physics.clear()
    return episodes
