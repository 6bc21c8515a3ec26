"""The learner and a worker against a real Reverb server on a loopback port, in one process;
and the worker loop driven deterministically by a fake variable source."""

import json
import os

import numpy as np
import pytest

import tiny_env
from conftest import REPO
from conftest import FakeVariables
from conftest import RecordingWriter
from conftest import free_port
from conftest import write_config
from sac_system import constants
from sac_system import metrics
from sac_system.train_params_base import load_params

GYM_PARAMS = os.path.join(REPO, "sac_system", "envs", "gym_params.py")


@pytest.fixture
def params(tmp_path):
  return load_params(GYM_PARAMS, write_config(tmp_path))


@pytest.fixture
def server(params):
  from sac_system import replay_buffer
  server = replay_buffer.make_server(params, exp_dir=None, port=free_port())
  yield server
  server.stop()


def table_size(address):
  from sac_system import replay_buffer
  return replay_buffer.replay_table_info(address).current_size


def test_worker_collects_and_learner_trains_and_worker_pulls_new_weights(params, server, tmp_path):
  from sac_system.learner import SacLearner
  from sac_system.workers import Worker
  address = f"127.0.0.1:{server.port}"
  exp_dir = str(tmp_path)
  learner = SacLearner(params, exp_dir, address,
                       reporter=metrics.MetricsReporter(exp_dir, constants.LEARNER_PROGRAM))
  # A new run's learner pushes its initial weights as it is built (before writing the policy
  # SavedModels), so the worker's warm-up starts at once: no push_variables() here.
  worker = Worker(params, 0, exp_dir, address,
                  reporter=metrics.MetricsReporter(exp_dir, "worker_0"))
  for _ in range(4):  # 4 x 20 env steps
    assert worker.run_iteration()
  assert worker.env_steps >= 80
  assert table_size(address) >= 60  # one item per transition (none across episode ends)

  before = [v.numpy().copy() for v in learner.agent.collect_policy.variables()]
  worker_before = [v.numpy().copy() for v in worker.policy_variables]
  np.testing.assert_array_equal(before[0], worker_before[0])  # it pulled the initial push
  trained = 0
  while learner.step < 30 and trained < 20:
    trained += 1
    if learner.train_iteration():
      learner.push_variables()
    else:
      worker.run_iteration()
  assert learner.step >= 20
  after = [v.numpy() for v in learner.agent.collect_policy.variables()]
  assert all(np.all(np.isfinite(v)) for v in after)
  assert any(not np.array_equal(a, b) for a, b in zip(before, after))

  worker.run_iteration()
  assert worker.last_train_step == learner.step
  for pulled, learned in zip(worker.policy_variables, learner.agent.collect_policy.variables()):
    np.testing.assert_array_equal(pulled.numpy(), learned.numpy())

  learner.report()
  learner.save()
  record = metrics.read_records(exp_dir, constants.LEARNER_PROGRAM)[-1]
  assert record["train_step"] == learner.step and np.isfinite(record["learner/critic_loss"])
  checkpoints = os.path.join(exp_dir, "policies", "checkpoints")
  assert os.path.isdir(os.path.join(checkpoints, constants.POLICY_CHECKPOINT_FORMAT % learner.step))
  assert not [name for name in os.listdir(checkpoints) if "partial" in name]
  learner.save()  # saving the same train_step again replaces it in place
  assert sorted(os.listdir(checkpoints))[-1] == constants.POLICY_CHECKPOINT_FORMAT % learner.step


def test_learner_resumes_from_its_checkpoint(params, server, tmp_path):
  from sac_system.learner import SacLearner
  from sac_system.workers import Worker
  address = f"127.0.0.1:{server.port}"
  params.learner_checkpoint_interval = 10_000  # only the explicit save below
  learner = SacLearner(params, str(tmp_path), address)
  learner.push_variables()
  worker = Worker(params, 0, str(tmp_path), address)
  while learner.step < 20:
    if not learner.train_iteration():
      worker.run_iteration()
  learner.save()

  def optimizer_variables(agent):
    """Adam's step count and moments of all three optimizers, in the order of the agent's
    variables (the order the optimizers created their slots in differs: see below)."""
    values = []
    for optimizer in (agent._actor_optimizer, agent._critic_optimizer, agent._alpha_optimizer):
      values.append(optimizer.iterations.numpy())
      for variable in agent.variables:
        for slot in optimizer.get_slot_names():
          try:
            values.append(optimizer.get_slot(variable, slot).numpy().copy())
          except KeyError:  # not this optimizer's variable
            pass
    return values

  weights = [v.numpy().copy() for v in learner.agent.collect_policy.variables()]
  # A new run's learner creates its optimizers' slots in its first train call (no trace
  # ahead of it); they are in its checkpoint all the same and come back on resume.
  moments = optimizer_variables(learner.agent)
  assert len(moments) > 3 and all(np.any(moment != 0) for moment in moments)
  resumed = SacLearner(params, str(tmp_path), address)
  assert resumed.step == 20
  for saved, restored in zip(weights, resumed.agent.collect_policy.variables()):
    np.testing.assert_array_equal(saved, restored.numpy())
  restored_moments = optimizer_variables(resumed.agent)
  assert len(restored_moments) == len(moments)
  for saved, restored in zip(moments, restored_moments):
    np.testing.assert_array_equal(saved, restored)

  # The first learner trains on and pushes, then "dies" without saving: the next one restores
  # the checkpoint at 20 but continues the count from the pushed step, never going back.
  while learner.step < 40:
    if learner.train_iteration():
      learner.push_variables()
    else:
      worker.run_iteration()
  pushed = learner.step
  crashed_and_restarted = SacLearner(params, str(tmp_path), address)
  assert crashed_and_restarted.step == 20
  crashed_and_restarted.continue_count_from_pushed_step()
  assert crashed_and_restarted.step == pushed


def test_learner_checkpoints_on_time_as_well_as_on_steps(params, server, tmp_path):
  from sac_system.learner import SacLearner
  learner = SacLearner(params, str(tmp_path), f"127.0.0.1:{server.port}")
  learner.train_step.assign(5)
  assert not learner.checkpoint_if_due()  # just started
  learner.params.learner_checkpoint_interval_seconds = 0.01
  import time
  time.sleep(0.02)
  assert learner.checkpoint_if_due()
  assert os.path.exists(os.path.join(str(tmp_path), "train", "checkpoints", "checkpoint"))


def test_a_dead_replay_server_gives_a_bounded_wait_and_a_named_error(params, tmp_path):
  """Reverb's client would block forever on a dead server; pulls and pushes give up after
  replay_server_timeout_seconds with an error naming the server."""
  import time

  import tensorflow as tf

  from sac_system import deadlines
  from sac_system import replay_buffer
  server = replay_buffer.make_server(params, exp_dir=None, port=free_port())
  address = f"127.0.0.1:{server.port}"
  train_step = tf.Variable(7, dtype=tf.int64)
  variables = replay_buffer.policy_variables(params.build_agent(train_step), train_step)
  table = replay_buffer.VariableTable(address, variables, timeout_s=3.0)
  assert table.pushed_train_step() is None
  table.push()
  assert table.pull() == 7 and table.pushed_train_step() == 7
  server.stop()
  for call in (table.pull, table.push):
    started = time.monotonic()
    with pytest.raises(deadlines.ReplayServerGoneError) as error:
      call()
    assert 2.5 < time.monotonic() - started < 10
    assert f"replay server at {address}" in str(error.value)
    assert "replay_server_timeout_seconds" in str(error.value)


def test_replay_checkpoint_interrupted_mid_write_falls_back_to_the_previous_one(params, tmp_path):
  """Reverb marks a finished checkpoint with DONE; a newer directory without it (a server killed
  while writing) is skipped at restore and the previous checkpoint's data comes back."""
  import reverb

  from sac_system import replay_buffer
  from sac_system.replay_buffer import ReplayWriter
  from sac_system.replay_buffer import TransitionCodec
  server = replay_buffer.make_server(params, exp_dir=str(tmp_path), port=free_port())
  client = server.localhost_client()
  codec = TransitionCodec.for_agent(params, params.build_agent())
  writer = ReplayWriter(reverb.Client(f"127.0.0.1:{server.port}"))
  for _ in range(5):
    writer(np.ones((params.transitions_per_item, codec.size), np.float32))
  writer.wait_until_written(5000)
  writer.close()
  assert client.server_info()[constants.REPLAY_TABLE].current_size == 5
  client.checkpoint()
  server.stop()
  reverb_dir = os.path.join(str(tmp_path), constants.REPLAY_BUFFER_DIR)
  complete = os.listdir(reverb_dir)
  assert len(complete) == 1 and "DONE" in os.listdir(os.path.join(reverb_dir, complete[0]))
  half_written = os.path.join(reverb_dir, "9999-12-31T23:59:59.000000000+00:00")
  os.makedirs(half_written)
  with open(os.path.join(half_written, "tables.tfrecord"), "wb") as partial:
    partial.write(b"\x00" * 10)
  restarted = replay_buffer.make_server(params, exp_dir=str(tmp_path), port=free_port())
  try:
    info = restarted.localhost_client().server_info()
    assert info[constants.REPLAY_TABLE].current_size == 5
  finally:
    restarted.stop()


@pytest.mark.parametrize("eval_follows", [False, True])
def test_worker_loop_curriculum_evaluation_and_end(tmp_path, eval_follows):
  config = write_config(tmp_path, {
      "eval_interval": 3,
      "train_steps_per_iteration": 10,
      "num_iterations": 8}, curriculum={"target": {
          "iters": [2, 4, 5],
          "range": [0.0, 1.0]}})
  with open(config) as config_file:
    content = json.load(config_file)
  content.update({
      "env_id": tiny_env.ENV_ID,
      "env_kwargs": {
          "target": -0.5},
      "eval_follows_curriculum": eval_follows})
  content.pop("max_episode_steps")
  with open(config, "w") as config_file:
    json.dump(content, config_file)
  params = load_params(GYM_PARAMS, config)
  from sac_system.workers import Worker
  # train_step as pulled, one per cycle: iterations 0, 0, 1, 4, 6, 6, 7, then the end (80)
  source = FakeVariables([0, 0, 10, 40, 60, 65, 70, 80])
  writer = RecordingWriter()
  worker = Worker(params, 0, str(tmp_path), variable_source=source, replay_writer=writer,
                  reporter=metrics.MetricsReporter(str(tmp_path), "worker_0"))
  applied = []
  original = worker.collect_env.set_state
  worker.collect_env.set_state = lambda state: (applied.append(
      (source.pulls, dict(state))), original(state))
  acted = []  # (how, pull count) of every batch of actions

  class RandomSpy:

    def __init__(self, rng):
      self.rng = rng

    def uniform(self, *args, **kwargs):
      acted.append(("random", source.pulls))
      return self.rng.uniform(*args, **kwargs)

  worker._random_actions = RandomSpy(worker._random_actions)
  policy_actions = worker.collect_policy.actions
  worker.collect_policy.actions = lambda observations: (acted.append(
      ("policy", source.pulls)), policy_actions(observations))[1]
  worker.run()
  # iteration 4 reaches the entries at 2 and 4 together (0.5 applied), iteration 6 reaches 5
  assert applied == [(4, {"target": 0.5}), (5, {"target": 1.0})]
  assert worker.collect_env.get_state()["target"] == 1.0
  # by default eval keeps its own fixed parameters; the config may make it follow
  assert worker.eval_env.get_state()["target"] == (1.0 if eval_follows else -0.5)
  records = metrics.read_records(str(tmp_path), "worker_0")
  evals = [r["train_step"] for r in records if "eval/average_return" in r]
  # no eval before training; then at iterations >= 0 (step 10), 3 (40), 6 (60), and the end
  assert evals == [10, 40, 60, 80]
  curriculum = [r["curriculum/target"] for r in records if "curriculum/target" in r]
  assert curriculum == [0.5, 1.0]
  assert sum(len(rows) for rows in writer.items) >= 7 * params.collect_steps_per_iteration
  # policy lag: chunks collected with the weights of steps 10, 40, 60, 65, 70, written before
  # the pulls of 40, 60, 65, 70, 80 (the random chunks of step 0 have no weights)
  lags = [r for r in records if "collect/policy_lag_median" in r]
  assert lags
  if len(lags) == 1:
    assert lags[0]["collect/policy_lag_median"] == 10.0
    assert lags[0]["collect/policy_lag_max"] == 30.0
    assert lags[0]["collect/policy_lag_p90"] == pytest.approx(26.0)
  assert max(r["collect/policy_lag_max"] for r in lags) == 30.0
  # while the pulled train_step is 0 (pulls 1 and 2) the worker acts at random; afterwards
  # (pulls 3 to 7) with the collect policy; pull 8 is the end, with no collection
  assert source.pulls == 8
  assert {pull for how, pull in acted if how == "random"} == {1, 2}
  assert {pull for how, pull in acted if how == "policy"} == {3, 4, 5, 6, 7}
  assert writer.closed


@pytest.mark.parametrize("envs, steps, numpy_actor", [(3, 1, True), (1, 3, True), (3, 2, True),
                                                      (3, 1, False)])
def test_replay_items_hold_vector_steps_and_unpack_to_what_sac_trains_on(
    tmp_path, monkeypatch, envs, steps, numpy_actor):
  """A worker with `envs` envs writes one item per `steps` vector steps, one row per env and
  step (step-major); unpacked and cut by tf-agents' `to_transition`, every row is exactly the
  transition its env made (ended episodes are reset at once, so no row starts at an
  episode's last step). A vector step that does not fill an item waits for the next. Without
  the numpy actor, tf-agents' collect policy acts for the envs in one batched call."""
  import reverb
  import tensorflow as tf
  from tf_agents.trajectories import trajectory

  from sac_system import workers
  from sac_system.replay_buffer import COLUMN
  from sac_system.replay_buffer import ReplayWriter
  from sac_system.replay_buffer import TransitionCodec
  from sac_system.workers import Worker
  if not numpy_actor:  # as for a params file whose actor the numpy copy does not mirror
    monkeypatch.setattr(workers, "matches_tf_policy", lambda *args: False)
  # 3 vector steps per collect call (7 env steps asked of 3 envs, 3 of 1), 3 calls
  config = write_config(
      tmp_path, {
          "envs_per_worker": envs,
          "steps_per_item": steps,
          "collect_steps_per_iteration": 7 if envs == 3 else 3}, env_kwargs={"target": 1.0})
  with open(config) as config_file:
    content = json.load(config_file)
  content.update({"env_id": tiny_env.ENV_ID, "max_episode_steps": 3})
  with open(config, "w") as config_file:
    json.dump(content, config_file)
  params = load_params(GYM_PARAMS, config)
  agent = params.build_agent()
  table = reverb.Table(constants.REPLAY_TABLE, sampler=reverb.selectors.Fifo(),
                       remover=reverb.selectors.Fifo(), max_size=1000, max_times_sampled=1,
                       rate_limiter=reverb.rate_limiters.MinSize(1),
                       signature=TransitionCodec.for_agent(params,
                                                           agent).item_signature())  # in order
  server = reverb.Server([table], port=free_port())
  try:
    writer = ReplayWriter(reverb.Client(f"127.0.0.1:{server.port}"))
    worker = Worker(params, 0, str(tmp_path), variable_source=FakeVariables([0]),
                    replay_writer=writer)
    assert isinstance(worker.collect_policy, workers.NumpyActorPolicy) == numpy_actor
    made = [[] for _ in worker.collect_envs]  # (time step, action, next time step) per env
    for index, env in enumerate(worker.collect_envs):

      def recording_step(action, env=env, index=index, step=env.step):
        before = env.current_time_step()
        after = step(action)
        made[index].append((before, np.array(action), after))
        return after

      env.step = recording_step
    for train_step in (0, 0, 5):  # random actions, then the collect policy
      worker.collect(train_step)
    writer.wait_until_written(5000)
    writer.close()
    assert all(len(steps_made) == 9 for steps_made in made)  # 9 vector steps
    items_written = 9 // steps
    client = reverb.Client(f"127.0.0.1:{server.port}")
    size = client.server_info()[constants.REPLAY_TABLE].current_size
    assert size == items_written
    items = list(client.sample(constants.REPLAY_TABLE, num_samples=size, emit_timesteps=False))
    packed = np.stack([item.data[0][0] for item in items])  # [item, row, size]
    # step type, observation (2), action (1), next step type, reward, discount; next observation
    assert packed.shape == (items_written, envs * steps, worker.codec.size)
    assert worker.codec.size == 7 + 2
    unpacked = worker.codec.unpack(tf.constant(packed.reshape(items_written * envs * steps, -1)))
    assert unpacked.observation.dtype == tf.float32 and unpacked.step_type.dtype == tf.int32
    got = trajectory.to_transition(unpacked)
    episodes_ended = 0
    for vector_step in range(items_written * steps):
      for index in range(envs):
        before, action, after = made[index][vector_step]
        row = vector_step * envs + index
        assert not before.is_last()
        episodes_ended += int(after.is_last())
        for value, want in [(got.time_step.step_type, before.step_type),
                            (got.time_step.observation, before.observation),
                            (got.action_step.action, action),
                            (got.next_time_step.step_type, after.step_type),
                            (got.next_time_step.reward, after.reward),
                            (got.next_time_step.discount, after.discount),
                            (got.next_time_step.observation, after.observation)]:
          np.testing.assert_array_equal(value[row, 0].numpy(), want)  # [B, 1, ...] windows
    assert episodes_ended >= envs  # 3-step episodes: every env ended at least one
    assert COLUMN in TransitionCodec.for_agent(params, agent).item_signature()
  finally:
    server.stop()


@pytest.mark.parametrize("pool", [1, 4])
def test_the_learner_trains_on_every_row_of_a_sampled_item_spread_over_its_pool(tmp_path, pool):
  """Items of 8 rows, minibatches of 16: with a pool of one minibatch, a minibatch is two
  whole items; with a pool of 4, the 4 minibatches of a pool hold every row of the 8 items
  sampled for it exactly once, and each minibatch mixes rows of more than two items."""
  import reverb

  from sac_system import replay_buffer
  from sac_system.replay_buffer import ReplayWriter
  from sac_system.replay_buffer import TransitionCodec
  per_item, batch, items = 8, 16, 40
  params = load_params(
      GYM_PARAMS,
      write_config(
          tmp_path, {
              "steps_per_item": per_item,
              "batch_size": batch,
              "shuffle_pool_minibatches": pool,
              "min_size_to_sample": per_item,
              "samples_per_insert": 1000.0,
              "rate_limiter_slack_items": 10**6}))
  codec = TransitionCodec.for_agent(params, params.build_agent())
  server = replay_buffer.make_server(params, exp_dir=None, port=free_port())
  address = f"127.0.0.1:{server.port}"
  try:
    writer = ReplayWriter(reverb.Client(address))
    for item in range(items):
      rows = np.zeros((per_item, codec.size), np.float32)
      rows[:, 1] = item  # the first step's first observation value: the item
      rows[:, 2] = np.arange(per_item)  # the second: the row within the item
      writer(rows)
    writer.wait_until_written(10_000)
    writer.close()
    minibatches = []
    for experience, _ in replay_buffer.make_dataset(address, params, codec).take(3 * pool):
      observation = experience.observation[:, 0].numpy()
      minibatches.append(list(zip(observation[:, 0].astype(int), observation[:, 1].astype(int))))
  finally:
    server.stop()
  assert all(len(rows) == batch for rows in minibatches)
  for start in range(0, len(minibatches), pool):
    rows = [row for minibatch in minibatches[start:start + pool] for row in minibatch]
    sampled = {}
    for item, row in rows:
      sampled.setdefault(item, []).append(row)
    # every row of each sampled item, as often as the item was sampled
    for got in sampled.values():
      times, left = divmod(len(got), per_item)
      assert left == 0 and sorted(got) == sorted(list(range(per_item)) * times)
    for minibatch in minibatches[start:start + pool]:
      distinct = len({item for item, _ in minibatch})
      if pool == 1:
        assert distinct <= batch // per_item
  if pool > 1:
    mixed = [len({item for item, _ in minibatch}) for minibatch in minibatches]
    assert np.mean(mixed) > batch // per_item, mixed


def test_an_iteration_longer_than_one_call_runs_as_several(params, server, tmp_path, monkeypatch):
  """train_steps_per_iteration is the schedule; the tf.function call length is not: an
  iteration of 25 steps with calls of at most 10 runs as 10 + 10 + 5 and then pushes once."""
  from sac_system.learner import SacLearner
  from sac_system.workers import Worker
  monkeypatch.setattr(constants, "TRAIN_STEPS_PER_CALL", 10)
  params.train_steps_per_iteration = 25
  address = f"127.0.0.1:{server.port}"
  learner = SacLearner(params, str(tmp_path), address)
  worker = Worker(params, 0, str(tmp_path), address)
  calls = []
  run = learner._learner.run

  def counted(iterations, iterator):
    calls.append(iterations)
    return run(iterations=iterations, iterator=iterator)

  monkeypatch.setattr(learner._learner, "run", counted)
  # 60 env steps: the warm-up of 40 and, with the rate limiter's slack, ~60 gradient steps'
  # worth of samples (more and the rate limiter would hold the worker's inserts)
  for _ in range(3):
    assert worker.run_iteration()
  assert learner.train_iteration()
  assert learner.step == 25 and learner.iteration == 1 and calls == [10, 10, 5]
