"""Continuous Lunar Lander (gymnasium `LunarLanderContinuous-v3`) with physics set by `set_state`.

`set_state` keys are those of `lunar_lander_physics.py`: the physics (`gravity`, `enable_wind`,
`wind_power`, `turbulence_power`) and their per-episode randomization (`<p>_spread`,
`<p>_distribution`, `wind_probability`), drawn at every reset (`gym_env.PhysicsEnvironment`);
gymnasium rebuilds the Box2D world there with them.
"""

from typing import Any, Dict

from sac_system.envs.gym_env import PhysicsEnvironment
from sac_system.envs.lunar_lander_physics import ENV_ID
from sac_system.envs.lunar_lander_physics import LUNAR_LANDER


class LunarLanderEnvironment(PhysicsEnvironment):
  """`LunarLanderContinuous-v3` whose gravity, wind and turbulence can change, or be
  re-drawn, between episodes."""

  PHYSICS = LUNAR_LANDER

  def __init__(self, gravity: float = -10.0, enable_wind: bool = False, wind_power: float = 15.0,
               turbulence_power: float = 1.5, max_episode_steps=None, render_mode=None,
               **randomization):
    """Builds the env. `randomization` takes the `<p>_spread`, `<p>_distribution` and
    `wind_probability` keys of `lunar_lander_physics.py` (default: no randomization)."""
    physics = {
        "gravity": gravity,
        "enable_wind": enable_wind,
        "wind_power": wind_power,
        "turbulence_power": turbulence_power}
    super().__init__(ENV_ID, {
        **physics,
        **randomization}, LUNAR_LANDER.validate(physics), max_episode_steps=max_episode_steps,
                     render_mode=render_mode)

  def _use_physics(self, physics):
    # gymnasium's LunarLander reads these attributes in reset() (the Box2D world is rebuilt
    # there with self.gravity; wind indices are drawn there when enable_wind is set).
    lander = self.gym_env.unwrapped
    for key, value in physics.items():
      setattr(lander, key, value)

  def episode_physics(self) -> Dict[str, Any]:
    """The physics of the current episode, read back from the simulator."""
    lander = self.gym_env.unwrapped
    return {key: getattr(lander, key) for key in LUNAR_LANDER.physics_defaults}
