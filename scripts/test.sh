#!/usr/bin/env bash
# The test command: creates .venv/ if needed, then runs the whole test suite in two streams
# (pytest-xdist): the emulated-cluster tests (tests/test_emulated_cluster.py), whose runs mostly
# wait on their environments' step latency, beside everything else, one test at a time each
# (tests/conftest.py assigns the groups).
#   ./scripts/test.sh                 # everything, as CI runs it
#   ./scripts/test.sh -m "not slow"   # only the fast tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest -n 2 --dist loadgroup "$@"
