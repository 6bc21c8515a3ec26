"""A user's own environment, the way the original README tells them to write it: a tf-agents
PyEnvironment with set_state(dict), a params file beside it in a folder of their own outside
the repository, a JSON with a curriculum, a variables file naming them
(docs/your_own_environment.md). The contract's fallbacks, the pre-flight errors, the check
command, and whole runs through ./run_script.sh."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from conftest import TINY_HYPERPARAMETERS
from conftest import write_variables
from sac_system import env_contract
from sac_system import launcher
from sac_system.errors import UserInputError
from sac_system.metrics import read_records
from sac_system.train_params_base import load_params
from sac_system.train_params_base import load_params_class

EXAMPLE = os.path.join(REPO, "examples", "point_mass")

# The original contract and nothing else: specs, _reset, _step, set_state (and get_state).
MINIMAL_ENV = '''
import numpy as np
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts


class LineEnv(py_environment.PyEnvironment):
  """Move x towards a target on a line; 20-step episodes; `target` set by set_state."""

  def __init__(self, target=0.5):
    super().__init__()
    self.target = target
    self.x = 0.0
    self.steps = 0
    self.applied = []

  def observation_spec(self):
    return array_spec.ArraySpec((2,), np.float32)

  def action_spec(self):
    return array_spec.BoundedArraySpec((1,), np.float32, -1.0, 1.0)

  def set_state(self, state):
    {set_state_body}
    self.target = float(state["target"])
    self.applied.append(self.target)

  def get_state(self):
    return {{"target": self.target}}

  def _reset(self):
    self.x, self.steps = float(np.random.uniform(-1, 1)), 0
    return ts.restart(self._observation())

  def _step(self, action):
    self.x += 0.25 * float(np.asarray(action).reshape(-1)[0])
    self.steps += 1
    reward = -abs(self.x - self.target)
    if self.steps >= 20:
      return ts.truncation(self._observation(), reward)
    return ts.transition(self._observation(), reward)

  def _observation(self):
    return np.array([{observation}], np.float32)
'''

PARAMS = '''
from line_env import LineEnv

from sac_system.train_params_base import TrainParamsBase


class TrainParams(TrainParamsBase):
{body}
'''


def write_user_folder(folder, set_state_body="pass", observation="self.x, self.target",
                      params_body="  def env_ctor(self, *args, **kwargs):\n"
                      "    return LineEnv(*args, **kwargs)\n", curriculum=None,
                      hyperparameters=None):
  """A user's folder: line_env.py, line_params.py (importing it by name), config.json."""
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "line_env.py"), "w") as env_file:
    env_file.write(MINIMAL_ENV.format(set_state_body=set_state_body, observation=observation))
  with open(os.path.join(folder, "line_params.py"), "w") as params_file:
    params_file.write(PARAMS.format(body=params_body))
  config = {"hyperparameters": {**TINY_HYPERPARAMETERS, **(hyperparameters or {})}}
  if curriculum is not None:
    config["curriculum"] = curriculum
  with open(os.path.join(folder, "config.json"), "w") as config_file:
    json.dump(config, config_file)
  return os.path.join(folder, "line_params.py"), os.path.join(folder, "config.json")


CURRICULUM = {"target": {"iters": [0, 2, 4], "range": [-0.5, 0.5]}}


# ----- loading the params file ---------------------------------------------------------------
def test_a_params_file_imports_the_module_beside_it(tmp_path):
  params_path, config_path = write_user_folder(str(tmp_path / "mine"))
  params = load_params(params_path, config_path)
  env = params.make_collect_env()
  assert type(env.wrapped_env()).__name__ == "LineEnv"
  assert str(tmp_path / "mine") in sys.path


def test_a_params_file_may_name_the_environment_class_or_a_gymnasium_id(tmp_path):
  params_path, config_path = write_user_folder(str(tmp_path / "by_class"),
                                               params_body="  env_class = LineEnv\n")
  env = load_params(params_path, config_path).make_collect_env()
  assert type(env.wrapped_env()).__name__ == "LineEnv"
  env.set_state({"target": 0.25})
  assert env.wrapped_env().target == 0.25

  gym_params = tmp_path / "gym_params.py"
  gym_params.write_text("from sac_system.train_params_base import TrainParamsBase\n"
                        "class TrainParams(TrainParamsBase):\n  gym_env_id = 'Pendulum-v1'\n")
  env = load_params(str(gym_params), config_path).make_collect_env()
  from sac_system.envs.gym_env import GymnasiumEnvironment
  assert isinstance(env, GymnasiumEnvironment)  # has the whole contract: not wrapped
  env.set_state({"g": 3.0})
  assert env.get_state()["g"] == 3.0
  assert "gym_env_id" not in load_params(str(gym_params), config_path).hyperparameters()


@pytest.mark.parametrize("body, words", [
    ("  pass\n", "TrainParams: names no environment: set env_class = YourEnvironment"),
    ("  gym_env_id = 'NoSuchEnv-v0'\n", "TrainParams.gym_env_id: 'NoSuchEnv-v0' is not a "
     "registered gymnasium env"),
    ("  env_class = 3\n", "TrainParams.env_class: expected a PyEnvironment class, got 3")])
def test_a_params_file_that_names_no_environment_is_one_line(tmp_path, body, words):
  path = tmp_path / "p.py"
  path.write_text("from sac_system.train_params_base import TrainParamsBase\n"
                  f"class TrainParams(TrainParamsBase):\n{body}")
  with pytest.raises(UserInputError) as error:
    load_params_class(str(path))
  assert str(error.value) == f"{path}: {words}" or str(error.value).startswith(f"{path}: {words}")


# ----- the contract's fallbacks --------------------------------------------------------------
def test_an_environment_with_only_the_original_contract_gets_every_fallback(tmp_path):
  params_path, config_path = write_user_folder(str(tmp_path / "mine"))
  params = load_params(params_path, config_path)
  env = params.make_collect_env(seed=7)  # seed(int) is absent: no error
  assert isinstance(env, env_contract.ContractEnvironment)
  assert set(env.missing) == set(env_contract.OPTIONAL)
  assert env_contract.fallback_warnings(env) == [
      "the environment has no seed(int) or seed_next_reset(int): collection and evaluation "
      "episodes are not seeded, so evaluations are not reproducible"]
  env.seed_next_reset(3)
  assert env.validate_state({"target": 0.1}) == {"target": 0.1}
  with pytest.raises(TypeError):
    env.validate_state([("target", 0.1)])
  assert env.state_keys() == [] and env.episode_metrics() == {}
  env.enable_rendering()
  env.set_state({"target": -0.25})
  assert env.wrapped_env().applied == [-0.25]  # set_state reached the user's env
  with pytest.raises(NotImplementedError):
    env.render()
  from tf_agents.policies import random_py_policy

  from sac_system.episodes import run_episodes
  policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec())
  episodes = run_episodes(env, policy, [1, 2])
  assert [episode.length for episode in episodes] == [20, 20]
  assert all(episode.metrics == {} for episode in episodes)


def test_shipped_environments_have_the_whole_contract_and_are_not_wrapped():
  from sac_system.envs.gym_env import GymnasiumEnvironment
  env = GymnasiumEnvironment("Pendulum-v1")
  assert env_contract.adapt(env) is env
  assert env_contract.missing_optional(env) == []
  assert env_contract.fallback_warnings(env) == []


def test_a_seeded_environment_is_used_for_seeding():
  sys.path.insert(0, EXAMPLE)
  from point_mass_env import PointMassEnv
  env = env_contract.adapt(PointMassEnv())
  assert isinstance(env, env_contract.ContractEnvironment) and "seed" not in env.missing
  first = []
  for _ in range(2):
    env.seed_next_reset(5)  # the fallback: seed(int) before the reset
    first.append(env.reset().observation)
  np.testing.assert_array_equal(first[0], first[1])
  assert env_contract.fallback_warnings(env) == []


# ----- the checks before anything starts ------------------------------------------------------
def check(tmp_path, **folder):
  params_path, config_path = write_user_folder(str(tmp_path / "mine"), **folder)
  lines = []
  params = launcher.check_params_files(params_path, config_path, warn=lines.append)
  return params, lines, params_path, config_path


def failure(tmp_path, **folder):
  with pytest.raises(UserInputError) as error:
    check(tmp_path, **folder)
  return str(error.value)


def test_a_minimal_environment_with_a_curriculum_passes_with_a_warning(tmp_path):
  params, lines, params_path, _ = check(tmp_path, curriculum=CURRICULUM)
  assert lines == [
      f"warning: {params_path}: TrainParams.env_ctor: the environment has no "
      "seed(int) or seed_next_reset(int): collection and evaluation episodes are "
      "not seeded, so evaluations are not reproducible"]
  assert params.total_train_steps == 60


def test_a_curriculum_value_the_environment_rejects_names_the_key(tmp_path):
  message = failure(
      tmp_path, curriculum=CURRICULUM, set_state_body="if state['target'] > 0.2: "
      "raise RuntimeError('target out of reach')")
  assert message == (f"{tmp_path}/mine/config.json: curriculum.target: set_state({{'target': "
                     "0.5}) raised RuntimeError: target out of reach")


def test_an_environment_without_set_state_is_refused_only_with_a_curriculum(tmp_path):
  body = ("  def env_ctor(self, *args, **kwargs):\n"
          "    env = LineEnv()\n"
          "    type(env).set_state = __import__('tf_agents').environments.py_environment."
          "PyEnvironment.set_state\n"
          "    return env\n")
  check(tmp_path, params_body=body)  # no curriculum: set_state is never called
  message = failure(tmp_path, params_body=body, curriculum=CURRICULUM)
  assert message == (f"{tmp_path}/mine/line_params.py: TrainParams.env_ctor: the environment "
                     "does not implement set_state(dict), which curriculum.target needs: it "
                     "changes environment parameters (its argument a dict): what the curriculum "
                     "and robustness grids call")


def test_an_environment_missing_a_required_method_names_it(tmp_path):
  body = ("  def env_ctor(self, *args, **kwargs):\n"
          "    class NoStep(LineEnv):\n"
          "      pass\n"
          "    NoStep.__abstractmethods__ = frozenset({'_step'})\n"
          "    return NoStep()\n")
  message = failure(tmp_path, params_body=body)
  assert message == (f"{tmp_path}/mine/line_params.py: TrainParams.env_ctor: the environment "
                     "class NoStep does not implement _step: applies one action and returns "
                     "ts.transition, ts.termination or ts.truncation")


def test_observations_that_do_not_fit_the_spec_are_refused(tmp_path):
  message = failure(tmp_path, observation="self.x, self.target, 0.0")
  assert message == (f"{tmp_path}/mine/line_params.py: TrainParams.env_ctor: the collect "
                     "environment: reset() returned an observation of shape (3,); "
                     "observation_spec says (2,)")


def test_a_discrete_action_spec_is_refused():

  class Discrete:

    def observation_spec(self):
      return env_contract.array_spec.ArraySpec((2,), np.float32)

    def action_spec(self):
      return env_contract.array_spec.BoundedArraySpec((), np.int32, 0, 3)

  assert env_contract.spec_problems(Discrete()) == [
      "action_spec must have a float dtype (continuous actions), got int32"]


def test_the_abstract_class_message_is_recognised():
  error = TypeError("Can't instantiate abstract class Foo with abstract methods _reset, _step")
  assert env_contract.abstract_method_problem(error) == (
      "the environment class Foo does not implement _reset: starts an episode and returns "
      "ts.restart(observation); _step: applies one action and returns ts.transition, "
      "ts.termination or ts.truncation")
  assert env_contract.abstract_method_problem(TypeError("other")) is None


# ----- the check command ---------------------------------------------------------------------
def run_check(*args):
  return subprocess.run([sys.executable, "sac_system/check_env.py", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=180)


def test_the_check_command_passes_the_example_and_reports_each_method():
  result = run_check("examples/point_mass/training_variables.sh", "--steps", "500")
  assert result.returncode == 0, result.stdout + result.stderr
  out = result.stdout
  assert "environment PointMassEnv: observation (6,) float32, action (2,) float32" in out
  assert "  ok       set_state" in out and "  missing  validate_state" in out
  assert "seeding: the same seed gives the same episode" in out
  assert "curriculum goal_distance: 4 values applied with set_state" in out
  assert "render: a 64x64 RGB frame" in out
  assert out.strip().splitlines()[-1] == (
      "ready to train: ./run_script.sh examples/point_mass/training_variables.sh")


def test_the_check_command_reports_what_is_missing(tmp_path):
  # episodes that never end, observations beyond a bounded spec: problems, exit 1
  params_path, config_path = write_user_folder(str(tmp_path / "mine"), curriculum=CURRICULUM)
  source = open(os.path.join(tmp_path, "mine", "line_env.py")).read()
  source = source.replace("if self.steps >= 20:", "if False:").replace(
      "array_spec.ArraySpec((2,), np.float32)",
      "array_spec.BoundedArraySpec((2,), np.float32, -0.1, 0.1)")
  open(os.path.join(tmp_path, "mine", "line_env.py"), "w").write(source)
  result = run_check("--params", params_path, "--config", config_path, "--steps", "300")
  assert result.returncode == 1, result.stdout + result.stderr
  out = result.stdout
  assert "warning:" in out and "not reproducible" in out
  assert "seeding: none (episodes are not reproducible)" in out
  assert "problem: no episode ended in 300 random steps" in out
  assert "observations fall outside observation_spec's bounds" in out
  assert "  missing  render" in out
  assert out.strip().splitlines()[-1] == "not ready: 2 problem(s)"
  bad = run_check("--params", str(tmp_path / "none.py"), "--config", config_path)
  assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
      f"error: {tmp_path}/none.py: params file not found"]


# ----- whole runs, as the user runs them ------------------------------------------------------
def user_variables(folder, tmp_path, name):
  """The user's variables file in their folder, its paths relative to that folder."""
  return write_variables(folder, "config.json", name=name, params="line_params.py",
                         logs=f"{tmp_path}/logs")


def launch(variables):
  return subprocess.Popen([os.path.join(REPO, "run_script.sh"), variables], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


EXP_NAMES = {"example": "point_mass", "minimal": "minimal"}


def curriculum_applied(exp_dir, key):
  return [(r["iteration"], r[key]) for r in read_records(exp_dir, "worker_0") if key in r]


@pytest.mark.slow
def test_the_example_and_a_minimal_environment_train_from_their_own_folders(tmp_path):
  # The example folder copied outside the repository, as a user's project; its JSON made short.
  example = tmp_path / "my_project"
  shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns("__pycache__"))
  config = json.load(open(example / "point_mass.json"))
  config["hyperparameters"].update({
      **TINY_HYPERPARAMETERS, "num_iterations": 12,
      "eval_interval": 4,
      "policy_checkpoint_interval": 60})
  config["curriculum"]["goal_distance"]["iters"] = [0, 3, 6, 9]
  (example / "point_mass.json").write_text(json.dumps(config))
  with open(example / "training_variables.sh", "a") as variables_file:
    variables_file.write(f"SAC_LOGS_DIR={tmp_path}/logs\n")
  # The original contract only, in another folder of the user's.
  minimal = tmp_path / "minimal"
  write_user_folder(str(minimal), curriculum=CURRICULUM)
  minimal_variables = user_variables(minimal, tmp_path, "minimal")
  # Two broken environments: a curriculum value set_state rejects, a missing _step.
  rejecting = tmp_path / "rejecting"
  write_user_folder(str(rejecting), curriculum=CURRICULUM,
                    set_state_body="if state['target'] > 0.2: raise ValueError('too far')")
  no_step = tmp_path / "no_step"
  write_user_folder(
      str(no_step), params_body="  def env_ctor(self, *args, **kwargs):\n"
      "    del LineEnv._step\n    LineEnv.__abstractmethods__ = frozenset({'_step'})\n"
      "    return LineEnv()\n")
  runs = {
      "example": launch(str(example / "training_variables.sh")),
      "minimal": launch(minimal_variables),
      "rejecting": launch(user_variables(rejecting, tmp_path, "rejecting")),
      "no_step": launch(user_variables(no_step, tmp_path, "no_step"))}
  outputs = {name: process.communicate(timeout=600) for name, process in runs.items()}
  codes = {name: process.returncode for name, process in runs.items()}

  # the broken ones: one line naming the file and the key, exit 2, no exp dir
  assert codes["rejecting"] == 2 and outputs["rejecting"][1].strip().splitlines() == [
      f"error: {rejecting}/config.json: curriculum.target: set_state({{'target': 0.5}}) raised "
      "ValueError: too far"]
  assert codes["no_step"] == 2 and outputs["no_step"][1].strip().splitlines() == [
      f"error: {no_step}/line_params.py: TrainParams.env_ctor: the environment class LineEnv "
      "does not implement _step: applies one action and returns ts.transition, ts.termination "
      "or ts.truncation"]
  for name in ("rejecting", "no_step"):
    assert not os.path.exists(tmp_path / "logs" / name)

  for name, key, expected in (("example", "curriculum/goal_distance", {
      0: 0.25,
      3: 0.25 + 1.25 / 3,
      6: 0.25 + 2.5 / 3,
      9: 1.5}), ("minimal", "curriculum/target", {
          0: -0.5,
          2: 0.0,
          4: 0.5})):
    stdout, stderr = outputs[name]
    assert codes[name] == 0, stdout[-3000:] + stderr[-3000:]
    assert "run finished" in stdout
    exp_dir = str(tmp_path / "logs" / EXP_NAMES[name])
    learner = read_records(exp_dir, "learner")
    assert learner[-1]["train_step"] == (120 if name == "example" else 60)
    applied = curriculum_applied(exp_dir, key)
    assert applied, (name, read_records(exp_dir, "worker_0")[-3:])
    for iteration, value in applied:
      assert value == pytest.approx(expected[max(i for i in expected if i <= iteration)]), applied
    assert applied[-1][1] == pytest.approx(max(expected.values()))
    evals = [r for r in read_records(exp_dir, "worker_0") if "eval/average_return" in r]
    assert evals and evals[-1]["train_step"] == learner[-1]["train_step"]
  warning = "collection and evaluation episodes are not seeded, so evaluations are not reproducible"
  assert warning in outputs["minimal"][0] and warning not in outputs["example"][0]
  assert warning in open(tmp_path / "logs" / "minimal" / "logs" / "worker_0.log").read()
  # run.py's command names the exp dir alone, absolute outside the repository
  assert (f"sac_system/run.py --exp_dir {tmp_path}/logs/{EXP_NAMES['example']} "
          in outputs["example"][0])

  # run.py on both: the example renders a video; the minimal env evaluates and says why no
  # video. The example's exp dir alone names its files (its params file, which imports the
  # module beside it, is read where the run recorded it); the minimal run's are given.
  for name, files in (("example", []), ("minimal", [
      "--params",
      str(minimal / "line_params.py"), "--config",
      str(minimal / "config.json")])):
    exp_dir = tmp_path / "logs" / EXP_NAMES[name]
    evaluation = subprocess.run([
        sys.executable, "sac_system/run.py", *files, "--exp_dir",
        str(exp_dir), "--num_episodes", "2", "--checkpoint", "latest", "--seed", "108"], cwd=REPO,
                                capture_output=True, text=True, timeout=180)
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    results = os.listdir(exp_dir / "eval")
    assert len(results) == 1, results
    lengths = json.load(open(exp_dir / "eval" / results[0]))["lengths"]
    assert len(lengths) == 2 and all(1 <= length <= 100 for length in lengths)
    if name == "example":  # a frame at each reset and after each step
      assert f"({sum(lengths) + 2} frames at 30 fps)" in evaluation.stdout, evaluation.stdout
    else:
      assert ("no video: the environment does not implement render() (an RGB frame)"
              in evaluation.stdout)
      assert "evaluations are not reproducible" in evaluation.stdout


def test_the_guide_lists_every_method_of_the_contract():
  guide = open(os.path.join(REPO, "docs", "your_own_environment.md")).read()
  for name in [*env_contract.REQUIRED, env_contract.SET_STATE[0], *env_contract.OPTIONAL]:
    assert f"| `{name}(" in guide, name
