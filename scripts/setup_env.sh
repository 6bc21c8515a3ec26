#!/usr/bin/env bash
# Creates the project's virtual environment (.venv/) from the pinned requirements when it is
# missing or when requirements.txt / pyproject.toml changed since it was built, and installs
# the project into it (pip install -e .). A second call with nothing changed does nothing.
# Needs only Python 3.11 and the package registries. Set SAC_PYTHON to choose the interpreter.
# As root on Debian it also installs the EGL library that MuJoCo videos render with.
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
# MuJoCo videos (run.py) render headless through EGL; checked when the environment is built.
# Training and --no_video never need it.
gl_packages="libegl1 libegl-mesa0 libgl1-mesa-dri"
libraries="$(PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null || true)"
if ! grep -q 'libEGL\.so\.1 ' <<<"$libraries"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup_env] installing EGL for headless MuJoCo videos: $gl_packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $gl_packages \
      >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $gl_packages >/dev/null 2>&1; } ||
      echo "[setup_env] warning: apt-get could not install $gl_packages; MuJoCo videos need" \
        "them (training and run.py --no_video do not)" >&2
  else
    echo "[setup_env] note: MuJoCo videos need libEGL (as root: apt-get install $gl_packages);" \
      "training and run.py --no_video work without it" >&2
  fi
fi
echo "[setup_env] building $venv from requirements.txt (first time: TensorFlow and friends, a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
echo "$want" > "$stamp"
echo "[setup_env] ready: $venv" >&2
