"""The SAC learner: samples minibatches from Reverb, updates, pushes weights, checkpoints.

One *iteration* is `train_steps_per_iteration` gradient steps run inside one `tf.function`
call (tf-agents `Learner.run`), followed by a push of the actor weights and `train_step` to
the variable table. The learner resumes from its latest checkpoint in EXP/train, writes the
policy SavedModels and `policies/checkpoints/policy_checkpoint_%010d`, and reports losses,
alpha and throughput to metrics.jsonl and TensorBoard.
"""

import logging
import os
import time
from typing import Optional

import tensorflow as tf
from tf_agents.train import learner as tf_agents_learner
from tf_agents.train import triggers
from tf_agents.train.utils import train_utils

from sac_system import checkpoints
from sac_system import constants
from sac_system import deadlines
from sac_system import metrics
from sac_system import replay_buffer
from sac_system.metrics import MetricsReporter
from sac_system.train_params_base import TrainParamsBase


class AtomicPolicySavedModelTrigger(triggers.PolicySavedModelTrigger):
  """Writes each policy checkpoint under a temporary name and renames it into place, so a
  crash mid-write never leaves a half-written `policy_checkpoint_%010d` that run.py or a
  resume would pick up (tf-agents' trigger writes into the final directory)."""

  def _save_fn(self) -> None:
    self._agent.post_process_policy()
    name = constants.POLICY_CHECKPOINT_FORMAT % self._train_step.numpy()
    final = os.path.join(self._checkpoint_dir, name)
    partial = os.path.join(self._checkpoint_dir, "." + name + ".partial")
    if tf.io.gfile.exists(partial):
      tf.io.gfile.rmtree(partial)
    self._raw_policy_saver.save_checkpoint(partial)
    if tf.io.gfile.exists(final):
      tf.io.gfile.rmtree(final)  # the same train_step saved again (a forced final save)
    os.replace(partial, final)


class SacLearner:
  """Trains the agent of `params` from the replay table at `server_address`."""

  def __init__(self, params: TrainParamsBase, exp_dir: str, server_address: str,
               logger: Optional[logging.Logger] = None, reporter: Optional[MetricsReporter] = None):
    """Builds the agent, restores the latest learner checkpoint and connects to Reverb.

    Args:
      params: The `TrainParams`.
      exp_dir: The run's exp dir (checkpoints in EXP/train, policies in EXP/policies).
      server_address: "host:port" of the replay server.
      logger: Where progress is logged.
      reporter: Where metrics are reported; None for no reports.
    """
    self.params = params
    self.exp_dir = exp_dir
    self.server_address = server_address
    self.logger = logger or logging.getLogger(constants.LEARNER_PROGRAM)
    self.reporter = reporter
    self.train_step = train_utils.create_train_step()
    self.agent = params.build_agent(self.train_step)
    self._codec = replay_buffer.TransitionCodec.for_agent(params, self.agent)
    self._variable_table = replay_buffer.VariableTable(
        server_address, replay_buffer.policy_variables(self.agent, self.train_step),
        params.replay_server_timeout_seconds, self.logger)
    learner_checkpoints = os.path.join(exp_dir, constants.TRAIN_DIR,
                                       constants.LEARNER_CHECKPOINTS_DIR)
    # A checkpoint write cut short (a full disk, a kill) leaves `ckpt-N_temp` or a partly
    # merged `ckpt-N`; the complete checkpoints before it are untouched.
    checkpoints.set_aside_unfinished(exp_dir, self.logger.warning)
    resuming = tf.train.latest_checkpoint(learner_checkpoints) is not None
    if not resuming and not self._variable_table.ready():
      # A new run: the workers may start their random warm-up now, while the policy
      # SavedModels below are written (seconds), instead of waiting for `run`'s first push.
      self.push_variables()
    self._policy_trigger = AtomicPolicySavedModelTrigger(
        os.path.join(exp_dir, constants.POLICIES_DIR), self.agent, self.train_step,
        interval=params.policy_checkpoint_interval)
    # The dataset is passed to `run` rather than to the Learner, so that an iterator ended by
    # a rate-limiter timeout can be replaced; summaries are written by `report` instead.
    # A resumed learner traces one train step before its checkpoint is restored, so that the
    # optimizers' slot variables exist to take their saved values. A new run has nothing to
    # restore: its first train call creates them, which saves a trace (of
    # single-threaded start-up, while the workers' warm-up is already done).
    self._learner = tf_agents_learner.Learner(
        exp_dir, self.train_step, self.agent, experience_dataset_fn=None,
        triggers=[self._policy_trigger], checkpoint_interval=params.learner_checkpoint_interval,
        summary_interval=0, max_checkpoints_to_keep=3, run_optimizer_variable_init=resuming)
    self._checkpoint_trigger = next(trigger for trigger in self._learner.triggers
                                    if trigger is not self._policy_trigger)
    self._iterator = None
    self._last_report = (time.monotonic(), self.step)
    self._last_checkpoint_time = time.monotonic()
    self._last_loss = None
    self._env_steps = 0

  @property
  def step(self) -> int:
    return int(self.train_step.numpy())

  @property
  def iteration(self) -> int:
    return self.params.iteration_of(self.step)

  def push_variables(self) -> None:
    """Pushes actor weights and train_step to the variable table for the workers."""
    self._variable_table.push()

  def make_dataset(self) -> tf.data.Dataset:
    """Minibatches of 2-step trajectories from the replay table (`replay_buffer.make_dataset`)."""
    return replay_buffer.make_dataset(self.server_address, self.params, self._codec)

  def _make_iterator(self):
    return iter(self.make_dataset())

  def train_iteration(self, stop=None) -> bool:
    """Runs the gradient steps of one iteration (fewer if the budget ends first).

    Returns:
      True when the iteration completed; False when sampling timed out (the rate limiter is
      waiting for the workers' experience) or a stop was requested while waiting.
    """
    per_iteration = self.params.train_steps_per_iteration
    steps = min(per_iteration - self.step % per_iteration,
                self.params.total_train_steps - self.step)
    if self._iterator is None:
      self._iterator = self._make_iterator()
    try:
      while steps > 0:  # calls of at most TRAIN_STEPS_PER_CALL steps
        call = min(steps, constants.TRAIN_STEPS_PER_CALL)
        self._last_loss = self._learner.run(iterations=call, iterator=self._iterator)
        steps -= call
      return True
    except (tf.errors.OutOfRangeError, tf.errors.DeadlineExceededError):
      # The sample call timed out: the dataset has ended. Replace it and say why we wait.
      self._iterator = None
      self._log_wait(stop)
      return False

  def _table_info(self):
    """The replay table's info, or None (logged) when the server does not answer."""
    try:
      return replay_buffer.replay_table_info(self.server_address)
    except Exception as error:  # noqa: BLE001  Reverb raises several types
      self.logger.warning("replay server at %s does not answer: %s", self.server_address,
                          deadlines.first_line(error))
      return None

  def _log_wait(self, stop):
    info = self._table_info()
    if info is None:
      replay_buffer.wait_for_replay_server(self.server_address,
                                           self.params.replay_server_timeout_seconds, self.logger,
                                           stop)
      return
    self.logger.info(
        "waiting for experience from the workers: the replay table holds %d "
        "transitions (sampling starts at min_size_to_sample=%d; then the rate "
        "limiter keeps %.1f samples per insert)",
        replay_buffer.transitions_stored(info, self.params.transitions_per_item),
        self.params.min_size_to_sample, self.params.samples_per_insert)

  def report(self) -> None:
    """Reports losses, alpha, throughput and env steps (metrics.jsonl and TensorBoard)."""
    if self.reporter is None:
      return
    now, step = time.monotonic(), self.step
    last_time, last_step = self._last_report
    values = {"throughput/grad_steps_per_second": (step - last_step) / max(now - last_time, 1e-9)}
    if self._last_loss is not None:
      extra = self._last_loss.extra
      values["learner/loss"] = float(self._last_loss.loss)
      values["learner/critic_loss"] = float(extra.critic_loss)
      values["learner/actor_loss"] = float(extra.actor_loss)
      values["learner/alpha_loss"] = float(extra.alpha_loss)
    # SacAgent has no public accessor for the temperature.
    values["learner/alpha"] = float(tf.exp(self.agent._log_alpha))  # noqa: SLF001
    info = self._table_info()
    if info is not None:
      values["replay/size"] = replay_buffer.transitions_stored(info,
                                                               self.params.transitions_per_item)
      self._env_steps = replay_buffer.inserts_completed(info, self.params.transitions_per_item)
    self.reporter.report(step, self.iteration, self._env_steps, values)
    self._last_report = (now, step)

  def save(self) -> None:
    """Writes a learner checkpoint and a policy checkpoint at the current train_step."""
    for trigger in self._learner.triggers:
      trigger(self.step, force_trigger=True)
    self._last_checkpoint_time = time.monotonic()

  def checkpoint_if_due(self) -> bool:
    """Writes a learner checkpoint when learner_checkpoint_interval_seconds have passed since
    the last one (the step-based interval is handled inside tf-agents' Learner)."""
    if (time.monotonic() - self._last_checkpoint_time
        < self.params.learner_checkpoint_interval_seconds):
      return False
    self._checkpoint_trigger(self.step, force_trigger=True)
    self._last_checkpoint_time = time.monotonic()
    return True

  def continue_count_from_pushed_step(self) -> None:
    """Keeps train_step from going backwards across a learner crash.

    A learner killed between two checkpoints restarts from its last checkpoint, but workers
    have already seen (and reported, and followed the curriculum to) the train_step it
    pushed since. The count then continues from that pushed train_step: the gradient steps
    after the checkpoint are lost (bounded by the checkpoint intervals), never counted twice.
    """
    # The variable table may itself have been restored from an older replay checkpoint, so
    # the train_steps already reported in metrics.jsonl count as seen too.
    reported = [record.get("train_step", 0) for record in metrics.read_records(self.exp_dir)]
    pushed = max([self._variable_table.pushed_train_step() or 0] + reported)
    if pushed > self.step:
      self.logger.warning(
          "the learner checkpoint is at train_step %d but train_step %d was already reached "
          "(pushed to the workers or reported in metrics.jsonl; the learner stopped without "
          "saving); continuing the count from %d so that train_step never goes backwards (%d "
          "gradient steps were lost)", self.step, pushed, pushed, pushed - self.step)
      self.train_step.assign(pushed)

  def run(self, stop=None) -> int:
    """Trains until the step budget is reached or `stop` is set; saves on the way out.

    Returns:
      The final train_step.
    """
    total = self.params.total_train_steps
    if self.step:
      self.logger.info("resumed from the learner checkpoint at train_step %d (iteration %d)",
                       self.step, self.iteration)
    self.continue_count_from_pushed_step()
    start = self.step
    self.push_variables()  # workers get this learner's weights at once
    self.logger.info("training from train_step %d to %d (%d iterations of %d gradient steps)",
                     start, total, self.params.num_iterations,
                     self.params.train_steps_per_iteration)
    last_report_bucket = start // self.params.summary_interval
    while self.step < total and not stop:
      if not self.train_iteration(stop):
        continue
      self.push_variables()
      self.checkpoint_if_due()
      bucket = self.step // self.params.summary_interval
      if bucket > last_report_bucket:
        last_report_bucket = bucket
        self.report()
    if self.step > start:
      self.save()
      self.push_variables()
      self.report()
    if self.step >= total:
      self.logger.info("reached the step budget: train_step %d", self.step)
    else:
      self.logger.info("stopped at train_step %d; checkpoints saved", self.step)
    return self.step
