"""Continuous Lunar Lander (gymnasium `LunarLanderContinuous-v3`) with physics set by `set_state`.

`set_state` keys: `gravity` (strictly in (-12, 0)), `enable_wind` (bool), `wind_power` (0 to
20), `turbulence_power` (0 to 2): gymnasium's own ranges. New values take effect at the next
reset, when gymnasium rebuilds the Box2D world; the seed stream is not disturbed.
"""

from sac_system.gym_env import GymnasiumEnvironment
from sac_system.lunar_lander_physics import ENV_ID, STATE_RANGES, validate_lunar_lander_state


class LunarLanderEnvironment(GymnasiumEnvironment):
  """`LunarLanderContinuous-v3` whose gravity, wind and turbulence can change between episodes."""

  def __init__(self, gravity: float = -10.0, enable_wind: bool = False, wind_power: float = 15.0,
               turbulence_power: float = 1.5, max_episode_steps=None, render_mode=None):
    physics = validate_lunar_lander_state(dict(
        gravity=gravity, enable_wind=enable_wind, wind_power=wind_power,
        turbulence_power=turbulence_power))
    super().__init__(ENV_ID, physics, max_episode_steps=max_episode_steps,
                     render_mode=render_mode)

  def state_keys(self):
    return sorted(STATE_RANGES)

  def validate_state(self, state):
    return validate_lunar_lander_state(state)

  def _current_state(self):
    lander = self.gym_env.unwrapped
    return {key: getattr(lander, key) for key in STATE_RANGES}

  def _apply_state(self, state):
    # gymnasium's LunarLander reads these attributes in reset() (the Box2D world is rebuilt
    # there with self.gravity; wind indices are drawn there when enable_wind is set).
    lander = self.gym_env.unwrapped
    for key, value in state.items():
      setattr(lander, key, value)
    self._env_kwargs.update(state)
