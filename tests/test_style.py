"""The style the code is written in, checked by the tools configured in pyproject.toml: the
linter (ruff), the formatter (yapf, 2-space Google style) and the type check of the pure
modules (mypy). The same commands run as pre-commit hooks (.pre-commit-config.yaml)."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

SOURCES = ["sac_system", "scripts", "tests", "examples"]


def run_tool(*command):
  """Runs `python -m <tool> ...` from this environment in the repository root."""
  result = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
  return result.returncode, (result.stdout + result.stderr)[-6000:]


def test_ruff_finds_nothing():
  code, output = run_tool("ruff", "check", "--no-cache", *SOURCES)
  assert code == 0, f"ruff check reports (fix: .venv/bin/ruff check --fix):\n{output}"


def test_yapf_would_change_nothing():
  code, output = run_tool("yapf", "--diff", "--recursive", "--parallel", *SOURCES)
  assert code == 0 and not output.strip(), (
      f"not formatted (fix: .venv/bin/yapf -i -r {' '.join(SOURCES)}):\n{output}")


def test_mypy_passes_on_the_pure_modules():
  code, output = run_tool("mypy", "--cache-dir", os.devnull)
  assert code == 0, f"mypy (the files listed in pyproject.toml):\n{output}"
  assert "Success" in output


@pytest.mark.parametrize("hook", ["ruff", "yapf", "mypy"])
def test_pre_commit_runs_the_same_checks_from_this_environment(hook):
  """Local hooks only (pre-commit clones nothing): each names the tool it runs."""
  with open(os.path.join(REPO, ".pre-commit-config.yaml")) as config:
    text = config.read()
  assert "repo: local" in text and "language: system" in text and "rev:" not in text
  assert f"id: {hook}" in text
