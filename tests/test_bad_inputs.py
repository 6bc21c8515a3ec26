"""The bad-input corpus (tests/bad_inputs/): every broken variables file, params file and JSON
config gives one line on stderr naming the file and the key, a non-zero exit within 30 s, no
process left behind, and an existing exp dir untouched."""

import concurrent.futures
import hashlib
import json
import os
import socket
import subprocess

import pytest

from conftest import REPO
from conftest import write_config
from conftest import write_variables

pytestmark = pytest.mark.slow

CORPUS = os.path.join(REPO, "tests", "bad_inputs")
GYM = "sac_system/envs/gym_params.py"
LUNAR = "sac_system/envs/lunar_lander_params.py"
MINITAUR = "sac_system/envs/minitaur_params.py"

# file in the corpus -> (text the error line must contain, params file for config cases)
EXPECTED = {
    "vars_missing_params.sh": ("SAC_PARAMS: missing", None),
    "vars_empty_config.sh": ("SAC_CONFIG: empty", None),
    "vars_non_numeric_cpus.sh": ("SAC_TRAIN_CPUS: expected a whole number >= 1, got 'two'", None),
    "vars_zero_workers.sh": ("SAC_NUM_COLLECT_WORKERS: expected a whole number >= 1", None),
    "vars_negative_cpus.sh": ("SAC_REVERB_CPUS: expected a whole number >= 1, got '-1'", None),
    "vars_unknown_variable.sh": ("SAC_WORKERS: unknown variable", None),
    "vars_bad_port.sh": ("SAC_REPLAY_PORT: expected a port number", None),
    "vars_bad_exp_name.sh": ("SAC_EXP_NAME: expected letters", None),
    "vars_shell_error.sh": ("bash could not evaluate the file", None),
    "vars_missing_params_file.sh": ("SAC_PARAMS: file 'no_such_params.py' not found", None),
    "vars_too_many_workers.sh": ("SAC_NUM_COLLECT_WORKERS: 5000 workers cannot run", None),
    "params_no_class.py": ("TrainParams: the params file defines no class TrainParams", None),
    "params_raises.py": ("importing the params file raised RuntimeError: this params file is "
                         "broken on purpose", None),
    "params_not_subclass.py": ("TrainParams: must be a class derived from TrainParamsBase", None),
    "params_abstract.py": ("TrainParams: names no environment: set env_class", None),
    "params_env_ctor_raises.py": ("TrainParams.env_ctor: building the collect environment "
                                  "raised OSError", None),
    "config_malformed.json": ("malformed JSON at line 2", GYM),
    "config_not_object.json": ("expected a JSON object, got list", GYM),
    "config_unknown_hyperparameter.json": ("hyperparameters.learning_rate: unknown "
                                           "hyperparameter", GYM),
    "config_wrong_type.json": ("hyperparameters.batch_size: expected integer, got '256'", GYM),
    "config_impossible_value.json": ("hyperparameters.gamma: must be in [0, 1]", GYM),
    "config_deadlock.json":
        ("hyperparameters.min_size_to_sample: 5000 exceeds replay_capacity", GYM),
    "config_envs_per_worker_zero.json":
        ("hyperparameters.envs_per_worker: must be >= 1, got 0", GYM),
    "config_curriculum_not_increasing.json": ("curriculum.g.iters: iterations must be strictly "
                                              "increasing", GYM),
    "config_curriculum_negative.json": ("curriculum.g.iters: iterations must be >= 0", GYM),
    "config_curriculum_bad_range.json": ("curriculum.g.range: expected two numbers", GYM),
    "config_curriculum_unknown_param.json": ("curriculum.mass: unknown set_state key 'mass' for "
                                             "Pendulum-v1; known: g", GYM),
    "config_unknown_key.json": ("evaluation: unknown key for TrainParams", GYM),
    "config_unknown_env.json": ("env_id: 'Pendulum-v2' is not a registered gymnasium env", GYM),
    "config_discrete_env.json": ("needs a continuous Box action space", GYM),
    "lunar_config_gravity_out_of_range.json": ("curriculum.gravity: gravity must be in "
                                               "(-12.0, 0.0), got -13.0", LUNAR),
    "lunar_config_wind_out_of_range.json": ("env_kwargs: wind_power must be in [0.0, 20.0]", LUNAR),
    "lunar_config_spread_out_of_range.json": ("curriculum.gravity_spread: gravity_spread must "
                                              "be in [0, 12.0], got 15.0", LUNAR),
    "lunar_config_bad_distribution.json": ("env_kwargs: gravity_distribution must be one of "
                                           "uniform, normal, got 'gaussian'", LUNAR),
    "config_replay_too_big.json": ("hyperparameters.replay_capacity: a full replay table holds "
                                   "about", GYM),
    "config_eval_follows_not_bool.json": ("eval_follows_curriculum: expected true or false, "
                                          "got 'yes'", GYM),
    "minitaur_config_unknown_key.json": ("env_kwargs: unknown set_state key 'payload' for "
                                         "MinitaurBulletEnv; known: battery_voltage", MINITAUR),
    "minitaur_config_negative_mass.json":
        ("env_kwargs: mass must be in [0.0, 20.0], got -1.0", MINITAUR),
    "minitaur_config_zero_friction.json": ("curriculum.friction: friction must be in (0.0, "
                                           "5.0], got 0.0", MINITAUR),
    "minitaur_config_wrong_type.json": ("env_kwargs: battery_voltage must be a number, got "
                                        "'16V'", MINITAUR),
    "mujoco_config_unknown_env.json": ("env_id: 'HalfCheetah-v9' is not a registered gymnasium "
                                       "env", GYM),
    "mujoco_config_keys_on_non_mujoco_env.json": ("env_kwargs: mass_scale applies only to MuJoCo "
                                                  "envs and Pendulum-v1 is not one", GYM),
    "mujoco_config_negative_scale.json": ("env_kwargs: friction_scale must be in (0.0, 10.0], "
                                          "got -0.5", GYM),
    "mujoco_config_zero_scale_curriculum.json": ("curriculum.mass_scale: mass_scale must be in "
                                                 "(0.0, 10.0], got 0.0", GYM),
    "mujoco_config_spread_too_wide.json": ("eval_env_kwargs: damping_scale_spread must be in "
                                           "[0, 10.0], got 20", GYM)}


def test_the_corpus_and_the_table_agree():
  assert sorted(name for name in os.listdir(CORPUS) if name != "__pycache__") == sorted(EXPECTED)
  assert len(EXPECTED) >= 20


def snapshot(directory):
  state = {}
  for root, _, files in os.walk(directory):
    for name in files:
      path = os.path.join(root, name)
      with open(path, "rb") as content:
        state[os.path.relpath(path, directory)] = (os.stat(path).st_mtime_ns,
                                                   hashlib.sha256(content.read()).hexdigest())
  return state


@pytest.fixture
def workspace(tmp_path):
  return make_workspace(tmp_path)


def make_workspace(tmp_path):
  """A good config and an existing exp dir (logs/existing) that must stay as it is."""
  existing = tmp_path / "logs" / "existing"
  (existing / "train").mkdir(parents=True)
  (existing / "metrics.jsonl").write_text(json.dumps({"source": "learner", "train_step": 7}) + "\n")
  (existing / "train" / "checkpoint").write_text("earlier run")
  return tmp_path, write_config(tmp_path), snapshot(existing)


def launch(variables):
  return subprocess.run([os.path.join(REPO, "train_script.sh"),
                         str(variables)], cwd=REPO, capture_output=True, text=True, timeout=30)


def run_case(tmp_path, params, config, extra=""):
  """Good variables naming `params` and `config`, for the run whose exp dir already exists."""
  return launch(write_variables(tmp_path, config, name="existing", extra=extra, params=params))


def run_variables_case(tmp_path, template, config):
  """A broken variables file from the corpus, its placeholders filled in."""
  variables = tmp_path / os.path.basename(template)
  variables.write_text(
      open(template).read().replace("@PARAMS@",
                                    GYM).replace("@CONFIG@",
                                                 config).replace("@LOGS@", str(tmp_path / "logs")))
  return launch(variables)


def check_failure(result, tmp_path, before, file_name, expected):
  assert result.returncode != 0, result.stdout
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
  assert file_name in lines[0] and expected in lines[0], lines[0]
  assert snapshot(tmp_path / "logs" / "existing") == before
  leftover = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
  assert not leftover.stdout.split()


def launch_case(tmp_path, name):
  tmp_path, good_config, before = make_workspace(tmp_path)
  path = os.path.join(CORPUS, name)
  if name.startswith("vars_"):
    result = run_variables_case(tmp_path, path, good_config)
  elif name.startswith("params_"):
    result = run_case(tmp_path, path, good_config)
  else:
    result = run_case(tmp_path, EXPECTED[name][1], path)
  return tmp_path, before, result


_CORPUS_RESULTS: dict = {}


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory):
  """Every case of the corpus launched once, in its own workspace, two at a time: each is one
  Python process, mostly single-threaded imports, so two fill the two CPUs. (Kept for the
  session: a pytest-xdist worker may tear module fixtures down between two tests of a module
  when it does not know its next test yet.)"""
  if not _CORPUS_RESULTS:
    _CORPUS_RESULTS.update(launch_corpus(tmp_path_factory))
  return _CORPUS_RESULTS


def launch_corpus(tmp_path_factory):
  names = sorted(EXPECTED)
  # the folders first, in this thread: pytest's temporary folders are not made thread-safely
  folders = [tmp_path_factory.mktemp("bad_input") for _ in names]
  with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    results = pool.map(launch_case, folders, names)
    return dict(zip(names, results))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input(corpus_results, name):
  tmp_path, before, result = corpus_results[name]
  check_failure(result, tmp_path, before, name, EXPECTED[name][0])


def test_port_in_use(workspace):
  tmp_path, good_config, before = workspace
  with socket.socket() as busy:
    busy.bind(("", 0))
    busy.listen()
    port = busy.getsockname()[1]
    # (a run in its private network namespace has every port to itself: the check applies
    # to a run sharing the machine's network)
    result = run_case(tmp_path, GYM, good_config,
                      extra=f"SAC_REPLAY_PORT={port}\nSAC_PRIVATE_NETWORK=no\n")
  check_failure(result, tmp_path, before, "vars.sh",
                f"SAC_REPLAY_PORT: port {port} is already in use")


def test_exp_dir_that_is_a_file(workspace):
  tmp_path, good_config, before = workspace
  (tmp_path / "logs" / "afile").write_text("not a directory")
  result = launch(write_variables(tmp_path, good_config, name="afile"))
  check_failure(result, tmp_path, before, "vars.sh", "SAC_EXP_NAME: ")
  assert "is not a directory" in result.stderr
  assert (tmp_path / "logs" / "afile").read_text() == "not a directory"
