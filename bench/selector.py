"""Contrastive entity selector: precision, recall and F1 of each engine without and with it, and its cost per candidate.

Run:
    scripts/train_selector.sh                              # trains the selector into runs/selector/v1 (about 40 min)
    .venv/bin/python bench/selector.py span                # span engine (shipped model), full test splits
    .venv/bin/python bench/selector.py llm-dev ncbi-tags bc5cdr-tags bc2gm-tags   # LLM predictions on dev samples
    .venv/bin/python bench/selector.py llm ncbi-tags bc5cdr-tags bc2gm-tags   # generative engine: adapters of bench/llm_engines.py
    .venv/bin/python bench/selector.py llm ncbi-tags --dev-docs ncbi-disease=100 --test-docs ncbi-disease=100 [--repair]
                                                           # larger samples than the LLM bench's; --repair: boundary repair tried
    .venv/bin/python bench/selector.py table

Span rows: the shipped span model predicts each corpus's full test split with the
corpus's natural-language labels at its own threshold (flat; ``bioner extract``'s pipeline,
abbreviation step included), then the selector verifies every prediction at its own
threshold (chosen on dev). Span predictions are cached per span-model weights, rows per
selector (``--selector``; the table has one row per engine, corpus and selector). Generative rows: a run of
bench/llm_engines.py (Gemma 3 270M + LoRA) predicts that bench's fixed test subsets
(the same documents as its table), then the same selector verifies them, at a threshold
for the LLM chosen on that run's predictions on a seeded dev sample (20 documents per corpus; BC2GM 100 sentences)
(``llm-dev``; without them, the selector's general threshold); ``--dev-docs`` and
``--test-docs`` take larger seeded samples (rows keyed by the test sample), and ``--repair``
lets the rule repair boundaries (``Selector.select``; the variants' scoring is in the cost). Scores are
strict entity-level micro P/R/F1 from bioner's evaluator, relaxed F1 beside. The cost is
the selector's wall time over all candidates of a corpus divided by their number, on
one torch thread (batch 64, length-sorted). Engine predictions are cached in
runs/selector/bench/, so rows can be rebuilt without re-running an engine.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT / "bench"))

from results_file import add_result, load_results  # noqa: E402

from bioner import corpora  # noqa: E402
from bioner.doc import Document  # noqa: E402
from bioner.selector import DEFAULT_SELECTOR_DIR  # noqa: E402

SELECTOR = DEFAULT_SELECTOR_DIR  # the shipped selector; --selector overrides
CACHE = ROOT / "runs" / "selector" / "bench"
RESULTS = ROOT / "bench" / "results" / "selector.json"
TABLE = ROOT / "bench" / "results" / "selector.md"
SPAN_CORPORA = ("ncbi-disease", "bc5cdr", "bc2gm")
DEV_DOCS = {"bc2gm": 100}  # dev documents per corpus an LLM run predicts, to choose its threshold (BC2GM: sentences)
DEV_DOCS_DEFAULT = 20
DEV_N: dict[str, int] = {}  # --dev-docs CORPUS=N: a larger dev sample than DEV_DOCS
TEST_N: dict[str, int] = {}  # --test-docs CORPUS=N: a larger test sample than bench/llm_engines.py's subset
REPAIR = False  # --repair: the LLM rule may repair boundaries (chosen on dev with the rest)
TRAIN_COMMAND = "scripts/train_selector.sh"


def _load_results() -> dict[str, Any]:
    return load_results(RESULTS)


def _save_result(key: str, row: dict[str, Any]) -> None:
    add_result(RESULTS, key, row, CACHE)


def _scores(gold: list[Document], pred: list[Document], types: list[str]) -> dict[str, Any]:
    from bioner.evaluate import evaluate

    ev = evaluate(gold, pred, labels=types)
    s, r = ev.strict.micro, ev.relaxed.micro
    return {"precision": round(100 * s.precision, 2), "recall": round(100 * s.recall, 2), "f1": round(100 * s.f1, 2),
            "relaxed_f1": round(100 * r.f1, 2), "predicted": s.predicted, "gold": s.support,
            "by_type": {t: round(100 * v.f1, 2) for t, v in ev.strict.by_type.items()}}


BOOTSTRAP = 2000  # resamples of the test documents for the interval of the F1 change


def _doc_counts(gold: list[Document], pred: list[Document], types: list[str]) -> list[tuple[int, int, int]]:
    """(true positives, predicted, gold) per document, strict keys of ``types``: the evaluator's micro counts, split by document."""
    keep = set(types)
    out = []
    for g, d in zip(gold, pred, strict=True):
        gk = {e.key() for e in g.entities if e.label in keep}
        pk = {e.key() for e in d.entities if e.label in keep}
        out.append((len(gk & pk), len(pk), len(gk)))
    return out


def _delta_f1_interval(gold: list[Document], a: list[Document], b: list[Document], types: list[str]) -> list[float]:
    """95% paired-bootstrap interval (documents resampled, seed 0) of strict micro F1 of ``b`` minus that of ``a``, in points."""
    import numpy as np

    ca, cb = np.array(_doc_counts(gold, a, types), dtype=float), np.array(_doc_counts(gold, b, types), dtype=float)
    idx = np.random.default_rng(0).integers(0, len(gold), size=(BOOTSTRAP, len(gold)))

    def f1(c: Any) -> Any:
        tp, pr, gd = (c[idx, k].sum(axis=1) for k in range(3))
        return np.where(pr + gd > 0, 2 * tp / np.maximum(pr + gd, 1), 0.0)

    lo, hi = np.percentile(100 * (f1(cb) - f1(ca)), [2.5, 97.5])
    return [round(float(lo), 2), round(float(hi), 2)]


def _cached(path: Path, make: Any) -> list[Document]:
    import bioner.io

    if path.is_file():
        return list(bioner.io.read(path, "jsonl"))
    docs = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    bioner.io.write(docs, path, "jsonl")
    return docs


def _load_selector() -> Any:
    import torch

    from bioner.selector.model import Selector

    torch.set_num_threads(1)
    return Selector.load(SELECTOR)


def _row(engine: str, kind: str, corpus: str, docs_note: str, gold: list[Document], pred: list[Document], types: list[str],
         selector: Any, threshold_note: str, objective: str) -> dict[str, Any]:
    n = sum(len(d.entities) for d in pred)
    probs, seconds = _probabilities(selector, f"{engine}|{corpus}|{docs_note}", pred)
    from bioner.selector.model import passes_guard

    cut, guard, weight = selector.threshold_for(kind), selector.guard_for(kind), selector.weight_for(kind)
    consistent, margin = selector.consistent_for(kind), selector.repair_for(kind)
    judged, judged_probs, moved = pred, probs, 0
    if margin is not None:  # every candidate's boundary variants, scored (and timed) beside it, then repaired as select() does
        from bioner.selector.candidates import document_variants

        variants = [document_variants(d, d.entities) for d in pred]
        flat = [d.copy(entities=[v for vs in dv for v in vs]) for d, dv in zip(pred, variants, strict=True)]
        vprobs, vseconds = _probabilities(selector, f"{engine}|{corpus}|{docs_note}|variants", flat)
        seconds += vseconds
        judged, judged_probs, moved = _repaired(pred, probs, variants, [_regroup(ps, dv) for ps, dv in zip(vprobs, variants, strict=True)],
                                                margin, guard)
    # what select() keeps: guarded by the engine's own score, or accepted on the selector's probability (mixed with the
    # score), mentions of one group together when ``consistent``
    kept = kept_by(judged, judged_probs, threshold=cut, guard=guard, weight=weight, consistent=consistent)
    passed = sum(passes_guard(e.score, guard) for d in pred for e in d.entities)
    a, b = _scores(gold, pred, types), _scores(gold, kept, types)
    # the control: the engine's own score, re-cut where it is best on the same dev predictions (no selector at all)
    alone_cut = selector.settings.trained_on.get("engine_alone", {}).get(kind)
    alone = None
    if alone_cut is not None:
        recut = [d.copy(entities=[e for e in d.entities if e.score is None or e.score >= alone_cut]) for d in pred]
        alone = {"threshold": alone_cut, **_scores(gold, recut, types), "delta_f1_95": _delta_f1_interval(gold, pred, recut, types)}
    row: dict[str, Any] = {"engine": engine, "corpus": corpus, "docs": docs_note, "without": a, "with": b, "candidates": n,
                           "ms_per_candidate": round(1000 * seconds / max(n, 1), 2), "threshold": cut, "guard": guard, "weight": weight, "guarded": passed,
                           "consistent": consistent, "objective": objective, "repair": margin,
                           "repaired": moved,
                           "auc": _auc(gold, pred, probs), "engine_alone": alone,
                           "delta_f1_95": _delta_f1_interval(gold, pred, kept, types), "threshold_chosen_on": threshold_note, "selector": _selector_name()}
    print(f"{engine} {corpus}: P {a['precision']} -> {b['precision']}, R {a['recall']} -> {b['recall']}, F1 {a['f1']} -> {b['f1']}; "
          f"threshold {row['threshold']}; {row['ms_per_candidate']} ms/candidate", flush=True)
    return row


def kept_by(pred: Sequence[Document], probs: Sequence[Sequence[float | None]], **rule: Any) -> list[Document]:
    """The documents with the entities ``model.decide`` keeps under ``rule`` given their probabilities (what select() keeps)."""
    from bioner.selector.model import decide

    return [d.copy(entities=[e for e, k in zip(d.entities, decide(d.text, d.entities, ps, **rule), strict=True) if k])
            for d, ps in zip(pred, probs, strict=True)]


def _repaired(pred: Sequence[Document], probs: Sequence[Sequence[float | None]], variants: Sequence[Sequence[Sequence[Any]]],
              vprobs: Sequence[Sequence[Sequence[float]]], margin: float, guard: float | None) -> tuple[list[Document], list[list[float | None]], int]:
    """The documents after boundary repair (``model.repair_spans``, as select() applies it), their entities' probabilities,
    and how many candidates it moved (kept by the rule or not; guarded ones are never moved)."""
    from bioner.selector.model import passes_guard, repair_spans

    docs, out_probs, moved = [], [], 0
    for d, ps, vs, vps in zip(pred, probs, variants, vprobs, strict=True):
        unguarded = [None if passes_guard(e.score, guard) else p for e, p in zip(d.entities, ps, strict=True)]
        ents, kept_probs, n = repair_spans(d.entities, unguarded, vs, vps, margin)
        docs.append(d.copy(entities=ents))
        out_probs.append(kept_probs)
        moved += n
    return docs, out_probs, moved


def _regroup(flat: Sequence[float], variants: Sequence[Sequence[Any]]) -> list[list[float]]:
    """A document's variant probabilities (one flat list) split per entity."""
    it = iter(flat)
    return [[next(it) for _ in vs] for vs in variants]


@functools.cache
def _selector_weights_id(folder: Path) -> str:
    """The selector's weights, in the probability cache's file names (hashed once per process, not once per row)."""
    import hashlib

    weights = folder / "model.safetensors"
    if not weights.is_file():  # a LoRA selector: its adapter (the base is named in its settings)
        weights = folder / "adapter_model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:8]


def _probabilities(selector: Any, what: str, pred: list[Document]) -> tuple[list[list[float]], float]:
    """The selector's probability for every prediction and the seconds that took, cached per (selector weights, predictions).

    Every candidate is scored (the AUC needs them all), so a threshold or guard can be re-chosen without scoring again.
    """
    import hashlib

    weights = _selector_weights_id(SELECTOR)
    preds = hashlib.sha256(json.dumps([[list(e.key()) for e in d.entities] for d in pred]).encode()).hexdigest()[:8]
    path = CACHE / f"probs-{hashlib.sha256(what.encode()).hexdigest()[:8]}-{preds}-{weights}.json"
    if path.is_file():
        cached = json.loads(path.read_text(encoding="utf-8"))
        return cached["probs"], cached["seconds"]
    if any(d.entities for d in pred):  # warm-up outside the timing
        first = next(d for d in pred if d.entities)
        selector.score([(first.text, first.entities[0])])
    t0 = time.perf_counter()
    probs = selector.score_documents(pred, batch_size=64)  # what select() computes for unguarded candidates
    seconds = time.perf_counter() - t0
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"what": what, "probs": probs, "seconds": seconds}), encoding="utf-8")
    os.replace(tmp, path)
    return probs, seconds


def _auc(gold: list[Document], pred: list[Document], probs: list[list[float]]) -> float | None:
    """ROC AUC of the selector's probability for the engine's right (strict match) vs wrong predictions: how well it ranks them."""
    right: list[float] = []
    wrong: list[float] = []
    for g, d, ps in zip(gold, pred, probs, strict=True):
        keys = {e.key() for e in g.entities}
        for e, p in zip(d.entities, ps, strict=True):
            (right if e.key() in keys else wrong).append(p)
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return round(wins / (len(right) * len(wrong)), 4)


def _span_model_id() -> str:
    """The shipped span model's weights, in the span prediction cache's file names."""
    import hashlib

    from bioner.models import default_model_path

    return hashlib.sha256((default_model_path() / "model.safetensors").read_bytes()).hexdigest()[:8]


def _training_objective(selector: Any) -> str:
    """How the selector's rules were chosen at training (selectors from before the objective existed: pooled)."""
    return str(selector.settings.trained_on.get("config", {}).get("objective", "pooled"))


def _selector_name() -> str:
    return os.path.relpath(SELECTOR, ROOT)


def _short_name(selector: str) -> str:
    """The table's name for a selector folder: a run's name (runs/selector/NAME/selector) or the shipped folder's."""
    path = Path(selector)
    return path.parent.name if path.name == "selector" else path.name


def span_rows(names: list[str]) -> None:
    from bioner.models import corpus_labels, extract

    selector = _load_selector()
    note = "span dev predictions (" + ", ".join(selector.settings.trained_on.get("dev_parts", [])) + "), at training"
    model_id = _span_model_id()
    for corpus in names:
        gold = list(corpora.load(corpus, "test"))
        labels = corpus_labels(corpus)
        pred = _cached(CACHE / f"{corpus}-test-span-{model_id}.jsonl",
                       lambda gold=gold, labels=labels: extract([d.copy(entities=[]) for d in gold], labels, threads=1))
        _save_result(f"span|{corpus}|{_selector_name()}", _row(f"span (shipped bioner-span-minilm @{model_id})", "span", corpus, f"test, all {len(gold)}", gold, pred,
                                            list(labels), selector, note, _training_objective(selector)))


@functools.cache
def _adapter_id(run: str) -> str:
    """The run's adapter weights, in the LLM prediction cache's file names (a re-tuned adapter predicts anew)."""
    import hashlib

    return hashlib.sha256((_llm_bench()._adapter(run) / "adapter_model.safetensors").read_bytes()).hexdigest()[:8]


def _llm_predict(run: str, corpus: str, gold: list[Document]) -> list[Document]:
    from bioner.engines.generative.backends import LocalBackend
    from bioner.engines.generative.engine import LLMEngine

    lb = _llm_bench()
    lm = lb.load_base(lb.BASE, lb._adapter(run))
    engine = LLMEngine(LocalBackend(lm, batch_size=8), lb.RUNS[run][1], tokenizer=lm.tokenizer, name=f"llm:{run}")
    return engine.predict([d.copy(entities=[]) for d in gold], lb.specs_of(corpus))


def _llm_bench() -> Any:
    import llm_engines  # the LLM bench's runs, adapters and fixed test subsets

    return llm_engines


def dev_docs(corpus: str) -> list[Document]:
    """A fixed seeded sample of dev documents (``DEV_DOCS``, or ``--dev-docs``), in corpus order (the LLM's dev predictions,
    for its threshold)."""
    import random

    docs = list(corpora.load(corpus, "dev"))
    keep = sorted(random.Random(f"selector-dev:{corpus}").sample(range(len(docs)), min(_dev_count(corpus), len(docs))))
    return [docs[i] for i in keep]


def _dev_count(corpus: str) -> int:
    return DEV_N.get(corpus, DEV_DOCS.get(corpus, DEV_DOCS_DEFAULT))


def _dev_tag(corpus: str) -> str:
    """The dev sample in cache file names: empty for the default sample (the names caches had before ``--dev-docs``)."""
    return f"{_dev_count(corpus)}" if corpus in DEV_N else ""


def test_docs(corpus: str) -> list[Document]:
    """An LLM run's test documents: bench/llm_engines.py's fixed subset, or with ``--test-docs`` a larger seeded sample
    (the same seed; all of the test split when it asks for as many documents as it has)."""
    import random

    if corpus not in TEST_N:
        return _llm_bench().subset_docs(corpus)
    docs = list(corpora.load(corpus, "test"))
    keep = sorted(random.Random(f"llm-bench:{corpus}").sample(range(len(docs)), min(TEST_N[corpus], len(docs))))
    return [docs[i] for i in keep]


def _test_tag(corpus: str) -> str:
    return f"{TEST_N[corpus]}" if corpus in TEST_N else ""


def llm_dev(runs: list[str]) -> None:
    """The runs' predictions on dev samples (cached): what the LLM threshold is chosen on."""
    from functools import partial

    lb = _llm_bench()
    for run in runs:
        for corpus in lb.RUNS[run][0]:
            gold = dev_docs(corpus)
            _cached(CACHE / f"{corpus}-dev{_dev_tag(corpus)}-llm-{run}-{_adapter_id(run)}.jsonl", partial(_llm_predict, run, corpus, gold))
            print(f"{run}: dev predictions on {len(gold)} {corpus} documents", flush=True)


def llm_rows(runs: list[str]) -> None:
    from functools import partial

    from bioner.selector.train import calibrate_selector

    lb = _llm_bench()
    for run in runs:
        selector = _load_selector()
        dev = _llm_dev_parts(run)
        note = "the selector's general threshold (no LLM dev predictions)"
        if dev:
            table = calibrate_selector(selector, dev, repair=REPAIR)
            note = f"this run's dev predictions ({', '.join(f'{p.name} {len(p.gold)} docs' for p in dev)}): {json.dumps(table)}"
        for corpus in lb.RUNS[run][0]:
            gold = test_docs(corpus)
            types = list(corpora.get(corpus).types)
            pred = _cached(CACHE / f"{corpus}-test{_test_tag(corpus)}-llm-{run}-{_adapter_id(run)}.jsonl", partial(_llm_predict, run, corpus, gold))
            whole = len(gold) == len(corpora.load(corpus, "test"))
            docs_note = f"test, all {len(gold)}" if whole else f"test subset{'' if corpus in TEST_N else ' of bench/llm_engines.py'}, {len(gold)}"
            key = (f"llm:{run}|{corpus}|{_selector_name()}" + (f"|test{_test_tag(corpus)}" if corpus in TEST_N else "")
                   + ("|repair" if REPAIR else ""))
            _save_result(key, _row(f"llm {run} (Gemma 3 270M + LoRA @{_adapter_id(run)})", "llm", corpus, docs_note, gold, pred, types,
                                   selector, note, "no-loss" if dev else _training_objective(selector)))


def _llm_dev_parts(run: str) -> list[Any]:
    """The run's cached dev predictions (``llm-dev``) as calibration parts, one per corpus that has them."""
    import bioner.io
    from bioner.selector.train import Part

    parts = []
    for corpus in _llm_bench().RUNS[run][0]:
        cached = CACHE / f"{corpus}-dev{_dev_tag(corpus)}-llm-{run}-{_adapter_id(run)}.jsonl"
        if cached.is_file():
            parts.append(Part(corpus, dev_docs(corpus), list(corpora.get(corpus).types), {"llm": list(bioner.io.read(cached, "jsonl"))}))
    return parts


def calibrate_llm(run: str) -> None:
    """Choose the selector's rule for the generative engine on ``run``'s dev predictions and store it in the selector's
    settings (the shipped selector's ``llm`` rule: the shipped adapter is the ncbi-tags run's); weights untouched."""
    from bioner.selector.train import calibrate_selector, note_rule

    selector = _load_selector()
    dev = _llm_dev_parts(run)
    if not dev:
        raise SystemExit(f"no dev predictions of {run}: run `bench/selector.py llm-dev {run}` first")
    table = calibrate_selector(selector, dev, repair=REPAIR)
    note_rule(selector, "llm", {"run": run, "adapter": _adapter_id(run), "documents": {p.name: len(p.gold) for p in dev}, "repair_tried": REPAIR,
                                "dev": table})
    selector.save_settings(SELECTOR)
    print(f"{_selector_name()}: llm rule {selector.threshold_for('llm')} on {run}'s dev predictions: {json.dumps(table)}")


def _interval(r: dict[str, Any] | None) -> str:
    if not r or "delta_f1_95" not in r:
        return "-"
    lo, hi = r["delta_f1_95"]
    return f"[{lo:+.2f}, {hi:+.2f}]"


def _alone(alone: dict[str, Any] | None) -> str:
    return "- | - | -" if not alone else f"{alone['precision']} | {alone['recall']} | {alone['f1']} {_interval(alone)} (at {alone['threshold']:.3g})"


def _repair(r: dict[str, Any]) -> str:
    return "-" if r.get("repair") is None else f"{r['repair']:g} ({r['repaired']})"


def table() -> str:
    results = _load_results()
    head = ("| engine | corpus | test docs | selector | P | P + selector | R | R + selector | F1 | F1 + selector | change, 95% interval | relaxed F1 | + selector "
            "| engine score re-cut on dev: P | R | F1 | threshold | guard | score weight | mentions together | repair margin (moved) | rule chosen by "
            "| AUC right vs wrong "
            "| candidates | guarded | ms / candidate |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key in sorted(results, key=lambda k: (not k.startswith("span"), k)):
        r = results[key]
        a, b = r["without"], r["with"]
        lines.append(f"| {r['engine']} | {r['corpus']} | {r['docs']} | {_short_name(r['selector'])} | {a['precision']} | {b['precision']} | {a['recall']} | {b['recall']} "
                     f"| {a['f1']} | **{b['f1']}** | {_interval(r)} | {a['relaxed_f1']} | {b['relaxed_f1']} | {_alone(r.get('engine_alone'))} | {r['threshold']:.3g} "
                     f"| {'-' if r.get('guard') is None else format(r['guard'], '.3g')} | {r.get('weight') or '-'} | {'yes' if r.get('consistent') else '-'} "
                     f"| {_repair(r)} | {r.get('objective', 'pooled')} | {r.get('auc') or '-'} "
                     f"| {r['candidates']} | {r.get('guarded', 0)} | {r['ms_per_candidate']} |")
    return "\n".join(lines)


def main() -> None:
    global SELECTOR, REPAIR
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["span", "llm-dev", "llm", "calibrate-llm", "table"])
    ap.add_argument("names", nargs="*", help="span: corpora (default: ncbi-disease bc5cdr bc2gm); llm: runs of bench/llm_engines.py")
    ap.add_argument("--selector", type=Path, default=None, help=f"selector folder (default: {os.path.relpath(SELECTOR, ROOT)})")
    ap.add_argument("--dev-docs", action="append", default=[], metavar="CORPUS=N",
                    help="llm-dev, llm, calibrate-llm: predict and choose the rule on N dev documents of CORPUS (default 20; BC2GM 100 sentences)")
    ap.add_argument("--test-docs", action="append", default=[], metavar="CORPUS=N",
                    help="llm: N test documents of CORPUS, a seeded sample with the LLM bench's seed (default: that bench's subset)")
    ap.add_argument("--repair", action="store_true", help="llm, calibrate-llm: try boundary repair when choosing the LLM rule")
    args = ap.parse_args()
    REPAIR = args.repair
    for option, into in ((args.dev_docs, DEV_N), (args.test_docs, TEST_N)):
        for item in option:
            corpus, _, n = item.partition("=")
            if not n.isdigit() or int(n) < 1:
                ap.error(f"expected CORPUS=N with N a positive whole number, got {item!r}")
            into[corpus] = int(n)
    if args.selector is not None:
        SELECTOR = args.selector.resolve()
    if args.command == "span":
        span_rows(args.names or list(SPAN_CORPORA))
    elif args.command == "llm-dev":
        llm_dev(args.names)
    elif args.command == "llm":
        llm_rows(args.names)
    elif args.command == "calibrate-llm":
        for run in args.names:
            calibrate_llm(run)
        return
    text = table()
    print(text)
    TABLE.write_text(
        "Selectors (column `selector`: the folder `runs/selector/NAME/selector`, or `models/NAME` for the shipped one), trained by "
        f"`{TRAIN_COMMAND} runs/selector/NAME [options]` (v1: the script's defaults; v2: `--engine-on dev-half --dev-sample 500 "
        "--dev-sample bc2gm=2500`; v2-noguard: v2 calibrated with `--no-guard`; v2b: the v2 command run again on 2026-12-06, "
        "against the span model shipped then, calibrated `--no-fuse`; v2b-fuse: the same weights calibrated with the engine "
        "score mixed in; g1: Gemma 3 270M as the classifier, `--base gemma3-270m --freeze-embeddings --engine-on dev-half "
        "--dev-sample 200 --dev-sample bc2gm=1000 --train-sample 20 --train-sample bc2gm=200 --per-gold 1 --context 40 "
        "--max-length 64 --threads 2`, as much data as trains in 75 minutes here: 10,810 candidates, 344 steps at 13 s, "
        "its rule chosen on pooled dev F1 without mention groups, as selectors were calibrated before 2026-12-07; g1c: the same "
        "weights (the g1 command run again with `-o runs/selector/g1c` on a copy of g1's checkpoint, which only re-chooses the rule) "
        "calibrated the current way: `--objective no-loss`, mention groups tried; v3: the v2 command run again on "
        "2026-12-07 with `--threads 2`, calibrated the current way; its weights equal v2b's, as training is deterministic, "
        "and its AUCs with them; l1, release 1 of the shipped selector (models/bioner-selector-gemma3-lora until 2026-12-07; its rows "
        "were named so): g1's command with LoRA adapters (`--lora-r 16 --lr 2e-4`) "
        "instead of `--freeze-embeddings`, a 15 MB adapter and head on the packaged Gemma, its adapter merged into the base at "
        "load, timed alone on one thread (l1's own rows, the same scores timed beside another job, are left out), with a rule for the shipped generative adapter chosen on ncbi-tags' dev predictions "
        "(`bench/selector.py calibrate-llm ncbi-tags`), which the LLM rows re-choose per run anyway); l2: l1 trained further "
        "(`--init`) on the generative bc2gm-tags adapter's and the span model's predictions on 1,000 BC2GM training "
        "sentences (their real false positives) with l1's NCBI-disease and BC5CDR training documents kept in the mix "
        "(`scripts/train_selector_l2.py`: 4,806 candidates, 154 steps, lr 1e-4, head 1e-4, 30 minutes on one thread), "
        "its span rule chosen again on l1's dev halves and its generative rule on ncbi-tags' 100 dev documents; "
        "release 2 of the shipped selector (models/bioner-selector-gemma3-lora from 2026-12-07 on, the same weights). "
        "`mentions together`: a document's mentions of one type and text (and abbreviations with their long forms) decided "
        "together; `rule chosen by`: pooled (micro F1 over all dev predictions) or no-loss (the largest mean F1 gain over "
        "the dev corpora among rules that lower none of them). "
        "Span rows: threshold, guard and score weight chosen on "
        "the span engine's dev predictions at training (a candidate whose span score reaches the guard is kept unscored; "
        "`guarded` counts them; with a score weight w the decision is on sigmoid(w logit(span score) + (1 - w) logit(selector "
        "probability))). The control `engine score re-cut on dev`: no selector, the span engine's own score cut where it "
        "is best on the same dev predictions; a selector adds only what it gains beyond that. `change, 95% interval`: "
        "paired bootstrap of strict F1 with minus without over the test documents (2,000 resamples, seed 0; rows from "
        "2026-12-06 on), the control's beside its F1. LLM rows: threshold chosen on that run's predictions on a dev sample (20 documents per corpus; "
        "BC2GM 100 sentences; `llm-dev`), or on a larger seeded sample (`--dev-docs CORPUS=N`), test rows on the LLM bench's subset or on a "
        "larger seeded sample with its seed (`--test-docs CORPUS=N`; `test, all N` when that is the whole split); LLM entities have no "
        "score, so no guard. `repair margin (moved)`: with `--repair` the rule may replace a candidate by its span one token wider or "
        "narrower at either end when the selector prefers it by more than the margin (chosen on dev with the threshold; `-`: no repair), "
        "and how many test candidates it moved; its cost includes scoring those variants. Rows: `.venv/bin/python bench/selector.py "
        "span|llm-dev|llm ... --selector runs/selector/NAME/selector`. AUC: how well the selector's probability ranks the "
        "engine's right (strict) predictions above its wrong ones (0.5 = chance), over every candidate. ms / candidate: "
        "one torch thread, on a machine running other jobs.\n\n"
                     + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
