#!/usr/bin/env bash
# Set up .venv (once) and run bioner; with no arguments, the main job: extract entities
# from an example text with the shipped default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh span
if [ -z "${BIONER_DATA:-}" ] && [ -d ../shared/data ]; then
  export BIONER_DATA="$(cd ../shared/data && pwd)"
fi
if [ "$#" -eq 0 ]; then
  set -- extract "Germline mutations in BRCA1 predispose to early-onset breast cancer; tamoxifen lowers the risk in women."
fi
exec .venv/bin/bioner "$@"
