"""SAC's actor as numpy matmuls: the workers' fast collect and greedy policies, and run.py's.

Acting through tf-agents' `PyTFEagerPolicy` costs one TensorFlow call with its nest and spec
handling per env step, many times what a fast env's step costs (the measurements:
benchmarks/README.md, "What was tried"). The actor `TrainParamsBase.build_agent` makes
(an `ActorDistributionNetwork`: dense ReLU layers, then a `TanhNormalProjectionNetwork`
with tf-agents' default `exp` std transform) is a few small matrix products, done here in
numpy on the same variables:

  h = relu(... relu(obs @ W0 + b0) ...);  mean, log_std = split(h @ Wp + bp)
  collect: action = centre + half_range * tanh(mean + exp(log_std) * N(0, 1))
  greedy:  action = centre + half_range * tanh(mean)

which is exactly tf-agents' `SquashToSpecNormal` sample and mode. `matches_tf_policy` checks
that on random observations; the worker falls back to the TF policies when it does not match
(e.g. a params file that builds another actor). `numpy_greedy_policy_of` does the same for a
loaded greedy SavedModel (run.py's evaluations, several times faster than the SavedModel's
TensorFlow call per step).
"""

from typing import Optional, Sequence

import numpy as np
from tf_agents.policies import py_policy
from tf_agents.trajectories import policy_step


class NumpyActorPolicy(py_policy.PyPolicy):
  """The collect (sampling) or greedy policy of SAC's tanh-Gaussian actor, in numpy."""

  def __init__(self, time_step_spec, action_spec, actor_variables: Sequence, greedy: bool,
               seed: int = 0):
    """Args:
      time_step_spec, action_spec: The environment's specs (one flat Box observation and
        action).
      actor_variables: The actor's variables in creation order: (kernel, bias) per dense
        layer, the projection layer last (what `agent.collect_policy.variables()` returns).
      greedy: True for the mode (evaluation), False for sampling (collection).
      seed: Seed of the sampling noise.
    """
    super().__init__(time_step_spec, action_spec)
    self._variables = list(actor_variables)
    if len(self._variables) < 2 or len(self._variables) % 2:
      raise ValueError("expected (kernel, bias) pairs of dense layers")
    self._greedy = greedy
    self._rng = np.random.default_rng(seed)
    minimum = np.broadcast_to(action_spec.minimum, action_spec.shape).astype(np.float32)
    maximum = np.broadcast_to(action_spec.maximum, action_spec.shape).astype(np.float32)
    self._centre = (maximum + minimum) / 2.0
    self._half_range = (maximum - minimum) / 2.0
    self._action_size = int(np.prod(action_spec.shape))
    self._layers = []
    self.refresh()

  def refresh(self) -> None:
    """Copies the current values of the actor's variables (after each pull of weights)."""
    weights = [np.asarray(variable.numpy(), np.float32) for variable in self._variables]
    self._layers = list(zip(weights[0::2], weights[1::2]))  # (kernel, bias) per layer

  def mean_and_std(self, observations: np.ndarray):
    """The pre-tanh Gaussian's mean and std for a batch of observations."""
    hidden = np.asarray(observations, np.float32).reshape(len(observations), -1)
    for kernel, bias in self._layers[:-1]:
      hidden = np.maximum(hidden @ kernel + bias, 0.0)
    kernel, bias = self._layers[-1]
    projection = hidden @ kernel + bias
    mean, log_std = projection[:, :self._action_size], projection[:, self._action_size:]
    return mean, np.exp(log_std)

  def actions(self, observations: np.ndarray) -> np.ndarray:
    """Actions for a batch of observations."""
    mean, std = self.mean_and_std(observations)
    if not self._greedy:
      mean = mean + std * self._rng.standard_normal(mean.shape).astype(np.float32)
    return self.squash(mean).reshape((len(observations),) + tuple(self.action_spec.shape))

  def squash(self, pre_tanh: np.ndarray) -> np.ndarray:
    """Maps pre-tanh values `[batch, action size]` into the action bounds (tf-agents'
    `SquashToSpecNormal` bijector: centre + half_range * tanh)."""
    return (self._centre.reshape(1, -1)
            + self._half_range.reshape(1, -1) * np.tanh(pre_tanh)).astype(np.float32)

  def _action(self, time_step, policy_state, seed=None):
    del seed
    action = self.actions(np.asarray(time_step.observation)[None])[0]
    return policy_step.PolicyStep(action, policy_state, ())


def matches_tf_policy(numpy_policy: NumpyActorPolicy, agent, observation_spec, samples: int = 16,
                      tolerance: float = 1e-4) -> bool:
  """Whether the numpy policy computes what the agent's TF actor does: the greedy actions and
  the Gaussian's mean and std on random observations.

  False when the agent's actor is another kind of network: its distribution is not a
  tanh-squashed Gaussian, or its variables do not chain as dense layers into a projection of
  the action size. Any other error (a broken actor, a bug here) is raised, not hidden.
  """
  import tensorflow as tf
  from tf_agents.policies import greedy_policy
  from tf_agents.trajectories import time_step as ts
  rng = np.random.default_rng(1)
  observations = rng.normal(size=(samples,) + tuple(observation_spec.shape)).astype(np.float32)
  # SacAgent has no public accessor for its actor network.
  actor_network = agent._actor_network  # noqa: SLF001
  distribution, _ = actor_network(tf.constant(observations), step_type=(), network_state=(),
                                  training=False)
  normal = getattr(distribution, "input_distribution", None)  # SquashToSpecNormal's Gaussian
  if normal is None:
    return False
  try:
    mean, std = numpy_policy.mean_and_std(observations)
  except ValueError:  # numpy's matmul: the variables' shapes do not chain as dense layers
    return False
  if mean.shape != tuple(normal.mean().shape) or std.shape != mean.shape:
    return False
  greedy = greedy_policy.GreedyPolicy(agent.policy).action(
      ts.restart(tf.constant(observations), batch_size=samples))
  greedy_numpy = numpy_policy.squash(mean).reshape(greedy.action.shape)
  return bool(
      np.allclose(normal.mean().numpy(), mean, atol=tolerance)
      and np.allclose(normal.stddev().numpy(), std, atol=tolerance, rtol=1e-4)
      and np.allclose(greedy.action.numpy(), greedy_numpy, atol=tolerance))


def numpy_greedy_policy_of(saved_policy, env, samples: int = 16,
                           tolerance: float = 1e-4) -> Optional[NumpyActorPolicy]:
  """A greedy `NumpyActorPolicy` on the variables of a loaded greedy SavedModel policy (its
  `variables()`, refreshed by `refresh()` after each `update_from_checkpoint`), or None when
  its actions differ from the SavedModel's on random observations (an actor of another kind,
  whose variables do not chain as dense layers)."""
  from tf_agents.trajectories import time_step as ts
  try:
    policy = NumpyActorPolicy(env.time_step_spec(), env.action_spec(), saved_policy.variables(),
                              greedy=True)
  except ValueError:  # an odd number of variables: not (kernel, bias) pairs
    return None
  observation_spec = env.observation_spec()
  rng = np.random.default_rng(1)
  for _ in range(samples):
    observation = rng.normal(size=tuple(observation_spec.shape)).astype(observation_spec.dtype)
    expected = np.asarray(saved_policy.action(ts.restart(observation)).action)
    try:
      actual = policy.actions(observation[None])[0]
    except ValueError:  # numpy's matmul: shapes that do not chain as dense layers
      return None
    if actual.shape != expected.shape or not np.allclose(actual, expected, atol=tolerance):
      return None
  return policy
