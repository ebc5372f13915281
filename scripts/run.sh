#!/usr/bin/env bash
# Set up .venv (once) and run bioner; with no arguments, the main job (the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${BIONER_DATA:-}" ] && [ -d ../shared/data ]; then
  export BIONER_DATA="$(cd ../shared/data && pwd)"
fi
if [ "$#" -eq 0 ]; then
  set -- demo
fi
exec .venv/bin/bioner "$@"
