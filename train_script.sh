#!/usr/bin/env bash
# Runs the N+2 programs of a training run (also what a SLURM batch job runs):
#   ./train_script.sh training_variables.sh
# The launcher (sac_system/launcher.py) reads Cpus_allowed_list from /proc/self/status (the
# CPUs of this shell, i.e. of the SLURM job), pins the replay server, the learner and each
# worker with `taskset -c`, sets SLURM_PROCID for each worker, supervises them and stops them
# all on Ctrl-C/SIGTERM. Uses .venv/ (run_script.sh creates it), else the active Python
# environment (e.g. the conda env of environment.yml with `pip install -e .` done).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  python="$(command -v python3 || true)"
  if [ -z "$python" ] || ! "$python" -c 'import sac_system, tf_agents, reverb' 2>/dev/null; then
    echo "error: no environment with sac_system installed; run ./run_script.sh (it creates .venv/)" >&2
    exit 2
  fi
fi
exec "$python" -m sac_system.launcher "$@"
