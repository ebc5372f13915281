"""Zero-shot (leave-one-corpus-out) and few-shot span models, with and without a silver stage (issue 7).

Run (every step resumes and caches; steps may run in separate processes or sessions):
    .venv/bin/python bench/zero_shot.py base ncbi-disease      # train the model without that unit (runs/zero-shot/UNIT/base)
    .venv/bin/python bench/zero_shot.py silver ncbi-disease    # teacher-annotate the raw pool with it, filter, train the student
    .venv/bin/python bench/zero_shot.py silver s800 --silver-negative-types 0   # the same silver, a student asked only for the types found
    .venv/bin/python bench/zero_shot.py eval ncbi-disease      # score base (and student, when trained) on the unit's test splits
    .venv/bin/python bench/zero_shot.py eval bc2gm --base-again   # also score a base retrained since its first score
    .venv/bin/python bench/zero_shot.py fewshot ncbi-disease   # k = 10, 50, 200 sentences x DRAWS draws from the base model
    .venv/bin/python bench/zero_shot.py table                  # print both tables from bench/results/zero_shot.json

Units. Each unit is left out with every corpus sharing its texts (``bioner.leave_out``):
leaving out bc5cdr removes chemicals from training altogether (no other corpus has them), so
BC5CDR-chemical is zero-shot in type as well as corpus; the others keep a sibling corpus of
the same type (NCBI-disease has BC5CDR's diseases, LINNAEUS has S800's species).

Gold recipe: ``bioner.leave_out.RECIPE`` (``gold_options``) — a fresh uni-encoder on the packaged
MiniLM (hidden 256, max width 12), batch 8, lr 5e-5 / 2.5e-4, 2,000 steps on fixed per-corpus
document samples of the remaining corpora's train splits, dev = fixed samples of their dev
splits, best checkpoint kept, threshold chosen on that dev (never on the left-out corpus).
The same recipe as ``bioner evaluate --leave-out UNIT`` (its default), so
``bioner evaluate --leave-out ncbi-disease --run-dir runs/zero-shot/ncbi-disease/base`` loads the bench's model.

Silver (``silver UNIT``): the raw pool is ``RAW_SENTENCES`` sentences (seed 0) of the
deduplicated unlabeled train text of all six corpora (``bioner silver raw``; the left-out
corpus's text is in it, never its labels). The teacher is the unit's own base model: it has
never seen the unit's annotations, so the student learns nothing about them from it. It is
run once per label group (``SILVER_GROUPS``, the label sets the corpora were trained with,
one prompt each) with ``bioner.annotate``; the groups are merged (union, ``merge_teachers``)
keeping entities with score >= ``SILVER_MIN_SCORE``. The student: two-stage, a fresh model
trained ``SILVER_STEPS`` steps on silver, then the same gold recipe as the base model.
``--silver-negative-types P`` trains another student on the same silver (``student-negP``)
whose silver sentences are asked for a type their teacher did not find there with
probability P only (the recipe: 1, every type of the silver), so a mention the teacher
missed is taught as "not an entity" less often (``SpanTrainOptions.silver_negative_types``).

Few-shot (``fewshot UNIT``): from the unit's base model, fine-tuned on k sentences of the
unit's train split (``bioner.sampling``, seeds 0..DRAWS-1), ``FEW_EPOCHS`` epochs (at least
``FEW_MIN_STEPS`` steps), no dev (the base model's threshold), scored on the test split.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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

from bioner.cli.train import MODEL_DIR, SpanTrainOptions  # noqa: E402
from bioner.errors import Report  # noqa: E402

OUT = ROOT / "runs" / "zero-shot"
RESULTS = ROOT / "bench" / "results" / "zero_shot.json"
# unit left out -> the test corpora it is scored on
UNITS: dict[str, tuple[str, ...]] = {
    "ncbi-disease": ("ncbi-disease",),
    "bc5cdr": ("bc5cdr-chem", "bc5cdr-disease"),
    "bc2gm": ("bc2gm",),
    "jnlpba": ("jnlpba", "genia"),
    "linnaeus": ("linnaeus",),
    "s800": ("s800",),
}
FEW_TARGETS = {"ncbi-disease": "ncbi-disease", "bc5cdr-chem": "bc5cdr"}  # few-shot corpus -> the unit whose base model it starts from
SILVER_STEPS = 1000
LOG_EVERY = 100
RAW_SENTENCES = 8000
SILVER_GROUPS: tuple[tuple[str, ...], ...] = (
    ("disease", "chemical compound or drug"),
    ("gene or gene product",),
    ("protein", "DNA", "RNA", "cell line", "cell type"),
    ("species",),
)
SILVER_MIN_SCORE = 0.7
SHOTS, DRAWS, FEW_EPOCHS, FEW_MIN_STEPS = (10, 50, 200), 3, 10, 20
# published anchors (strict F1) shown beside the table
ANCHORS = {
    "ncbi-disease": "LLMNER 69.15 (not trained on NCBI-disease)",
}


def gold_options(unit: str, output: Path, threads: int, **extra: Any) -> SpanTrainOptions:
    """The gold recipe (``bioner.leave_out.RECIPE``) for ``unit``: its training corpora, this output folder and thread count."""
    from bioner.leave_out import recipe_options, training_corpora

    return recipe_options().merged({"corpus": training_corpora(unit), "output": str(output), "threads": threads, **extra})


def _base_dir(unit: str) -> Path:
    return OUT / unit / "base"


def cmd_base(unit: str, threads: int) -> Path:
    from bioner.leave_out import leave_out_model

    t0 = time.perf_counter()
    run = leave_out_model(unit, gold_options(unit, _base_dir(unit), threads), log_every=LOG_EVERY, report=Report(skip_invalid=True))
    print(f"base {unit}: {run.model_dir} ({'trained' if run.trained_now else 'loaded'}, {time.perf_counter() - t0:.0f} s)", flush=True)
    return run.model_dir


def raw_pool() -> Path:
    """The shared raw sentences: deduplicated unlabeled train text of every corpus, RAW_SENTENCES sampled (seed 0)."""
    import bioner.io
    from bioner.leave_out import POOL
    from bioner.sampling import sample_sentences
    from bioner.silver import DedupStats, dedup, raw_documents

    path = OUT / "raw.jsonl"
    if not path.is_file():
        stats = DedupStats()
        docs = list(dedup(raw_documents(POOL), stats))
        sents = sample_sentences(docs, RAW_SENTENCES, seed=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        bioner.io.write(sents, path)
        print(f"raw pool: {len(docs)} documents after dedup ({stats.dropped} near-duplicates dropped), {len(sents)} sentences -> {path}", flush=True)
    return path


def _student(negatives: float | None) -> str:
    """The student's run folder (and results variant): the recipe's, or one with other silver negatives."""
    return "student" if negatives is None else f"student-neg{negatives:g}"


def cmd_silver(unit: str, threads: int, negatives: float | None = None) -> Path:
    """Teacher annotation with the unit's base model, merged and filtered, then the two-stage student."""
    import bioner.io
    from bioner.annotate import annotate
    from bioner.leave_out import leave_out_model
    from bioner.silver import MergeStats, merge_teachers, read_teacher

    teacher = cmd_base(unit, threads)
    raw = raw_pool()
    silver = OUT / unit / "silver.jsonl"
    if not silver.is_file():
        outs = []
        for k, group in enumerate(SILVER_GROUPS):
            out = OUT / unit / f"teacher-{k}"
            t0 = time.perf_counter()
            annotate([raw], out, model=str(teacher), labels=list(group), per_label=False, shard_size=500, abbreviations=False)  # the protocol of the first units
            print(f"teacher {unit} group {k} {group}: {time.perf_counter() - t0:.0f} s", flush=True)
            outs.append(out)
        stats = MergeStats([o.name for o in outs])
        docs = merge_teachers([read_teacher(o) for o in outs], [o.name for o in outs], agree=1, min_score=SILVER_MIN_SCORE, stats=stats)
        bioner.io.write(docs, silver)  # writers replace the file atomically: a crash leaves no partial silver.jsonl
        print(f"silver {unit}: kept {stats.kept}, dropped by score {stats.dropped_score}; per label "
              f"{ {k: dict(v) for k, v in stats.by_label.items()} }", flush=True)
    t0 = time.perf_counter()
    opts = gold_options(unit, OUT / unit / _student(negatives), threads, silver=[str(silver)], silver_mode="two-stage", silver_steps=SILVER_STEPS,
                        silver_negative_types=negatives)
    run = leave_out_model(unit, opts, log_every=LOG_EVERY, report=Report(skip_invalid=True))
    print(f"student {unit}: {run.model_dir} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return run.model_dir


def _score(model_dir: Path, corpus: str, threads: int) -> dict[str, Any]:
    from bioner.leave_out import leave_out_evaluate

    t0 = time.perf_counter()
    ev = leave_out_evaluate(corpus, model_dir, threads=threads).as_dict()
    s, r = ev["strict"]["micro"], ev["relaxed"]["micro"]
    return {"docs": ev["documents"], "gold": s["support"], "p": 100 * s["precision"], "r": 100 * s["recall"], "f1": 100 * s["f1"],
            "relaxed_f1": 100 * r["f1"], "seconds": round(time.perf_counter() - t0)}


def cmd_eval(unit: str, threads: int, base_again: bool = False) -> None:
    """Score every trained variant of the unit once; ``base_again``: also score today's base as ``base-again``.

    A base retrained in a later session (same recipe and seed) was not the same model as the
    one scored first (on 2026-12-06 the scores moved by up to 15 F1: the new layers' random
    start was not seeded before 58b48b2), and it is the teacher of the students trained from
    it: scored again it gives those students a paired baseline.
    """
    others = sorted(p.name for p in (OUT / unit).glob("student-neg*"))
    for variant in ("base", *(("base-again",) if base_again else ()), "student", *others):
        model_dir = OUT / unit / ("base" if variant == "base-again" else variant) / MODEL_DIR  # base-again: the base folder, scored anew
        if not model_dir.is_dir():
            continue
        for corpus in UNITS[unit]:
            key = f"loo/{variant}/{corpus}"
            if key in load_results(RESULTS):
                continue
            row = {"unit": unit, "variant": variant, "corpus": corpus, **_score(model_dir, corpus, threads), "date": time.strftime("%Y-%m-%d")}
            add_result(RESULTS, key, row, OUT)
            print(key, row, flush=True)


def cmd_fewshot(target: str, threads: int) -> None:
    """k-shot fine-tuning of the unit's base model on ``target`` (a corpus of FEW_TARGETS)."""
    from bioner.cli.train import train_span_model

    unit = FEW_TARGETS[target]
    start = cmd_base(unit, threads)
    for k in SHOTS:
        for draw in range(DRAWS):
            key = f"few/{target}/{k}/{draw}"
            if key in load_results(RESULTS):
                continue
            out = OUT / unit / f"few-{target}-{k}-{draw}"
            steps = max(FEW_MIN_STEPS, FEW_EPOCHS * -(-k // 8))
            opts = SpanTrainOptions(corpus=[target], model=str(start), output=str(out), train_sentences=k, seed=draw, batch_size=8,
                                    lr=5e-5, others_lr=2.5e-4, schedule_steps=steps, threads=threads, use_dev=False)
            t0 = time.perf_counter()
            run = train_span_model(opts, log_every=LOG_EVERY, report=Report(skip_invalid=True))
            train_s = time.perf_counter() - t0
            row = {"target": target, "k": k, "draw": draw, "steps": run.result.steps, "train_seconds": round(train_s),
                   **_score(run.model_dir, target, threads), "date": time.strftime("%Y-%m-%d")}
            add_result(RESULTS, key, row, OUT)
            shutil.rmtree(out, ignore_errors=True)  # ~100 MB of weights per run; the scores are what is kept
            print(key, row, flush=True)


def table() -> str:
    res = load_results(RESULTS)
    lines = [
        "# Zero-shot (leave-one-corpus-out) and few-shot span models",
        "",
        f"Command: `.venv/bin/python bench/zero_shot.py ...` (see its docstring) — rows from bench/results/zero_shot.json. "
        "Gold recipe: bioner.leave_out.RECIPE (MiniLM uni-encoder, 2,000 steps of batch 8 on the other corpora's train samples); "
        f"silver student: {SILVER_STEPS} steps on {RAW_SENTENCES} teacher-annotated raw sentences (score >= {SILVER_MIN_SCORE}), then the gold recipe. "
        "Full test splits; strict = exact span and type, relaxed = overlap and type.",
        "",
        "Anchors: LLMNER 69.15 strict F1 on NCBI-disease without training on it (as cited in issue 7). GLiNER-BioMed's published "
        "zero-shot F1 is one average over its eight benchmarks (among them NCBI-disease and BC5CDR; its released evaluator matches "
        "overlapping spans, so read it beside relaxed F1): uni small/base/large 52.5 / 54.4 / 59.8, bi small/base/large "
        "56.9 / 58.3 / 54.9 (Knowledgator documentation, GlinerBiomedTable.jsx; per-dataset numbers were not available here).",
        "",
        "| left out | test corpus | docs | gold | strict P | strict R | **strict F1** | relaxed F1 | silver stage: strict F1 | relaxed F1 | anchor |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for unit, tests in UNITS.items():
        for corpus in tests:
            b, s = res.get(f"loo/base/{corpus}"), res.get(f"loo/student/{corpus}")
            if b is None and s is None:
                continue
            base = f"| {b['docs']} | {b['gold']} | {b['p']:.2f} | {b['r']:.2f} | **{b['f1']:.2f}** | {b['relaxed_f1']:.2f}" if b else "| | | | | |"
            stud = f"| {s['f1']:.2f} | {s['relaxed_f1']:.2f}" if s else "| | "
            lines.append(f"| {unit} | {corpus} {base} {stud} | {ANCHORS.get(corpus, '')} |")
    lines += _variant_rows(res)
    few = [v for k, v in res.items() if k.startswith("few/")]
    if few:
        lines += ["", "Few-shot: fine-tuned from the leave-one-out base model on k sentences of the target's train split "
                  f"({DRAWS} seeded draws; mean ± sd of strict F1 on the full test split; k = 0 is the base model).", "",
                  "| target | k | draws | strict F1 mean | sd | relaxed F1 mean | steps |", "|---|---|---|---|---|---|---|"]
        for target in FEW_TARGETS:
            zero = res.get(f"loo/base/{target}")
            if zero:
                lines.append(f"| {target} | 0 | - | {zero['f1']:.2f} | - | {zero['relaxed_f1']:.2f} | 0 |")
            for k in SHOTS:
                rows = [v for v in few if v["target"] == target and v["k"] == k]
                if rows:
                    f1 = [r["f1"] for r in rows]
                    sd = statistics.stdev(f1) if len(f1) > 1 else 0.0
                    lines.append(f"| {target} | {k} | {len(rows)} | {statistics.mean(f1):.2f} | {sd:.2f} | "
                                 f"{statistics.mean(r['relaxed_f1'] for r in rows):.2f} | {rows[0]['steps']} |")
    return "\n".join(lines)


def _f1(row: dict[str, Any] | None) -> str:
    return f"{row['f1']:.2f}" if row else "-"


def _variant_rows(res: dict[str, Any]) -> list[str]:
    """Students trained on the same silver with fewer negative prompts (``--silver-negative-types``), beside the recipe's."""
    order = list(UNITS)
    rows = sorted(((order.index(v["unit"]), v["corpus"], v["variant"]), k) for k, v in res.items() if k.startswith("loo/student-neg"))
    if not rows:
        return []
    lines = ["", "Silver stage, fewer negative prompts: the same silver, its sentences asked for a type the teacher did not find there "
             "with probability P (the recipe's student: P = 1). `base again`: the unit's base model retrained in a later session "
             "(same recipe and seed, but the new layers' random start was unseeded until 58b48b2, so in effect another "
             "initialisation; `eval UNIT --base-again`); where it is given, it "
             "was the teacher of that row's silver, so it is the row's paired baseline, and the recipe's student (taught by the first "
             "base) is not.", "",
             "| left out | test corpus | silver negatives | strict P | strict R | **strict F1** | relaxed F1 | recipe's student (P = 1) strict F1 "
             "| base strict F1 | base again strict F1 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (_, _, variant), key in rows:
        v = res[key]
        recipe, base, again = (res.get(f"loo/{name}/{v['corpus']}") for name in ("student", "base", "base-again"))
        lines.append(f"| {v['unit']} | {v['corpus']} | {variant.removeprefix('student-neg')} | {v['p']:.2f} | {v['r']:.2f} | **{v['f1']:.2f}** | "
                     f"{v['relaxed_f1']:.2f} | {_f1(recipe)} | {_f1(base)} | {_f1(again)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("base", "silver", "eval", "fewshot", "table"))
    ap.add_argument("names", nargs="*", help="units (base, silver, eval) or few-shot targets (fewshot)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--silver-negative-types", type=float, default=None, metavar="P",
                    help="silver: train a student whose silver sentences are asked for types their teacher did not find with probability P")
    ap.add_argument("--base-again", action="store_true",
                    help="eval: also score the base model as it is now (retrained since its first score) as variant base-again")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.command == "table":
        _report()
        return
    choices = FEW_TARGETS if args.command == "fewshot" else UNITS
    for name in args.names or list(choices):
        if name not in choices:
            raise SystemExit(f"unknown name {name!r}; one of: {', '.join(choices)}")
        if args.command == "silver":
            cmd_silver(name, args.threads, args.silver_negative_types)
        elif args.command == "eval":
            cmd_eval(name, args.threads, args.base_again)
        else:
            {"base": cmd_base, "fewshot": cmd_fewshot}[args.command](name, args.threads)
    _report()


def _report() -> None:
    """Print the tables and save them beside the JSON rows."""
    report = table()
    print(report)
    RESULTS.with_suffix(".md").write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
