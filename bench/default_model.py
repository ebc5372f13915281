"""Test-split scores of the shipped default span model, beside the published anchors and peers.

Run: .venv/bin/python bench/default_model.py [--model PATH] [--corpus NAME ...] [--threads 2]
Trains nothing: loads the model, predicts each corpus's test split with the corpus's own
natural-language labels (flat decoding; nested for GENIA), scores strict and relaxed
micro P/R/F1. Prints a table and writes bench/results/default_model.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402

# strict F1 (%) others report on the same test sets (see issue 3 and shared/notes/measured-here.md)
ANCHORS = {
    "ncbi-disease": "PubMedBERT ~88, BioSelectTune 88.29, CRF 78.43, spaCy 78.35",
    "bc5cdr-chem": "PubMedBERT ~93, CRF 83.13, spaCy 81.73",
    "bc5cdr-disease": "PubMedBERT ~86, BioSelectTune 85.71, CRF 75.53, spaCy 75.71",
    "bc2gm": "PubMedBERT ~84, BioSelectTune 81.44, CRF 73.11, spaCy 73.52",
    "jnlpba": "PubMedBERT ~79",
    "linnaeus": "",
    "s800": "",
    "genia": "not clean: every GENIA document is in JNLPBA train",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "bioner-span-minilm"))
    ap.add_argument("--corpus", nargs="*", default=list(ANCHORS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()

    from bioner.models import evaluate_model
    from bioner.text import split_sentences

    rows = ["| corpus (test) | docs | gold | strict P | strict R | strict F1 | relaxed F1 | sentences/s | anchors (strict F1) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name in args.corpus:
        gold = list(corpora.load(name, "test"))
        n_sent = sum(len(d.sentences) if d.sentences is not None else len(split_sentences(d.text)) for d in gold)
        t0 = time.perf_counter()
        ev = evaluate_model(gold, corpora.get(name).natural_labels, model=args.model, threshold=args.threshold,
                            flat=not corpora.get(name).nested, threads=args.threads)
        dt = time.perf_counter() - t0
        s, r = ev.strict.micro, ev.relaxed.micro
        rows.append(f"| {name} | {len(gold)} | {ev.gold_entities} | {100 * s.precision:.2f} | {100 * s.recall:.2f} | {100 * s.f1:.2f} "
                    f"| {100 * r.f1:.2f} | {n_sent / dt:.0f} | {ANCHORS.get(name, '')} |")
        print(rows[-1], flush=True)
    out = ROOT / "bench" / "results" / "default_model.md"
    out.write_text(f"Model: `{Path(args.model).name}`, threshold {args.threshold}; test splits as read by `bioner.corpora`.\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
