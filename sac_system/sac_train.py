"""The learner program of a run.

Inputs: --params, --config, --exp_dir, --replay_address (host:port), --seed.
Outputs: learner checkpoints in EXP/train/ (resumed at start), policy SavedModels in
EXP/policies/ and policy checkpoints in EXP/policies/checkpoints/, reports in
EXP/metrics.jsonl and EXP/summaries/learner/.
Talks to: the replay server (samples transitions, pushes weights and train_step).
Exits 0 when train_step reaches num_iterations * train_steps_per_iteration, or after saving
on SIGTERM/SIGINT; 3 when the replay server stopped answering for
replay_server_timeout_seconds.
"""

from absl import app
from absl import flags

from sac_system import constants
from sac_system import deadlines
from sac_system import program

program.define_run_flags()
program.define_client_flags()


def main(argv):
  del argv
  logger, params, stop = program.start_program(constants.LEARNER_PROGRAM)
  import tensorflow as tf

  from sac_system import seeds
  from sac_system.learner import SacLearner
  tf.random.set_seed(seeds.learner_seed(params.seed))

  def run():
    reporter = program.connect_and_make_reporter(constants.LEARNER_PROGRAM, logger, stop,
                                                 params.replay_server_timeout_seconds)
    if reporter is None:
      return 1
    learner = SacLearner(params, flags.FLAGS.exp_dir, flags.FLAGS.replay_address, logger, reporter)
    learner.run(stop)
    return 0

  return deadlines.exit_when_replay_server_gone(run, logger)


if __name__ == "__main__":
  app.run(main)
