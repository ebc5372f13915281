"""Extraction throughput of the shipped span model against gliner's own loop and spaCy, in one run.

Run: .venv/bin/python bench/span_throughput.py [--threads 1] [--limit N] [--spacy runs/peers/spacy-ncbi-disease]

NCBI-disease test split (100 abstracts), label "disease". Every system is timed over the
same documents, in this process, one after another, at the same torch thread count:

- gliner loop: ``GLiNER.predict_entities`` called once per sentence with the same model,
  float32 (what a gliner user writes); entities mapped back to document offsets;
- bioner float32 and bioner int8: ``SpanModel.predict`` over whole documents (sentence
  windows, length-sorted batches, fused span scorer; int8: ``SpanModel.quantize``);
- bioner int8 with one process per core (``--workers``; each process 1 thread): only
  when ``--workers`` > 1, and then compared with gliner's loop at as many threads;
- spaCy: the NER model ``bench/peers.py`` trained on NCBI-disease train, when present.

Each system's strict F1 on the same documents is printed beside its speed, so a speed-up
that costs accuracy shows. Writes bench/results/span_throughput.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # sibling bench modules (peers)
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402
from bioner.doc import Document, Entity  # noqa: E402
from bioner.evaluate import evaluate  # noqa: E402
from bioner.text import split_sentences  # noqa: E402

LABELS = {"Disease": "disease"}
MODEL = ROOT / "models" / "bioner-span-minilm"


def sentences(doc: Document) -> list[tuple[int, int]]:
    return list(doc.sentences) if doc.sentences is not None else split_sentences(doc.text)


def gliner_loop(model: object, docs: list[Document], threshold: float) -> list[Document]:
    """gliner's plain loop: one ``predict_entities`` call per sentence."""
    out = []
    for d in docs:
        ents = []
        for s, e in sentences(d):
            for x in model.predict_entities(d.text[s:e], list(LABELS.values()), threshold=threshold):  # type: ignore[attr-defined]
                ents.append(Entity(s + x["start"], s + x["end"], "Disease", score=x["score"]))
        out.append(d.copy(entities=ents))
    return out


_worker_model = None


def _init_worker(path: str, quantize: str | None) -> None:
    global _worker_model
    from bioner.engines.span import SpanModel

    _worker_model = SpanModel.load(path, threads=1, quantize=quantize)


def _predict_part(args: tuple[list[Document], float]) -> list[Document]:
    docs, threshold = args
    assert _worker_model is not None
    return _worker_model.predict(docs, LABELS, threshold=threshold)


def spacy_predict(nlp: object, docs: list[Document]) -> list[Document]:
    """spaCy over the same sentences (its own tokenizer); character offsets mapped back to the document."""
    out = []
    for d in docs:
        spans = sentences(d)
        ents = []
        for (s, _), sd in zip(spans, nlp.pipe(d.text[a:b] for a, b in spans), strict=True):  # type: ignore[attr-defined]
            ents.extend(Entity(s + e.start_char, s + e.end_char, "Disease") for e in sd.ents)
        out.append(d.copy(entities=ents))
    return out


def timed(fn: Callable[[], list[Document]]) -> tuple[list[Document], float]:
    t = time.perf_counter()
    pred = fn()
    return pred, time.perf_counter() - t


def machine() -> str:
    """The peers bench's machine note plus the SIMD level torch dispatches to: int8 speed hangs on it."""
    import torch
    from peers import machine_note

    return f"{machine_note()}, torch {torch.__version__} (CPU capability {torch.backends.cpu.get_cpu_capability()})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="processes for the multi-process row (1 thread each); 1 to skip it")
    ap.add_argument("--limit", type=int, default=None, help="first N test documents only")
    ap.add_argument("--threshold", type=float, default=None, help="default: the model's own")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--spacy", default=str(ROOT / "runs" / "peers" / "spacy-ncbi-disease"))
    args = ap.parse_args()

    import torch

    from bioner.engines.span import SpanModel

    torch.set_num_threads(args.threads)
    gold = list(corpora.load("ncbi-disease", "test"))[: args.limit]
    n_sent = sum(len(sentences(d)) for d in gold)
    n_char = sum(len(d.text) for d in gold)
    model = SpanModel.load(args.model, threads=args.threads)
    if args.threshold is None:
        args.threshold = model.threshold
    model.predict(gold[:2], LABELS)  # warm-up
    rows: list[tuple[str, int, float, list[Document]]] = []

    pred, dt = timed(lambda: gliner_loop(model.gliner, gold, args.threshold))
    rows.append(("gliner predict_entities, one sentence per call (float32)", args.threads, dt, pred))
    print(f"gliner loop: {n_sent / dt:.1f} sentences/s", flush=True)
    pred, dt = timed(lambda: model.predict(gold, LABELS, threshold=args.threshold, batch_size=args.batch_size))
    rows.append(("bioner SpanModel.predict (float32)", args.threads, dt, pred))
    model.quantize()
    model.predict(gold[:2], LABELS)
    pred, dt = timed(lambda: model.predict(gold, LABELS, threshold=args.threshold, batch_size=args.batch_size))
    rows.append(("bioner SpanModel.predict (int8)", args.threads, dt, pred))
    print(f"bioner int8: {n_sent / dt:.1f} sentences/s", flush=True)

    if args.workers > 1:
        parts = [gold[i :: args.workers] for i in range(args.workers)]
        with ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(args.model, "int8")) as pool:
            list(pool.map(_predict_part, [(p[:1], args.threshold) for p in parts]))  # load and warm up every worker
            t = time.perf_counter()
            done = list(pool.map(_predict_part, [(p, args.threshold) for p in parts]))
            dt = time.perf_counter() - t
        by_id = {d.id: d for part in done for d in part}
        rows.append((f"bioner int8, {args.workers} processes x 1 thread", args.workers, dt, [by_id[d.id] for d in gold]))
        torch.set_num_threads(args.workers)
        fresh = SpanModel.load(args.model, threads=args.workers)
        fresh.predict(gold[:2], LABELS)
        pred, dt = timed(lambda: gliner_loop(fresh.gliner, gold, args.threshold))
        rows.append((f"gliner predict_entities, one sentence per call (float32, {args.workers} threads)", args.workers, dt, pred))
        torch.set_num_threads(args.threads)

    if Path(args.spacy).is_dir():
        import spacy

        nlp = spacy.load(args.spacy)
        list(nlp.pipe(["warm up"]))
        pred, dt = timed(lambda: spacy_predict(nlp, gold))
        rows.append(("spaCy NER (bench/peers.py, trained on NCBI-disease train)", 1, dt, pred))
    else:
        print(f"no spaCy model at {args.spacy}: run bench/peers.py --peer spacy --corpus ncbi-disease first", file=sys.stderr)

    base = {t: dt for name, t, dt, _ in rows if name.startswith("gliner")}
    lines = [
        f"NCBI-disease test split, {len(gold)} documents, {n_sent} sentences, {n_char} characters; label \"disease\", threshold {args.threshold}, "
        f"batch size {args.batch_size}; model `{Path(args.model).name}`. Ratios are against gliner's loop at the same thread count, same run.",
        "",
        f"Machine: {machine()}. int8's gain depends on the CPU: with int8 dot products (AVX-512 VNNI, AVX-VNNI) "
        "the quantized encoder is about 2.5x faster than float32, with AVX2 alone far less.",
        "",
        "| system | threads | sentences/s | characters/s | x gliner loop | strict P | strict R | strict F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, threads, dt, pred in rows:
        s = evaluate(gold, pred).strict.micro
        ratio = f"{base[threads] / dt:.1f}" if threads in base else ""
        lines.append(f"| {name} | {threads} | {n_sent / dt:.1f} | {n_char / dt:,.0f} | {ratio} | {100 * s.precision:.2f} | {100 * s.recall:.2f} | {100 * s.f1:.2f} |")
    table = "\n".join(lines)
    print(table)
    (ROOT / "bench" / "results" / "span_throughput.md").write_text(
        f"Command: `.venv/bin/python bench/span_throughput.py --threads {args.threads} --workers {args.workers}`\n\n{table}\n")


if __name__ == "__main__":
    main()
