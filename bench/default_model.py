"""Test-split scores of the shipped default span model, beside the peers trained here and the published anchors.

Run: .venv/bin/python bench/default_model.py [--corpus NAME ...] [--quantize none int8] [--threads 1]
     .venv/bin/python bench/default_model.py --table-only

Trains nothing: loads the model and predicts each corpus's test split at the model's own
threshold (chosen on dev; flat decoding, nested for GENIA), then scores strict and relaxed
micro P/R/F1 with bioner's evaluator, in float32 and with the int8 encoder, two ways:

- **bioner** (the headline): what ``bioner evaluate --model M --corpus NAME`` computes —
  the corpus's label set as the model learned it (a one-type view such as BC5CDR-disease is
  asked for with BC5CDR's whole set and scored on its type: ``CorpusInfo.predict_types``),
  then types propagated across each document's abbreviations (``bioner.abbreviations``);
- **model alone**: the corpus's own types only, no abbreviation step (what release 1-3 tables
  reported).

Each (corpus, quantization) result is cached in runs/bench/default_model.json keyed by the
model's weights and this protocol, so several invocations (e.g. one per core, on different
corpora) build one table; a retrained model starts afresh. The CRF and spaCy columns are
read from bench/peers.py's results (runs/peers/results.json: trained on the same train
splits on this machine); without them, from shared/notes/measured-here.md. Prints the table
and writes bench/results/default_model.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402

CORPORA = ("ncbi-disease", "bc5cdr-chem", "bc5cdr-disease", "bc2gm", "jnlpba", "s800", "linnaeus", "genia")
# published strict F1 (%) on the same test sets (issue 3)
ANCHORS = {
    "ncbi-disease": "PubMedBERT ~88, BioSelectTune 88.29",
    "bc5cdr-chem": "PubMedBERT ~93",
    "bc5cdr-disease": "PubMedBERT ~86, BioSelectTune 85.71",
    "bc2gm": "PubMedBERT ~84, BioSelectTune 81.44",
    "jnlpba": "PubMedBERT ~79",
    "genia": "not clean: every GENIA document is in JNLPBA train",
}
# shared/notes/measured-here.md, used when bench/peers.py has not run here
NOTED = {"crf": {"ncbi-disease": 78.43, "bc5cdr-chem": 83.13, "bc5cdr-disease": 75.53, "bc2gm": 73.11},
         "spacy": {"ncbi-disease": 78.35, "bc5cdr-chem": 81.73, "bc5cdr-disease": 75.71, "bc2gm": 73.52}}
CACHE = ROOT / "runs" / "bench" / "default_model.json"
PEERS = ROOT / "runs" / "peers" / "results.json"
MODEL = ROOT / "models" / "bioner-span-minilm"


PROTOCOL = "bioner+alone"  # part of the cache key: rows measured another way are not mixed in


def weights_id(model: Path) -> str:
    """Changes whenever the model's weights or settings change (or the protocol does)."""
    h = hashlib.sha256(PROTOCOL.encode())
    for name in ("model.safetensors", "pytorch_model.bin", "bioner_settings.json"):
        if (model / name).is_file():
            h.update((model / name).read_bytes())
    return h.hexdigest()[:16]


# (model, asked labels, quantization, document ids) -> (predictions, seconds): BC5CDR-chem and BC5CDR-disease ask for the
# same two types on the same test documents, so the second reuses the first's predictions and reports their time
_ASKED_RUNS: dict[tuple[Any, ...], tuple[list[Any], float]] = {}


def score(name: str, model: str, quantize: str | None, threads: int) -> dict[str, Any]:
    from bioner.abbreviations import propagate_all
    from bioner.evaluate import evaluate
    from bioner.models import corpus_labels, corpus_prediction_labels, extract
    from bioner.text import split_sentences

    info = corpora.get(name)
    gold = list(corpora.load(name, "test"))
    texts = [d.copy(entities=[]) for d in gold]
    n_sent = sum(len(d.sentences) if d.sentences is not None else len(split_sentences(d.text)) for d in gold)
    own, asked = corpus_labels(name), corpus_prediction_labels(name)
    kw: dict[str, Any] = {"model": model, "flat": not info.nested, "threads": threads, "quantize": quantize, "abbreviations": False}
    t0 = time.perf_counter()
    alone = extract(texts, own, **kw)
    raw, dt = alone, time.perf_counter() - t0
    if asked != own:  # the bioner row predicts with more types: its own run, its own time
        key = (model, tuple(asked.items()), quantize, tuple(d.id for d in gold))
        if key not in _ASKED_RUNS:
            t0 = time.perf_counter()
            _ASKED_RUNS[key] = (extract(texts, asked, **kw), time.perf_counter() - t0)
        raw, dt = _ASKED_RUNS[key]
    t0 = time.perf_counter()
    pipeline = propagate_all(raw)  # = extract(..., abbreviations=True): the step runs on the engine's output
    dt += time.perf_counter() - t0
    ev, ev_alone = evaluate(gold, pipeline, labels=list(own)), evaluate(gold, alone, labels=list(own))
    s, r = ev.strict.micro, ev.relaxed.micro
    return {"docs": len(gold), "gold": ev.gold_entities, "p": s.precision, "r": s.recall, "f1": s.f1, "relaxed_f1": r.f1,
            "alone_f1": ev_alone.strict.micro.f1, "alone_relaxed_f1": ev_alone.relaxed.micro.f1, "asked": list(asked),
            "sentences_per_s": n_sent / dt, "threads": threads}


def peer_f1(peer: str, name: str) -> str:
    if PEERS.is_file():
        row = json.loads(PEERS.read_text()).get(f"{peer}/{name}")
        if row:
            return f"{100 * row['strict_f1']:.2f}"
    noted = NOTED[peer].get(name)
    return f"{noted:.2f}*" if noted is not None else ""


def render(results: dict[str, Any], model: Path, threshold: float) -> str:
    def cell(name: str, q: str, key: str, pct: bool = True) -> str:
        row = results.get(f"{name}/{q}")
        return "" if row is None else (f"{100 * row[key]:.2f}" if pct else f"{row[key]:.0f}")

    lines = [
        f"Model: `{model.name}` (threshold {threshold}, the model's own, chosen on dev); test splits as read by `bioner.corpora`; "
        "strict = exact start, end and type; relaxed = overlapping span, same type; micro over the corpus's types. "
        "**bioner** = `bioner evaluate --corpus NAME`: the corpus's label set as the model learned it (BC5CDR-chem and -disease "
        "are asked for with both BC5CDR types and scored on theirs) and types propagated across each document's abbreviations; "
        "*model alone* = the corpus's own types, no abbreviation step. "
        "CRF / spaCy: strict F1 of bench/peers.py run on this machine on the same train/test splits "
        "(* = from shared/notes/measured-here.md where peers.py has no result).",
        "",
        "| corpus (test) | docs | gold | strict P | strict R | **strict F1** | relaxed F1 | strict F1 int8 | relaxed F1 int8 "
        "| model alone: strict F1 | relaxed F1 | CRF | spaCy | sentences/s fp32 / int8 (1 thread) | published anchors (strict F1) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in CORPORA:
        if f"{name}/none" not in results and f"{name}/int8" not in results:
            continue
        base = results.get(f"{name}/none") or results[f"{name}/int8"]
        lines.append(
            f"| {name} | {base['docs']} | {base['gold']} | {cell(name, 'none', 'p')} | {cell(name, 'none', 'r')} | **{cell(name, 'none', 'f1')}** "
            f"| {cell(name, 'none', 'relaxed_f1')} | {cell(name, 'int8', 'f1')} | {cell(name, 'int8', 'relaxed_f1')} "
            f"| {cell(name, 'none', 'alone_f1')} | {cell(name, 'none', 'alone_relaxed_f1')} | {peer_f1('crf', name)} "
            f"| {peer_f1('spacy', name)} | {cell(name, 'none', 'sentences_per_s', False)} / {cell(name, 'int8', 'sentences_per_s', False)} "
            f"| {ANCHORS.get(name, '')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(MODEL))
    ap.add_argument("--corpus", nargs="*", default=list(CORPORA))
    ap.add_argument("--quantize", nargs="*", default=["none", "int8"], choices=["none", "int8"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()

    from bioner.engines.span import SpanModel

    model = Path(args.model)
    wid = weights_id(model)
    if not args.table_only:
        for name in args.corpus:
            for q in args.quantize:
                row = score(name, str(model), None if q == "none" else q, args.threads)
                # re-read before writing: another invocation may have added its corpora meanwhile
                cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
                cache.setdefault(wid, {})[f"{name}/{q}"] = row
                CACHE.parent.mkdir(parents=True, exist_ok=True)
                tmp = CACHE.with_suffix(".tmp")
                tmp.write_text(json.dumps(cache, indent=1))
                tmp.replace(CACHE)
                print(f"{name} {q}: strict F1 {100 * row['f1']:.2f}, relaxed {100 * row['relaxed_f1']:.2f}, "
                      f"{row['sentences_per_s']:.0f} sentences/s", flush=True)
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    threshold = SpanModel.load(model).threshold
    table = render(cache.get(wid, {}), model, threshold)
    print(table)
    (ROOT / "bench" / "results" / "default_model.md").write_text(
        "Command: `.venv/bin/python bench/default_model.py` (or several in parallel with `--corpus ...`, then `--table-only`)\n\n" + table + "\n")


if __name__ == "__main__":
    main()
