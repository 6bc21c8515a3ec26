"""Lunar Lander physics parameters: names, gymnasium's valid ranges, and their validation.

Pure module (no TensorFlow), shared by the environment (`lunar_lander_env`) and the params
file, which checks a config's physics before any process starts.
"""

import numbers
from typing import Any, Dict


ENV_ID = "LunarLanderContinuous-v3"

# key -> (low, high, low_inclusive, high_inclusive) for numbers; None for booleans.
STATE_RANGES = {
    "gravity": (-12.0, 0.0, False, False),
    "enable_wind": None,
    "wind_power": (0.0, 20.0, True, True),
    "turbulence_power": (0.0, 2.0, True, True),
}


def validate_lunar_lander_state(state: Dict[str, Any]) -> Dict[str, Any]:
  """Checks Lunar Lander physics parameters; returns them normalized (floats, bools).

  Raises:
    ValueError: naming the unknown key (and the known ones) or the out-of-range value.
  """
  if not isinstance(state, dict):
    raise ValueError(f"set_state takes a dict, got {type(state).__name__}")
  normalized = {}
  for key, value in state.items():
    if key not in STATE_RANGES:
      raise ValueError(f"unknown set_state key {key!r} for {ENV_ID}; known: "
                       f"{', '.join(sorted(STATE_RANGES))}")
    bounds = STATE_RANGES[key]
    if bounds is None:
      if isinstance(value, bool) or value in (0, 1):
        normalized[key] = bool(value)
        continue
      raise ValueError(f"{key} must be true/false (or 0/1), got {value!r}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
      raise ValueError(f"{key} must be a number, got {value!r}")
    low, high, low_inclusive, high_inclusive = bounds
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (above and below):
      interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
      raise ValueError(f"{key} must be in {interval}, got {value!r}")
    normalized[key] = float(value)
  return normalized
