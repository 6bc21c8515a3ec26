"""The Reverb tables of a run and the replay server that holds them (DESIGN §2).

- Replay table (`constants.REPLAY_TABLE`): 2-step trajectories (one transition each), uniform
  sampler, FIFO remover, `max_size = replay_capacity`, and a `SampleToInsertRatio` rate
  limiter with `samples_per_insert` and `min_size_to_sample`, which fixes the update-to-data
  ratio whatever the number and speed of the workers.
- Variable table (`constants.VARIABLE_TABLE`): the learner's policy weights and train_step,
  `max_size=1`, so a pull always gets the latest push.

Signatures come from the agent's specs as built by `TrainParamsBase`, so the server does not
wait for a SavedModel on disk.
"""

import logging
import os

import reverb
import tensorflow as tf

from sac_system import constants

logger = logging.getLogger(__name__)


def make_tables(params, agent, train_step):
  """The replay table and the variable table for `params` and `agent`."""
  replay_table = reverb.Table(
      name=constants.REPLAY_TABLE,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      rate_limiter=reverb.rate_limiters.SampleToInsertRatio(
          samples_per_insert=params.samples_per_insert,
          min_size_to_sample=params.min_size_to_sample,
          error_buffer=params.rate_limiter_error_buffer),
      max_size=params.replay_capacity,
      max_times_sampled=0,
      signature=params.replay_signature(agent))
  variables = params.policy_variables(agent, train_step)
  variable_table = reverb.Table(
      name=constants.VARIABLE_TABLE,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      rate_limiter=reverb.rate_limiters.MinSize(1),
      max_size=1,
      max_times_sampled=0,
      signature=tf.nest.map_structure(
          lambda variable: tf.TensorSpec(variable.shape, variable.dtype), variables))
  return [replay_table, variable_table]


def make_server(params, exp_dir=None, port=None):
  """Starts a Reverb server with the run's tables.

  Args:
    params: The `TrainParams`.
    exp_dir: When given, replay data is checkpointed to EXP/reverb and the latest checkpoint
      there is restored now.
    port: The port to serve on; None picks a free one.

  Returns:
    The running `reverb.Server`.
  """
  agent = params.build_agent()
  tables = make_tables(params, agent, agent.train_step_counter)
  checkpointer = None
  if exp_dir is not None:
    checkpoint_dir = os.path.join(exp_dir, constants.REVERB_DIR)
    os.makedirs(checkpoint_dir, exist_ok=True)
    checkpointer = reverb.checkpointers.DefaultCheckpointer(path=checkpoint_dir)
  return reverb.Server(tables, port=port, checkpointer=checkpointer)


def replay_table_info(server_address: str, timeout_s: int = 10):
  """The replay table's `TableInfo` (size, insert and sample counts)."""
  info = reverb.Client(server_address).server_info(timeout=timeout_s)
  return info[constants.REPLAY_TABLE]


def inserts_completed(table_info) -> int:
  """Transitions ever inserted into the table, from its rate limiter's counters."""
  return int(table_info.rate_limiter_info.insert_stats.completed)


class VariableTable:
  """Pushes and pulls the policy-variables nest through the variable table.

  Uses Reverb's Python client rather than tf-agents' `ReverbVariableContainer`: its TF-op
  client resource disappears once tf-agents' `Learner.run` has executed (NotFoundError
  "Resource .../ReverbClient does not exist" on the next push).
  """

  def __init__(self, server_address: str, variables):
    """Args: server_address: "host:port"; variables: the nest of `tf.Variable`s to sync."""
    self._client = reverb.Client(server_address)
    self._variables = variables
    self._flat = tf.nest.flatten(variables)

  def push(self) -> None:
    """Inserts the current values; the table keeps only the newest (max_size=1)."""
    self._client.insert([variable.numpy() for variable in self._flat],
                        priorities={constants.VARIABLE_TABLE: 1.0})

  def ready(self) -> bool:
    """True once something was pushed, so that `pull` will not block."""
    info = self._client.server_info(timeout=10)
    return info[constants.VARIABLE_TABLE].current_size > 0

  def pull(self) -> int:
    """Assigns the newest pushed values to the variables; returns the pulled train_step."""
    sample = next(iter(self._client.sample(constants.VARIABLE_TABLE, num_samples=1,
                                           emit_timesteps=False)))
    for variable, value in zip(self._flat, sample.data):
      variable.assign(value[0])  # items are single-step sequences: drop the time dimension
    return int(self._variables[constants.TRAIN_STEP_KEY].numpy())
