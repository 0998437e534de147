#!/usr/bin/env bash
# The whole check, as CI runs it: install what is missing, then docs drift, lint, types, tests.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v zstd >/dev/null 2>&1 || need_apt+=(zstd)
# The dashboard tests drive a real headless browser.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ((${#need_apt[@]})); then
    echo "installing ${need_apt[*]} with apt-get" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
# Compiler warnings in the C extension are errors here (setup.py), not on users' machines.
ALPHAPULSE_STRICT_BUILD=1 "$PY" -m pip install -q --disable-pip-version-check -e '.[dev]'
# Users without a C compiler get the pure-Python paths; CI must test the compiled ones too.
"$PY" -c "import alphapulse_cli._speedups" || {
    echo "the C extension alphapulse_cli._speedups did not build (needs gcc and the Python headers)" >&2
    exit 1
}

"$PY" scripts/gen_docs.py --check
"$PY" -m ruff check .
"$PY" -m ruff format --check .
"$PY" -m mypy
"$PY" -m pytest -q "$@"
