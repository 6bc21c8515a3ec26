"""The workers' numpy actor computes what tf-agents' SAC actor does."""

import os

import numpy as np
import pytest

from conftest import REPO
from conftest import write_config
from sac_system.train_params_base import load_params


def build(config_path, params_file="lunar_lander_params.py"):
  from sac_system.numpy_policy import NumpyActorPolicy
  params = load_params(os.path.join(REPO, "sac_system", "envs", params_file), config_path)
  env = params.make_collect_env(seed=0)
  agent = params.build_agent()
  collect = NumpyActorPolicy(env.time_step_spec(), env.action_spec(),
                             agent.collect_policy.variables(), greedy=False, seed=3)
  greedy = NumpyActorPolicy(env.time_step_spec(), env.action_spec(),
                            agent.collect_policy.variables(), greedy=True)
  return env, agent, collect, greedy


@pytest.mark.parametrize("params_file, config", [
    ("lunar_lander_params.py", os.path.join(REPO, "config", "lunar_lander.json")),
    ("gym_params.py", None)])  # Pendulum: one action in [-2, 2]
def test_numpy_actor_matches_the_tf_actor(params_file, config, tmp_path):
  from sac_system.numpy_policy import matches_tf_policy
  env, agent, collect, greedy = build(config or write_config(tmp_path), params_file)
  assert matches_tf_policy(collect, agent, env.observation_spec())
  observation = env.reset().observation
  action = greedy.action(env.reset()).action
  assert action.shape == env.action_spec().shape and action.dtype == np.float32
  # the collect policy samples the tanh-squashed Gaussian: recover its mean and std
  samples = collect.actions(np.repeat(observation[None], 20000, axis=0))
  spec = env.action_spec()
  centre, half = (spec.maximum + spec.minimum) / 2, (spec.maximum - spec.minimum) / 2
  assert (samples >= spec.minimum).all() and (samples <= spec.maximum).all()
  pre_tanh = np.arctanh(np.clip((samples - centre) / half, -0.999999, 0.999999))
  mean, std = collect.mean_and_std(observation[None])
  np.testing.assert_allclose(pre_tanh.mean(axis=0), mean[0], atol=0.05)
  np.testing.assert_allclose(pre_tanh.std(axis=0), std[0], rtol=0.05)


def test_refresh_picks_up_new_weights_and_a_foreign_actor_is_detected():
  from sac_system.numpy_policy import matches_tf_policy
  env, agent, collect, greedy = build(os.path.join(REPO, "config", "lunar_lander.json"))
  observation = env.reset().observation[None]
  before = greedy.actions(observation)
  for variable in agent.collect_policy.variables():
    variable.assign(variable * 0.5 + 0.01)
  np.testing.assert_array_equal(greedy.actions(observation), before)  # not yet copied
  greedy.refresh()
  assert not np.array_equal(greedy.actions(observation), before)
  assert matches_tf_policy(greedy, agent, env.observation_spec())
  _, other_agent, _, _ = build(os.path.join(REPO, "config", "lunar_lander.json"))
  assert not matches_tf_policy(collect, other_agent, env.observation_spec())


def test_an_actor_of_another_shape_is_reported_and_a_crash_is_raised(tmp_path):
  """Another network (here deeper layers than the policy's copy) is a mismatch, not an error;
  an error while checking is raised, never turned into "does not match"."""
  from sac_system.numpy_policy import matches_tf_policy
  config = os.path.join(REPO, "config", "lunar_lander.json")
  env, agent, collect, _ = build(config)
  deeper = write_config(tmp_path, {"actor_fc_layers": [16, 16, 16]})
  _, deeper_agent, _, _ = build(deeper, "gym_params.py")  # Pendulum: other shapes throughout
  assert not matches_tf_policy(collect, deeper_agent, deeper_agent.time_step_spec.observation)

  class Broken:

    def mean_and_std(self, observations):
      raise RuntimeError("a bug in the numpy actor")

  with pytest.raises(RuntimeError, match="a bug in the numpy actor"):
    matches_tf_policy(Broken(), agent, env.observation_spec())


def test_run_py_acts_with_a_numpy_copy_of_a_saved_greedy_policy(tmp_path):
  """A greedy SavedModel and a policy checkpoint as the learner writes them: the evaluator's
  numpy copy gives the SavedModel's actions, follows update_from_checkpoint through refresh(),
  and a SavedModel whose variables are not a dense chain gets no copy (None)."""
  import tensorflow as tf
  from tf_agents.policies import greedy_policy
  from tf_agents.policies import policy_saver
  from tf_agents.trajectories import time_step as ts

  from sac_system import evaluation
  from sac_system.numpy_policy import numpy_greedy_policy_of
  env, agent, _, _ = build(os.path.join(REPO, "config", "lunar_lander.json"))
  saver = policy_saver.PolicySaver(greedy_policy.GreedyPolicy(agent.policy), batch_size=None)
  policies = tmp_path / "policies"
  saver.save(str(policies / "greedy_policy"))
  saver.save_checkpoint(str(policies / "checkpoints" / "policy_checkpoint_0000000000"))
  for variable in agent.policy.variables():
    variable.assign(variable * 0.5 + 0.01)
  saver.save_checkpoint(str(policies / "checkpoints" / "policy_checkpoint_0000000010"))

  saved = evaluation.load_greedy_policy(str(tmp_path), "policy_checkpoint_0000000000")
  numpy_policy = numpy_greedy_policy_of(saved, env)
  assert numpy_policy is not None
  observations = np.random.default_rng(5).normal(size=(8, 8)).astype(np.float32)

  def saved_actions():
    return np.stack([np.asarray(saved.action(ts.restart(o)).action) for o in observations])

  np.testing.assert_allclose(numpy_policy.actions(observations), saved_actions(), atol=1e-5)
  before = numpy_policy.actions(observations)
  saved.update_from_checkpoint(str(policies / "checkpoints" / "policy_checkpoint_0000000010"))
  numpy_policy.refresh()
  assert not np.allclose(numpy_policy.actions(observations), before)
  np.testing.assert_allclose(numpy_policy.actions(observations), saved_actions(), atol=1e-5)

  class Odd:  # three variables: not (kernel, bias) pairs

    def variables(self):
      return [tf.Variable(np.zeros((8, 4), np.float32))] * 3

  assert numpy_greedy_policy_of(Odd(), env) is None
