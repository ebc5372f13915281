"""Hybrid Superfiltering experiment: does tuning on IFD-selected data beat tuning on all of it?

Run (every step resumes and caches; steps may run in separate processes or sessions):
    .venv/bin/python bench/curation.py score [CORPUS ...]    # IFD of every training sample (weak model: Gemma 3 270M);
                                                             # --positives-only: just what hybrid and ifd-only runs need
    .venv/bin/python bench/curation.py time                  # scoring cost per sample, positives and negatives apart
    .venv/bin/python bench/curation.py byhand                # three samples: IFD from the model's token log-probs vs the tool
    .venv/bin/python bench/curation.py train NAME            # NAME = CORPUS-STRATEGY-sSEED, e.g. ncbi-disease-hybrid-s0;
                                                             # NAME-600steps: a longer budget (tabled apart)
    .venv/bin/python bench/curation.py eval NAME
    .venv/bin/python bench/curation.py weights               # what share of the []-or-entities gradient the negatives get, old and new loss
    .venv/bin/python bench/curation.py why [NAME ...]        # why a run answers []: its probability of the empty answer per test sentence
    .venv/bin/python bench/curation.py all                   # every missing run: train, evaluate; then the table
    .venv/bin/python bench/curation.py table

Design. Corpora: NCBI-disease and BC5CDR-disease (train splits). Strategies
(``bioner.curation``): full data; hybrid (IFD < 1, top 50% of positives by IFD, every
negative); random 50% of positives + every negative; IFD top 50% without negatives.
Each run tunes Gemma 3 270M + LoRA in the JSON format with exactly the budget of
bench/llm_engines.py (the same optimizer steps, batch, accumulation, learning rate
and LoRA recipe), for seeds 0 and 1 (the seed orders the data, and draws the random
strategy's sample). Test: bench/llm_engines.py's fixed test subsets (NCBI-disease 20
documents; BC5CDR-disease: the same 20 documents as its BC5CDR rows, disease type only),
strict entity-level micro F1. The weak model scoring IFD is the base model itself
(Gemma 3 270M), as BioSelectTune scores with a small model of the target's family.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import llm_engines as lb  # noqa: E402  the generative bench: budget, base model, test subsets
from results_file import add_result, load_results  # noqa: E402

from bioner import corpora  # noqa: E402
from bioner.doc import Document  # noqa: E402

OUT = ROOT / "runs" / "curation"
RESULTS = ROOT / "bench" / "results" / "curation.json"
# the IFD cache is committed beside the results (scores keyed by sample hash, no corpus text): scoring
# takes CPU-hours here, and runs/ does not outlive a session
CACHE_DIR = ROOT / "bench" / "results"
TABLE = ROOT / "bench" / "results" / "curation.md"
CORPORA = ("ncbi-disease", "bc5cdr-disease")
STRATEGIES = ("full", "hybrid", "random", "ifd-only")
SEEDS = (0, 1)
RATIO = 0.5
SCHEME = "json"
BEFORE_FIX = "before-loss-fix"  # key prefix of the runs tuned with the per-micro-batch mean loss (table())
SUBSET_OF = {"ncbi-disease": "ncbi-disease", "bc5cdr-disease": "bc5cdr"}  # whose llm_engines test subset each corpus uses


def run_names() -> list[str]:
    return [f"{c}-{s}-s{seed}" for c in CORPORA for s in STRATEGIES for seed in SEEDS]


# CORPUS-STRATEGY-sSEED, optionally -NNNsteps for a budget other than bench/llm_engines.py's
NAME = re.compile(rf"({'|'.join(CORPORA)})-({'|'.join(STRATEGIES)})-s(\d+)(?:-(\d+)steps)?")


def parse(name: str) -> tuple[str, str, int, int]:
    """A run's corpus, strategy, seed and optimizer steps."""
    m = NAME.fullmatch(name)
    if not m:
        raise SystemExit(f"run {name!r}: expected CORPUS-STRATEGY-sSEED[-NNNsteps], e.g. {run_names()[0]} or {run_names()[0]}-600steps "
                         f"(corpora: {', '.join(CORPORA)}; strategies: {', '.join(STRATEGIES)})")
    return m[1], m[2], int(m[3]), int(m[4] or lb.STEPS)


def longer_names(steps: int) -> list[str]:
    """The runs of the longer budget: full against hybrid, the comparison the claim is about."""
    return [f"{c}-{s}-s{seed}-{steps}steps" for c in CORPORA for s in ("full", "hybrid") for seed in SEEDS]


def _lm() -> Any:
    return lb.load_base(lb.BASE)


def samples_of(corpus: str, tokenizer: Any) -> list[Any]:
    from bioner.engines.generative.train import Part, build_samples
    from bioner.errors import Report

    part = Part(corpus, list(corpora.load(corpus, "train")), lb.specs_of(corpus))
    return build_samples([part], SCHEME, tokenizer, report=Report(skip_invalid=True))


def scored_of(samples: list[Any], lm: Any, *, log: bool = True, score: str = "all") -> tuple[list[Any], int, float]:
    """``samples`` with their IFD (from the cache where present; ``score`` as in ``curation.ifd_scores``), how many were
    scored now, and the seconds that took."""
    from bioner import curation

    cache = curation.ScoreCache(CACHE_DIR / f"curation-ifd-{curation.model_fingerprint(lm.model, lb.BASE)}.jsonl")
    before = len(cache.scores)
    t0 = time.perf_counter()
    scored = curation.ifd_scores(lm.model, lm.tokenizer, samples, cache=cache, batch_size=8, log_every=25 if log else 0, score=score)
    return scored, len(cache.scores) - before, time.perf_counter() - t0


def for_selection(corpus: str, strategy: str, lm: Any) -> list[Any]:
    """The samples of ``corpus`` in order, as ``curation.select`` takes them, scored only where ``strategy`` reads IFD:
    the positives for hybrid and ifd-only, none for full and random (as ``bioner curate --score none``)."""
    from bioner import curation

    score = "positives" if strategy in curation.RANKED else "none"
    return scored_of(samples_of(corpus, lm.tokenizer), lm, log=False, score=score)[0]


def _save(key: str, row: dict[str, Any]) -> None:
    add_result(RESULTS, key, row, OUT)


def score(corpora_: Sequence[str] = CORPORA, *, positives_only: bool = False) -> None:
    """Score (into the committed cache) the positives of every corpus, then, unless ``positives_only``, the negatives;
    a corpus fully scored gets its IFD distribution saved and plotted. What scoring costs is ``time``'s job."""
    from bioner import curation

    lm = _lm()
    samples = {c: samples_of(c, lm.tokenizer) for c in corpora_}
    # positives of every corpus first: they are all that hybrid and ifd-only runs wait for
    for corpus in corpora_:
        _, now, seconds = scored_of(samples[corpus], lm, score="positives")
        print(f"{corpus}: positives scored ({now} now, {seconds:.0f} s)", flush=True)
    if positives_only:
        return
    for corpus in corpora_:
        scored, now, seconds = scored_of(samples[corpus], lm)
        sel = curation.select(scored, ratio=RATIO, strategy="hybrid")
        info = curation.summary(sel, scored)
        _save(f"scoring|{corpus}", {"samples": len(scored), **info})
        curation.histogram_png(scored, TABLE.with_name(f"curation-ifd-{corpus}.png"), title=f"IFD of {corpus} train samples (json), Gemma 3 270M")
        print(f"{corpus}: {len(scored)} samples scored ({now} now, {seconds:.0f} s); {info['groups']}", flush=True)


def timing(n: int = 160) -> None:
    """What scoring costs: ``n`` positives and ``n`` negatives of each corpus (a seeded draw), scored afresh (no cache)
    on one thread in the tool's batches of 8, projected to the corpus.

    The cost is CPU seconds (process time), which other jobs sharing the machine barely change, with the wall
    seconds and the load average beside it. A draw of ``n`` mixes lengths in each batch more than the whole
    corpus sorted by length does, so the projection errs high (more padding).
    """
    import random

    from bioner import curation

    lm = _lm()
    for corpus in CORPORA:
        samples = samples_of(corpus, lm.tokenizer)
        row: dict[str, Any] = {"threads": _threads(), "batch_size": 8, "drawn": n}
        for group, members in (("positives", [s for s in samples if s.entities]), ("negatives", [s for s in samples if not s.entities])):
            drawn = random.Random(f"time:{corpus}:{group}").sample(members, min(n, len(members)))
            wall, cpu = time.perf_counter(), time.process_time()
            curation.ifd_scores(lm.model, lm.tokenizer, drawn, batch_size=8)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            row[group] = {"samples": len(members), "cpu_s_per_sample": round(cpu / len(drawn), 4), "wall_s_per_sample": round(wall / len(drawn), 4),
                          "load_average_1min": round(os.getloadavg()[0], 2)}
            print(f"{corpus} {group}: {row[group]}", flush=True)
        _save(f"timing|{corpus}", row)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def byhand() -> None:
    """Three samples: PPLs and IFD from the full model's logits, token by token, beside the tool's batched values."""
    import torch

    from bioner.engines.generative.prompts import prompt_ids

    lm = _lm()
    corpus = CORPORA[0]
    scored, _, _ = scored_of(samples_of(corpus, lm.tokenizer), lm, log=False)
    picks = [next(s for s in scored if s.positive), next(s for s in scored if not s.positive),
             next(s for s in scored if s.positive and s.sample.entities >= 2)]
    rows = []
    for s in picks:
        answer = lm.tokenizer(s.sample.answer, add_special_tokens=False)["input_ids"]
        nll = {}
        for kind, prefix in (("conditional", prompt_ids(lm.tokenizer, s.sample.prompt)), ("answer", [lm.tokenizer.bos_token_id])):
            with torch.no_grad():
                logp = torch.log_softmax(lm.model(torch.tensor([prefix + answer])).logits[0].float(), -1)
            nll[kind] = -sum(float(logp[len(prefix) - 1 + k, t]) for k, t in enumerate(answer)) / len(answer)
        by_hand = math.exp(nll["conditional"]) / math.exp(nll["answer"])
        rows.append({"doc": s.sample.doc_id, "start": s.sample.start, "answer": s.sample.answer[:80], "tokens": len(answer),
                     "ppl_conditional": round(math.exp(nll["conditional"]), 4), "ppl_answer": round(math.exp(nll["answer"]), 4),
                     "ifd_by_hand": round(by_hand, 6), "ifd_tool": round(s.ifd, 6)})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    _save("byhand", {"corpus": corpus, "rows": rows})


def subset(corpus: str) -> list[Document]:
    ids = [d.id for d in lb.subset_docs(SUBSET_OF[corpus])]
    docs = {d.id: d for d in corpora.load(corpus, "test")}
    return [docs[i] for i in ids]


def train(name: str) -> None:
    from bioner import curation
    from bioner.engines.generative.train import LLMTrainConfig, train_llm
    from bioner.errors import Report

    corpus, strategy, seed, steps = parse(name)
    lm = _lm()
    scored = for_selection(corpus, strategy, lm)
    sel = curation.select(scored, ratio=RATIO, strategy=strategy, seed=seed)
    print(f"{name}: {len(sel.kept)} of {len(scored)} samples; {sel.groups}", flush=True)
    config = LLMTrainConfig(scheme=SCHEME, max_steps=steps, batch_size=lb.BATCH, grad_accum=lb.ACCUM, lr=lb.LR, save_every=10, seed=seed)
    types = {corpus: [{"name": s.name, "label": s.label, "definition": s.definition} for s in lb.specs_of(corpus)]}
    result = train_llm(lm.model, lm.tokenizer, [s.sample for s in sel.kept], output_dir=OUT / name, config=config, base_model=lb.BASE,
                       types=types, report=Report(skip_invalid=True), progress=False, log_every=5)
    print(json.dumps({"run": name, "steps": result.steps, "finished": result.finished, "seconds": round(result.seconds, 1)}), flush=True)
    tail = result.losses[-10:]
    _save(f"train|{name}", {"kept": len(sel.kept), "groups": sel.groups, "steps": result.steps, "finished": result.finished,
                            "loss_last_10_steps": round(sum(tail) / max(1, len(tail)), 4)})


def evaluate_run(name: str) -> None:
    from bioner.engines.generative.backends import LocalBackend
    from bioner.engines.generative.engine import LLMEngine
    from bioner.evaluate import evaluate

    corpus, strategy, seed, steps = parse(name)
    adapter = OUT / name / "adapter"
    if not adapter.is_dir():
        raise SystemExit(f"{name}: no adapter yet; run `train {name}` first")
    lm = lb.load_base(lb.BASE, adapter)
    engine = LLMEngine(LocalBackend(lm, batch_size=8), SCHEME, tokenizer=lm.tokenizer, name=f"llm:{name}")
    gold = subset(corpus)
    pred = engine.predict([d.copy(entities=[]) for d in gold], lb.specs_of(corpus))
    ev = evaluate(gold, pred)
    s = ev.strict.micro
    row = {"corpus": corpus, "strategy": strategy, "seed": seed, "steps": steps, "docs": len(gold), "precision": round(100 * s.precision, 2),
           "recall": round(100 * s.recall, 2), "f1": round(100 * s.f1, 2), "relaxed_f1": round(100 * ev.relaxed.micro.f1, 2),
           # how many entities the adapter wrote at all: a collapsed run answers [] to everything
           "gold_entities": sum(len(d.entities) for d in gold), "predicted_entities": sum(len(d.entities) for d in pred)}
    _save(f"eval|{name}", row)
    print(json.dumps(row), flush=True)


def weights() -> None:
    """The negatives' share of the weight of the first answer token (the choice between ``[]`` and an entity list)
    over a run's 150 steps, under the old loss (each micro-batch's mean over its own answer tokens) and under
    ``train.accumulate``'s (the step's sum over a constant), beside their share of the samples. Tokenization only."""
    from bioner import curation
    from bioner.engines import training
    from bioner.engines.generative.train import LLMTrainConfig, answer_tokens, tokenize_sample

    lm = _lm()
    buckets = LLMTrainConfig().length_buckets  # as train() batches
    for corpus in CORPORA:
        for strategy in STRATEGIES:
            scored = for_selection(corpus, strategy, lm)
            for seed in SEEDS:
                sel = curation.select(scored, ratio=RATIO, strategy=strategy, seed=seed)
                rows = [tokenize_sample(lm.tokenizer, s.sample) for s in sel.kept]
                n = answer_tokens(rows)
                negative = [not s.positive for s in sel.kept]
                lengths = [len(x) for x, _ in rows]
                n_batches = len(training.epoch_batches(lengths, lb.BATCH, seed, 0, buckets))
                seen, old, per_step, new = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]  # [positives, negatives]
                for step in range(lb.STEPS):
                    batches = []
                    for m in range(step * lb.ACCUM, (step + 1) * lb.ACCUM):
                        epoch, pos = divmod(m, n_batches)
                        batches.append(training.epoch_batches(lengths, lb.BATCH, seed, epoch, buckets)[pos])
                    step_tokens = sum(n[i] for b in batches for i in b)
                    for batch in batches:
                        tokens = sum(n[i] for i in batch)
                        for i in batch:
                            seen[negative[i]] += 1
                            old[negative[i]] += 1 / tokens  # a token's weight in its micro-batch's mean
                            per_step[negative[i]] += 1 / step_tokens  # in the step's mean (transformers' num_items_in_batch)
                            new[negative[i]] += 1  # the same for every token (the constant cancels in a share)
                row = {"negatives_share_of_samples_seen": round(seen[1] / sum(seen), 4), "old_loss": round(old[1] / sum(old), 4),
                       "step_token_mean": round(per_step[1] / sum(per_step), 4), "new_loss": round(new[1] / sum(new), 4)}
                _save(f"weights|{corpus}-{strategy}-s{seed}", row)
                print(f"{corpus}-{strategy}-s{seed}: {row}", flush=True)


def auroc(scores_pos: Sequence[float], scores_neg: Sequence[float]) -> float:
    """P(a positive's score > a negative's), ties counting half (Mann-Whitney)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in scores_pos for n in scores_neg)
    return wins / (len(scores_pos) * len(scores_neg))


def why(name: str) -> None:
    """For each test-subset sentence, the adapter's probability of answering exactly ``[]`` (then EOS).

    Greedy decoding answers ``[]`` wherever that probability passes 0.5, so the share of sentences
    with entities where it does bounds the recall lost to the empty answer; AUROC says whether
    the adapter still ranks sentences with entities as less likely empty (it learned *which*
    sentences have entities, only not confidently enough to say so).
    """
    from bioner import curation
    from bioner.engines.generative.prompts import prompt_ids
    from bioner.engines.generative.train import Part, build_samples
    from bioner.errors import Report

    corpus = parse(name)[0]
    adapter = OUT / name / "adapter"
    if not adapter.is_dir():
        raise SystemExit(f"{name}: no adapter; run `train {name}` first")
    lm = lb.load_base(lb.BASE, adapter)
    tok = lm.tokenizer
    samples = build_samples([Part(corpus, subset(corpus), lb.specs_of(corpus))], SCHEME, tok, report=Report(skip_invalid=True))
    empty = list(tok("[]", add_special_tokens=False)["input_ids"]) + [tok.eos_token_id]
    rows = [(p + empty, len(p)) for p in (prompt_ids(tok, s.prompt) for s in samples)]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    p_empty: list[float] = []
    for lo in range(0, len(rows), 8):
        p_empty += [math.exp(-n * nll) for n, nll in curation.answer_nll(lm.model, rows[lo:lo + 8], pad)]
    pos = [p for p, s in zip(p_empty, samples, strict=True) if s.entities]
    neg = [p for p, s in zip(p_empty, samples, strict=True) if not s.entities]
    row = {"sentences_with_entities": len(pos), "sentences_without": len(neg),
           "mean_p_empty_with_entities": round(sum(pos) / len(pos), 4), "mean_p_empty_without": round(sum(neg) / len(neg), 4),
           "share_with_entities_p_empty_over_half": round(sum(p > 0.5 for p in pos) / len(pos), 4),
           "auroc": round(auroc([-p for p in pos], [-p for p in neg]), 4)}
    _save(f"why|{name}", row)
    print(json.dumps({"run": name, **row}), flush=True)


def _why_cells(w: dict[str, Any]) -> str:
    """A ``why`` row as three table cells: mean P([]) with / without entities, share over 0.5, AUROC."""
    return (f"{w['mean_p_empty_with_entities']:.3f} / {w['mean_p_empty_without']:.3f} | "
            f"{100 * w['share_with_entities_p_empty_over_half']:.1f}% of {w['sentences_with_entities']} | {w['auroc']:.3f}")


def _seed_table(results: dict[str, Any], strategies: Sequence[str], suffix: str = "") -> list[str]:
    """Strict F1 per corpus and strategy, one column per seed, and their mean."""
    lines = ["| corpus | strategy | samples kept | " + " | ".join(f"F1 seed {s}" for s in SEEDS) + " | mean strict F1 |",
             "|---|---|---|" + "---|" * len(SEEDS) + "---|"]
    for corpus in CORPORA:
        for strategy in strategies:
            f1s = [results.get(f"eval|{corpus}-{strategy}-s{seed}{suffix}", {}).get("f1") for seed in SEEDS]
            kept = results.get(f"train|{corpus}-{strategy}-s0{suffix}", {}).get("kept", "")
            have = [x for x in f1s if x is not None]
            mean = f"{sum(have) / len(have):.2f}" if len(have) == len(SEEDS) else "pending"
            lines.append(f"| {corpus} | {strategy} | {kept} | " + " | ".join("pending" if x is None else f"{x:.2f}" for x in f1s) + f" | {mean} |")
    return lines


def table() -> str:
    results = load_results(RESULTS)
    lines = _seed_table(results, STRATEGIES)
    longer = sorted({parse(k.split("|", 1)[1])[3] for k in results if k.startswith("eval|")} - {lb.STEPS})
    for steps in longer:
        lines += ["", f"Longer budget: {steps} steps x {lb.BATCH * lb.ACCUM} samples, otherwise the same (runs `...-{steps}steps`):", ""]
        lines += _seed_table(results, ("full", "hybrid"), f"-{steps}steps")
    lines += ["", "Every run (strict P/R/F1 on the test subset; entities predicted against gold; training loss over the last 10 steps; "
              "from `why`: the adapter's probability of answering exactly `[]`, as a mean over the test sentences with entities and "
              "over those without, the share of sentences with entities where it passes 0.5 (greedy decoding then answers `[]` there), "
              "and the AUROC of ranking sentences with entities as less likely empty):", "",
              "| run | samples kept | negatives kept | strict P | strict R | strict F1 | relaxed F1 | entities predicted / gold | loss, last 10 steps "
              "| mean P(`[]`) with entities / without | sentences with entities where P(`[]`) > 0.5 | AUROC |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in run_names() + [n for steps in longer for n in longer_names(steps)]:
        ev, tr = results.get(f"eval|{name}"), results.get(f"train|{name}", {})
        if not ev:
            continue
        predicted = f"{ev['predicted_entities']} / {ev['gold_entities']}" if "predicted_entities" in ev else "not recorded"
        w = results.get(f"why|{name}")
        why_cells = _why_cells(w) if w else "| |"
        lines.append(f"| {name} | {tr.get('kept', '')} | {tr.get('groups', {}).get('negative kept', 0)} | {ev['precision']:.2f} | "
                     f"{ev['recall']:.2f} | {ev['f1']:.2f} | {ev['relaxed_f1']:.2f} | {predicted} | {tr.get('loss_last_10_steps', 'not recorded')} | "
                     f"{why_cells} |")
    before = sorted(k.split("|", 2)[2] for k in results if k.startswith(f"{BEFORE_FIX}|eval|"))
    if before:
        lines += ["", "Before the loss fix (bioner before 2026-11-28: each micro-batch's loss was the mean over its own answer tokens, "
                  "so length-bucketed batches of 2-token `[]` answers gave the negatives most of the weight of the choice between "
                  "`[]` and an entity list; now every answer token weighs the same, `bioner.engines.generative.train.accumulate`). "
                  "Same budget and test subset:", "",
                  "| run | strict F1 | entities predicted / gold | mean P(`[]`) with entities / without | "
                  "sentences with entities where P(`[]`) > 0.5 | AUROC |", "|---|---|---|---|---|---|"]
        for name in before:
            ev, w = results[f"{BEFORE_FIX}|eval|{name}"], results.get(f"{BEFORE_FIX}|why|{name}")
            predicted = f"{ev['predicted_entities']} / {ev['gold_entities']}" if "predicted_entities" in ev else "not recorded"
            cells = _why_cells(w) if w else "adapter lost (an earlier session's runs/) | |"
            lines.append(f"| {name} | {ev['f1']:.2f} | {predicted} | {cells} |")
    shares = [(k.split("|", 1)[1], v) for k, v in sorted(results.items()) if k.startswith("weights|")]
    if shares:
        lines += ["", "Weight of the choice between `[]` and an entity list (`weights`): the negatives' share of the samples a run sees in "
                  f"its {lb.STEPS} steps, and of the gradient weight of the first answer token under the old loss (each micro-batch's "
                  "mean over its own answer tokens, with batches bucketed by length), under a mean over the whole step's answer tokens "
                  "(what transformers' Trainer does with `num_items_in_batch`), and under the fixed one (every answer token the same):",
                  "", "| run | negatives, share of samples | share of the weight, old loss | step's token mean | fixed loss |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {100 * r['negatives_share_of_samples_seen']:.1f}% | {100 * r['old_loss']:.1f}% | "
                  f"{100 * r['step_token_mean']:.1f}% | {100 * r['new_loss']:.1f}% |" for name, r in shares]
    cost = [results[f"timing|{c}"] for c in CORPORA if f"timing|{c}" in results]
    if cost:
        lines += ["", f"IFD scoring cost (`time`): {cost[0]['drawn']} positives and {cost[0]['drawn']} negatives of each corpus scored "
                  f"afresh on {cost[0]['threads']} thread, batches of {cost[0]['batch_size']}; CPU seconds per sample (wall seconds and "
                  "load average beside), projected to the corpus. `bioner curate` scores the positives only unless `--score all`.", "",
                  "| corpus | positives | CPU s / positive (wall; load) | negatives | CPU s / negative (wall; load) | "
                  "positives only (default) | all samples |", "|---|---|---|---|---|---|---|"]
        for c in CORPORA:
            r = results.get(f"timing|{c}")
            if not r:
                continue
            p, n = r["positives"], r["negatives"]
            pos_h = p["samples"] * p["cpu_s_per_sample"] / 3600
            all_h = pos_h + n["samples"] * n["cpu_s_per_sample"] / 3600
            lines.append(f"| {c} | {p['samples']} | {p['cpu_s_per_sample']:.3f} ({p['wall_s_per_sample']:.3f}; {p['load_average_1min']}) | "
                         f"{n['samples']} | {n['cpu_s_per_sample']:.3f} ({n['wall_s_per_sample']:.3f}; {n['load_average_1min']}) | "
                         f"{pos_h:.2f} CPU-h | {all_h:.2f} CPU-h |")
    text = "\n".join(lines)
    byhand_rows = results.get("byhand", {}).get("rows", [])
    if byhand_rows:
        text += ("\n\nIFD by hand (`byhand`): PPLs from the model's token log-probabilities, one unbatched forward pass per "
                 "sequence, beside the tool's batched value\n\n"
                 "| document | sentence start | answer (first 80 characters) | answer tokens | PPL(answer given prompt) | PPL(answer) | IFD by hand | IFD tool |\n"
                 "|---|---|---|---|---|---|---|---|\n")
        text += "\n".join(f"| {r['doc']} | {r['start']} | `{r['answer']}` | {r['tokens']} | {r['ppl_conditional']} | {r['ppl_answer']} | "
                           f"{r['ifd_by_hand']} | {r['ifd_tool']} |" for r in byhand_rows)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["score", "time", "byhand", "weights", "train", "eval", "why", "all", "table"])
    ap.add_argument("runs", nargs="*", help=f"runs: {', '.join(run_names()[:3])} ...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--positives-only", action="store_true", help="score: only the samples with entities (what selection reads)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    runs = args.runs or run_names()
    if args.command not in ("score", "time", "byhand", "weights", "table"):
        for r in runs:
            parse(r)  # a misspelt run fails now, not after the runs before it
    if args.command == "score":
        unknown = set(args.runs) - set(CORPORA)
        if unknown:
            raise SystemExit(f"score takes corpora ({', '.join(CORPORA)}), not {sorted(unknown)}")
        score(args.runs or CORPORA, positives_only=args.positives_only)
    elif args.command == "time":
        timing()
    elif args.command == "byhand":
        byhand()
    elif args.command == "weights":
        weights()
    elif args.command in ("train", "all"):
        done = load_results(RESULTS)
        for r in runs:
            if not (OUT / r / "adapter").is_dir():
                train(r)
            if args.command == "all" and f"eval|{r}" not in done:
                evaluate_run(r)
            if args.command == "all" and f"why|{r}" not in done:
                why(r)
    elif args.command == "eval":
        for r in runs:
            evaluate_run(r)
    elif args.command == "why":
        for r in runs:
            if (OUT / r / "adapter").is_dir():
                why(r)
    text = table()
    print(text)
    TABLE.write_text("# Hybrid Superfiltering: IFD-curated vs full data (Gemma 3 270M + LoRA, JSON)\n\n"
                     "Command: `.venv/bin/python bench/curation.py all` (steps: `score`, `byhand`, `train NAME`, `eval NAME`). "
                     f"Budget per run: {lb.STEPS} steps x {lb.BATCH * lb.ACCUM} samples, lr {lb.LR} (bench/llm_engines.py's); ratio {RATIO}.\n\n"
                     + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
