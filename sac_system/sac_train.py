"""The learner program of a run.

Inputs: --params, --config, --exp_dir, --replay_address (host:port), --seed.
Outputs: learner checkpoints in EXP/train/ (resumed at start), policy SavedModels in
EXP/policies/ and policy checkpoints in EXP/policies/checkpoints/, reports in
EXP/metrics.jsonl and EXP/summaries/learner/.
Talks to: the replay server (samples transitions, pushes weights and train_step).
Exits 0 when train_step reaches num_iterations * train_steps_per_iteration, or after saving
on SIGTERM/SIGINT.
"""

import os

from absl import app
from absl import flags

from sac_system import constants
from sac_system import runtime

runtime.define_run_flags()
flags.DEFINE_string("replay_address", None, "host:port of the replay server.")
flags.DEFINE_float("connect_timeout", 300.0, "Seconds to wait for the replay server.")
flags.mark_flag_as_required("replay_address")


def main(argv):
  del argv
  logger = runtime.setup_process(constants.LEARNER_PROGRAM)
  params = runtime.load_params_from_flags()
  runtime.configure_tensorflow_threads(logger)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from sac_system.learner import SacLearner  # pylint: disable=import-outside-toplevel
  from sac_system.metrics import MetricsReporter  # pylint: disable=import-outside-toplevel
  stop = runtime.StopFlag(logger).install()
  address = flags.FLAGS.replay_address
  tf.random.set_seed(runtime.derive_seed(params.seed, 1_000_003))
  if not runtime.wait_for(f"the replay server at {address}",
                          runtime.replay_server_ready(address, (constants.REPLAY_TABLE,
                                                                constants.VARIABLE_TABLE)),
                          flags.FLAGS.connect_timeout, logger, stop):
    return 1
  exp_dir = flags.FLAGS.exp_dir
  writer = tf.summary.create_file_writer(
      os.path.join(exp_dir, constants.SUMMARIES_DIR, constants.LEARNER_PROGRAM))
  reporter = MetricsReporter(exp_dir, constants.LEARNER_PROGRAM, writer)
  learner = SacLearner(params, exp_dir, address, logger, reporter)
  learner.run(stop)
  return 0


if __name__ == "__main__":
  app.run(main)
