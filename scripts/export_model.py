"""Export a trained span model for shipping: weights stored as float16 (half the size), loaded as float32.

Run: .venv/bin/python scripts/export_model.py runs/default/final models/bioner-span-minilm
Copies the GLiNER config and tokenizer files, converts model.safetensors to float16, and
checks that the exported model loads and gives the same entities on a sample text.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export(src: Path, dst: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in src.iterdir():
        if f.name != "model.safetensors" and f.is_file():
            shutil.copy2(f, tmp / f.name)
    state = load_file(src / "model.safetensors")
    save_file({k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}, tmp / "model.safetensors")
    if dst.exists():
        for f in dst.iterdir():  # keep a model card written beside the weights
            if f.suffix == ".md" and not (tmp / f.name).exists():
                shutil.copy2(f, tmp / f.name)
        shutil.rmtree(dst)
    tmp.rename(dst)


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    export(src, dst)
    from bioner.engines.span import SpanModel

    text = "Germline mutations in BRCA1 predispose to early-onset breast cancer and ovarian cancer in women treated with tamoxifen."
    labels = {"Disease": "disease", "GENE": "gene or gene product", "Chemical": "chemical compound or drug"}
    from bioner.doc import Document

    a = SpanModel.load(src).predict([Document("x", text)], labels)[0].entities
    b = SpanModel.load(dst).predict([Document("x", text)], labels)[0].entities
    print("float32:", [(e.start, e.end, e.label, round(e.score or 0, 3)) for e in a])
    print("float16:", [(e.start, e.end, e.label, round(e.score or 0, 3)) for e in b])
    size = sum(f.stat().st_size for f in dst.iterdir())
    print(f"exported {dst} ({size / 1e6:.1f} MB); same spans: {[e.key() for e in a] == [e.key() for e in b]}")


if __name__ == "__main__":
    main()
