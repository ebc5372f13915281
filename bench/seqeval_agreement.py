"""bioner's evaluator against seqeval on a real prediction set.

Run: .venv/bin/python bench/seqeval_agreement.py [--model PATH] [--corpus ncbi-disease] [--limit N]
Reads the IOB test file of the corpus (MTL version, flat), predicts with the span model
(flat decoding, on the file's own tokens, so every prediction is a token span), turns the
predictions into IOB2 tags, and scores the same predictions with both tools.
Prints a table and writes bench/results/seqeval_agreement.md.
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

from bioner import corpora, io  # noqa: E402
from bioner.doc import Document  # noqa: E402
from bioner.evaluate import evaluate  # noqa: E402

IOB = {"ncbi-disease": "ncbi-disease/iob/test.tsv", "bc5cdr": "bc5cdr/iob-combined/test.tsv", "bc2gm": "bc2gm/iob/test.tsv"}


def tags(doc: Document) -> list[list[str]]:
    """IOB2 tags per sentence of a token-bearing document (entities on token boundaries)."""
    assert doc.tokens is not None and doc.sentences is not None
    start_at = {s: i for i, (s, _) in enumerate(doc.tokens)}
    end_at = {e: i for i, (_, e) in enumerate(doc.tokens)}
    out = ["O"] * len(doc.tokens)
    for e in doc.entities:
        i, j = start_at[e.start], end_at[e.end]  # KeyError = not a token span: a bug worth seeing
        out[i] = f"B-{e.label}"
        for k in range(i + 1, j + 1):
            out[k] = f"I-{e.label}"
    # tokens are in order, so each sentence holds the next run of tokens that end inside it
    res, k = [], 0
    for _, end in doc.sentences:
        j = k
        while j < len(doc.tokens) and doc.tokens[j][1] <= end:
            j += 1
        res.append(out[k:j])
        k = j
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "bioner-span-minilm"))
    ap.add_argument("--corpus", nargs="*", default=["ncbi-disease", "bc5cdr"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from seqeval.metrics import f1_score, precision_score, recall_score

    from bioner.engines.span import SpanModel

    model = SpanModel.load(args.model, threads=args.threads)
    rows = ["| corpus (IOB test) | sentences | gold | predicted | tool | P | R | F1 |", "|---|---|---|---|---|---|---|---|"]
    for name in args.corpus:
        gold = list(io.read(corpora.data_dir() / IOB[name], "iob"))[: args.limit]
        labels = corpora.get(name).natural_labels
        t0 = time.perf_counter()
        pred = model.predict(gold, labels, threshold=0.5, flat=True)
        secs = time.perf_counter() - t0
        ev = evaluate(gold, pred)
        y_true = [t for d in gold for t in tags(d)]
        y_pred = [t for g, p in zip(gold, pred) for t in tags(g.copy(entities=p.entities))]
        s = (precision_score(y_true, y_pred), recall_score(y_true, y_pred), f1_score(y_true, y_pred))
        b = (ev.strict.micro.precision, ev.strict.micro.recall, ev.strict.micro.f1)
        n_pred = sum(len(d.entities) for d in pred)
        rows.append(f"| {name} | {len(gold)} | {ev.gold_entities} | {n_pred} | bioner | {b[0]:.10f} | {b[1]:.10f} | {b[2]:.10f} |")
        rows.append(f"| {name} | | | | seqeval | {s[0]:.10f} | {s[1]:.10f} | {s[2]:.10f} |")
        rows.append(f"| {name} | | | | abs. difference | {abs(b[0]-s[0]):.1e} | {abs(b[1]-s[1]):.1e} | {abs(b[2]-s[2]):.1e} |")
        print("\n".join(rows[-3:]), f"(predicted in {secs:.0f}s)", flush=True)
    out = ROOT / "bench" / "results" / "seqeval_agreement.md"
    out.write_text(f"Model: {args.model}. Strict micro scores of the same predictions.\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
