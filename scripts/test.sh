#!/usr/bin/env bash
# The test command: creates .venv/ if needed, then runs the whole test suite.
#   ./scripts/test.sh                 # everything, as CI runs it
#   ./scripts/test.sh -m "not slow"   # only the fast tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
