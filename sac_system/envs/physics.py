"""Physics parameters that an environment exposes through `set_state`: names, units, valid
ranges, validation, and per-episode randomization (docs/design.md §5.3).

An environment declares its parameters once as a `PhysicsParameters`; the same object checks a
config before any process starts, checks every `set_state` call, and draws each episode's
values. Pure module (numpy only).

Every numeric parameter `p` that is randomized has two more `set_state` keys:
  <p>_spread        >= 0, at most the width of p's range; 0 (the default) keeps p fixed.
  <p>_distribution  "uniform" (default): uniform over [p - spread, p + spread] cut to p's
                    range; "normal": p + spread * N(0, 1), clipped into p's range (a margin
                    inside an open bound).
A boolean parameter may have a probability key: null (the default: the boolean decides) or a
probability in [0, 1] that an episode has it on. The value `p` is the centre of its interval,
so a curriculum over `<p>_spread` widens the randomization around a (possibly also scheduled)
`p`.

`PhysicsEnvParams` is the params class of such an environment (Lunar Lander, Minitaur): config
keys "env_kwargs" (physics and randomization of both environments), "eval_env_kwargs" (merged
over them for the evaluation environment) and "max_episode_steps", every value checked
against the environment's `PhysicsParameters` before anything starts.
"""

import dataclasses
import math
import numbers
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from sac_system.train_params_base import TrainParamsBase
from sac_system.train_params_base import check_env_config

DISTRIBUTIONS = ("uniform", "normal")


@dataclasses.dataclass(frozen=True)
class Range:
  """The valid values of a numeric parameter, with its unit for messages and docs."""
  low: float
  high: float
  low_inclusive: bool = True
  high_inclusive: bool = True
  unit: str = ""

  def contains(self, value: float) -> bool:
    above = value >= self.low if self.low_inclusive else value > self.low
    below = value <= self.high if self.high_inclusive else value < self.high
    return above and below

  def text(self) -> str:
    return (f"{'[' if self.low_inclusive else '('}{self.low}, {self.high}"
            f"{']' if self.high_inclusive else ')'}")

  def limits(self, margin: float):
    """The closed interval draws are clipped into: `margin` inside an open bound."""
    return (self.low if self.low_inclusive else self.low + margin,
            self.high if self.high_inclusive else self.high - margin)


def finite_number(key: str, value: Any) -> float:
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


class PhysicsParameters:
  """The `set_state` keys of one environment's physics and their per-episode draws."""

  def __init__(self, owner: str, numeric: Mapping[str, Range], defaults: Mapping[str, Any],
               randomized: Sequence[str] = (), booleans: Sequence[str] = (),
               probabilities: Optional[Mapping[str, str]] = None, open_bound_margin: float = 0.01):
    """Declares the parameters.

    Args:
      owner: The environment's name, for messages ("unknown set_state key ... for <owner>").
      numeric: Numeric parameter -> its valid `Range`.
      defaults: Every numeric and boolean parameter -> its default value.
      randomized: Numeric parameters that get `<p>_spread` and `<p>_distribution` keys.
      booleans: Boolean parameters (true/false, or 0/1).
      probabilities: Probability key -> the boolean it draws per episode.
      open_bound_margin: How far inside an open bound draws are clipped.
    """
    self.owner = owner
    self.numeric = dict(numeric)
    self.booleans = tuple(booleans)
    self.randomized = tuple(randomized)
    self.probabilities = dict(probabilities or {})
    self.open_bound_margin = open_bound_margin
    self.physics_defaults: Dict[str, Any] = {
        name: defaults[name] for name in (*self.numeric, *self.booleans)}
    self.randomization_defaults: Dict[str, Any] = dict.fromkeys(self.probabilities)
    for name in self.randomized:
      self.randomization_defaults[f"{name}_spread"] = 0.0
      self.randomization_defaults[f"{name}_distribution"] = "uniform"
    self.defaults = {**self.physics_defaults, **self.randomization_defaults}
    self.state_keys = tuple(sorted(self.defaults))

  def validate(self, state: Dict[str, Any]) -> Dict[str, Any]:
    """Checks settings (physics and randomization); returns them normalized.

    Raises:
      ValueError: naming the unknown key (and the known ones) or the bad value.
    """
    if not isinstance(state, dict):
      raise ValueError(f"set_state takes a dict, got {type(state).__name__}")
    normalized: Dict[str, Any] = {}
    for key, value in state.items():
      if key not in self.defaults:
        raise ValueError(f"unknown set_state key {key!r} for {self.owner}; known: "
                         f"{', '.join(self.state_keys)}")
      normalized[key] = self._validate_value(key, value)
    return normalized

  def _validate_value(self, key: str, value: Any) -> Any:
    if key in self.booleans:
      if isinstance(value, bool) or (isinstance(value, numbers.Real) and value in (0, 1)):
        return bool(value)
      raise ValueError(f"{key} must be true/false (or 0/1), got {value!r}")
    if key.endswith("_distribution"):
      if value not in DISTRIBUTIONS:
        raise ValueError(f"{key} must be one of {', '.join(DISTRIBUTIONS)}, got {value!r}")
      return value
    if key in self.probabilities:
      if value is None:
        return None
      probability = finite_number(key, value)
      if not 0.0 <= probability <= 1.0:
        raise ValueError(f"{key} must be null or in [0, 1], got {value!r}")
      return probability
    number = finite_number(key, value)
    if key.endswith("_spread"):
      bounds = self.numeric[key[:-len("_spread")]]
      if not 0.0 <= number <= bounds.high - bounds.low:
        raise ValueError(f"{key} must be in [0, {bounds.high - bounds.low}], got {value!r}")
      return number
    bounds = self.numeric[key]
    if not bounds.contains(number):
      raise ValueError(f"{key} must be in {bounds.text()}, got {value!r}")
    return number

  def randomizes(self, settings: Mapping[str, Any]) -> bool:
    """Whether `settings` draw anything per episode (a spread above 0 or a probability)."""
    return (any(settings[key] is not None for key in self.probabilities)
            or any(settings[f"{name}_spread"] > 0 for name in self.randomized))

  def draw(self, settings: Mapping[str, Any], rng: np.random.Generator) -> Dict[str, Any]:
    """Draws one episode's physics from validated `settings`.

    Returns:
      Every numeric and boolean parameter's value for the episode, always inside its range:
      the randomized numbers first (drawn in declaration order), then the fixed ones, then
      the booleans.
    """
    physics: Dict[str, Any] = {}
    for name in self.randomized:
      centre = float(settings[name])
      spread = float(settings[f"{name}_spread"])
      low, high = self.numeric[name].limits(self.open_bound_margin)
      if spread == 0.0:
        value = centre
      elif settings[f"{name}_distribution"] == "normal":
        value = centre + spread * rng.standard_normal()
      else:
        value = rng.uniform(max(centre - spread, low), min(centre + spread, high))
      physics[name] = float(np.clip(value, low, high))
    for name in self.numeric:
      if name not in physics:
        physics[name] = float(settings[name])
    drawn = {boolean: key for key, boolean in self.probabilities.items()}
    for name in self.booleans:
      probability = settings[drawn[name]] if name in drawn else None
      physics[name] = (bool(settings[name]) if probability is None else bool(
          rng.random() < probability))
    return physics


class PhysicsEnvParams(TrainParamsBase):
  """`TrainParamsBase` for an environment built from the config's physics keyword arguments.
  A subclass names its `PhysicsParameters` as `PHYSICS` and builds its environment in
  `env_ctor(**kwargs)`."""

  ENV_CONFIG_KEYS = frozenset({"env_kwargs", "eval_env_kwargs", "max_episode_steps"})
  PHYSICS: PhysicsParameters

  def __init__(self, env_config=None, config_path="<config>"):
    super().__init__(env_config, config_path)
    check_env_config(self, validate_kwargs=self.PHYSICS.validate)

  def collect_env_args_kwargs(self):
    kwargs = dict(self.env_config.get("env_kwargs", {}))
    kwargs["max_episode_steps"] = self.env_config.get("max_episode_steps")
    return (), kwargs

  def eval_env_args_kwargs(self):
    args, kwargs = self.collect_env_args_kwargs()
    kwargs.update(self.env_config.get("eval_env_kwargs", {}))
    return args, kwargs
