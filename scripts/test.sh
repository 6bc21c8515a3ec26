#!/usr/bin/env bash
# The test command: creates .venv/ if needed, then runs the whole test suite on two pytest-xdist
# workers, a test file at a time each (--dist loadfile: a file's module fixtures are made once).
# The emulated-cluster test's runs mostly wait on their environments' step latency, so the
# other worker gets through other files meanwhile.
#   ./scripts/test.sh                 # everything, as CI runs it
#   ./scripts/test.sh -m "not slow"   # only the fast tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest -n 2 --dist loadfile "$@"
