"""What a fresh clone needs: the pins agree, the scripts exist, CI runs the README's command."""

import os
import re
import subprocess

from conftest import REPO


def pins(lines):
  return {
      re.split(r"[<>=\[ ]", line.strip(), maxsplit=1)[0].lower(): line.strip() for line in lines
      if line.strip() and not line.strip().startswith("#")}


def test_requirements_and_environment_yml_list_the_same_pins():
  requirements = pins(open(os.path.join(REPO, "requirements.txt")).read().splitlines())
  environment = open(os.path.join(REPO, "environment.yml")).read()
  conda = pins(line.strip()[2:] for line in environment.splitlines() if line.startswith("      - "))
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


def repository_files():
  """The files of the repository: tracked, or new and not ignored."""
  return set(
      subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                     capture_output=True, text=True, check=True).stdout.split())


def cited_texts():
  """(name, text) of every file that cites paths to a reader: the README, the docs, the
  benchmark notes, and every source, script, config and variables file."""
  for name in sorted(repository_files()):
    if name.endswith(
        (".md", ".py", ".sh", ".sbatch", ".txt", ".yml", ".toml", ".yaml")) or (name == ".ci/run"):
      with open(os.path.join(REPO, name), errors="replace") as cited:
        yield name, cited.read()


# Names of files that live in an exp dir (copies of a run's inputs), not in the repository.
EXP_DIR_FILES = {"params.py"}
# A repository path: a top folder, then names; not a pattern such as results_<date>.json.
REPO_PATH = re.compile(r"(?<![\w/.-])((?:sac_system|scripts|config|tests|docs|benchmarks|\.ci)"
                       r"/[\w./-]*[\w/])(?![\w<]|\.\w)")
MODULE = re.compile(r"(?<![\w/.])(sac_system(?:\.\w+)+)")
TOP_LEVEL_SCRIPT = re.compile(r"\b(training_variables\w*\.sh|\w+_script\.sh)\b")
BARE_PY_FILE = re.compile(r"(?<![\w/.<>-])(\w+\.py)\b")


def test_every_cited_repository_path_exists():
  """README, docs, docstrings and scripts cite only files that exist, by path
  (`sac_system/envs/gym_env.py`), by module (`sac_system.envs.gym_env`) or by bare file name
  (`replay_buffer.py`). Tests are left out: they name missing files on purpose."""
  files = repository_files()
  basenames = {os.path.basename(name) for name in files}
  missing = []
  for name, text in cited_texts():
    if name.startswith("tests/"):
      continue
    for path in REPO_PATH.findall(text):
      if not os.path.exists(os.path.join(REPO, path)):
        missing.append(f"{name}: {path}")
    for module in MODULE.findall(text):
      parts = module.split(".")
      for depth in range(2, len(parts) + 1):
        base = os.path.join(REPO, *parts[:depth])
        if os.path.isdir(base):
          continue
        if not os.path.isfile(base + ".py"):
          missing.append(f"{name}: {module}")
        break  # what follows a module is an attribute
    for path in TOP_LEVEL_SCRIPT.findall(text):
      if path not in files:
        missing.append(f"{name}: {path}")
    for bare in BARE_PY_FILE.findall(text):
      if bare not in basenames and bare not in EXP_DIR_FILES:
        missing.append(f"{name}: {bare}")
  assert not missing, "cited but not in the repository:\n" + "\n".join(sorted(set(missing)))


# Documents the project grew from, which live outside the repository (assembled from parts so
# that this file does not cite them itself).
OUTSIDE_CITATION = re.compile("|".join(
    re.escape(part) for part in ("../" + "shared", "DESIGN" + " §", "PERFORMANCE" + "-NOTES")))


def test_design_sections_cited_exist_and_nothing_outside_the_repository_is_cited():
  with open(os.path.join(REPO, "docs", "design.md")) as design:
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", design.read(), re.M))
  problems = []
  for name, text in cited_texts():
    for section in re.findall(r"design\.md`?\)?,? §(\d+(?:\.\d+)?)", text):
      if section not in headings:
        problems.append(f"{name}: docs/design.md §{section} does not exist")
    for outside in OUTSIDE_CITATION.findall(text):
      problems.append(f"{name}: cites {outside}, which users do not have")
  assert headings and not problems, "\n".join(problems)
