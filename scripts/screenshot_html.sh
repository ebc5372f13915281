#!/usr/bin/env bash
# Re-make docs/html-example.png: an HTML page from bioner.io.html (hand-annotated nested
# GENIA-style entities plus the shipped model's predictions), rendered by headless Chromium.
# Needs Debian's chromium (apt-get install -y chromium) and the span extra in .venv.
# Usage: scripts/screenshot_html.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/html-example.png}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

OMP_NUM_THREADS=1 .venv/bin/python - "$tmp/page.html" <<'EOF'
import sys

from bioner.doc import Document, Entity
from bioner.io.html import write
from bioner.models import extract

genia = "IL-2 gene expression and NF-kappa B activation through CD28 requires reactive oxygen production by 5-lipoxygenase."
hand = [Document("GENIA-style, hand-annotated (nested DNA / protein)", genia, [
    Entity(0, 9, "DNA"), Entity(0, 4, "protein"), Entity(25, 35, "protein"), Entity(55, 59, "protein"), Entity(99, 113, "protein")]),
    Document("discontinuous and nested (hand-annotated)", "Carriers have a high risk of breast and ovarian cancer.", [
        Entity.from_fragments([(29, 35), (48, 54)], "disease"), Entity(40, 54, "disease")])]
brca = extract(Document("bioner-span-minilm: BRCA1 sentence", "Germline mutations in BRCA1 predispose to early-onset breast cancer."),
               {"disease": "disease", "gene": "gene or gene product"}, per_label=True, threads=1)
cd28 = extract(Document("bioner-span-minilm, nested, threshold 0.4",
                        "Activation of the CD28 surface receptor in human T lymphocytes induces the IL-2 promoter."),
               ["DNA", "protein", "cell type"], flat=False, threshold=0.4, threads=1)
write(hand + brca + cd28, sys.argv[1], title="bioner: HTML output example")
EOF

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,800 \
  --screenshot="$PWD/$out" "file://$tmp/page.html" 2>/dev/null
echo "wrote $out"
