"""Curriculum over environment parameters, indexed by the learner's iteration (docs/design.md §6).

A config's `"curriculum"` maps a parameter name to `{"iters": [...], "range": [lo, hi]}`;
`values = numpy.linspace(lo, hi, len(iters))`. At each iteration index a worker pops every
`iters` entry the index has reached and calls `env.set_state({name: value})` with the value
popped last. Before the first entry is reached the parameter keeps its constructor value.

Pure module (numpy only): no TensorFlow or Reverb import, so its tests run in milliseconds.
"""

import collections
import itertools
import numbers
from typing import Any, Deque, Dict, Mapping, Tuple

import numpy as np

from sac_system.errors import UserInputError


class ParameterSchedule:
  """The remaining (iteration, value) entries of one parameter."""

  def __init__(self, name: str, iters: Tuple[int, ...], values: Tuple[float, ...]):
    self.name = name
    self.iters = tuple(iters)
    self.values = tuple(values)
    self._pending: Deque[Tuple[int, float]] = collections.deque(zip(self.iters, self.values))

  def pop_reached(self, iteration: int):
    """Pops every entry whose iteration `iteration` has reached.

    Returns:
      The value popped last, or None when no entry was reached.
    """
    value = None
    while self._pending and iteration >= self._pending[0][0]:
      _, value = self._pending.popleft()
    return value


def _is_number(value: Any) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def parse_curriculum(spec: Any, source: str) -> Dict[str, ParameterSchedule]:
  """Validates a `"curriculum"` section and turns it into schedules.

  Args:
    spec: The JSON value of the `"curriculum"` key (a dict), or None for no curriculum.
    source: The config file name, for error messages.

  Returns:
    A dict from parameter name to its `ParameterSchedule`.

  Raises:
    UserInputError: naming the file and the key, when `spec` is not a dict of
      `{"iters": [non-negative, strictly increasing ints], "range": [number, number]}`.
  """
  if spec is None:
    return {}
  if not isinstance(spec, dict):
    raise UserInputError(
        source, "curriculum", f"expected an object mapping parameter names "
        f"to {{\"iters\": [...], \"range\": [lo, hi]}}, got {type(spec).__name__}")
  schedules = {}
  for name, entry in spec.items():
    key = f"curriculum.{name}"
    if not isinstance(entry, dict):
      raise UserInputError(
          source, key, f"expected {{\"iters\": [...], \"range\": [lo, hi]}}, "
          f"got {type(entry).__name__}")
    unknown = sorted(set(entry) - {"iters", "range"})
    if unknown:
      raise UserInputError(source, f"{key}.{unknown[0]}",
                           "unknown field; a curriculum entry has exactly 'iters' and 'range'")
    for field in ("iters", "range"):
      if field not in entry:
        raise UserInputError(source, f"{key}.{field}", "missing")
    iters = entry["iters"]
    if (not isinstance(iters, list) or not iters
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in iters)):
      raise UserInputError(source, f"{key}.iters",
                           f"expected a non-empty list of integers, got {iters!r}")
    if iters[0] < 0:
      raise UserInputError(source, f"{key}.iters", f"iterations must be >= 0, got {iters!r}")
    if any(b <= a for a, b in itertools.pairwise(iters)):
      raise UserInputError(source, f"{key}.iters",
                           f"iterations must be strictly increasing, got {iters!r}")
    value_range = entry["range"]
    if (not isinstance(value_range, list) or len(value_range) != 2
        or not all(_is_number(v) for v in value_range)):
      raise UserInputError(source, f"{key}.range",
                           f"expected two numbers [lo, hi], got {value_range!r}")
    if not all(np.isfinite(v) for v in value_range):
      raise UserInputError(source, f"{key}.range", f"values must be finite, got {value_range!r}")
    values = np.linspace(float(value_range[0]), float(value_range[1]), len(iters))
    schedules[name] = ParameterSchedule(name, tuple(iters), tuple(float(v) for v in values))
  return schedules


class Curriculum:
  """Applies the schedules of all parameters as the iteration index advances.

  Parameters are independent. A worker that starts late or restarts calls `advance` once
  with the current iteration and gets only the value in force now (not the whole history),
  and an iteration index lower than one already seen changes nothing: a curriculum never
  goes backwards.
  """

  def __init__(self, schedules: Mapping[str, ParameterSchedule]):
    self._schedules = dict(schedules)
    self._values_in_force: Dict[str, float] = {}
    self._last_iteration = -1

  @classmethod
  def from_config(cls, spec: Any, source: str) -> "Curriculum":
    """Parses and validates a `"curriculum"` section (see `parse_curriculum`)."""
    return cls(parse_curriculum(spec, source))

  @property
  def parameter_names(self) -> Tuple[str, ...]:
    return tuple(self._schedules)

  @property
  def values_in_force(self) -> Dict[str, float]:
    """Values applied so far, by parameter (parameters not yet reached are absent)."""
    return dict(self._values_in_force)

  def all_values(self) -> Dict[str, Tuple[float, ...]]:
    """Every value each parameter will take, for validation before a run starts."""
    return {name: schedule.values for name, schedule in self._schedules.items()}

  def advance(self, iteration: int) -> Dict[str, float]:
    """Pops every entry that `iteration` has reached.

    Args:
      iteration: The learner's iteration index.

    Returns:
      The state to pass to `env.set_state`: for each parameter with at least one entry
      reached now, the value popped last. Empty when nothing changes.
    """
    if iteration <= self._last_iteration:
      return {}
    self._last_iteration = iteration
    changes = {}
    for name, schedule in self._schedules.items():
      value = schedule.pop_reached(iteration)
      if value is not None:
        changes[name] = value
    self._values_in_force.update(changes)
    return changes
