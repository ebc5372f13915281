#!/usr/bin/env bash
# Create (or reuse) .venv and install bioner into it with the given extras.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.bioner-installed-${extras:-base}"
log=".venv/setup.log"
# reinstall only when the project definition changed since the last install
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setting up .venv (${extras:-base}); log in $log" >&2
  target="."
  [ -n "$extras" ] && target=".[${extras}]"
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e "$target"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup failed; full log in $log" >&2
    exit 1
  fi
  touch "$stamp"
fi
