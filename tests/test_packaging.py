"""What a fresh clone needs: the pins agree, the scripts exist, CI runs the README's command."""

import os
import re

from conftest import REPO


def pins(lines):
  return {re.split(r"[<>=\[ ]", line.strip(), 1)[0].lower(): line.strip()
          for line in lines if line.strip() and not line.strip().startswith("#")}


def test_requirements_and_environment_yml_list_the_same_pins():
  requirements = pins(open(os.path.join(REPO, "requirements.txt")).read().splitlines())
  environment = open(os.path.join(REPO, "environment.yml")).read()
  conda = pins(line.strip()[2:] for line in environment.splitlines()
               if line.startswith("      - "))
  assert requirements == conda
  assert "name: sac_system" in environment
  for pinned in ("tensorflow==2.15.1", "tf-keras==2.15.1", "tensorflow-probability==0.23.0",
                 "tf-agents==0.19.0", "dm-reverb==0.14.0"):
    assert pinned in requirements.values()
  assert "tensorflow-cpu" not in requirements  # tf-keras needs `tensorflow`: never both


def test_ci_runs_the_readme_test_command():
  readme = open(os.path.join(REPO, "README.md")).read()
  ci = open(os.path.join(REPO, ".ci", "run")).read()
  assert "./scripts/test.sh" in readme and "./scripts/test.sh" in ci
  assert "./run_script.sh training_variables.sh" in readme


def test_readme_names_only_files_that_exist():
  readme = open(os.path.join(REPO, "README.md")).read()
  for path in set(re.findall(r"(?<![\w/.])((?:sac_system|scripts|config|tests)/[\w./-]+\.\w+)", readme)):
    assert os.path.exists(os.path.join(REPO, path)), path
  for path in set(re.findall(r"\b(training_variables\w*\.sh)", readme)):
    assert os.path.exists(os.path.join(REPO, path)), path
