"""Lunar Lander physics parameters: names, valid ranges, validation and per-episode draws.

Pure module (numpy only), shared by the environment (`lunar_lander_env.py`), the params file
(which checks a config's physics before any process starts) and the tests. The mechanics
(spreads, distributions, probabilities) are those of every environment: `physics.py`.

Physics (gymnasium's own ranges):
  gravity           strictly in (-12, 0)        default -10.0
  enable_wind       true/false                   default false
  wind_power        0 to 20                      default 15.0
  turbulence_power  0 to 2                       default 1.5

Domain randomization (all default to "off"); re-drawn at every episode reset:
  <p>_spread, <p>_distribution  for p in gravity, wind_power, turbulence_power
  wind_probability  null (default: enable_wind decides) or a probability in [0, 1]: each
                    episode has wind with this probability.
"""

from typing import Any, Dict, Mapping

import numpy as np

from sac_system.envs.physics import PhysicsParameters
from sac_system.envs.physics import Range

ENV_ID = "LunarLanderContinuous-v3"

LUNAR_LANDER = PhysicsParameters(
    ENV_ID, numeric={
        "gravity": Range(-12.0, 0.0, low_inclusive=False, high_inclusive=False, unit="m/s²"),
        "wind_power": Range(0.0, 20.0),
        "turbulence_power": Range(0.0, 2.0)}, defaults={
            "gravity": -10.0,
            "enable_wind": False,
            "wind_power": 15.0,
            "turbulence_power": 1.5}, randomized=("gravity", "wind_power", "turbulence_power"),
    booleans=("enable_wind",), probabilities={"wind_probability": "enable_wind"})

DEFAULT_PHYSICS = LUNAR_LANDER.physics_defaults
DEFAULT_RANDOMIZATION = LUNAR_LANDER.randomization_defaults
# Every key `set_state` (and the constructor) accepts, with its default.
DEFAULT_SETTINGS = LUNAR_LANDER.defaults
STATE_KEYS = LUNAR_LANDER.state_keys


def validate_lunar_lander_state(state: Dict[str, Any]) -> Dict[str, Any]:
  """Checks Lunar Lander settings (physics and randomization); returns them normalized.

  Raises:
    ValueError: naming the unknown key (and the known ones) or the bad value.
  """
  return LUNAR_LANDER.validate(state)


def draw_physics(settings: Mapping[str, Any], rng: np.random.Generator) -> Dict[str, Any]:
  """Draws one episode's physics from validated `settings`: gravity, wind_power,
  turbulence_power and enable_wind, always inside their valid ranges."""
  return LUNAR_LANDER.draw(settings, rng)
