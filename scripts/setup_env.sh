#!/usr/bin/env bash
# Creates the project's virtual environment (.venv/) from the pinned requirements when it is
# missing or when requirements.txt / pyproject.toml changed since it was built, and installs
# the project into it (pip install -e .). A second call with nothing changed does nothing.
# Needs only Python 3.11 and the package registries. Set SAC_PYTHON to choose the interpreter.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.sac_system_requirements.sha256"
want="$(cat "$root/requirements.txt" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python="${SAC_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: sac_system needs Python 3.11 (the pinned TensorFlow 2.15 stack); set SAC_PYTHON" >&2
  exit 2
fi
echo "[setup_env] building $venv from requirements.txt (first time: TensorFlow and friends, a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
echo "$want" > "$stamp"
echo "[setup_env] ready: $venv" >&2
