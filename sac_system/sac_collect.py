"""A collect/eval worker program of a run (see workers.py for what a worker does).

Inputs: --params, --config, --exp_dir, --replay_address (host:port), --worker_id (default:
the SLURM_PROCID environment variable, else 0), --seed.
Outputs: transitions into the replay table; reports (collection, evaluation, curriculum) in
EXP/metrics.jsonl and EXP/summaries/worker_<i>/.
Talks to: the replay server (inserts transitions, pulls weights and train_step).
Exits 0 when the learner's train_step reaches the step budget (after a final evaluation),
or on SIGTERM/SIGINT; 3 when the replay server stopped answering for
replay_server_timeout_seconds.
"""

import os

from absl import app
from absl import flags

from sac_system import constants
from sac_system import deadlines
from sac_system import program

program.define_run_flags()
program.define_client_flags()
flags.DEFINE_integer("worker_id", None, "Worker index; default: $SLURM_PROCID, else 0.")


def main(argv):
  del argv
  worker_id = flags.FLAGS.worker_id
  if worker_id is None:
    worker_id = int(os.environ.get("SLURM_PROCID", "0"))
  name = constants.worker_program(worker_id)
  logger, params, stop = program.start_program(name)
  from sac_system.workers import Worker

  def run():
    reporter = program.connect_and_make_reporter(name, logger, stop,
                                                 params.replay_server_timeout_seconds)
    if reporter is None:
      return 1
    worker = Worker(params, worker_id, flags.FLAGS.exp_dir, flags.FLAGS.replay_address,
                    reporter=reporter, logger=logger)
    logger.info("worker %d started (SLURM_PROCID=%s)", worker_id, os.environ.get("SLURM_PROCID"))
    worker.run(stop)
    return 0

  return deadlines.exit_when_replay_server_gone(run, logger)


if __name__ == "__main__":
  app.run(main)
