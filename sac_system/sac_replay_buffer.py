"""The replay buffer of a run: one Reverb server with the replay table and the variable table.

Inputs: --params and --config (the table signatures come from the agent they build),
--exp_dir, --port.
Outputs: replay checkpoints in EXP/replay_buffer/, every `replay_checkpoint_interval_seconds` and on
SIGTERM/SIGINT; the latest complete one there is restored at start, so replay data survives a
restart. (Reverb writes each checkpoint into a new directory and marks it complete with a DONE
file last; a server killed mid-checkpoint restarts from the previous complete one.)
Talks to: the learner (samples transitions, pushes weights) and the workers (insert
transitions, pull weights); they connect to host:port.
"""

import shutil
import time

from absl import app
from absl import flags

from sac_system import constants
from sac_system import program

program.define_run_flags()
flags.DEFINE_integer("port", None, "Port to serve on.")
flags.mark_flag_as_required("port")


def checkpoint_or_say_why(client, logger, retry_s):
  """Writes a replay checkpoint; on a full disk, says so in one line, removes the unfinished
  one (a complete checkpoint has a DONE file: the newest complete one stays) and returns None,
  so that the server serves on from memory and tries again `retry_s` later."""
  from sac_system import files
  from sac_system import replay_buffer
  try:
    return client.checkpoint()
  except Exception as error:  # Reverb reports a failed write as several types
    if not files.disk_full(error):
      raise
    for unfinished in replay_buffer.replay_checkpoints(flags.FLAGS.exp_dir)[1]:
      shutil.rmtree(unfinished, ignore_errors=True)
    logger.error(
        "disk full: the replay checkpoint was not written (%s); serving on from memory, the "
        "last complete replay checkpoint is kept%s",
        str(error).splitlines()[0][:200], f"; trying again in {retry_s:.0f} s"
        if retry_s else ": the transitions since it are lost when the server stops")
    return None


def main(argv):
  del argv
  logger, params, stop = program.start_program(constants.REPLAY_PROGRAM)
  from sac_system import replay_buffer
  server = replay_buffer.make_server(params, flags.FLAGS.exp_dir, flags.FLAGS.port, logger)
  client = server.localhost_client()

  def table_counts():
    """(transitions stored, transitions ever inserted), from one server_info call."""
    info = client.server_info()[constants.REPLAY_TABLE]
    return (replay_buffer.transitions_stored(info, params.transitions_per_item),
            replay_buffer.inserts_completed(info, params.transitions_per_item))

  size, checkpointed_inserts = table_counts()
  logger.info(
      "replay server up on port %d; the replay table holds %d transitions (restored "
      "from %s when a checkpoint was there)", server.port, size,
      replay_buffer.checkpoint_dir(flags.FLAGS.exp_dir))
  last_checkpoint = time.monotonic()
  # The size is read before each checkpoint: the checkpoint holds at least that many
  # transitions (the table only shrinks below it when full, by FIFO removal of old ones).
  # A table nothing was inserted into since the last checkpoint is not written again.
  while not stop.wait(1.0):
    if time.monotonic() - last_checkpoint >= params.replay_checkpoint_interval_seconds:
      size, inserts = table_counts()
      if inserts != checkpointed_inserts:
        started = time.monotonic()
        path = checkpoint_or_say_why(client, logger, params.replay_checkpoint_interval_seconds)
        if path is not None:
          logger.info("replay checkpoint written in %.1f s: %s (at least %d transitions)",
                      time.monotonic() - started, path, size)
          checkpointed_inserts = inserts
      last_checkpoint = time.monotonic()
  size, _ = table_counts()
  path = checkpoint_or_say_why(client, logger, None)
  if path is not None:
    logger.info("final replay checkpoint on %s written: %s (at least %d transitions)",
                stop.signal_name, path, size)
  server.stop()
  logger.info("replay server stopped")
  return 0


if __name__ == "__main__":
  app.run(main)
