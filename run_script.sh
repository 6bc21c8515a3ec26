#!/usr/bin/env bash
# Trains with the settings of a training-variables file:
#   ./run_script.sh training_variables.sh
# Creates .venv/ on first use (scripts/setup_env.sh), then runs train_script.sh.
# Running it again on an existing exp dir resumes that run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ]; then
  echo "usage: $0 <training variables .sh file>   (e.g. $0 training_variables.sh)" >&2
  exit 2
fi
"$root/scripts/setup_env.sh"
exec "$root/train_script.sh" "$@"
