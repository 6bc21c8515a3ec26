"""Reading and validating training-variables files."""

import os

import pytest

from conftest import REPO
from sac_system.errors import UserInputError
from sac_system.training_variables import load_training_variables
from sac_system.training_variables import read_shell_variables

GOOD = """\
SAC_PARAMS=sac_system/envs/lunar_lander_params.py
SAC_CONFIG=config/lunar_lander.json
SAC_EXP_NAME=test_run
SAC_REVERB_CPUS=1
SAC_TRAIN_CPUS=2
SAC_NUM_COLLECT_WORKERS=3
SAC_COLLECT_WORKER_CPUS=1
"""


def write(tmp_path, text, name="vars.sh"):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_good_file(tmp_path):
  variables = load_training_variables(write(tmp_path, GOOD), REPO)
  assert variables.params_path == os.path.join(REPO, "sac_system/envs/lunar_lander_params.py")
  assert variables.exp_dir == os.path.join(REPO, "logs", "test_run")
  assert (variables.reverb_cpus, variables.train_cpus, variables.num_collect_workers,
          variables.collect_worker_cpus) == (1, 2, 3, 1)
  assert variables.replay_host == "127.0.0.1" and variables.replay_port is None
  assert variables.seed is None
  assert variables.slurm_cpus == 1 + 2 + 3 * 1 + 2


def test_shell_features_comments_export_quotes_and_expansion(tmp_path):
  text = GOOD.replace("SAC_EXP_NAME=test_run", 'export SAC_EXP_NAME="run_$((2 + 3))"  # a comment')
  text += f"SAC_LOGS_DIR='{tmp_path}/out'\nSAC_SEED=7\nSAC_REPLAY_PORT=8123\nOTHER=ignored\n"
  variables = load_training_variables(write(tmp_path, text), REPO)
  assert variables.exp_name == "run_5"
  assert variables.exp_dir == f"{tmp_path}/out/run_5"
  assert (variables.seed, variables.replay_port) == (7, 8123)


def test_the_shipped_files_are_valid():
  names = sorted(n for n in os.listdir(REPO) if n.startswith("training_variables"))
  assert len(names) >= 4, names
  for name in names:
    load_training_variables(os.path.join(REPO, name), REPO)


def test_environment_does_not_leak_in(tmp_path, monkeypatch):
  monkeypatch.setenv("SAC_SEED", "99")
  assert "SAC_SEED" not in read_shell_variables(write(tmp_path, GOOD))


@pytest.mark.parametrize("change, key, words", [
    (("SAC_PARAMS=sac_system/envs/lunar_lander_params.py\n", ""), "SAC_PARAMS", "missing"),
    (("SAC_TRAIN_CPUS=2", "SAC_TRAIN_CPUS="), "SAC_TRAIN_CPUS", "empty"),
    (("SAC_TRAIN_CPUS=2", "SAC_TRAIN_CPUS=two"), "SAC_TRAIN_CPUS", "whole number"),
    (("SAC_TRAIN_CPUS=2", "SAC_TRAIN_CPUS=0"), "SAC_TRAIN_CPUS", ">= 1"),
    (("SAC_TRAIN_CPUS=2", "SAC_TRAIN_CPUS=-1"), "SAC_TRAIN_CPUS", "whole number"),
    (("SAC_NUM_COLLECT_WORKERS=3", "SAC_NUM_COLLECT_WORKERS=1.5"), "SAC_NUM_COLLECT_WORKERS",
     "whole number"),
    (("SAC_EXP_NAME=test_run", "SAC_EXP_NAME=a/b"), "SAC_EXP_NAME", "no '/'"),
    (("SAC_CONFIG=config/lunar_lander.json", "SAC_CONFIG=config/nope.json"), "SAC_CONFIG",
     "not found"),
    (("SAC_REVERB_CPUS=1", "SAC_REVERB_CPUS=1\nSAC_REPLAY_PORT=80"), "SAC_REPLAY_PORT", "1024"),
    (("SAC_REVERB_CPUS=1", "SAC_REVERB_CPUS=1\nSAC_SEED=x"), "SAC_SEED", "whole number"),
    (("SAC_REVERB_CPUS=1", "SAC_REVERB_CPUS=1\nSAC_TRAIN_CPU=1"), "SAC_TRAIN_CPU",
     "did you mean SAC_TRAIN_CPUS"),])
def test_bad_values_name_the_variable_and_file(tmp_path, change, key, words):
  path = write(tmp_path, GOOD.replace(*change))
  with pytest.raises(UserInputError) as error:
    load_training_variables(path, REPO)
  assert str(error.value).startswith(f"{path}: {key}: ")
  assert words in str(error.value)


def test_missing_file_and_shell_error(tmp_path):
  with pytest.raises(UserInputError, match="not found"):
    load_training_variables(str(tmp_path / "nope.sh"), REPO)
  path = write(tmp_path, GOOD + "if then\n")
  with pytest.raises(UserInputError, match="bash could not evaluate"):
    load_training_variables(path, REPO)


def test_a_params_file_at_its_old_place_gets_the_new_path(tmp_path):
  """The shipped environments moved to sac_system/envs/: the error says where to."""
  text = GOOD.replace("sac_system/envs/lunar_lander_params.py", "sac_system/lunar_lander_params.py")
  path = tmp_path / "vars.sh"
  path.write_text(text)
  with pytest.raises(UserInputError, match=r"SAC_PARAMS: .*use sac_system/envs/"
                     r"lunar_lander_params.py"):
    load_training_variables(str(path), REPO)
  from sac_system.train_params_base import load_params_class
  with pytest.raises(
      UserInputError, match=r"params file not found; the shipped environments "
      r"moved: use sac_system/envs/gym_params\.py"):
    load_params_class(os.path.join(REPO, "sac_system", "gym_params.py"))


@pytest.mark.parametrize("text,expected", [("", "auto"), ("SAC_PRIVATE_NETWORK=YES\n", "yes"),
                                           ("SAC_PRIVATE_NETWORK=no\n", "no")])
def test_private_network_choice(tmp_path, text, expected):
  assert load_training_variables(write(tmp_path, GOOD + text), REPO).private_network == expected


def test_private_network_bad_value(tmp_path):
  with pytest.raises(UserInputError) as error:
    load_training_variables(write(tmp_path, GOOD + "SAC_PRIVATE_NETWORK=maybe\n"), REPO)
  assert str(error.value).endswith("SAC_PRIVATE_NETWORK: expected auto, yes or no, got 'maybe'")
