"""A collect/eval worker program of a run (see workers.py for what a worker does).

Inputs: --params, --config, --exp_dir, --replay_address (host:port), --worker_id (default:
the SLURM_PROCID environment variable, else 0), --seed.
Outputs: transitions into the replay table; reports (collection, evaluation, curriculum) in
EXP/metrics.jsonl and EXP/summaries/worker_<i>/.
Talks to: the replay server (inserts transitions, pulls weights and train_step).
Exits 0 when the learner's train_step reaches the step budget (after a final evaluation),
or on SIGTERM/SIGINT.
"""

import os

from absl import app
from absl import flags

from sac_system import constants
from sac_system import runtime

runtime.define_run_flags()
flags.DEFINE_string("replay_address", None, "host:port of the replay server.")
flags.DEFINE_integer("worker_id", None, "Worker index; default: $SLURM_PROCID, else 0.")
flags.DEFINE_float("connect_timeout", 300.0, "Seconds to wait for the replay server.")
flags.mark_flag_as_required("replay_address")


def main(argv):
  del argv
  worker_id = flags.FLAGS.worker_id
  if worker_id is None:
    worker_id = int(os.environ.get("SLURM_PROCID", "0"))
  program = constants.worker_program(worker_id)
  logger = runtime.setup_process(program)
  params = runtime.load_params_from_flags()
  runtime.configure_tensorflow_threads(logger)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from sac_system.metrics import MetricsReporter  # pylint: disable=import-outside-toplevel
  from sac_system.workers import Worker  # pylint: disable=import-outside-toplevel
  stop = runtime.StopFlag(logger).install()
  address = flags.FLAGS.replay_address
  if not runtime.wait_for(f"the replay server at {address}",
                          runtime.replay_server_ready(address, (constants.REPLAY_TABLE,
                                                                constants.VARIABLE_TABLE)),
                          flags.FLAGS.connect_timeout, logger, stop):
    return 1
  exp_dir = flags.FLAGS.exp_dir
  writer = tf.summary.create_file_writer(os.path.join(exp_dir, constants.SUMMARIES_DIR, program))
  worker = Worker(params, worker_id, exp_dir, address,
                  reporter=MetricsReporter(exp_dir, program, writer), logger=logger)
  logger.info("worker %d started (SLURM_PROCID=%s)", worker_id, os.environ.get("SLURM_PROCID"))
  worker.run(stop)
  return 0


if __name__ == "__main__":
  app.run(main)
