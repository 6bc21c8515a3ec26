"""Lunar Lander physics parameters: names, valid ranges, validation and per-episode draws.

Pure module (numpy only), shared by the environment (`lunar_lander_env`), the params file
(which checks a config's physics before any process starts) and the tests.

Physics (gymnasium's own ranges):
  gravity           strictly in (-12, 0)        default -10.0
  enable_wind       true/false                   default false
  wind_power        0 to 20                      default 15.0
  turbulence_power  0 to 2                       default 1.5

Domain randomization (all default to "off"); re-drawn at every episode reset:
  <p>_spread        for p in gravity, wind_power, turbulence_power: >= 0, at most the width
                    of p's range. 0 keeps p fixed at its value.
  <p>_distribution  "uniform" (default): uniform over [p - spread, p + spread] cut to p's
                    valid range; "normal": p + spread * N(0, 1), clipped into p's valid range
                    (0.01 inside an open bound).
  wind_probability  null (default: enable_wind decides) or a probability in [0, 1]: each
                    episode has wind with this probability.
The value `p` is the centre of the interval, so a curriculum over `gravity_spread` widens the
randomization around the (possibly also scheduled) gravity.
"""

import math
import numbers
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

ENV_ID = "LunarLanderContinuous-v3"

# (low, high, low_inclusive, high_inclusive) of a number's valid range.
Bounds = Tuple[float, float, bool, bool]
# key -> its bounds for numbers; None for booleans.
PHYSICS_RANGES: Dict[str, Optional[Bounds]] = {
    "gravity": (-12.0, 0.0, False, False),
    "enable_wind": None,
    "wind_power": (0.0, 20.0, True, True),
    "turbulence_power": (0.0, 2.0, True, True)}
DEFAULT_PHYSICS = {
    "gravity": -10.0,
    "enable_wind": False,
    "wind_power": 15.0,
    "turbulence_power": 1.5}
RANDOMIZED = ("gravity", "wind_power", "turbulence_power")
DISTRIBUTIONS = ("uniform", "normal")
# How far inside an open bound (gravity's 0 and -12) draws are clipped.
OPEN_BOUND_MARGIN = 0.01

DEFAULT_RANDOMIZATION: Dict[str, Any] = {"wind_probability": None}
for _name in RANDOMIZED:
  DEFAULT_RANDOMIZATION[f"{_name}_spread"] = 0.0
  DEFAULT_RANDOMIZATION[f"{_name}_distribution"] = "uniform"

# Every key `set_state` (and the constructor) accepts, with its default.
DEFAULT_SETTINGS = {**DEFAULT_PHYSICS, **DEFAULT_RANDOMIZATION}
STATE_KEYS = tuple(sorted(DEFAULT_SETTINGS))


def _check_number(key: str, value: Any) -> float:
  """`value` as a finite float, or a ValueError naming `key` (bools, strings, nan, inf and
  integers too large for a float are not numbers here)."""
  if isinstance(value, numbers.Real) and not isinstance(value, bool):
    try:
      number = float(value)
    except OverflowError:
      number = math.inf
    if math.isfinite(number):
      return number
  raise ValueError(f"{key} must be a number, got {value!r}")


def _interval_text(bounds) -> str:
  low, high, low_inclusive, high_inclusive = bounds
  return f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"


def validate_lunar_lander_state(state: Dict[str, Any]) -> Dict[str, Any]:
  """Checks Lunar Lander settings (physics and randomization); returns them normalized.

  Raises:
    ValueError: naming the unknown key (and the known ones) or the bad value.
  """
  if not isinstance(state, dict):
    raise ValueError(f"set_state takes a dict, got {type(state).__name__}")
  normalized: Dict[str, Any] = {}
  for key, value in state.items():
    if key not in DEFAULT_SETTINGS:
      raise ValueError(f"unknown set_state key {key!r} for {ENV_ID}; known: "
                       f"{', '.join(STATE_KEYS)}")
    if key == "enable_wind":
      if isinstance(value, bool) or (isinstance(value, numbers.Real) and value in (0, 1)):
        normalized[key] = bool(value)
        continue
      raise ValueError(f"{key} must be true/false (or 0/1), got {value!r}")
    if key.endswith("_distribution"):
      if value not in DISTRIBUTIONS:
        raise ValueError(f"{key} must be one of {', '.join(DISTRIBUTIONS)}, got {value!r}")
      normalized[key] = value
      continue
    if key == "wind_probability":
      if value is None:
        normalized[key] = None
        continue
      probability = _check_number(key, value)
      if not 0.0 <= probability <= 1.0:
        raise ValueError(f"{key} must be null or in [0, 1], got {value!r}")
      normalized[key] = probability
      continue
    number = _check_number(key, value)
    if key.endswith("_spread"):
      low, high = _bounds(key[:-len("_spread")])[:2]
      if not 0.0 <= number <= high - low:
        raise ValueError(f"{key} must be in [0, {high - low}], got {value!r}")
      normalized[key] = number
      continue
    bounds = _bounds(key)
    low, high, low_inclusive, high_inclusive = bounds
    above = number >= low if low_inclusive else number > low
    below = number <= high if high_inclusive else number < high
    if not (above and below):
      raise ValueError(f"{key} must be in {_interval_text(bounds)}, got {value!r}")
    normalized[key] = number
  return normalized


def _bounds(name: str) -> Bounds:
  """The valid range of numeric physics parameter `name`."""
  bounds = PHYSICS_RANGES[name]
  assert bounds is not None, f"{name} is not a number"
  return bounds


def _limits(name: str):
  low, high, low_inclusive, high_inclusive = _bounds(name)
  return (low if low_inclusive else low + OPEN_BOUND_MARGIN,
          high if high_inclusive else high - OPEN_BOUND_MARGIN)


def draw_physics(settings: Mapping[str, Any], rng: np.random.Generator) -> Dict[str, Any]:
  """Draws one episode's physics from validated `settings` (see the module docstring).

  Returns:
    {"gravity", "enable_wind", "wind_power", "turbulence_power"}: the values for the episode,
    always inside the valid ranges.
  """
  physics: Dict[str, Any] = {}
  for name in RANDOMIZED:
    centre = float(settings[name])
    spread = float(settings[f"{name}_spread"])
    low, high = _limits(name)
    if spread == 0.0:
      value = centre
    elif settings[f"{name}_distribution"] == "normal":
      value = centre + spread * rng.standard_normal()
    else:
      value = rng.uniform(max(centre - spread, low), min(centre + spread, high))
    physics[name] = float(np.clip(value, low, high))
  probability = settings["wind_probability"]
  physics["enable_wind"] = (bool(settings["enable_wind"]) if probability is None else bool(
      rng.random() < probability))
  return physics
