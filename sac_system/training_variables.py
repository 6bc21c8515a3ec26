"""Reading and validating a training-variables file (docs/design.md §4).

A training-variables file is a shell file of assignments. It is evaluated by bash (so users
may write `$(...)`, `${HOME}` and comments) in a clean environment, and only its `SAC_*`
variables are kept. Validation is pure: missing, empty, non-numeric or unknown values give a
`UserInputError` naming the variable and the file, before anything starts.
"""

import dataclasses
import difflib
import os
import re
import subprocess
from typing import Dict, Optional

from sac_system import constants
from sac_system import errors
from sac_system.errors import UserInputError
from sac_system.train_params_base import moved_params_hint

# Variables a training-variables file must set: name -> what it holds.
REQUIRED = {
    "SAC_PARAMS": "Python file defining class TrainParams (a TrainParamsBase subclass)",
    "SAC_CONFIG": "JSON config file (env_config, hyperparameter overrides, curriculum)",
    "SAC_EXP_NAME": "experiment name; the exp dir is $SAC_LOGS_DIR/$SAC_EXP_NAME",
    "SAC_REVERB_CPUS": "CPUs for the Reverb replay server",
    "SAC_TRAIN_CPUS": "CPUs for the learner",
    "SAC_NUM_COLLECT_WORKERS": "number of collect/eval workers",
    "SAC_COLLECT_WORKER_CPUS": "CPUs per collect/eval worker"}
# Variables it may set: name -> what it holds (default).
OPTIONAL = {
    "SAC_REPLAY_HOST": "host name or address of the replay server (127.0.0.1)",
    "SAC_REPLAY_PORT": "port of the replay server (a free port is picked)",
    "SAC_SEED": "run seed; overrides the params' `seed` (the params' value)",
    "SAC_LOGS_DIR": "folder that holds exp dirs, relative to the repo root (logs)",
    "SAC_PRIVATE_NETWORK": "auto, yes or no: run a single-host run in a private network "
                           "namespace, so that nothing outside it reaches the replay port (auto: "
                           "where the kernel allows it)"}
_COUNTS = ("SAC_REVERB_CPUS", "SAC_TRAIN_CPUS", "SAC_NUM_COLLECT_WORKERS",
           "SAC_COLLECT_WORKER_CPUS")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_BASH_DUMP = r'''
set -a
. "$1" >&2 || exit 97
for name in $(compgen -v "$2"); do printf '%s\0%s\0' "$name" "${!name}"; done
'''


@dataclasses.dataclass(frozen=True)
class TrainingVariables:
  """The validated contents of a training-variables file."""
  path: str
  params_path: str
  config_path: str
  exp_name: str
  reverb_cpus: int
  train_cpus: int
  num_collect_workers: int
  collect_worker_cpus: int
  replay_host: str
  replay_port: Optional[int]
  seed: Optional[int]
  logs_dir: str
  private_network: str = "auto"

  @property
  def exp_dir(self) -> str:
    return os.path.join(self.logs_dir, self.exp_name)

  @property
  def slurm_cpus(self) -> int:
    """CPUs to allot on SLURM: all programs' CPUs plus 2 (docs/design.md §2)."""
    return (self.reverb_cpus + self.train_cpus + self.num_collect_workers * self.collect_worker_cpus
            + 2)


def read_shell_variables(path: str, prefix: str = "SAC_",
                         what: str = "training-variables file") -> Dict[str, str]:
  """Evaluates `path` with bash in a clean environment and returns its variables whose names
  start with `prefix` (a sweep file's are SWEEP_*).

  Raises:
    UserInputError: if the file is missing, unreadable or bash fails on it.
  """
  if not os.path.isfile(path):
    raise UserInputError(path, "", f"{what} not found")
  if not os.access(path, os.R_OK):
    raise UserInputError(path, "", f"{what} is not readable")
  env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
  result = subprocess.run(["bash", "-c", _BASH_DUMP, "_",
                           os.path.abspath(path), prefix], env=env, capture_output=True, timeout=30,
                          check=False)
  if result.returncode != 0:
    detail = result.stderr.decode(errors="replace").strip().splitlines()
    raise UserInputError(path, "", "bash could not evaluate the file" +
                         (f": {detail[-1]}" if detail else ""))
  fields = result.stdout.decode(errors="replace").split("\0")
  return dict(zip(fields[0:-1:2], fields[1::2]))


def _resolve_file(value: str, path: str, name: str, repo_root: str) -> str:
  """Resolves a file named in the variables file: relative to the repo root, else to the file."""
  candidates = [value] if os.path.isabs(value) else [
      os.path.join(repo_root, value),
      os.path.join(os.path.dirname(os.path.abspath(path)), value)]
  for candidate in candidates:
    if os.path.isfile(candidate):
      return os.path.abspath(candidate)
  hint = moved_params_hint(candidates[0]) if name == "SAC_PARAMS" else ""
  raise UserInputError(
      path, name, f"file {value!r} not found (relative paths are taken from "
      f"the repo root {repo_root}){hint}")


def validate_variables(values: Dict[str, str], path: str, repo_root: str,
                       check_files: bool = True) -> TrainingVariables:
  """Validates the SAC_* variables read from `path`.

  Args:
    values: Variable name -> value, as read from the file.
    path: The file, for error messages.
    repo_root: Folder that relative paths are resolved against.
    check_files: Whether SAC_PARAMS and SAC_CONFIG must exist.

  Returns:
    The `TrainingVariables`.

  Raises:
    UserInputError: naming the variable and the file.
  """
  known = set(REQUIRED) | set(OPTIONAL)
  for name in sorted(values):
    if name not in known:
      close = difflib.get_close_matches(name, sorted(known), n=1)
      hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(sorted(known))}"
      raise UserInputError(path, name, f"unknown variable{hint}")
  for name, meaning in REQUIRED.items():
    if name not in values:
      raise UserInputError(path, name, f"missing; expected {meaning}")
    if not values[name].strip():
      raise UserInputError(path, name, f"empty; expected {meaning}")

  counts = {}
  for name in _COUNTS:
    text = values[name].strip()
    if not re.fullmatch(r"[0-9]+", text):
      raise UserInputError(path, name, f"expected a whole number >= 1, got {text!r}")
    counts[name] = int(text)
    if counts[name] < 1:
      raise UserInputError(path, name, f"expected a whole number >= 1, got {text!r}")

  exp_name = values["SAC_EXP_NAME"].strip()
  if not _NAME_PATTERN.match(exp_name):
    raise UserInputError(
        path, "SAC_EXP_NAME", f"expected letters, digits, '.', '_' or '-' "
        f"(no '/'), got {exp_name!r}")

  port = None
  port_text = values.get("SAC_REPLAY_PORT", "").strip()
  if port_text:
    if not re.fullmatch(r"[0-9]+", port_text) or not 1024 <= int(port_text) <= 65535:
      raise UserInputError(path, "SAC_REPLAY_PORT",
                           f"expected a port number from 1024 to 65535, got {port_text!r}")
    port = int(port_text)

  seed = None
  seed_text = values.get("SAC_SEED", "").strip()
  if seed_text:
    if not re.fullmatch(r"[0-9]+", seed_text) or int(seed_text) >= 2**31:
      raise UserInputError(path, "SAC_SEED",
                           f"expected a whole number from 0 to 2^31-1, got {seed_text!r}")
    seed = int(seed_text)

  host = values.get("SAC_REPLAY_HOST", "").strip() or "127.0.0.1"
  if not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
    raise UserInputError(path, "SAC_REPLAY_HOST", f"expected a host name or address, got {host!r}")

  private = values.get("SAC_PRIVATE_NETWORK", "").strip().lower() or "auto"
  if private not in ("auto", "yes", "no"):
    raise UserInputError(path, "SAC_PRIVATE_NETWORK",
                         f"expected auto, yes or no, got {values['SAC_PRIVATE_NETWORK']!r}")

  logs_dir = values.get("SAC_LOGS_DIR", "").strip() or "logs"
  if not os.path.isabs(logs_dir):
    logs_dir = os.path.join(repo_root, logs_dir)

  if check_files:
    params_path = _resolve_file(values["SAC_PARAMS"].strip(), path, "SAC_PARAMS", repo_root)
    config_path = _resolve_file(values["SAC_CONFIG"].strip(), path, "SAC_CONFIG", repo_root)
  else:
    params_path, config_path = values["SAC_PARAMS"].strip(), values["SAC_CONFIG"].strip()

  return TrainingVariables(path=os.path.abspath(path), params_path=params_path,
                           config_path=config_path, exp_name=exp_name,
                           reverb_cpus=counts["SAC_REVERB_CPUS"],
                           train_cpus=counts["SAC_TRAIN_CPUS"],
                           num_collect_workers=counts["SAC_NUM_COLLECT_WORKERS"],
                           collect_worker_cpus=counts["SAC_COLLECT_WORKER_CPUS"], replay_host=host,
                           replay_port=port, seed=seed, logs_dir=os.path.abspath(logs_dir),
                           private_network=private)


def load_training_variables(path: str, repo_root: str) -> TrainingVariables:
  """Reads and validates a training-variables file (see `validate_variables`)."""
  return validate_variables(read_shell_variables(path), path, repo_root)


def main(argv=None) -> int:
  """`python -m sac_system.training_variables --slurm VARS.sh` prints "<cpus> <exp dir>" for
  the SLURM batch scripts (--slurm-multinode: the sizes of the head and worker components);
  bad input prints one line and exits 2."""
  import argparse
  parser = argparse.ArgumentParser(description="Validate a training-variables file.")
  parser.add_argument("variables")
  parser.add_argument("--slurm", action="store_true",
                      help='print "<cpus to allot> <exp dir>" for a SLURM job')
  parser.add_argument(
      "--slurm-multinode", action="store_true",
      help='print "<head cpus> <workers> <cpus per worker> <exp dir>" for a '
      'multi-node SLURM job')
  args = parser.parse_args(argv)
  try:
    variables = load_training_variables(args.variables, constants.REPO_ROOT)
  except UserInputError as error:
    return errors.report(error)
  if args.slurm:
    print(variables.slurm_cpus, variables.exp_dir)
  if args.slurm_multinode:
    print(variables.reverb_cpus + variables.train_cpus + 2, variables.num_collect_workers,
          variables.collect_worker_cpus, variables.exp_dir)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
