"""The replay contract: everything the replay buffer, the learner and the workers agree on.

The replay buffer (`sac_replay_buffer.py`, program `replay_buffer`) is one Reverb server with
two tables. Changing what a replay item holds is a change to this module only:

- **Item format** (`TransitionCodec`, `REPLAY_FORMAT`): a transition is packed into one
  float32 row; an item is a `[transitions_per_item, size]` block of rows in the single
  column `COLUMN` (`transitions_per_item = envs_per_worker * steps_per_item`, step-major).
- **Sizes** (`items_of`, `replay_capacity_items`, `rate_limiter_error_buffer`): the
  hyperparameters count transitions; the table counts items.
- **Tables and server** (`make_tables`, `make_server`): the replay table (uniform sampler,
  FIFO remover, `SampleToInsertRatio` rate limiter) and the variable table (the learner's
  policy weights and `train_step`, `max_size=1`), checkpointed to EXP/replay_buffer/.
- **Writer** (`ReplayWriter`): how a worker inserts items.
- **Dataset** (`make_dataset`): how the learner samples items and cuts minibatches of rows.
- **Variable table client** (`VariableTable`, `policy_variables`): weight pushes and pulls.
- **Counters and readiness** (`replay_table_info`, `transitions_stored`,
  `inserts_completed`, `wait_for_replay_server`).

docs/design.md §3 explains the format and why it is so; benchmarks/README.md has the
measurements behind it.
"""

import logging
import os
import time
from typing import Callable, List, Optional, Tuple

import numpy as np
import reverb
import tensorflow as tf

from sac_system import constants
from sac_system import deadlines
from sac_system.train_params_base import TrainParamsBase
from sac_system.train_params_base import whole_units

logger_of_module = logging.getLogger(__name__)

# ----- item format ---------------------------------------------------------------------------
# The replay table's single column, and the version of the item format (run_info.json records
# it: a replay checkpoint of another format cannot be restored into this table).
COLUMN = "transition"
REPLAY_FORMAT = 3
# Unpacked transitions are 2-step trajectories: the window tf-agents' `to_transition` reads.
TRAJECTORY_STEPS = 2


class TransitionCodec:
  """Packs transitions into float32 rows (numpy) and unpacks minibatches (TF).

  A transition is what SAC trains on: tf-agents' `to_transition` of a 2-step window reads
  every field of the first step (step type, observation, action, policy info, next step type,
  reward, discount) and only the observation of the second. A packed transition is exactly
  those values, flattened and cast into one float32 row of `size` values (22 for Lunar
  Lander: 88 bytes). `unpack` turns whole minibatches back into the `[B, 2, ...]`
  trajectories that `SacAgent.train` expects, with the second step's unread fields zero.
  Packing is exact for the leaves SAC trajectories have (float32 observations, actions,
  rewards and discounts; step types 0/1/2).
  """

  def __init__(self, collect_data_spec, transitions_per_item: int = 1):
    """Args:
      collect_data_spec: the agent's trajectory spec (a nest of TensorSpecs).
      transitions_per_item: rows (transitions) per replay item.
    """
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
    field_leaves = {
        name: tf.nest.flatten(getattr(collect_data_spec, name))
        for name in collect_data_spec._fields}
    # Which leaves are the observation: the second step contributes only those.
    self._is_observation = [
        name == "observation" for name, field in field_leaves.items() for _ in field]
    assert len(self._is_observation) == len(leaves)
    # pack_transition's fast path: one observation array, one action array, scalar rewards,
    # no policy info (the Trajectory's leaves are then exactly these seven, in this order).
    self._fast_pack = (len(field_leaves["observation"]) == 1 and len(field_leaves["action"]) == 1
                       and not field_leaves["policy_info"] and len(field_leaves["reward"]) == 1
                       and collect_data_spec.reward.shape.num_elements() == 1)
    self._observation_sizes = [
        size for size, is_obs in zip(self._sizes, self._is_observation) if is_obs]
    self.observation_size = int(sum(self._observation_sizes))
    self.size = self.step_size + self.observation_size

  @classmethod
  def for_agent(cls, params: TrainParamsBase, agent) -> "TransitionCodec":
    """The codec of the run's items: the agent's trajectory spec, the params' item size."""
    return cls(agent.collect_data_spec, params.transitions_per_item)

  def item_signature(self):
    """The replay table's signature: {COLUMN: [time, transitions_per_item, size] float32}."""
    return {COLUMN: tf.TensorSpec([None, self.transitions_per_item, self.size], tf.float32)}

  def pack_transition(self, time_step, action, next_time_step) -> np.ndarray:
    """One transition of an actor without policy info (SAC's), from the env's time steps:
    `pack(trajectory.from_transition(time_step, (action, (), ()), next_time_step),
    next_time_step.observation)` without building the trajectory (the workers' hot path)."""
    if not self._fast_pack:
      from tf_agents.trajectories import policy_step
      from tf_agents.trajectories import trajectory
      return self.pack(
          trajectory.from_transition(time_step, policy_step.PolicyStep(action, (), ()),
                                     next_time_step), next_time_step.observation)
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
    parts: List[np.ndarray] = [
        np.asarray(leaf, np.float32).reshape(-1) for leaf in tf.nest.flatten(trajectory)]
    parts += [
        np.asarray(leaf, np.float32).reshape(-1) for leaf in tf.nest.flatten(next_observation)]
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
    first, second = tf.split(packed, [self.step_size, self.observation_size], axis=-1)
    first_columns = tf.split(first, self._sizes, axis=-1) if self._sizes else []
    second_columns = iter(
        tf.split(second, self._observation_sizes, axis=-1) if self._observation_sizes else [])
    outer = tf.shape(packed)[:-1]
    leaves = []
    for index, (shape, dtype) in enumerate(zip(self._shapes, self._dtypes)):
      full_shape = tf.concat([outer, shape], 0)
      now = tf.reshape(first_columns[index], full_shape)
      later = (tf.reshape(next(second_columns), full_shape)
               if self._is_observation[index] else tf.zeros_like(now))
      stacked = tf.stack([now, later], axis=1)  # TRAJECTORY_STEPS steps
      if dtype.is_integer:
        stacked = tf.round(stacked)
      leaves.append(tf.cast(stacked, dtype))
    return tf.nest.pack_sequence_as(self._spec, leaves)


# ----- sizes: hyperparameters count transitions, the table counts items ----------------------
# The learner trains on every row of each sampled item, so samples_per_insert is the same
# number for items as for transitions.
def items_of(params: TrainParamsBase, transitions: int) -> int:
  """Replay items holding at least `transitions` transitions (at least 1)."""
  return whole_units(transitions, params.transitions_per_item)


def replay_capacity_items(params: TrainParamsBase) -> int:
  """The replay table's `max_size`: whole items within replay_capacity transitions."""
  return max(1, params.replay_capacity // params.transitions_per_item)


def rate_limiter_error_buffer(params: TrainParamsBase) -> float:
  """Reverb's `error_buffer` (in samples): the slack in items times samples_per_insert, never
  below the 2 * max(1, samples_per_insert) range that Reverb requires."""
  return max(
      items_of(params, params.rate_limiter_slack_items) * params.samples_per_insert, 1.0,
      params.samples_per_insert)


# ----- tables and server ---------------------------------------------------------------------
def policy_variables(agent, train_step):
  """The nest pushed to the variable table: actor weights and train_step."""
  return {
      constants.POLICY_KEY: agent.collect_policy.variables(),
      constants.TRAIN_STEP_KEY: train_step}


def make_replay_table(params: TrainParamsBase, signature) -> reverb.Table:
  """The replay table: uniform sampling, FIFO removal, the update-to-data rate limiter."""
  return reverb.Table(
      name=constants.REPLAY_TABLE, sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.SampleToInsertRatio(
          samples_per_insert=params.samples_per_insert,
          min_size_to_sample=items_of(params, params.min_size_to_sample),
          error_buffer=rate_limiter_error_buffer(params)), max_size=replay_capacity_items(params),
      max_times_sampled=0, signature=signature)


def make_tables(params: TrainParamsBase, agent, train_step) -> List[reverb.Table]:
  """The replay table and the variable table for `params` and `agent`. Signatures come from
  the agent's specs as `TrainParamsBase` builds them, so the server does not wait for a
  SavedModel on disk."""
  variables = policy_variables(agent, train_step)
  variable_table = reverb.Table(
      name=constants.VARIABLE_TABLE, sampler=reverb.selectors.Uniform(),
      remover=reverb.selectors.Fifo(), rate_limiter=reverb.rate_limiters.MinSize(1), max_size=1,
      max_times_sampled=0, signature=tf.nest.map_structure(
          lambda variable: tf.TensorSpec(variable.shape, variable.dtype), variables))
  return [
      make_replay_table(params,
                        TransitionCodec.for_agent(params, agent).item_signature()), variable_table]


def checkpoint_dir(exp_dir: str) -> str:
  """EXP/replay_buffer, where the replay buffer writes its Reverb checkpoints. A run started
  before the folder had this name keeps its checkpoints in EXP/reverb; they are moved here."""
  path = os.path.join(exp_dir, constants.REPLAY_BUFFER_DIR)
  legacy = os.path.join(exp_dir, constants.LEGACY_REPLAY_BUFFER_DIR)
  if os.path.isdir(legacy) and not os.path.exists(path):
    os.rename(legacy, path)
  return path


def replay_checkpoints(exp_dir: str) -> Tuple[List[str], List[str]]:
  """(complete, unfinished) replay checkpoint folders in EXP/replay_buffer, oldest first: Reverb
  writes each into a new folder and marks it complete with a DONE file last."""
  path = checkpoint_dir(exp_dir)
  names = sorted(os.listdir(path)) if os.path.isdir(path) else []
  folders = [os.path.join(path, name) for name in names]
  done = [os.path.exists(os.path.join(folder, "DONE")) for folder in folders]
  return ([f for f, d in zip(folders, done) if d], [f for f, d in zip(folders, done) if not d])


def make_server(params: TrainParamsBase, exp_dir: Optional[str] = None, port: Optional[int] = None,
                logger: Optional[logging.Logger] = None) -> reverb.Server:
  """Starts a Reverb server with the run's tables.

  Args:
    params: The `TrainParams`.
    exp_dir: When given, replay data is checkpointed to EXP/replay_buffer and the latest
      complete checkpoint there is restored now; one Reverb cannot read is moved to
      EXP/corrupt/<time>/ (never deleted) with a warning, and the one before it is tried, or
      the table starts empty (docs/design.md §8.7).
    port: The port to serve on; None picks a free one.
    logger: Where a damaged checkpoint is reported.

  Returns:
    The running `reverb.Server`.
  """
  agent = params.build_agent()
  if exp_dir is None:
    return reverb.Server(make_tables(params, agent, agent.train_step_counter), port=port)
  path = checkpoint_dir(exp_dir)
  os.makedirs(path, exist_ok=True)
  while True:
    checkpointer = reverb.checkpointers.DefaultCheckpointer(path=path)
    try:
      return reverb.Server(make_tables(params, agent, agent.train_step_counter), port=port,
                           checkpointer=checkpointer)
    except RuntimeError as error:  # Reverb's message for a checkpoint it cannot read
      complete, _ = replay_checkpoints(exp_dir)
      if not complete:
        raise
      from sac_system import checkpoints
      damaged = complete[-1]
      target = checkpoints.move_aside([damaged], exp_dir, time.strftime("%Y%m%d-%H%M%S"))
      remaining = len(complete) - 1
      (logger or logging.getLogger(constants.REPLAY_PROGRAM)).warning(
          "the replay checkpoint %s cannot be read (%s); moved aside to %s; %s", damaged,
          str(error).splitlines()[0][:200], target, "restoring the one before it" if remaining else
          "starting with an empty replay table: the learner keeps its checkpoint and waits "
          "until the workers refill min_size_to_sample transitions")


# ----- the workers' writer -------------------------------------------------------------------
class ReplayWriter:
  """Writes replay items: one `[transitions_per_item, size]` block of packed transitions per
  item, in the single column.

  Unlike tf-agents' `ReverbAddTrajectoryObserver` it never calls the Reverb writer's
  `end_episode`: that call flushes without a timeout, so while the rate limiter holds inserts
  (and forever once the learner has stopped sampling) the worker would block where it can
  neither notice the end of training nor a SIGTERM. The worker waits for its items with a
  bounded `wait_until_written` after each chunk of steps instead.
  """

  def __init__(self, client: reverb.Client, table_name: str = constants.REPLAY_TABLE):
    self._client = client
    self._table_name = table_name
    self._writer = None

  def _get_writer(self):
    if self._writer is None:
      self._writer = self._client.trajectory_writer(num_keep_alive_refs=1)
    return self._writer

  def __call__(self, rows: np.ndarray) -> None:
    """Writes one item: `rows` is the `[transitions_per_item, size]` float32 block."""
    writer = self._get_writer()
    writer.append({COLUMN: rows})
    writer.create_item(self._table_name, 1.0, {COLUMN: writer.history[COLUMN][-1:]})

  def wait_until_written(self, timeout_ms: int) -> None:
    """Blocks until every item has reached the server.

    Raises:
      reverb.errors.DeadlineExceededError: after `timeout_ms`; items stay queued.
    """
    if self._writer is not None:
      self._writer.flush(block_until_num_items=0, timeout_ms=timeout_ms)

  def close(self) -> None:
    """Closes the writer at once, dropping items the rate limiter still holds (a flush
    without a timeout could block forever once the learner has stopped sampling)."""
    if self._writer is not None:
      self._writer.close()
      self._writer = None


# ----- the learner's dataset -----------------------------------------------------------------
# A sample call that waits longer than this for the rate limiter ends the dataset, so the
# learner can log what it waits for and notice a stop request.
SAMPLE_TIMEOUT_MS = 5_000
# Minibatches the input pipeline prepares ahead of the gradient steps.
PREFETCH_BATCHES = 4
# Samples requested from Reverb ahead of use, in minibatches.
IN_FLIGHT_BATCHES = 2


def make_dataset(server_address: str, params: TrainParamsBase,
                 codec: TransitionCodec) -> tf.data.Dataset:
  """Minibatches of 2-step trajectories from the replay table, as (experience, ()).

  One Reverb sample stream of items; tf.data regroups their rows into minibatches of
  `batch_size` transitions, unpacked a whole minibatch at a time. (tf-agents'
  `ReverbReplayBuffer.as_dataset` interleaves up to 32 streams of per-column items instead,
  which on one CPU samples several times slower: benchmarks/README.md.) The rows of
  `shuffle_pool_minibatches` minibatches' worth of items are shuffled together before
  minibatches are cut, so that a minibatch mixes rows of many items rather than whole runs
  of consecutive steps, and an item's rows are spread over that many gradient steps; every
  sampled row is used exactly once. The next pool is sampled while the current one is
  trained on. The dataset ends (OutOfRange or DeadlineExceeded) when a sample waits longer
  than SAMPLE_TIMEOUT_MS.
  """
  pool = params.shuffle_pool_minibatches
  column = codec.item_signature()[COLUMN]
  dataset = reverb.TrajectoryDataset(
      server_address, constants.REPLAY_TABLE, dtypes={COLUMN: column.dtype},
      shapes={COLUMN: tf.TensorShape([1]).concatenate(column.shape[1:])},
      max_in_flight_samples_per_worker=IN_FLIGHT_BATCHES * items_of(params, params.batch_size),
      rate_limiter_timeout_ms=SAMPLE_TIMEOUT_MS)
  # These functions are traced as they are (no Python control flow to convert): autograph
  # would re-read their source at trace time, which breaks if the file changed since import.
  @tf.autograph.experimental.do_not_convert
  def item_rows(sample):  # an item's [1, transitions_per_item, size] block -> its rows
    return sample.data[COLUMN][0]

  @tf.autograph.experimental.do_not_convert
  def shuffled_minibatches(rows):
    return tf.reshape(tf.random.shuffle(rows), [pool, params.batch_size, codec.size])

  @tf.autograph.experimental.do_not_convert
  def experience(rows):
    return codec.unpack(rows), ()

  dataset = dataset.map(item_rows)
  dataset = dataset.rebatch(pool * params.batch_size, drop_remainder=True)
  dataset = dataset.map(shuffled_minibatches).prefetch(1).unbatch().map(experience)
  return dataset.prefetch(PREFETCH_BATCHES)


# ----- counters ------------------------------------------------------------------------------
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


# ----- the variable table --------------------------------------------------------------------
class VariableTable:
  """Pushes and pulls the policy-variables nest through the variable table.

  Uses Reverb's Python client rather than tf-agents' `ReverbVariableContainer`: its TF-op
  client resource disappears once tf-agents' `Learner.run` has executed (NotFoundError
  "Resource .../ReverbClient does not exist" on the next push). The client's calls have no
  timeout of their own, so each runs under `deadlines.call_with_deadline`.
  """

  def __init__(self, server_address: str, variables, timeout_s: float = 300.0,
               logger: Optional[logging.Logger] = None):
    """Args:
      server_address: "host:port".
      variables: The nest of `tf.Variable`s to sync (`policy_variables`).
      timeout_s: How long a push or pull may wait for the server before
        `deadlines.ReplayServerGoneError` (hyperparameter replay_server_timeout_seconds).
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
        return deadlines.call_with_deadline(function, what, max(deadline - time.monotonic(), 0.0),
                                            self._logger)
      except RuntimeError as error:
        if isinstance(error, deadlines.ReplayServerGoneError) or time.monotonic() >= deadline:
          raise
        self._logger.warning("%s failed (%s); retrying", what, deadlines.first_line(error))
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
    return self._call(
        lambda: next(
            iter(self._client.sample(constants.VARIABLE_TABLE, num_samples=1, emit_timesteps=False))
        ), "pulling the policy weights")

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


# ----- readiness -----------------------------------------------------------------------------
def replay_server_ready(server_address: str, tables=()) -> Callable[[], bool]:
  """A check for `deadlines.wait_for`: the Reverb server answers and has `tables`."""

  def check():
    try:
      info = reverb.Client(server_address).server_info(timeout=2)
    except Exception:  # noqa: BLE001  Reverb raises several types while a server is not up
      return False
    return all(table in info for table in tables)

  return check


def wait_for_replay_server(server_address: str, timeout_s: float, logger: Optional[logging.Logger],
                           stop=None,
                           tables=(constants.REPLAY_TABLE, constants.VARIABLE_TABLE)) -> bool:
  """Waits for the Reverb server at `server_address` to answer and serve `tables`.

  Returns:
    True when it serves, False when `stop` was set first.

  Raises:
    deadlines.ReplayServerGoneError: after `timeout_s` (replay_server_timeout_seconds).
  """
  try:
    return deadlines.wait_for(f"the replay server at {server_address}",
                              replay_server_ready(server_address, tables), timeout_s, logger
                              or logger_of_module, stop)
  except TimeoutError as error:
    raise deadlines.ReplayServerGoneError(f"{error} (replay_server_timeout_seconds)") from None
