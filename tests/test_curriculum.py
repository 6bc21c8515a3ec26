"""The curriculum semantics of docs/design.md §6, exhaustively (pure: no TensorFlow)."""

import numpy as np
import pytest

from conftest import README_CURRICULUM
from sac_system.curriculum import Curriculum
from sac_system.curriculum import parse_curriculum
from sac_system.errors import UserInputError

SPEC = README_CURRICULUM


def reference(spec, iterations):
  """The seed README's pseudo-code, run literally: every popped value is applied in turn."""
  applied = []
  state = {
      name: (list(e["iters"]), list(np.linspace(*e["range"], len(e["iters"]))))
      for name, e in spec.items()}
  for iteration in iterations:
    calls = {}
    for name, (iters, values) in state.items():
      while iters and iteration >= iters[0]:
        iters.pop(0)
        calls[name] = values.pop(0)  # set_state({name: value}); the last one wins
    applied.append(calls)
  return applied


def test_values_are_linspace_of_range():
  schedules = parse_curriculum(SPEC, "c.json")
  assert schedules["mass"].values == pytest.approx((0.0, 2.5, 5.0, 7.5, 10.0))
  assert schedules["friction"].values == pytest.approx((0.1, 0.2, 0.3, 0.4, 0.5))


def test_matches_reference_pseudocode_iteration_by_iteration():
  iterations = list(range(0, 130001, 2500))
  curriculum = Curriculum.from_config(SPEC, "c.json")
  got = [curriculum.advance(i) for i in iterations]
  want = reference(SPEC, iterations)
  assert got == [{k: pytest.approx(v) for k, v in w.items()} for w in want]


def test_parameters_are_independent_and_friction_waits_for_its_first_entry():
  curriculum = Curriculum.from_config(SPEC, "c.json")
  assert curriculum.advance(0) == {"mass": 0.0}
  assert curriculum.advance(49999) == {"mass": 7.5}  # 20000, 30000, 40000 reached: last wins
  assert "friction" not in curriculum.values_in_force
  assert curriculum.advance(50000) == {"mass": 10.0, "friction": pytest.approx(0.1)}
  assert curriculum.advance(50001) == {}


def test_entries_reached_together_apply_only_the_last_value():
  curriculum = Curriculum.from_config({"g": {"iters": [0, 5, 10], "range": [-6.0, -11.0]}}, "c")
  assert curriculum.advance(10) == {"g": -11.0}
  assert curriculum.advance(11) == {}


def test_late_start_or_restart_catches_up_to_the_current_value():
  first = Curriculum.from_config(SPEC, "c.json")
  for iteration in range(0, 65001, 100):
    first.advance(iteration)
  restarted = Curriculum.from_config(SPEC, "c.json")
  assert restarted.advance(65000) == first.values_in_force


def test_never_goes_backwards():
  curriculum = Curriculum.from_config(SPEC, "c.json")
  curriculum.advance(30000)
  assert curriculum.advance(10) == {}
  assert curriculum.advance(30000) == {}
  assert curriculum.values_in_force == {"mass": 5.0}


def test_single_entry_and_iters_starting_above_zero():
  curriculum = Curriculum.from_config(
      {
          "w": {
              "iters": [7],
              "range": [3.0, 9.0]},
          "t": {
              "iters": [4, 8],
              "range": [1.0, 2.0]}}, "c")
  assert curriculum.advance(3) == {}
  assert curriculum.advance(4) == {"t": 1.0}
  assert curriculum.advance(7) == {"w": 3.0}  # linspace(3, 9, 1) == [3]
  assert curriculum.advance(100) == {"t": 2.0}


def test_no_curriculum():
  assert Curriculum.from_config(None, "c").advance(0) == {}
  assert Curriculum.from_config({}, "c").parameter_names == ()


@pytest.mark.parametrize("spec, key, words", [
    ([1, 2], "curriculum", "expected an object"),
    ({
        "g": [0, 1]}, "curriculum.g", "expected"),
    ({
        "g": {
            "iters": [0, 1]}}, "curriculum.g.range", "missing"),
    ({
        "g": {
            "range": [0, 1]}}, "curriculum.g.iters", "missing"),
    ({
        "g": {
            "iters": [0, 1],
            "range": [0, 1],
            "x": 1}}, "curriculum.g.x", "unknown field"),
    ({
        "g": {
            "iters": [],
            "range": [0, 1]}}, "curriculum.g.iters", "non-empty"),
    ({
        "g": {
            "iters": [-1, 2],
            "range": [0, 1]}}, "curriculum.g.iters", ">= 0"),
    ({
        "g": {
            "iters": [0, 2, 2],
            "range": [0, 1]}}, "curriculum.g.iters", "strictly increasing"),
    ({
        "g": {
            "iters": [5, 2],
            "range": [0, 1]}}, "curriculum.g.iters", "strictly increasing"),
    ({
        "g": {
            "iters": [0, 1.5],
            "range": [0, 1]}}, "curriculum.g.iters", "integers"),
    ({
        "g": {
            "iters": [0, True],
            "range": [0, 1]}}, "curriculum.g.iters", "integers"),
    ({
        "g": {
            "iters": [0, 1],
            "range": [0, 1, 2]}}, "curriculum.g.range", "two numbers"),
    ({
        "g": {
            "iters": [0, 1],
            "range": [0, "a"]}}, "curriculum.g.range", "two numbers"),
    ({
        "g": {
            "iters": [0, 1],
            "range": 3}}, "curriculum.g.range", "two numbers"),])
def test_bad_curricula_name_the_file_and_key(spec, key, words):
  with pytest.raises(UserInputError) as error:
    parse_curriculum(spec, "cfg.json")
  message = str(error.value)
  assert message.startswith(f"cfg.json: {key}: ") and words in message
  assert "\n" not in message
