#!/usr/bin/env bash
# Train the selectors that bench/selector.py measures: gold spans of
# NCBI-disease, BC5CDR and BC2GM train samples against their boundary-shifted, sub-, super- and type-swapped
# versions and the shipped span model's real false positives on those documents (at threshold 0.3, so that a
# model trained on these splits still shows its near-misses); threshold chosen on dev samples. One epoch of a
# MiniLM cross-encoder, one torch thread: about 40 minutes on this 2-core machine. Rerunning resumes.
# Usage: scripts/train_selector.sh [OUTPUT] [more train-selector options], e.g. the dev-half variant:
#   scripts/train_selector.sh runs/selector/v2 --engine-on dev-half --dev-sample 500 --dev-sample bc2gm=2500
# Release 1 of the shipped models/bioner-selector-gemma3-lora is run l1 (about 75 minutes at 13 s/step on 2 threads):
#   scripts/train_selector.sh runs/selector/l1 --base gemma3-270m --lora-r 16 --lr 2e-4 --engine-on dev-half \
#     --dev-sample 200 --dev-sample bc2gm=1000 --train-sample 20 --train-sample bc2gm=200 --per-gold 1 --context 40 \
#     --max-length 64 --threads 2
#   then its rule for the shipped generative adapter: .venv/bin/python bench/selector.py calibrate-llm ncbi-tags
# Release 2 of the shipped selector is run l2: l1 trained further on the generative engine's BC2GM errors
# (.venv/bin/python scripts/train_selector_l2.py).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
export BIONER_DATA="${BIONER_DATA:-$(cd .. && pwd)/shared/data}"
exec nice -n 2 .venv/bin/bioner train selector -c ncbi-disease -c bc5cdr -c bc2gm \
  --train-sample 100 --train-sample bc5cdr=80 --train-sample bc2gm=1000 --dev-sample 60 --dev-sample bc2gm=600 \
  --engine span --engine-threshold 0.3 --per-gold 2 --context 80 --max-length 128 \
  --threads 1 -o "${1:-runs/selector/v1}" "${@:2}"
