"""Sweeps: every variant of an experiment over several seeds, each an ordinary run
(docs/design.md §12).

    ./sweep_script.sh sweeps/lunar_lander_dr.sh            # a local queue; then the report
    ./sweep_script.sh sweeps/lunar_lander_dr.sh --slurm    # SLURM job arrays and a report job
    ./sweep_script.sh sweeps/lunar_lander_dr.sh --status   # what is finished, running, queued

A sweep file is a shell file of assignments, like a training-variables file:

    SWEEP_NAME=lunar_lander_dr                   # the sweep dir: logs/sweeps/lunar_lander_dr
    SWEEP_SEEDS="0-4"                            # or "0 1 2 3 4", "0,1,2"
    SWEEP_VARIANT_default="training_variables.sh"
    SWEEP_VARIANT_dr="training_variables_lunar_dr.sh"
    SWEEP_VARIANT_batch128="training_variables.sh hyperparameters.batch_size=128"

A variant is a training-variables file followed by overrides: `a.b.c=value` sets a key of its
JSON config (the value is read as JSON, else taken as a string), `config=path` replaces the
whole config, `SAC_<NAME>=value` replaces a variable. Run (variant, seed) is the exp dir
<sweep dir>/<variant>/seed<seed>, trained from the generated variables file beside it
(<variant>/seed<seed>.sh); progress, resume, run.py and plots work on it as on any run.

Before anything runs, every variant is checked as the launcher checks a run (variables,
params, config, environments, curriculum); a bad sweep file is one line naming the key, exit 2,
and nothing written. Running the same command again skips finished runs and resumes the
others. The plan (sweep.json in the sweep dir) is what the queue's and the arrays' tasks run
(`python -m sac_system.sweep --task I SWEEP_DIR`) and what `sac_system.aggregate` reads.
"""

import argparse
import dataclasses
import difflib
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sac_system import constants
from sac_system import cpu_allocation
from sac_system import errors
from sac_system import files
from sac_system.constants import REPO_ROOT
from sac_system.errors import UserInputError
from sac_system.sweep_plan import PLAN_FILE
from sac_system.sweep_plan import grid_csv
from sac_system.sweep_plan import load_plan
from sac_system.sweep_plan import run_finished_training
from sac_system.training_variables import OPTIONAL as OPTIONAL_VARIABLES
from sac_system.training_variables import REQUIRED as REQUIRED_VARIABLES
from sac_system.training_variables import read_shell_variables
from sac_system.training_variables import validate_variables

SWEEP_COPY = "sweep.sh"
REPORT_DIR = "report"
VARIANT_PREFIX = "SWEEP_VARIANT_"
# Variables a sweep file may set: name -> what it holds (default).
SWEEP_VARIABLES = {
    "SWEEP_NAME": "the sweep's name; its dir is $SWEEP_LOGS_DIR/$SWEEP_NAME",
    "SWEEP_SEEDS": 'the seeds of every variant: "0-4", "0 1 2" or "0,1,2"',
    "SWEEP_LOGS_DIR": "folder holding sweep dirs, relative to the repo root (logs/sweeps)",
    "SWEEP_GRID": "robustness grid run on each finished run's latest policy, run.py --grid "
                  'values separated by spaces, e.g. "gravity=-11.5:-2:5 wind_power=0:20:5" (none)',
    "SWEEP_GRID_EPISODES": "episodes per grid cell (10)",
    "SWEEP_GRID_SEED": "seed of the grid's episodes (108)",
    "SWEEP_THRESHOLD": "the return whose first reaching is timed (the env's reward_threshold)",
    "SWEEP_SBATCH_OPTIONS": "extra sbatch options of the array jobs, e.g. --partition=cpu ()",}
# Variables of a run that the sweep sets itself.
SWEEP_OWNED = ("SAC_EXP_NAME", "SAC_LOGS_DIR", "SAC_SEED", "SAC_REPLAY_PORT")
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_SWEEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# States of a run.
FINISHED, GRID_PENDING, INTERRUPTED, QUEUED = "finished", "grid pending", "interrupted", "queued"
PROGRESS_INTERVAL_S = 5.0
STOP_GRACE_S = 90.0


def log(message: str) -> None:
  print(f"[sweep {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----- the sweep file ----------------------------------------------------------------------------
def parse_seeds(text: str, source: str) -> List[int]:
  """"0-4", "0 1 2" or "0,1,2" -> [0, 1, ...] (order kept, no duplicates).

  Raises:
    UserInputError: naming SWEEP_SEEDS.
  """
  seeds: List[int] = []
  tokens = [token for token in re.split(r"[\s,]+", text.strip()) if token]
  if not tokens:
    raise UserInputError(source, "SWEEP_SEEDS",
                         "empty; expected seeds such as \"0-4\" or \"0 1 2\"")
  for token in tokens:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", token)
    if not match or (match.group(2) is not None and int(match.group(2)) < int(match.group(1))):
      raise UserInputError(source, "SWEEP_SEEDS",
                           f"expected whole numbers or ranges low-high, got {token!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    for seed in range(low, high + 1):
      if seed >= 2**31:
        raise UserInputError(source, "SWEEP_SEEDS", f"seed {seed} is not below 2^31")
      if seed in seeds:
        raise UserInputError(source, "SWEEP_SEEDS", f"seed {seed} appears twice")
      seeds.append(seed)
  return seeds


def parse_override_value(text: str) -> Any:
  """A config override's value: JSON when it parses (128, 0.5, true, [64, 64], "x"), else the
  text itself."""
  try:
    return json.loads(text)
  except json.JSONDecodeError:
    return text


def apply_config_overrides(config: Dict[str, Any], overrides: Sequence[Tuple[str, Any]],
                           source: str, key: str) -> Dict[str, Any]:
  """A copy of `config` with each dotted path set, e.g. ("hyperparameters.batch_size", 128).

  Raises:
    UserInputError: when a path goes through a value that is not a JSON object.
  """
  result = json.loads(json.dumps(config))
  for path, value in overrides:
    node = result
    parts = path.split(".")
    for depth, part in enumerate(parts[:-1]):
      child = node.setdefault(part, {})
      if not isinstance(child, dict):
        raise UserInputError(
            source, key, f"{path}: {'.'.join(parts[:depth + 1])} is "
            f"{json.dumps(child)}, not a JSON object")
      node = child
    node[parts[-1]] = value
  return result


@dataclasses.dataclass(frozen=True)
class Variant:
  """One variant: a training-variables file and what the sweep changes in it."""
  name: str
  variables_path: str
  config_path: Optional[str]  # `config=...`: a whole other config
  config_overrides: Tuple[Tuple[str, Any], ...]
  variable_overrides: Tuple[Tuple[str, str], ...]


def parse_variant(name: str, text: str, source: str, repo_root: str) -> Variant:
  """Parses `SWEEP_VARIANT_<name>="VARS.sh [key=value ...]"`.

  Raises:
    UserInputError: naming SWEEP_VARIANT_<name>.
  """
  key = VARIANT_PREFIX + name
  if not _VARIANT_NAME.match(name):
    raise UserInputError(source, key, "a variant's name takes letters, digits and '_'")
  if name == REPORT_DIR:
    raise UserInputError(source, key, f"{REPORT_DIR!r} is the report's folder; name the "
                         "variant otherwise")
  try:
    tokens = shlex.split(text)
  except ValueError as error:
    raise UserInputError(source, key, f"cannot split the value: {error}") from None
  if not tokens:
    raise UserInputError(
        source, key, "empty; expected a training-variables file, then "
        "overrides such as hyperparameters.batch_size=128")
  variables_path = resolve_path(tokens[0], source, repo_root)
  if not os.path.isfile(variables_path):
    raise UserInputError(source, key, f"training-variables file {tokens[0]!r} not found")
  config_path = None
  config_overrides: List[Tuple[str, Any]] = []
  variable_overrides: List[Tuple[str, str]] = []
  known_variables = set(REQUIRED_VARIABLES) | set(OPTIONAL_VARIABLES)
  for token in tokens[1:]:
    target, separator, value = token.partition("=")
    if not separator or not target:
      raise UserInputError(source, key, f"{token!r}: expected key=value after the variables file")
    if target == "config":
      config_path = resolve_path(value, source, repo_root)
      if not os.path.isfile(config_path):
        raise UserInputError(source, key, f"config={value}: file not found")
    elif target.startswith("SAC_"):
      if target in SWEEP_OWNED:
        raise UserInputError(source, key, f"{target}: set by the sweep for each run; "
                             "remove it")
      if target not in known_variables:
        close = difflib.get_close_matches(target, sorted(known_variables), n=1)
        raise UserInputError(
            source, key, f"{target}: unknown variable" +
            (f"; did you mean {close[0]}?" if close else ""))
      variable_overrides.append((target, value))
    else:
      if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", target):
        raise UserInputError(
            source, key, f"{target!r}: expected a config key path such as "
            "hyperparameters.batch_size, config=FILE or SAC_<NAME>")
      config_overrides.append((target, parse_override_value(value)))
  return Variant(name, variables_path, config_path, tuple(config_overrides),
                 tuple(variable_overrides))


def resolve_path(value: str, source: str, repo_root: str) -> str:
  """A path in a sweep file: absolute, else relative to the repo root if it exists there, else
  to the sweep file's folder."""
  if os.path.isabs(value):
    return value
  candidate = os.path.join(repo_root, value)
  if os.path.exists(candidate):
    return os.path.abspath(candidate)
  beside = os.path.join(os.path.dirname(os.path.abspath(source)), value)
  return os.path.abspath(beside if os.path.exists(beside) else candidate)


def read_sweep_file(path: str) -> Dict[str, str]:
  """The SWEEP_* variables of a sweep file, unknown names refused.

  Raises:
    UserInputError: naming the file and the variable.
  """
  values = read_shell_variables(path, prefix="SWEEP_", what="sweep file")
  for name in sorted(values):
    if name not in SWEEP_VARIABLES and not name.startswith(VARIANT_PREFIX):
      close = difflib.get_close_matches(name,
                                        sorted(SWEEP_VARIABLES) + [VARIANT_PREFIX + "<name>"], n=1)
      raise UserInputError(path, name, "unknown variable" +
                           (f"; did you mean {close[0]}?" if close else ""))
  for name in ("SWEEP_NAME", "SWEEP_SEEDS"):
    if name not in values:
      raise UserInputError(path, name, f"missing; expected {SWEEP_VARIABLES[name]}")
  if not any(name.startswith(VARIANT_PREFIX) for name in values):
    raise UserInputError(
        path, VARIANT_PREFIX + "<name>", "no variant; expected at least one "
        'line such as SWEEP_VARIANT_default="training_variables.sh"')
  return values


def _whole_number(values: Dict[str, str], name: str, default: int, source: str,
                  minimum: int = 0) -> int:
  text = values.get(name, "").strip()
  if not text:
    return default
  if not re.fullmatch(r"\d+", text) or int(text) < minimum:
    raise UserInputError(source, name, f"expected a whole number >= {minimum}, got {text!r}")
  return int(text)


# ----- the plan --------------------------------------------------------------------------------
def run_name(variant: str, seed: int) -> str:
  return f"{variant}/seed{seed}"


def plan_sweep(path: str, repo_root: str = REPO_ROOT, check=None,
               allowed_cpus: Optional[int] = None) -> Dict[str, Any]:
  """Reads and checks a sweep file; returns its plan (what sweep.json holds) without writing
  anything.

  Args:
    path: The sweep file.
    repo_root: Folder that relative paths are resolved against.
    check: Checks one run's variables and config (the launcher's checks); returns its params.
      Default: `launcher.check_params`.
    allowed_cpus: When the runs will run here (a local queue): the CPUs this process may use,
      to refuse variants with more programs than fit.

  Raises:
    UserInputError: the first problem, naming the sweep file (or the variables file) and key.
  """
  values = read_sweep_file(path)
  name = values["SWEEP_NAME"].strip()
  if not _SWEEP_NAME.match(name):
    raise UserInputError(path, "SWEEP_NAME",
                         f"expected letters, digits, '.', '_' or '-' (no '/'), got {name!r}")
  seeds = parse_seeds(values["SWEEP_SEEDS"], path)
  logs_dir = values.get("SWEEP_LOGS_DIR", "").strip() or os.path.join("logs", "sweeps")
  sweep_dir = os.path.abspath(
      logs_dir if os.path.isabs(logs_dir) else os.path.join(repo_root, logs_dir))
  sweep_dir = os.path.join(sweep_dir, name)
  grid = shlex.split(values.get("SWEEP_GRID", ""))
  if grid:
    from sac_system import evaluation
    for spec in grid:
      try:
        evaluation.parse_grid_axis(spec)
      except UserInputError as error:
        raise UserInputError(path, "SWEEP_GRID", f"{spec!r}: {error.problem}") from None
  threshold_text = values.get("SWEEP_THRESHOLD", "").strip()
  threshold = None
  if threshold_text:
    try:
      threshold = float(threshold_text)
    except ValueError:
      raise UserInputError(path, "SWEEP_THRESHOLD", f"expected a number, got "
                           f"{threshold_text!r}") from None
  if check is None:
    from sac_system.launcher import check_params as check
  variants: List[Dict[str, Any]] = []
  for key in sorted(k for k in values if k.startswith(VARIANT_PREFIX)):
    parsed = parse_variant(key[len(VARIANT_PREFIX):], values[key], path, repo_root)
    variants.append(
        describe_variant(parsed, path, sweep_dir, seeds, repo_root, check, allowed_cpus, grid))
  runs: List[Dict[str, Any]] = []
  for variant in variants:
    for seed in seeds:
      runs.append({
          "index": len(runs),
          "name": run_name(variant["name"], seed),
          "variant": variant["name"],
          "seed": seed,
          "exp_dir": os.path.join(sweep_dir, variant["name"], f"seed{seed}"),
          "variables": os.path.join(sweep_dir, variant["name"], f"seed{seed}.sh")})
  for run in runs:
    copy = os.path.join(run["exp_dir"], constants.CONFIG_COPY)
    if not os.path.isfile(copy):
      continue
    variant = next(v for v in variants if v["name"] == run["variant"])
    try:
      with open(copy) as copy_file:
        trained_with = json.load(copy_file)
    except (OSError, ValueError):
      continue
    if trained_with != variant["config"]:
      raise UserInputError(
          path, VARIANT_PREFIX + run["variant"], f"{run['exp_dir']} was trained with another "
          "config than this variant's now; give the changed variant a new name, or move that "
          "run aside")
  return {
      "name": name,
      "sweep_file": os.path.abspath(path),
      "sweep_dir": sweep_dir,
      "seeds": seeds,
      "variants": variants,
      "runs": runs,
      "grid": grid,
      "grid_episodes": _whole_number(values, "SWEEP_GRID_EPISODES", 10, path, minimum=1),
      "grid_seed": _whole_number(values, "SWEEP_GRID_SEED", 108, path),
      "threshold": threshold,
      "sbatch_options": values.get("SWEEP_SBATCH_OPTIONS", "").strip()}


def describe_variant(variant: Variant, source: str, sweep_dir: str, seeds: Sequence[int],
                     repo_root: str, check, allowed_cpus: Optional[int],
                     grid: Sequence[str] = ()) -> Dict[str, Any]:
  """Checks one variant as the launcher checks a run (with its first seed; with
  `allowed_cpus`, also that this machine can run it; with a grid, that its eval env takes
  every cell) and returns what the plan keeps of it: the variables of its runs and its config
  (overridden or not)."""
  from sac_system.train_params_base import load_config
  key = VARIANT_PREFIX + variant.name
  base = read_shell_variables(variant.variables_path)
  base.update(dict(variant.variable_overrides))
  overridden = dict(variant.variable_overrides)
  try:
    checked = validate_variables(base, variant.variables_path, repo_root)
    if allowed_cpus is not None:
      from sac_system.launcher import check_capacity
      check_capacity(checked, allowed_cpus)
  except UserInputError as error:
    if error.key in overridden:  # the value is the sweep file's, not the variables file's
      raise UserInputError(source, key, f"{error.key}={overridden[error.key]}: "
                           f"{error.problem}") from None
    raise
  config_path = variant.config_path or checked.config_path
  config = load_config(config_path)
  if variant.config_overrides:
    config = apply_config_overrides(config, variant.config_overrides, source, key)
  with tempfile.TemporaryDirectory(prefix="sac_sweep_") as scratch:
    scratch_config = os.path.join(scratch, "config.json")
    files.write_json(scratch_config, config)
    found: Dict[str, Any] = {}
    try:
      params = check(
          dataclasses.replace(checked, config_path=scratch_config, seed=seeds[0],
                              exp_name=f"seed{seeds[0]}",
                              logs_dir=os.path.join(sweep_dir, variant.name), replay_port=None),
          found=found)
    except UserInputError as error:
      if error.source != scratch_config:
        raise
      if not (variant.config_overrides or variant.config_path):
        raise UserInputError(config_path, error.key, error.problem) from None
      raise UserInputError(source, key, f"its config: {error.key}: {error.problem}") from None
  if grid:
    env = params.make_eval_env()
    try:
      from sac_system import evaluation
      evaluation.check_grid(grid, env, params.make_eval_env)
    except UserInputError as error:
      raise UserInputError(source, "SWEEP_GRID", f"{error.key}: {error.problem}") from None
    finally:
      env.close()
  return {
      "name": variant.name,
      "variables_file": variant.variables_path,
      "params": checked.params_path,
      "config": config,
      "config_source": config_path,
      "overrides": [f"{path}={json.dumps(value)}" for path, value in variant.config_overrides]
                   + [f"{name}={value}" for name, value in variant.variable_overrides],
      "variables": {
          "SAC_REVERB_CPUS": checked.reverb_cpus,
          "SAC_TRAIN_CPUS": checked.train_cpus,
          "SAC_NUM_COLLECT_WORKERS": checked.num_collect_workers,
          "SAC_COLLECT_WORKER_CPUS": checked.collect_worker_cpus,
          "SAC_REPLAY_HOST": checked.replay_host},
      "program_cpus": checked.slurm_cpus - 2,
      "slurm_cpus": checked.slurm_cpus,
      "num_iterations": params.num_iterations,
      "reward_threshold": found.get("reward_threshold")}


def write_plan(plan: Dict[str, Any]) -> None:
  """Writes the sweep dir: sweep.json, a copy of the sweep file, and per variant its config
  (config.json) and one variables file per seed. Existing runs are left as they are."""
  sweep_dir = plan["sweep_dir"]
  os.makedirs(sweep_dir, exist_ok=True)
  shutil.copyfile(plan["sweep_file"], os.path.join(sweep_dir, SWEEP_COPY))
  variants = {variant["name"]: variant for variant in plan["variants"]}
  for variant in plan["variants"]:
    files.write_json(os.path.join(sweep_dir, variant["name"], "config.json"), variant["config"])
  for run in plan["runs"]:
    variant = variants[run["variant"]]
    lines = [
        f"# Written by `sac_system.sweep` for run {run['name']} of sweep {plan['name']}",
        f"# ({plan['sweep_file']}; variant from {variant['variables_file']}" +
        (f" with {' '.join(variant['overrides'])}" if variant["overrides"] else "") + ").",
        "# The sweep rewrites it at every submission.",
        f"SAC_PARAMS={shlex.quote(variant['params'])}",
        f"SAC_CONFIG={shlex.quote(os.path.join(sweep_dir, variant['name'], 'config.json'))}",
        f"SAC_EXP_NAME=seed{run['seed']}",
        f"SAC_LOGS_DIR={shlex.quote(os.path.join(sweep_dir, variant['name']))}",
        f"SAC_SEED={run['seed']}"]
    lines += [f"{name}={shlex.quote(str(value))}" for name, value in variant["variables"].items()]
    files.write_text(run["variables"], "\n".join(lines) + "\n")
  files.write_json(os.path.join(sweep_dir, PLAN_FILE), plan)


# ----- the state of each run ---------------------------------------------------------------------
def run_state(plan: Dict[str, Any], run: Dict[str, Any]) -> str:
  if run_finished_training(run):
    csv = grid_csv(plan, run)
    return GRID_PENDING if csv is not None and not os.path.isfile(csv) else FINISHED
  return INTERRUPTED if os.path.isdir(run["exp_dir"]) else QUEUED


# ----- one task: train one run, then its grid ------------------------------------------------
def load_plan_file(path: str) -> Dict[str, Any]:
  """A plan from a sweep dir (its sweep.json) or from a plan file (a SLURM submission's copy)."""
  if os.path.isdir(path):
    return load_plan(path)
  try:
    with open(path) as plan_file:
      return json.load(plan_file)
  except (OSError, ValueError) as error:
    raise UserInputError(path, "", f"not a sweep plan ({error})") from None


def exit_status(code: int) -> int:
  """A child's return code as an exit status: killed by signal N (code -N) -> 128 + N."""
  return 128 - code if code < 0 else code


def run_task(plan_path: str, index: int) -> int:
  """Trains run `index` of the plan (resuming it if it was interrupted), then evaluates its
  latest policy on SWEEP_GRID. What a local queue slot and a SLURM array task run.

  A lock on <exp dir>.lock keeps a second task (another queue, an array submitted twice) from
  running the same run at the same time; that task exits 0 at once, saying so.

  Returns:
    0 when the run is finished (and its grid written) or another task holds it, else the
    failing step's exit status.
  """
  plan = load_plan_file(plan_path)
  if not 0 <= index < len(plan["runs"]):
    raise UserInputError("--task", str(index), f"expected 0 to {len(plan['runs']) - 1}")
  run = plan["runs"][index]
  variant = next(v for v in plan["variants"] if v["name"] == run["variant"])
  stop: List[int] = []
  child: List[subprocess.Popen] = []

  def forward(signum, _frame):
    stop.append(signum)
    if child:
      try:
        child[0].send_signal(signum)
      except ProcessLookupError:
        pass

  for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, forward)

  def call(argv: List[str]) -> int:
    if stop:  # stopped before this step began
      return 128 + stop[0]
    child[:] = [subprocess.Popen(argv, cwd=REPO_ROOT)]
    return exit_status(child[0].wait())

  os.makedirs(os.path.dirname(run["exp_dir"]), exist_ok=True)
  lock = open(run["exp_dir"] + ".lock", "w")  # noqa: SIM115  held until the task exits
  try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    print(
        f"[sweep] run {run['name']} is being run by another task (lock "
        f"{run['exp_dir']}.lock); leaving it to that one", flush=True)
    return 0
  host = os.uname().nodename
  print(f"[sweep] run {run['name']} (task {index}) on {host}: {run['exp_dir']}", flush=True)
  if run_state(plan, run) not in (FINISHED, GRID_PENDING):
    code = call([os.path.join(REPO_ROOT, "train_script.sh"), run["variables"]])
    if code != 0 or stop:
      print(f"[sweep] run {run['name']}: training exited with code {code}", flush=True)
      return code or 128 + stop[0]
  csv = grid_csv(plan, run)
  if csv is not None and not os.path.isfile(csv):
    argv = [
        sys.executable,
        os.path.join(REPO_ROOT, "sac_system", "run.py"), "--params", variant["params"], "--config",
        os.path.join(plan["sweep_dir"], variant["name"], "config.json"), "--exp_dir",
        run["exp_dir"], "--checkpoint", "latest", "--num_episodes",
        str(plan["grid_episodes"]), "--seed",
        str(plan["grid_seed"])] + [f"--grid={spec}" for spec in plan["grid"]]
    print(f"[sweep] run {run['name']}: robustness grid of its latest policy", flush=True)
    code = call(argv)
    if code != 0 or stop:
      print(f"[sweep] run {run['name']}: the grid exited with code {code}", flush=True)
      return code or 128 + stop[0]
  print(f"[sweep] run {run['name']}: finished", flush=True)
  return 0


# ----- the local queue ---------------------------------------------------------------------------
def cpu_slots(allowed: Sequence[int], program_cpus: int) -> List[Tuple[int, ...]]:
  """Splits the allowed CPUs into slots of `program_cpus` each (one run per slot); with fewer
  CPUs than one run asks for, one slot of all of them (the launcher shares them)."""
  allowed = sorted(allowed)
  count = len(allowed) // max(program_cpus, 1)
  if count <= 1:
    return [tuple(allowed)]
  return [tuple(allowed[i * program_cpus:(i + 1) * program_cpus]) for i in range(count)]


class LocalQueue:
  """Runs a sweep's unfinished runs on this machine, as many at once as the allowed CPUs
  hold, with one progress view of the whole sweep."""

  def __init__(self, plan: Dict[str, Any], allowed: Optional[Sequence[int]] = None):
    from sac_system.launcher import Progress
    self.plan = plan
    self.allowed = list(allowed or cpu_allocation.read_allowed_cpus())
    program_cpus = max(variant["program_cpus"] for variant in plan["variants"])
    self.slots = cpu_slots(self.allowed, program_cpus)
    self.free_slots = list(self.slots)
    self.iterations = {v["name"]: v["num_iterations"] for v in plan["variants"]}
    self.progress_class = Progress
    self.running: Dict[int, Tuple[subprocess.Popen, Tuple[int, ...], Any, float]] = {}
    self.failed: Dict[str, int] = {}
    self.stop_signal: Optional[int] = None

  def _on_signal(self, signum, _frame) -> None:
    if self.stop_signal is None:
      self.stop_signal = signum
      print(file=sys.stderr)
      log(f"received {signal.Signals(signum).name}: stopping the running run(s) (they save "
          "first); the same command resumes the sweep")

  def start(self, run: Dict[str, Any]) -> None:
    slot = self.free_slots.pop(0)
    state = run_state(self.plan, run)
    output = os.path.join(os.path.dirname(run["exp_dir"]), f"seed{run['seed']}.out")
    argv = [
        sys.executable, "-m", "sac_system.sweep", "--task",
        str(run["index"]), self.plan["sweep_dir"]]
    if len(self.slots) > 1:
      argv = ["taskset", "-c", cpu_allocation.format_cpu_list(slot)] + argv
    with open(output, "ab") as out:
      out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
      out.flush()
      process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, cwd=REPO_ROOT, start_new_session=True)
    progress = self.progress_class(run["exp_dir"], self.iterations[run["variant"]])
    self.running[run["index"]] = (process, slot, progress, time.monotonic())
    log(f"{run['name']}: {'resuming' if state == INTERRUPTED else 'starting'}"
        f"{' (grid only)' if state == GRID_PENDING else ''} on CPUs "
        f"{cpu_allocation.format_cpu_list(slot)}; output in {output}")

  def reap(self) -> None:
    for index, (process, slot, _progress, started) in list(self.running.items()):
      code = process.poll()
      if code is None:
        continue
      run = self.plan["runs"][index]
      del self.running[index]
      self.free_slots.append(slot)
      minutes = (time.monotonic() - started) / 60
      if code == 0:
        log(f"{run['name']}: finished after {minutes:.1f} min")
      elif self.stop_signal is None:
        self.failed[run["name"]] = code
        log(f"{run['name']}: failed with exit code {code} after {minutes:.1f} min; see "
            f"{os.path.dirname(run['exp_dir'])}/seed{run['seed']}.out")

  def status_line(self, pending: int) -> str:
    done = sum(run_state(self.plan, run) == FINISHED for run in self.plan["runs"])
    parts = [f"{done}/{len(self.plan['runs'])} finished"]
    for index, (_process, _slot, progress, _started) in sorted(self.running.items()):
      progress.update()
      evaluation = (f", eval {progress.last_eval['eval/average_return']:.1f}"
                    if progress.last_eval else "")
      parts.append(f"{self.plan['runs'][index]['name']}: iter "
                   f"{progress.learner.get('iteration', 0)}/{progress.total_iterations}"
                   f"{evaluation}")
    parts.append(f"{pending} queued")
    if self.failed:
      parts.append(f"{len(self.failed)} failed")
    return " | ".join(parts)

  def run(self) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
      signal.signal(signum, self._on_signal)
    # Seed by seed across the variants: a sweep stopped part-way compares them on equal seeds.
    todo = sorted((run for run in self.plan["runs"] if run_state(self.plan, run) != FINISHED),
                  key=lambda run: (self.plan["seeds"].index(run["seed"]), run["index"]))
    log(f"sweep {self.plan['name']}: {len(self.plan['runs'])} runs "
        f"({len(self.plan['variants'])} variant(s) x {len(self.plan['seeds'])} seed(s)), "
        f"{len(self.plan['runs']) - len(todo)} finished already, {len(todo)} to run, "
        f"{len(self.slots)} at a time; sweep dir {self.plan['sweep_dir']}")
    interactive = sys.stdout.isatty()
    last_status = 0.0
    while (todo or self.running) and self.stop_signal is None:
      while todo and self.free_slots and self.stop_signal is None:
        self.start(todo.pop(0))
      time.sleep(0.5)
      self.reap()
      now = time.monotonic()
      if self.running and now - last_status >= (PROGRESS_INTERVAL_S if interactive else 60.0):
        line = self.status_line(len(todo))
        print(f"\r{line}\033[K" if interactive else f"[sweep] {line}",
              end="" if interactive else "\n", flush=True)
        last_status = now
    if interactive:
      print()
    if self.stop_signal is not None:
      for process, _slot, _progress, _started in self.running.values():
        try:
          os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
          pass
      deadline = time.monotonic() + STOP_GRACE_S
      while self.running and time.monotonic() < deadline:
        time.sleep(0.5)
        self.reap()
      for process, _slot, _progress, _started in self.running.values():
        log("a run did not stop in time: killing it")
        os.killpg(process.pid, signal.SIGKILL)
      log(f"stopped; {self.status_line(len(todo))}")
      return 128 + self.stop_signal
    if self.failed:
      log(f"{len(self.failed)} run(s) failed: {', '.join(sorted(self.failed))}; run the same "
          "command again to resume them")
      return 1
    return 0


# ----- SLURM job arrays --------------------------------------------------------------------
def submit_arrays(plan: Dict[str, Any], sbatch: str = "sbatch", say=log) -> None:
  """Submits one job array per variant with unfinished runs (array index = run index, each
  task sized like a single-node job: the programs' CPUs + 2) and a 1-CPU report job after
  them, saying each submission as it is made.

  The tasks read a copy of the plan made for this submission (<sweep dir>/slurm/plan-<time>
  .json), so a later submission that renumbers the runs cannot change what a pending task
  runs. They get SIGTERM 180 s before a time limit (`--signal=B:TERM@180`) so that the
  launcher saves before SLURM kills the job.

  Raises:
    RuntimeError: when sbatch fails (what was submitted before has been said).
  """
  script = os.path.join(REPO_ROOT, "scripts", "slurm_sweep.sbatch")
  extra = shlex.split(plan["sbatch_options"])
  snapshot = os.path.join(plan["sweep_dir"], "slurm",
                          f"plan-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json")
  files.write_json(snapshot, plan)
  job_ids = []
  for variant in plan["variants"]:
    pending = [
        run["index"] for run in plan["runs"]
        if run["variant"] == variant["name"] and run_state(plan, run) != FINISHED]
    if not pending:
      say(f"variant {variant['name']}: every run finished already")
      continue
    output = os.path.join(plan["sweep_dir"], variant["name"], "slurm-%A_%a.out")
    argv = [
        sbatch, "--parsable", f"--array={','.join(map(str, pending))}",
        f"--cpus-per-task={variant['slurm_cpus']}", "--ntasks=1", "--nodes=1",
        "--signal=B:TERM@180", f"--job-name=sweep-{plan['name']}-{variant['name']}",
        f"--output={output}", f"--export=ALL,SAC_REPO_ROOT={REPO_ROOT}"] + extra + [
            script, snapshot]
    job_ids.append(sbatch_call(argv))
    say(f"submitted array job {job_ids[-1]} for variant {variant['name']}: runs "
        f"{','.join(map(str, pending))} with --cpus-per-task={variant['slurm_cpus']}; output "
        f"{output}")
  report = os.path.join(plan["sweep_dir"], "slurm-report-%j.out")
  argv = [
      sbatch, "--parsable", "--cpus-per-task=1", "--ntasks=1",
      f"--job-name=sweep-{plan['name']}-report", f"--output={report}",
      f"--export=ALL,SAC_REPO_ROOT={REPO_ROOT},SAC_SWEEP_REPORT=1"]
  if job_ids:
    argv.append(f"--dependency=afterany:{':'.join(job_ids)}")
  report_id = sbatch_call(argv + extra + [script, plan["sweep_dir"]])
  say(f"submitted report job {report_id} (after the arrays): "
      f"{os.path.join(plan['sweep_dir'], REPORT_DIR)}")


def sbatch_call(argv: List[str]) -> str:
  try:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
  except (OSError, subprocess.TimeoutExpired) as error:
    raise RuntimeError(f"{argv[0]}: {error}") from None
  if result.returncode != 0:
    raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
  return result.stdout.strip().split(";")[0]


# ----- the command ---------------------------------------------------------------------------
def print_status(plan: Dict[str, Any]) -> None:
  for run in plan["runs"]:
    print(f"{run['index']:4d}  {run['name']:30s}  {run_state(plan, run)}")


def write_report(plan: Dict[str, Any]) -> int:
  """Writes the sweep's report; a failure is one line (the runs are not touched), exit 1."""
  from sac_system import aggregate
  try:
    paths = aggregate.write_report(plan["sweep_dir"])
  except UserInputError as error:
    return errors.report(error)
  except Exception as error:  # noqa: BLE001  the runs are done; say why the report is not
    log(f"could not write the report: {type(error).__name__}: {error}")
    return 1
  log(f"report: {paths['markdown']} (figures and CSV beside it)")
  return 0


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description="Runs a sweep (variants x seeds) locally or as "
                                   "SLURM job arrays; see docs/design.md §12.")
  parser.add_argument("sweep", help="the sweep file (or, with --task/--report, the sweep dir)")
  mode = parser.add_mutually_exclusive_group()
  mode.add_argument("--slurm", action="store_true",
                    help="submit one job array per variant and a report job, then return")
  mode.add_argument("--status", action="store_true", help="print each run's state")
  mode.add_argument(
      "--report", action="store_true", help="(re)write the report of the finished runs: python -m "
      "sac_system.aggregate does the same")
  mode.add_argument("--task", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  try:
    if args.task is not None:
      return run_task(args.sweep, args.task)
    if args.report and os.path.isdir(args.sweep):
      return write_report(load_plan(args.sweep))
    from sac_system import program as program_setup
    program_setup.import_quietly("sac_system.envs.gym_env")
    local = not (args.status or args.report or args.slurm)
    plan = plan_sweep(args.sweep,
                      allowed_cpus=len(cpu_allocation.read_allowed_cpus()) if local else None)
  except UserInputError as error:
    return errors.report(error)
  if args.status:
    print_status(plan)
    return 0
  write_plan(plan)
  if args.report:
    return write_report(plan)
  if args.slurm:
    try:
      submit_arrays(plan)
    except RuntimeError as error:
      print(f"error: {error}", file=sys.stderr)
      return 1
    return 0
  code = LocalQueue(plan).run()
  return write_report(plan) if code == 0 else code


if __name__ == "__main__":
  sys.exit(main())
