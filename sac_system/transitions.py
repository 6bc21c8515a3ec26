"""Replay items: one packed float32 row per transition, one row per env of a worker per item.

A transition is what SAC trains on: tf-agents' `to_transition` of a 2-step window reads every
field of the first step (step type, observation, action, policy info, next step type, reward,
discount) and only the observation of the second. A packed transition is exactly those
values, flattened and cast into one float32 row of `size` values (22 for Lunar Lander: 88
bytes); the learner's dataset unpacks whole minibatches back into the `[B, 2, ...]`
trajectories that `SacAgent.train` expects, with the second step's unread fields zero.

Reverb's cost is per item and per column, not per byte (benchmarks/README.md: ~1.6 KB of
server memory and a `CreateItem` call per item, whatever its size), so an item holds
`steps_per_item` consecutive vector steps of a worker's `envs_per_worker` environments: a
single `[transitions_per_item, size]` column, step-major. The learner uses every row of
every item it samples. Items are sampled uniformly and all hold the same number of
transitions, so every stored transition is equally likely to be trained on; the rows of one
item are not independent draws (consecutive steps, or the same moment of several envs).

Packing is exact for the leaves SAC trajectories have (float32 observations, actions,
rewards and discounts; step types 0/1/2).
"""

from typing import List

import numpy as np

# The replay table's single column, and the version of this format (run_info.json records it:
# replay checkpoints of another format cannot be restored into this table).
COLUMN = "transition"
REPLAY_FORMAT = 3


class TransitionCodec:
  """Packs transitions into float32 rows (numpy) and unpacks minibatches (TF)."""

  def __init__(self, collect_data_spec, transitions_per_item: int = 1):
    """Args:
      collect_data_spec: the agent's trajectory spec (a nest of TensorSpecs).
      transitions_per_item: rows (transitions) per replay item.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    self._spec = collect_data_spec
    self.transitions_per_item = int(transitions_per_item)
    leaves = tf.nest.flatten(collect_data_spec)
    for leaf in leaves:
      if not (leaf.dtype.is_floating or leaf.dtype.is_integer):
        raise ValueError(f"cannot pack trajectory leaf {leaf}: only numbers are supported")
    self._shapes = [tuple(leaf.shape.as_list()) for leaf in leaves]
    self._dtypes = [leaf.dtype for leaf in leaves]
    self._sizes = [int(np.prod(shape)) for shape in self._shapes]
    self.step_size = int(sum(self._sizes))
    # A trajectory flattens field by field, in the order of its fields.
    field_leaves = {name: tf.nest.flatten(getattr(collect_data_spec, name))
                    for name in collect_data_spec._fields}
    # Which leaves are the observation: the second step contributes only those.
    self._is_observation = [name == "observation" for name, field in field_leaves.items()
                            for _ in field]
    assert len(self._is_observation) == len(leaves)
    # pack_transition's fast path: one observation array, one action array, scalar rewards,
    # no policy info (the Trajectory's leaves are then exactly these seven, in this order).
    self._fast_pack = (
        len(field_leaves["observation"]) == 1 and len(field_leaves["action"]) == 1
        and not field_leaves["policy_info"] and len(field_leaves["reward"]) == 1
        and collect_data_spec.reward.shape.num_elements() == 1)
    self._observation_sizes = [size for size, is_obs in zip(self._sizes, self._is_observation)
                               if is_obs]
    self.observation_size = int(sum(self._observation_sizes))
    self.size = self.step_size + self.observation_size

  def item_signature(self):
    """The replay table's signature: {COLUMN: [time, transitions_per_item, size] float32}."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return {COLUMN: tf.TensorSpec([None, self.transitions_per_item, self.size], tf.float32)}

  def pack_transition(self, time_step, action, next_time_step) -> np.ndarray:
    """One transition of an actor without policy info (SAC's), from the env's time steps:
    `pack(trajectory.from_transition(time_step, (action, (), ()), next_time_step),
    next_time_step.observation)` without building the trajectory (the workers' hot path)."""
    if not self._fast_pack:
      from tf_agents.trajectories import policy_step, trajectory  # pylint: disable=import-outside-toplevel
      return self.pack(trajectory.from_transition(
          time_step, policy_step.PolicyStep(action, (), ()), next_time_step),
                       next_time_step.observation)
    row = np.concatenate([
        np.asarray(time_step.step_type, np.float32).reshape(1),
        np.asarray(time_step.observation, np.float32).reshape(-1),
        np.asarray(action, np.float32).reshape(-1),
        np.asarray(next_time_step.step_type, np.float32).reshape(1),
        np.asarray(next_time_step.reward, np.float32).reshape(1),
        np.asarray(next_time_step.discount, np.float32).reshape(1),
        np.asarray(next_time_step.observation, np.float32).reshape(-1)])
    return self._checked(row)

  def pack(self, trajectory, next_observation) -> np.ndarray:
    """One transition as a float32 row of `size` values.

    Args:
      trajectory: One unbatched trajectory step (`trajectory.from_transition` of a time step,
        the action step and the next time step).
      next_observation: The next time step's observation.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    parts: List[np.ndarray] = [np.asarray(leaf, np.float32).reshape(-1)
                               for leaf in tf.nest.flatten(trajectory)]
    parts += [np.asarray(leaf, np.float32).reshape(-1)
              for leaf in tf.nest.flatten(next_observation)]
    row = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return self._checked(row)

  def _checked(self, row: np.ndarray) -> np.ndarray:
    if row.shape[0] != self.size:
      raise ValueError(f"a transition packs into {row.shape[0]} values, the collect data spec "
                       f"into {self.size}: the env's time steps or the policy's actions do not "
                       "match the agent's spec")
    return row

  def unpack(self, packed):
    """`[B, size]` float32 transitions -> the `[B, 2, ...]` trajectory nest of the spec (the
    second step holds the next observation; its other fields, unread by `to_transition`,
    are zero)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    first, second = tf.split(packed, [self.step_size, self.observation_size], axis=-1)
    first_columns = tf.split(first, self._sizes, axis=-1) if self._sizes else []
    second_columns = iter(tf.split(second, self._observation_sizes, axis=-1)
                          if self._observation_sizes else [])
    outer = tf.shape(packed)[:-1]
    leaves = []
    for index, (shape, dtype) in enumerate(zip(self._shapes, self._dtypes)):
      full_shape = tf.concat([outer, shape], 0)
      now = tf.reshape(first_columns[index], full_shape)
      later = (tf.reshape(next(second_columns), full_shape) if self._is_observation[index]
               else tf.zeros_like(now))
      stacked = tf.stack([now, later], axis=1)
      if dtype.is_integer:
        stacked = tf.round(stacked)
      leaves.append(tf.cast(stacked, dtype))
    return tf.nest.pack_sequence_as(self._spec, leaves)
