#!/usr/bin/env bash
# Runs the N+2 programs of a training run (also what the SLURM batch job runs):
#   ./train_script.sh training_variables.sh
# The launcher (sac_system/launcher.py) reads Cpus_allowed_list from /proc/self/status (the
# CPUs of this shell, i.e. of the SLURM job), pins the replay server, the learner and each
# worker with `taskset -c`, sets SLURM_PROCID for each worker, supervises them and stops them
# all on Ctrl-C/SIGTERM. Expects .venv/ (run_script.sh creates it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "error: $root/.venv is missing; run ./run_script.sh (or scripts/setup_env.sh) first" >&2
  exit 2
fi
exec "$python" -m sac_system.launcher "$@"
