"""A collect/eval worker: acts in its own environments with the learner's latest policy.

Worker i builds `envs_per_worker` collection envs and one evaluation env with
`TrainParams.env_ctor()` and the args of `collect_env_args_kwargs()` /
`eval_env_args_kwargs()`, seeded from the run seed, i and the env steps it already
collected (`seeds.py`: a restarted worker does not replay its episodes). In a loop it pulls the
learner's weights and `train_step`, applies the curriculum for the learner's iteration with
`env.set_state` (on every collection env), evaluates the greedy policy every `eval_interval`
iterations on fixed seeds, and collects at least `collect_steps_per_iteration` env steps into
the replay table: the collection envs step in lockstep with one batched policy call per
vector step, and every `steps_per_item` vector steps are one replay item (`replay_buffer.py`).
Until the learner's first update (train_step 0) it acts uniformly at random.
"""

import logging
import time
from typing import Optional

import numpy as np
import reverb
import tensorflow as tf
from tf_agents.policies import greedy_policy
from tf_agents.policies import py_tf_eager_policy
from tf_agents.train.utils import spec_utils
from tf_agents.train.utils import train_utils
from tf_agents.trajectories import time_step as time_step_lib

from sac_system import constants
from sac_system import deadlines
from sac_system import env_contract
from sac_system import metrics
from sac_system import replay_buffer
from sac_system import seeds
from sac_system.curriculum import Curriculum
from sac_system.episodes import CollectStats
from sac_system.episodes import run_episodes
from sac_system.episodes import summarize_episodes
from sac_system.numpy_policy import NumpyActorPolicy
from sac_system.numpy_policy import matches_tf_policy
from sac_system.train_params_base import TrainParamsBase

# Seconds between a worker's collection reports.
REPORT_INTERVAL_S = 10.0
# A flush that waits longer than this (the rate limiter holds inserts while the learner
# catches up) returns to the loop, which then checks whether training has ended.
FLUSH_TIMEOUT_MS = 1_000
# How often a worker held back by the rate limiter says so.
WAIT_LOG_INTERVAL_S = 30.0
# Give up when the learner has not published weights for this long.
VARIABLES_TIMEOUT_S = 600.0

_LAST = int(time_step_lib.StepType.LAST)


class Worker:
  """Collect/eval worker `worker_id` of a run."""

  def __init__(self, params: TrainParamsBase, worker_id: int, exp_dir: str,
               server_address: Optional[str] = None, variable_source=None, replay_writer=None,
               reporter=None, logger: Optional[logging.Logger] = None):
    """Builds the environments, the policies and the connections.

    Args:
      params: The `TrainParams`.
      worker_id: This worker's index (SLURM_PROCID); selects its seeds.
      exp_dir: The run's exp dir.
      server_address: "host:port" of the replay server; may be None when both
        `variable_source` and `replay_writer` are given (tests).
      variable_source: Has `ready()` and `pull() -> train_step`; defaults to the variable
        table at `server_address`.
      replay_writer: Observer that stores trajectories and has `wait_until_written` and
        `close`; defaults to a `ReplayWriter` on `server_address`.
      reporter: A `metrics.MetricsReporter`, or None for no reports.
      logger: Where progress is logged.
    """
    self.params = params
    self.worker_id = worker_id
    self.exp_dir = exp_dir
    self.logger = logger or logging.getLogger(constants.worker_program(worker_id))
    self.reporter = reporter
    # A restarted worker continues from where its last report left off, with seeds of its own
    # (the env steps already collected are mixed in), so it does not replay the episodes of
    # its first start.
    self._env_steps_offset = self._previous_env_steps()
    policy_seed = seeds.policy_seed(params.seed, worker_id, self._env_steps_offset)
    tf.random.set_seed(policy_seed)
    self.collect_envs = [
        params.make_collect_env(
            seed=seeds.collect_env_seed(params.seed, worker_id, self._env_steps_offset, env_index))
        for env_index in range(params.envs_per_worker)]
    self.eval_env = params.make_eval_env()
    for line in env_contract.fallback_warnings(self.eval_env):
      self.logger.warning(line)
    self.eval_seeds = seeds.eval_episode_seeds(params.seed, worker_id, params.eval_episodes)
    self.train_step = train_utils.create_train_step()
    agent = params.build_agent(self.train_step,
                               specs=spec_utils.get_tensor_specs(self.collect_envs[0]))
    self.policy_variables = agent.collect_policy.variables()
    self.collect_policy, self.eval_policy = self._make_policies(agent, policy_seed)
    self._numpy_collect = isinstance(self.collect_policy, NumpyActorPolicy)
    self._random_actions = np.random.default_rng(policy_seed)
    self.variable_source = variable_source or replay_buffer.VariableTable(
        server_address, replay_buffer.policy_variables(agent, self.train_step),
        params.replay_server_timeout_seconds, self.logger)
    self.codec = replay_buffer.TransitionCodec.for_agent(params, agent)
    self.replay_writer = replay_writer or replay_buffer.ReplayWriter(reverb.Client(server_address))
    self.curriculum = Curriculum.from_config(params.env_config.get("curriculum"),
                                             params.config_path)
    self._stats = CollectStats(len(self.collect_envs))
    self._last_eval_train_step = -1
    self._next_eval_iteration = 0
    self._last_report = (time.monotonic(), self.env_steps)
    self._pull_seconds: list = []  # durations of the weight pulls since the last report
    # Policy lag: learner steps between the weights a chunk was collected with and the ones
    # pulled once it was written (the learner's step at insertion, to within the learner's
    # push period of train_steps_per_iteration), per chunk since the last report.
    self._collected_with: Optional[int] = None
    self._lags: list = []
    self._time_steps = None
    self._item = np.empty((params.transitions_per_item, self.codec.size), np.float32)
    self._item_rows = 0  # rows of `_item` filled so far
    self.last_train_step = 0

  @property
  def collect_env(self):
    """The first collection env (all of them share specs and state)."""
    return self.collect_envs[0]

  def _make_policies(self, agent, seed: int):
    """The collect (sampling) and greedy eval policies: numpy copies of the actor when they
    compute what the TF actor does (`numpy_policy`), else tf-agents' policies."""
    env = self.collect_env
    collect = NumpyActorPolicy(env.time_step_spec(), env.action_spec(), self.policy_variables,
                               greedy=False, seed=seed)
    if matches_tf_policy(collect, agent, env.observation_spec()):
      greedy = NumpyActorPolicy(env.time_step_spec(), env.action_spec(), self.policy_variables,
                                greedy=True)
      self._numpy_policies = [collect, greedy]
      self.logger.info("acting with the numpy copy of the actor (checked against TF)")
      return collect, greedy
    self._numpy_policies = []
    self.logger.warning("the params' actor is not the tanh-Gaussian MLP numpy_policy mirrors; "
                        "acting through TensorFlow (slower)")
    # The collect policy acts for all collection envs at once (a batch of time steps).
    return (py_tf_eager_policy.PyTFEagerPolicy(agent.collect_policy, use_tf_function=True,
                                               batch_time_steps=False),
            py_tf_eager_policy.PyTFEagerPolicy(greedy_policy.GreedyPolicy(agent.policy),
                                               use_tf_function=True, batch_time_steps=True))

  def _pull(self) -> int:
    """Pulls the learner's weights and train_step; the numpy policies copy the new weights."""
    started = time.monotonic()
    train_step = self.variable_source.pull()
    self._pull_seconds.append(time.monotonic() - started)
    for policy in self._numpy_policies:
      policy.refresh()
    return train_step

  @property
  def source(self) -> str:
    return constants.worker_program(self.worker_id)

  @property
  def env_steps(self) -> int:
    """Env steps this worker collected in this run, including before a restart."""
    return self._env_steps_offset + self._stats.env_steps

  def _previous_env_steps(self) -> int:
    """A restarted worker continues its env-step count from its last report."""
    previous = metrics.read_records(self.exp_dir, self.source) if self.exp_dir else []
    return int(previous[-1].get("env_steps", 0)) if previous else 0

  def _report(self, train_step: int, values: dict) -> None:
    if self.reporter is not None:
      self.reporter.report(train_step, self.params.iteration_of(train_step), self.env_steps, values)

  def apply_curriculum(self, train_step: int) -> dict:
    """Applies every curriculum entry the learner's iteration has reached; returns changes."""
    changes = self.curriculum.advance(self.params.iteration_of(train_step))
    if changes:
      for env in self.collect_envs:
        env.set_state(changes)
      if self.params.eval_follows_curriculum:
        self.eval_env.set_state(changes)
      self.logger.info("curriculum at iteration %d: set_state(%s)",
                       self.params.iteration_of(train_step), changes)
      self._report(train_step, {
          f"curriculum/{k}": v for k, v in self.curriculum.values_in_force.items()})
    return changes

  def evaluate(self, train_step: int) -> dict:
    """Runs the greedy policy on the eval env for `eval_episodes` fixed seeds and reports."""
    start = time.monotonic()
    results = run_episodes(self.eval_env, self.eval_policy, self.eval_seeds)
    values = summarize_episodes(results, "eval")
    values["eval/seconds"] = time.monotonic() - start
    self._last_eval_train_step = train_step
    self.logger.info("eval at train_step %d: average return %.1f +- %.1f over %d episodes",
                     train_step, values["eval/average_return"], values["eval/return_std"],
                     len(results))
    self._report(train_step, values)
    return values

  def report_collection(self, train_step: int) -> None:
    now, env_steps = time.monotonic(), self.env_steps
    last_time, last_steps = self._last_report
    values = {
        "throughput/env_steps_per_second": (env_steps - last_steps) / max(now - last_time, 1e-9),
        "collect/episodes": float(self._stats.episodes)}
    if self._pull_seconds:  # how long fetching the learner's weights takes (scaling benchmark)
      values["timing/weight_pull_ms_median"] = 1000 * float(np.median(self._pull_seconds))
      values["timing/weight_pull_ms_max"] = 1000 * float(np.max(self._pull_seconds))
      self._pull_seconds = []
    if self._lags:  # how stale the acting policy is (docs/design.md §2.5)
      values["collect/policy_lag_median"] = float(np.median(self._lags))
      values["collect/policy_lag_p90"] = float(np.percentile(self._lags, 90))
      values["collect/policy_lag_max"] = float(np.max(self._lags))
      self._lags = []
    if self._stats.returns:
      values["collect/average_return"] = float(np.mean(self._stats.returns))
      values["collect/average_episode_length"] = float(np.mean(self._stats.lengths))
    # Optional env method: environments that draw parameters per episode return them.
    states = [
        state for env in self.collect_envs for state in getattr(env, "pop_episode_states", list)()]
    values.update(metrics.summarize_episode_states(states))
    self._report(train_step, values)
    self._last_report = (now, env_steps)

  def _actions(self, train_step: int, time_steps) -> np.ndarray:
    """One action per collection env: uniformly random before the first update, else from
    one batched call of the collect policy."""
    if train_step == 0:
      spec = self.collect_envs[0].action_spec()
      return self._random_actions.uniform(spec.minimum, spec.maximum,
                                          (len(time_steps),) + spec.shape).astype(spec.dtype)
    if self._numpy_collect:  # the fast path: no nest handling
      if len(time_steps) == 1:
        return self.collect_policy.actions(time_steps[0].observation[None])
      return self.collect_policy.actions(np.stack([step.observation for step in time_steps]))
    batch = tf.nest.map_structure(lambda *leaves: np.stack(leaves), *time_steps)
    return np.asarray(self.collect_policy.action(batch).action)

  def collect(self, train_step: int) -> None:
    """Collects at least `collect_steps_per_iteration` env steps in vector steps over the
    collection envs; every `steps_per_item` vector steps make one replay item (an item not
    yet full waits for the next call).

    An env whose episode ended is reset at once, so every vector step yields a transition
    from every env (no LAST -> FIRST boundary steps).
    """
    envs = self.collect_envs
    if self._time_steps is None:
      self._time_steps = [env.reset() for env in envs]
    for _ in range(self.params.vector_steps_of(self.params.collect_steps_per_iteration)):
      actions = self._actions(train_step, self._time_steps)
      for index, (env, time_step, action) in enumerate(zip(envs, self._time_steps, actions)):
        next_step = env.step(action)
        self._item[self._item_rows] = self.codec.pack_transition(time_step, action, next_step)
        self._item_rows += 1
        # not TimeStep.is_last(): its tf.is_tensor check is slow in this hot loop
        ended = int(next_step.step_type) == _LAST
        self._stats.observe(index, float(next_step.reward), ended)
        self._time_steps[index] = env.reset() if ended else next_step
      if self._item_rows == len(self._item):
        self.replay_writer(self._item.copy())
        self._item_rows = 0

  def _wait_until_written(self, stop) -> Optional[int]:
    """Waits for the replay server to accept this chunk (the rate limiter holds inserts while
    the learner catches up), logging the wait every WAIT_LOG_INTERVAL_S.

    Returns:
      None when written, or the train_step pulled meanwhile when training has ended or a
      stop was requested.
    """
    start = last_log = time.monotonic()
    while True:
      try:
        self.replay_writer.wait_until_written(FLUSH_TIMEOUT_MS)
        return None
      except reverb.errors.DeadlineExceededError:
        train_step = self._pull()
        if stop or train_step >= self.params.total_train_steps:
          return train_step
        if time.monotonic() - last_log >= WAIT_LOG_INTERVAL_S:
          last_log = time.monotonic()
          self.logger.info(
              "waiting %.0f s for the replay server to accept experience: the rate "
              "limiter holds inserts until the learner samples (train_step %d)", last_log - start,
              train_step)

  def run_iteration(self, stop=None) -> bool:
    """One pull / curriculum / eval / collect cycle. Returns False when training has ended."""
    train_step = self._pull()
    if self._collected_with is not None:
      self._lags.append(train_step - self._collected_with)
      self._collected_with = None
    self.last_train_step = train_step
    iteration = self.params.iteration_of(train_step)
    if train_step >= self.params.total_train_steps:
      if self._last_eval_train_step != train_step:
        self.evaluate(train_step)
      return False
    self.apply_curriculum(train_step)
    if train_step > 0 and iteration >= self._next_eval_iteration:
      self.evaluate(train_step)
      self._next_eval_iteration = (iteration // self.params.eval_interval
                                   + 1) * self.params.eval_interval
    self.collect(train_step)
    if train_step > 0:  # random actions before the first update have no weights
      self._collected_with = train_step
    ended = self._wait_until_written(stop)
    if ended is not None and ended >= self.params.total_train_steps:
      return True  # the next cycle sees the final train_step and runs the final evaluation
    if time.monotonic() - self._last_report[0] >= REPORT_INTERVAL_S:
      self.report_collection(train_step)
    return True

  def run(self, stop=None, max_iterations: Optional[int] = None) -> None:
    """Runs until training ends, `stop` is set, or `max_iterations` cycles have run."""
    if not deadlines.wait_for("the learner's first weights in the variable table",
                              self.variable_source.ready, VARIABLES_TIMEOUT_S, self.logger, stop):
      return
    count = 0
    try:
      while not stop and (max_iterations is None or count < max_iterations):
        if not self.run_iteration(stop):
          self.logger.info("training ended at train_step %d; worker exits", self.last_train_step)
          break
        count += 1
      self.report_collection(self.last_train_step)
    finally:
      self.replay_writer.close()
