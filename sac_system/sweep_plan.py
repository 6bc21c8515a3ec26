"""A sweep's plan as the sweep dir holds it (SWEEP_DIR/sweep.json) and the state of its runs:
what `sweep.py` writes and runs, and what `aggregate.py` reports on (docs/design.md §12).
Both import this module; neither imports the other's internals."""

import json
import os
from typing import Any, Dict, Optional

from sac_system import constants
from sac_system.errors import UserInputError

PLAN_FILE = "sweep.json"


def load_plan(sweep_dir: str) -> Dict[str, Any]:
  """Reads SWEEP_DIR/sweep.json.

  Raises:
    UserInputError: when it is missing or unreadable.
  """
  path = os.path.join(sweep_dir, PLAN_FILE)
  try:
    with open(path) as plan_file:
      return json.load(plan_file)
  except (OSError, ValueError) as error:
    raise UserInputError(
        path, "", f"not a sweep dir's plan ({error}); run the sweep "
        "file with sweep_script.sh first") from None


def grid_csv(plan: Dict[str, Any], run: Dict[str, Any]) -> Optional[str]:
  """The robustness grid CSV the run's latest policy gets, or None without SWEEP_GRID (or
  before the run has a policy)."""
  if not plan["grid"]:
    return None
  from sac_system import evaluation
  try:
    names = evaluation.list_checkpoints(run["exp_dir"])
  except UserInputError:
    names = []
  if not names:
    return None
  axes = [evaluation.parse_grid_axis(spec) for spec in plan["grid"]]
  return os.path.join(run["exp_dir"], constants.EVAL_DIR,
                      evaluation.grid_file_stem(names[-1], axes, plan["grid_seed"]) + ".csv")


def run_finished_training(run: Dict[str, Any]) -> bool:
  """The launcher wrote `finished` into the run's run_info.json (its learner reached the step
  budget)."""
  try:
    with open(os.path.join(run["exp_dir"], constants.RUN_INFO_FILE)) as info_file:
      return bool(json.load(info_file).get("finished"))
  except (OSError, ValueError):
    return False
