"""Every command in the README's and the docs' shell code blocks parses against the real
command-line interfaces: variables and sweep files exist and validate, `run.py`'s flags parse
with its absl definitions, the Python scripts' and modules' arguments with their own argparse
parsers (stopped right after parsing)."""

import argparse
import glob
import os
import re
import runpy
import shlex
import sys

import pytest

from conftest import REPO
from sac_system.training_variables import read_shell_variables
from sac_system.training_variables import validate_variables

DOCUMENTS = ["README.md", *sorted(os.path.relpath(p, REPO) for p in glob.glob(f"{REPO}/docs/*.md"))]
BLOCK = re.compile(r"^```(?:bash|sh)\n(.*?)^```", re.M | re.S)
COMMAND_START = (".venv/bin/python ", "python ", "./", "sbatch ")


def commands(document):
  """(line number, argv) of each command in the document's shell code blocks; a
  line ending in a backslash continues on the next one; comments are dropped."""
  text = open(os.path.join(REPO, document)).read()
  found = []
  for block in BLOCK.finditer(text):
    first_line = text.count("\n", 0, block.start(1)) + 1
    joined, start = "", None
    for offset, line in enumerate(block.group(1).splitlines()):
      if start is None:
        if not line.startswith(COMMAND_START):
          continue
        start = first_line + offset
      joined += " " + line.rstrip().rstrip("\\")
      if not line.rstrip().endswith("\\"):
        found.append((start, shlex.split(joined, comments=True)))
        joined, start = "", None
  return found


class ParsedSignal(Exception):  # noqa: N818  (a signal, not an error)
  """Raised by the patched argparse once a script's arguments parsed."""


def parse_python(argv, monkeypatch):
  """Runs a script's or module's entry point until its argparse parser has parsed argv."""
  original = argparse.ArgumentParser.parse_args

  def parse_then_stop(self, args=None, namespace=None):
    raise ParsedSignal(original(self, args, namespace))

  monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
  if argv[0] == "-m":
    monkeypatch.setattr(sys, "argv", [argv[1], *argv[2:]])
    run = lambda: runpy.run_module(argv[1], run_name="__main__")  # noqa: E731
  else:
    monkeypatch.setattr(sys, "argv", argv)
    run = lambda: runpy.run_path(os.path.join(REPO, argv[0]), run_name="__main__")  # noqa: E731
  with pytest.raises(ParsedSignal):
    run()


def parse_run_py(arguments):
  from absl import flags

  from sac_system import run  # noqa: F401  (defines run.py's flags)
  values = flags.FLAGS
  try:
    values(["run.py", *arguments])
    assert values.exp_dir
  finally:
    values.unparse_flags()


def check_variables_file(path):
  full = os.path.join(REPO, path)
  assert os.path.isfile(full), f"{path} does not exist"
  validate_variables(read_shell_variables(full), full, REPO, check_files=True)


def check(argv, monkeypatch):
  if argv[0] in (".venv/bin/python", "python"):
    if argv[1] == "sac_system/run.py":
      parse_run_py(argv[2:])
    else:
      parse_python(argv[1:], monkeypatch)
  elif argv[0] in ("./run_script.sh", "./train_script.sh"):
    assert set(argv[2:]) <= {"--fresh"}, argv
    check_variables_file(argv[1])
  elif argv[0] == "sbatch":
    assert os.path.isfile(os.path.join(REPO, argv[1])), argv[1]
    check_variables_file(argv[2])
  elif argv[0] == "./sweep_script.sh":
    assert os.path.isfile(os.path.join(REPO, argv[1])), argv[1]
    parse_python(["-m", "sac_system.sweep", *argv[1:]], monkeypatch)
  else:
    assert os.access(os.path.join(REPO, argv[0]), os.X_OK), f"{argv[0]} is not an executable"


ALL = [(document, line, argv) for document in DOCUMENTS for line, argv in commands(document)]


def test_the_readme_shows_its_commands():
  readme = [argv[:2] for document, _, argv in ALL if document == "README.md"]
  assert ["./run_script.sh", "training_variables.sh"] in readme
  assert ["./scripts/test.sh"] in readme
  assert [".venv/bin/python", "sac_system/run.py"] in readme


@pytest.mark.parametrize("document, line, argv", ALL, ids=[f"{d}:{n}" for d, n, _ in ALL])
def test_a_documented_command_parses(document, line, argv, monkeypatch):
  monkeypatch.chdir(REPO)
  check(argv, monkeypatch)
