"""Generative engine bench: Gemma 3 270M + LoRA in both task formats, single-corpus and jointly tuned.

Run (each step resumes; results are cached, so steps may run in separate processes or sessions):
    .venv/bin/python bench/llm_engines.py train ncbi-json          # LoRA tuning into runs/llm/ncbi-json
    .venv/bin/python bench/llm_engines.py eval ncbi-json           # strict/relaxed F1 on the fixed test subsets
    .venv/bin/python bench/llm_engines.py all                      # every run: train what is missing, evaluate, table
    .venv/bin/python bench/llm_engines.py http ncbi-json           # the same subsets through an OpenAI-compatible server
    .venv/bin/python bench/llm_engines.py table                    # print the table from bench/results/llm_engines.json

Same training budget for every run (``STEPS`` optimizer steps of ``BATCH`` x ``ACCUM``
samples, the same LoRA recipe and seed); a joint run spends it on a mix of its corpora,
each with its own types and definitions. Test subsets: for each corpus the same seeded
sample of test documents (``SUBSET`` documents, ``subset_docs``) for every row, because
decoding a whole test split with a 270M LLM on 2 CPU cores takes hours. Scores are
strict entity-level micro P/R/F1 (start, end and type must match) with relaxed (overlap)
F1 beside; parse- and alignment-failure rates, generated tokens per predicted entity and
generation throughput come from the engine's GenerationStats.

``http`` merges the run's adapter into the base model (runs/llm/NAME/merged), serves it
with ``transformers serve`` on loopback and decodes the same subsets through the HTTP
backend (``--concurrency`` requests in flight), so the two backends are compared on the
same model, prompts and sentences in one table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
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

OUT = ROOT / "runs" / "llm"
RESULTS = ROOT / "bench" / "results" / "llm_engines.json"  # committed: rows survive across sessions
BASE = "gemma3-270m"
STEPS, BATCH, ACCUM, LR = 150, 4, 2, 2e-4
SUBSET = {"ncbi-disease": 20, "bc5cdr": 20, "genia": 12, "cmeee-carved": 150, "bc2gm": 200}  # test documents per corpus (CMeEE, BC2GM: sentences)
TRAIN_SPLIT = {"cmeee-carved": "train"}
# name -> (corpora tuned on, scheme); evaluated on each corpus it was tuned on
RUNS: dict[str, tuple[tuple[str, ...], str]] = {
    "ncbi-json": (("ncbi-disease",), "json"),
    "ncbi-tags": (("ncbi-disease",), "tags"),
    "bc5cdr-json": (("bc5cdr",), "json"),
    "bc5cdr-tags": (("bc5cdr",), "tags"),
    "genia-tags": (("genia",), "tags"),
    "bc2gm-tags": (("bc2gm",), "tags"),  # the selector bench's generative BC2GM row (bench/selector.py)
    "cmeee-json": (("cmeee-carved",), "json"),
    "cmeee-tags": (("cmeee-carved",), "tags"),
    "joint-json": (("ncbi-disease", "bc5cdr", "cmeee-carved"), "json"),
    "joint-tags": (("ncbi-disease", "bc5cdr", "genia", "cmeee-carved"), "tags"),
}


def subset_docs(corpus: str) -> list[Document]:
    """The fixed test subset of ``corpus``: a seeded sample of its test documents, in corpus order."""
    docs = list(corpora.load(corpus, "test"))
    rng = random.Random(f"llm-bench:{corpus}")
    keep = sorted(rng.sample(range(len(docs)), min(SUBSET[corpus], len(docs))))
    return [docs[i] for i in keep]


def specs_of(corpus: str) -> list[Any]:
    from bioner.engines.generative.prompts import TypeSpec

    return [TypeSpec.of(t) for t in corpora.get(corpus).types]


def load_base(base: str, adapter: Path | None = None) -> Any:
    from bioner.engines.generative.model import load_causal_lm

    return load_causal_lm(base, adapter=adapter)


def train(name: str, *, base: str, threads: int | None, max_steps: int | None) -> None:
    import torch

    from bioner.engines.generative.train import LLMTrainConfig, Part, build_samples, summarize, train_llm
    from bioner.errors import Report

    if threads:
        torch.set_num_threads(threads)
    names, scheme = RUNS[name]
    lm = load_base(base)
    report = Report(skip_invalid=True)
    parts = [Part(c, list(corpora.load(c, TRAIN_SPLIT.get(c, "train"))), specs_of(c)) for c in names]
    samples = build_samples(parts, scheme, lm.tokenizer, report=report)
    print(f"{name}: {len(samples)} samples {summarize(samples)}; {report.summary()}", flush=True)
    config = LLMTrainConfig(scheme=scheme, max_steps=STEPS, batch_size=BATCH, grad_accum=ACCUM, lr=LR, save_every=10)
    types = {p.name: [{"name": s.name, "label": s.label, "definition": s.definition} for s in p.types] for p in parts}
    result = train_llm(lm.model, lm.tokenizer, samples, output_dir=OUT / name, config=config, base_model=base, types=types,
                       max_steps=max_steps, report=report, progress=False, log_every=5)
    meta = {"run": name, "steps": result.steps, "finished": result.finished, "seconds_this_call": round(result.seconds, 1),
            "samples": result.samples, "last_losses": [round(x, 4) for x in result.losses[-10:]]}
    print(json.dumps(meta), flush=True)
    with open(OUT / name / "train_log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(meta) + "\n")


def _load_results() -> dict[str, Any]:
    return load_results(RESULTS)


def _add_result(key: str, row: dict[str, Any]) -> None:
    add_result(RESULTS, key, row, OUT)


class Recording:
    """A backend wrapper that keeps every prompt's raw generation, for error analysis."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.rows: list[dict[str, Any]] = []

    def generate(self, prompts: Any, **kwargs: Any) -> Any:
        gens = self.backend.generate(prompts, **kwargs)
        for p, g in zip(prompts, gens):
            # the prompt ends with the unit's text; its tail is enough to find the sentence
            self.rows.append({"prompt_tail": p.text[-300:], "output": g.text, "finish": g.finish_reason,
                              "tokens": g.completion_tokens})
        return gens


def _score(name: str, engine: Any, backend: str, extra: dict[str, Any], only: list[str] | None = None) -> None:
    import torch

    from bioner.evaluate import evaluate

    names, scheme = RUNS[name]
    for corpus in names:
        if only and corpus not in only:
            continue
        gold = subset_docs(corpus)
        recording = engine.backend = Recording(engine.backend)
        started = time.perf_counter()
        pred = engine.predict(gold, specs_of(corpus))
        seconds = time.perf_counter() - started
        engine.backend = recording.backend
        # raw generations beside the adapter (runs/ is not committed): what failed to parse or align, and why
        with open(OUT / name / f"generations-{corpus}-{backend}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recording.rows)
        ev = evaluate(gold, pred)
        stats = engine.last.as_dict()
        row = {"run": name, "corpus": corpus, "scheme": scheme, "joint": len(names) > 1, "docs": len(gold), "backend": backend,
               "strict": ev.strict.micro.as_dict(), "relaxed": ev.relaxed.micro.as_dict(), "stats": stats,
               "seconds": round(seconds, 1), "threads": torch.get_num_threads(), "tuned": _tuned_on(name), **extra}
        _add_result(f"{name}|{corpus}|{backend}", row)
        print(f"{name} on {corpus} ({backend}): strict F1 {100 * row['strict']['f1']:.2f} relaxed {100 * row['relaxed']['f1']:.2f} "
              f"units {stats['units']} in {seconds:.0f}s; parse fail {stats['parse_failures']} align fail {stats['align_failures']}", flush=True)


def _tuned_on(name: str) -> str:
    """The day the run's adapter was written (UTC): which side of the loss fix of 2026-11-28 a row is on."""
    return time.strftime("%Y-%m-%d", time.gmtime((_adapter(name) / "adapter_config.json").stat().st_mtime))


def _adapter(name: str) -> Path:
    adapter = OUT / name / "adapter"
    if not adapter.is_dir():
        raise SystemExit(f"{name}: no adapter yet ({adapter}); run `train {name}` first")
    return adapter


def evaluate_run(name: str, *, base: str, threads: int | None, batch_size: int, only: list[str] | None = None) -> None:
    import torch

    from bioner.engines.generative.backends import LocalBackend
    from bioner.engines.generative.engine import LLMEngine

    if threads:
        torch.set_num_threads(threads)
    lm = load_base(base, _adapter(name))
    engine = LLMEngine(LocalBackend(lm, batch_size=batch_size), RUNS[name][1], tokenizer=lm.tokenizer, name=f"llm:{name}")
    _score(name, engine, "local", {"batch_size": batch_size}, only)


def http_run(name: str, *, base: str, threads: int | None, concurrency: int) -> None:
    """Merge the adapter, serve the merged model with ``transformers serve``, decode the subsets over HTTP."""
    from bioner.engines.generative.backends import HttpBackend
    from bioner.engines.generative.engine import LLMEngine
    from bioner.engines.generative.serving import transformers_server

    merged = OUT / name / "merged"
    if not (merged / "config.json").is_file():
        lm = load_base(base, _adapter(name))
        tmp = merged.with_name("merged.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        lm.model.merge_and_unload().save_pretrained(tmp)
        lm.tokenizer.save_pretrained(tmp)
        os.replace(tmp, merged)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(merged)
    with transformers_server(merged, log=OUT / name / "server.log", threads=threads or 2) as url, \
            HttpBackend(url, str(merged), api="completions", concurrency=concurrency, timeout=600) as backend:
        engine = LLMEngine(backend, RUNS[name][1], tokenizer=tokenizer, name=f"llm:{name}")
        _score(name, engine, "http", {"concurrency": concurrency, "server": "transformers serve"})


def table() -> str:
    results = _load_results()
    lines = ["| run | corpus | format | tuning | backend | test docs | strict P | strict R | strict F1 | relaxed F1 | parse fail % | align fail % | tokens/entity | sentences/s | tuned |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(results, key=lambda k: (results[k]["corpus"], results[k]["scheme"], results[k]["joint"], results[k].get("backend", ""))):
        r = results[key]
        s, st = r["strict"], r["stats"]
        backend = r.get("backend", "local") + (f" x{r['concurrency']}" if r.get("concurrency") else f" b{r.get('batch_size', '')}")
        lines.append(f"| {r['run']} | {r['corpus']} | {r['scheme']} | {'joint' if r['joint'] else 'single'} | {backend} | {r['docs']} | "
                     f"{100 * s['precision']:.2f} | {100 * s['recall']:.2f} | {100 * s['f1']:.2f} | {100 * r['relaxed']['f1']:.2f} | "
                     f"{100 * st['parse_failure_rate']:.1f} | {100 * st['align_failure_rate']:.1f} | {st['tokens_per_entity']:.1f} | {st['units_per_second']:.2f} | {r.get('tuned', 'before the fix')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["train", "eval", "http", "all", "table"])
    ap.add_argument("runs", nargs="*", help=f"runs (default all): {', '.join(RUNS)}")
    ap.add_argument("--base", default=BASE, help="base model (default: the packaged Gemma 3 270M)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=None, help="stop this call after N steps in total (resume later)")
    ap.add_argument("--batch-size", type=int, default=8, help="generation batch size")
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight for `http`")
    ap.add_argument("--corpus", action="append", help="eval: only these of the run's corpora (repeatable)")
    args = ap.parse_args()
    runs = args.runs or list(RUNS)
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        raise SystemExit(f"unknown runs {unknown}; known: {', '.join(RUNS)}")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.command in ("train", "all"):
        for r in runs:
            if not (OUT / r / "adapter").is_dir():
                train(r, base=args.base, threads=args.threads, max_steps=args.max_steps)
    if args.command in ("eval", "all"):
        done = _load_results()
        for r in runs:
            if args.command == "all" and all(f"{r}|{c}|local" in done for c in RUNS[r][0]):
                continue  # `all` fills in what is missing; `eval` always re-scores
            evaluate_run(r, base=args.base, threads=args.threads, batch_size=args.batch_size, only=args.corpus)
    if args.command == "http":
        for r in runs:
            http_run(r, base=args.base, threads=args.threads, concurrency=args.concurrency)
    report = "\n".join([
        "# Generative engine: Gemma 3 270M + LoRA, JSON vs symbolic tags, single-corpus vs joint",
        "",
        "Command: `.venv/bin/python bench/llm_engines.py all` (or per run: `train NAME`, `eval NAME`, `http NAME`; `table` reprints) — "
        + time.strftime("%Y-%m-%d") + ". Every row comes from bench/results/llm_engines.json; rows are added as runs finish.",
        "",
        f"Budget for every run: {STEPS} optimizer steps x {BATCH * ACCUM} sentences ({BATCH} x {ACCUM} accumulation), LoRA r16/alpha 32 "
        f"on all projections, lr {LR}, seed 0, base `{BASE}` (float32, CPU). Test subsets: a seeded sample of test documents per corpus "
        f"({', '.join(f'{c} {n}' for c, n in SUBSET.items())}; `subset_docs`), the same for every row; CMeEE is `cmeee-carved`'s test split. "
        "Strict = start, end and type match; relaxed = overlap and type. parse fail % = unparsable items over all items; "
        "align fail % = parsed mentions not placed in the text; tokens/entity = generated tokens (EOS included) per predicted entity; "
        "sentences/s on this 2-core machine, shared with other jobs while these ran (read as ±50%). "
        "`local b8`: LocalBackend, batch 8, 1 thread; `http x4`: the adapter merged into the base, served by `transformers serve` "
        "(no continuous batching), 4 requests in flight.",
        "",
        "**Rows whose `tuned` column says `before the fix` were tuned before the loss fix of 2026-11-28** "
        "(`bioner.engines.generative.train.accumulate`): each "
        "micro-batch's loss was the mean over its own answer tokens, so length-bucketed batches of short empty answers (`[]`, `none`) "
        "gave the negatives most of the weight of the choice between an empty answer and entities (on NCBI-disease, 80% for 44% of "
        "the samples; bench/results/curation.md). Recall, of the joint runs most, is likely held down by that; those rows are to be "
        "re-run. A date in `tuned` is the day the row's adapter was written, under the fixed loss.",
        "",
        table(),
        "",
    ])
    print(report)
    (ROOT / "bench" / "results" / "llm_engines.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
