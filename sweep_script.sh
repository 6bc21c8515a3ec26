#!/usr/bin/env bash
# Runs a sweep (variants x seeds, each an ordinary training run) from a sweep file:
#   ./sweep_script.sh sweeps/lunar_lander_dr.sh            # a local queue, then the report
#   ./sweep_script.sh sweeps/lunar_lander_dr.sh --slurm    # one SLURM job array per variant
#   ./sweep_script.sh sweeps/lunar_lander_dr.sh --status   # each run's state
# Creates .venv/ on first use (scripts/setup_env.sh). Running it again skips finished runs and
# resumes interrupted ones. See sac_system/sweep.py and docs/design.md §12.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ]; then
  echo "usage: $0 <sweep file> [--slurm | --status | --report]   (e.g. $0 sweeps/lunar_lander_dr.sh)" >&2
  exit 2
fi
"$root/scripts/setup_env.sh"
# the sweep file's path as given, before moving to the repository root
if [ -e "$1" ]; then set -- "$(realpath "$1")" "${@:2}"; fi
cd "$root"
exec "$root/.venv/bin/python" -m sac_system.sweep "$@"
