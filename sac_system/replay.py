"""The Reverb tables of a run and the replay server that holds them (DESIGN §2).

- Replay table (`constants.REPLAY_TABLE`): items of `transitions_per_item` packed transitions
  (`transitions.py`), uniform sampler, FIFO remover, `max_size` = the items within
  `replay_capacity` transitions, and a `SampleToInsertRatio` rate limiter with
  `samples_per_insert` and `min_size_to_sample` (converted to items), which fixes the
  update-to-data ratio whatever the number and speed of the workers.
- Variable table (`constants.VARIABLE_TABLE`): the learner's policy weights and train_step,
  `max_size=1`, so a pull always gets the latest push.

Signatures come from the agent's specs as built by `TrainParamsBase`, so the server does not
wait for a SavedModel on disk.
"""

import logging
import os
import time
from typing import Optional

import reverb
import tensorflow as tf

from sac_system import constants
from sac_system import runtime

logger_of_module = logging.getLogger(__name__)


def make_tables(params, agent, train_step):
  """The replay table and the variable table for `params` and `agent`."""
  replay_table = reverb.Table(
      name=constants.REPLAY_TABLE,
      sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(),
      rate_limiter=reverb.rate_limiters.SampleToInsertRatio(
          samples_per_insert=params.samples_per_insert,
          min_size_to_sample=params.items_of(params.min_size_to_sample),
          error_buffer=params.rate_limiter_error_buffer),
      max_size=params.replay_capacity_items,
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


def inserts_completed(table_info, transitions_per_item: int) -> int:
  """Transitions ever inserted into the table, from its rate limiter's counters."""
  return int(table_info.rate_limiter_info.insert_stats.completed) * transitions_per_item


def transitions_stored(table_info, transitions_per_item: int) -> int:
  """Transitions the table holds now."""
  return int(table_info.current_size) * transitions_per_item


class VariableTable:
  """Pushes and pulls the policy-variables nest through the variable table.

  Uses Reverb's Python client rather than tf-agents' `ReverbVariableContainer`: its TF-op
  client resource disappears once tf-agents' `Learner.run` has executed (NotFoundError
  "Resource .../ReverbClient does not exist" on the next push). The client's calls have no
  timeout of their own, so each runs under `runtime.call_with_deadline`.
  """

  def __init__(self, server_address: str, variables, timeout_s: float = 300.0,
               logger: Optional[logging.Logger] = None):
    """Args:
      server_address: "host:port".
      variables: The nest of `tf.Variable`s to sync.
      timeout_s: How long a push or pull may wait for the server before
        `runtime.ReplayServerGoneError` (hyperparameter replay_server_timeout_seconds).
      logger: Where waits for the server are logged.
    """
    self._server_address = server_address
    self._client = reverb.Client(server_address)
    self._variables = variables
    self._flat = tf.nest.flatten(variables)
    self._timeout_s = timeout_s
    self._logger = logger or logger_of_module

  def _call(self, function, what: str):
    """Runs a client call within the deadline, retrying the errors of a connection the server
    reset (it was killed and is being restarted) until the deadline."""
    what = f"{what} on the replay server at {self._server_address}"
    deadline = time.monotonic() + self._timeout_s
    while True:
      try:
        return runtime.call_with_deadline(function, what, max(deadline - time.monotonic(), 0.0),
                                          self._logger)
      except RuntimeError as error:
        if isinstance(error, runtime.ReplayServerGoneError) or time.monotonic() >= deadline:
          raise
        self._logger.warning("%s failed (%s); retrying", what, runtime.first_line(error))
        time.sleep(1.0)

  def push(self) -> None:
    """Inserts the current values; the table keeps only the newest (max_size=1)."""
    values = [variable.numpy() for variable in self._flat]
    self._call(lambda: self._client.insert(values, priorities={constants.VARIABLE_TABLE: 1.0}),
               "pushing the policy weights")

  def ready(self) -> bool:
    """True once something was pushed, so that `pull` will not block."""
    info = self._client.server_info(timeout=10)
    return info[constants.VARIABLE_TABLE].current_size > 0

  def _sample(self):
    return self._call(lambda: next(iter(self._client.sample(
        constants.VARIABLE_TABLE, num_samples=1, emit_timesteps=False))),
                      "pulling the policy weights")

  def pull(self) -> int:
    """Assigns the newest pushed values to the variables; returns the pulled train_step."""
    sample = self._sample()
    for variable, value in zip(self._flat, sample.data):
      variable.assign(value[0])  # items are single-step sequences: drop the time dimension
    return int(self._variables[constants.TRAIN_STEP_KEY].numpy())

  def pushed_train_step(self) -> Optional[int]:
    """The train_step of the newest push without assigning anything; None when the table is
    empty (a new run)."""
    if not self.ready():
      return None
    sample = self._sample()
    step_variable = self._variables[constants.TRAIN_STEP_KEY]
    position = next(i for i, variable in enumerate(self._flat) if variable is step_variable)
    return int(sample.data[position][0])
