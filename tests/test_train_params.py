"""TrainParamsBase: hyperparameters, config overrides and their validation (no TensorFlow)."""

import json
import os

import pytest

from conftest import REPO
from sac_system.errors import UserInputError
from sac_system.train_params_base import TrainParamsBase
from sac_system.train_params_base import hyperparameter_names
from sac_system.train_params_base import load_config
from sac_system.train_params_base import load_params
from sac_system.train_params_base import load_params_class

LUNAR = os.path.join(REPO, "sac_system", "envs", "lunar_lander_params.py")
GYM = os.path.join(REPO, "sac_system", "envs", "gym_params.py")


def config(tmp_path, content, name="c.json"):
  path = tmp_path / name
  path.write_text(content if isinstance(content, str) else json.dumps(content))
  return str(path)


def test_defaults_and_every_hyperparameter_is_documented():
  params = load_params(LUNAR, os.path.join(REPO, "config", "lunar_lander.json"))
  assert params.total_train_steps == params.num_iterations * params.train_steps_per_iteration
  source = open(os.path.join(REPO, "sac_system", "train_params_base.py")).read()
  for name in hyperparameter_names(type(params)):
    # a docstring line follows each field's definition
    after = source.split(f"\n  {name}: ", 1)[1].split("\n", 2)[1]
    assert after.strip().startswith('"""'), name
  assert {
      "actor_fc_layers", "critic_joint_fc_layers", "actor_learning_rate", "critic_learning_rate",
      "alpha_learning_rate", "gamma", "target_update_tau", "target_update_period",
      "reward_scale_factor", "batch_size", "replay_capacity", "samples_per_insert",
      "min_size_to_sample", "train_steps_per_iteration", "num_iterations", "eval_interval",
      "eval_episodes", "policy_checkpoint_interval", "learner_checkpoint_interval",
      "seed"} <= set(hyperparameter_names(type(params)))


def test_overrides_are_applied_with_types(tmp_path):
  path = config(
      tmp_path, {
          "hyperparameters": {
              "batch_size": 64,
              "actor_fc_layers": [32, 16],
              "gamma": 1,
              "target_entropy": -1.5}})
  params = load_params(LUNAR, path, seed=5)
  assert params.batch_size == 64 and params.actor_fc_layers == (32, 16)
  assert params.gamma == 1.0 and isinstance(params.gamma, float)
  assert params.target_entropy == -1.5 and params.seed == 5
  assert params.hyperparameters()["actor_fc_layers"] == [32, 16]


def test_subclass_defaults_override_base_defaults(tmp_path):

  class Small(TrainParamsBase):
    batch_size = 32

    def env_ctor(self, *args, **kwargs):
      raise NotImplementedError

  assert Small().batch_size == 32
  assert Small({"hyperparameters": {"batch_size": 16}}).batch_size == 16


@pytest.mark.parametrize("content, key, words", [
    ({
        "hyperparameters": {
            "batch_sizee": 3}}, "hyperparameters.batch_sizee", "did you mean 'batch_size'"),
    ({
        "hyperparameters": {
            "batch_size": "64"}}, "hyperparameters.batch_size", "expected integer"),
    ({
        "hyperparameters": {
            "batch_size": 64.0}}, "hyperparameters.batch_size", "expected integer"),
    ({
        "hyperparameters": {
            "batch_size": True}}, "hyperparameters.batch_size", "expected integer"),
    ({
        "hyperparameters": {
            "gamma": "0.9"}}, "hyperparameters.gamma", "expected number"),
    ({
        "hyperparameters": {
            "gamma": 1.5}}, "hyperparameters.gamma", "[0, 1]"),
    ({
        "hyperparameters": {
            "actor_fc_layers": 64}}, "hyperparameters.actor_fc_layers", "list"),
    ({
        "hyperparameters": {
            "actor_fc_layers": []}}, "hyperparameters.actor_fc_layers", "non-empty"),
    ({
        "hyperparameters": {
            "actor_fc_layers": [8, "a"]}}, "hyperparameters.actor_fc_layers", "integer"),
    ({
        "hyperparameters": {
            "batch_size": 0}}, "hyperparameters.batch_size", ">= 1"),
    ({
        "hyperparameters": {
            "actor_learning_rate": -1e-3}}, "hyperparameters.actor_learning_rate", "> 0"),
    ({
        "hyperparameters": {
            "samples_per_insert": 0}}, "hyperparameters.samples_per_insert", "> 0"),
    ({
        "hyperparameters": {
            "target_update_tau": 0}}, "hyperparameters.target_update_tau", "(0, 1]"),
    ({
        "hyperparameters": {
            "min_size_to_sample": 5000,
            "replay_capacity": 1000}}, "hyperparameters.min_size_to_sample", "wait forever"),
    ({
        "hyperparameters": {
            "batch_size": 5000,
            "replay_capacity": 1000,
            "min_size_to_sample": 100}}, "hyperparameters.batch_size", "exceeds"),
    ({
        "hyperparameters": [1]}, "hyperparameters", "expected an object"),
    ({
        "hyperparamters": {}}, "hyperparamters", "unknown key"),
    ({
        "env_kwargs": {
            "gravity": -13.0}}, "env_kwargs", "gravity must be in (-12.0, 0.0)"),
    ({
        "env_kwargs": {
            "gravity": 0}}, "env_kwargs", "gravity must be in"),
    ({
        "env_kwargs": {
            "wind_power": 25}}, "env_kwargs", "wind_power must be in [0.0, 20.0]"),
    ({
        "env_kwargs": {
            "turbulence_power": -0.1}}, "env_kwargs", "turbulence_power"),
    ({
        "env_kwargs": {
            "enable_wind": "yes"}}, "env_kwargs", "true/false"),
    ({
        "eval_env_kwargs": {
            "mass": 3}}, "eval_env_kwargs", "unknown set_state key 'mass'"),
    ({
        "max_episode_steps": 0}, "max_episode_steps", ">= 1"),])
def test_lunar_lander_config_errors_name_file_and_key(tmp_path, content, key, words):
  path = config(tmp_path, content)
  with pytest.raises(UserInputError) as error:
    load_params(LUNAR, path)
  message = str(error.value)
  assert message.startswith(f"{path}: {key}: "), message
  assert words in message, message


@pytest.mark.parametrize("content, key, words", [
    ({}, "env_id", "expected a registered gymnasium id"),
    ({
        "env_id": "NoSuchEnv-v9"}, "env_id", "not a registered"),
    ({
        "env_id": "Pendulum-v1",
        "env_kwargs": [1]}, "env_kwargs", "keyword arguments"),
    ({
        "env_id": "Pendulum-v1",
        "gravity": 3}, "gravity", "unknown key"),])
def test_generic_gym_config_errors(tmp_path, content, key, words):
  path = config(tmp_path, content)
  with pytest.raises(UserInputError) as error:
    load_params(GYM, path)
  assert str(error.value).startswith(f"{path}: {key}: ") and words in str(error.value)


def test_config_file_errors(tmp_path):
  with pytest.raises(UserInputError, match="config file not found"):
    load_config(str(tmp_path / "missing.json"))
  with pytest.raises(UserInputError, match=r"malformed JSON at line 2 column"):
    load_config(config(tmp_path, '{"a": 1,\n "b": }'))
  with pytest.raises(UserInputError, match="expected a JSON object"):
    load_config(config(tmp_path, "[1, 2]"))


@pytest.mark.parametrize("source, words", [
    ("x = 1\n", "defines no class TrainParams"),
    ("raise RuntimeError('boom')\n", "importing the params file raised RuntimeError: boom"),
    ("class TrainParams:\n  pass\n", "derived from TrainParamsBase"),
    ("from sac_system.train_params_base import TrainParamsBase\n"
     "class TrainParams(TrainParamsBase):\n  pass\n", "names no environment"),
    ("def broken(:\n", "SyntaxError"),])
def test_params_file_errors(tmp_path, source, words):
  path = tmp_path / "p.py"
  path.write_text(source)
  with pytest.raises(UserInputError) as error:
    load_params_class(str(path))
  assert str(error.value).startswith(str(path)) and words in str(error.value)
  with pytest.raises(UserInputError, match="params file not found"):
    load_params_class(str(tmp_path / "none.py"))


class _Params(TrainParamsBase):

  def env_ctor(self, *args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("envs, steps", [(1, 1), (2, 1), (3, 1), (1, 7), (4, 8), (32, 1)])
def test_collection_chunks_are_whole_vector_steps(envs, steps):
  params = _Params({"hyperparameters": {"envs_per_worker": envs, "steps_per_item": steps}})
  assert params.transitions_per_item == envs * steps
  for env_steps in (1, 7, 32, 33):
    vector_steps = params.vector_steps_of(env_steps)
    assert vector_steps * envs >= env_steps and (vector_steps - 1) * envs < env_steps


def test_envs_and_steps_per_item_are_validated():
  for name in ("envs_per_worker", "steps_per_item"):
    with pytest.raises(UserInputError, match=f"hyperparameters.{name}: must be >= 1"):
      _Params({"hyperparameters": {name: 0}}).validate()
  with pytest.raises(
      UserInputError, match=r"hyperparameters.steps_per_item: envs_per_worker \* "
      "steps_per_item = 64 exceeds replay_capacity 50"):
    _Params({
        "hyperparameters": {
            "envs_per_worker": 8,
            "steps_per_item": 8,
            "replay_capacity": 50,
            "min_size_to_sample": 10,
            "batch_size": 8}}).validate()
