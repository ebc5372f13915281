"""``bioner curate``: Hybrid Superfiltering of LLM tuning data (``bioner.curation``).

Builds the tuning samples of ``--corpus``/``--train-file`` exactly as ``bioner train llm``
would (same scheme, prompts and types), scores each with the weak model's IFD (cached,
resumable), applies a strategy and writes the kept samples with their scores
(``-o FILE.jsonl``; ``--score`` says which samples are scored: by default the
positives, the only ones any strategy reads), a summary (``FILE.jsonl.summary.json``: counts per group, IFD
quantiles, scheme and types) and a histogram (``FILE.jsonl.ifd.png``).
``bioner train llm --curated FILE.jsonl`` tunes on the result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bioner.errors import BionerError, Report

from ._common import _interactive, handles_errors, out, print_report
from .train_llm import SCHEMES, LLMTrainOptions, load_parts


def curate(
    opts: LLMTrainOptions, *, weak_model: str, output: Path, ratio: float = 0.5, strategy: str = "hybrid", batch_size: int = 8,
    cache: Path | None = None, plot: bool = True, progress: bool = False, report: Report | None = None, score: str = "positives",
) -> dict[str, Any]:
    """Score and select the samples of ``opts``'s data; write the curated file, summary and plot; return the summary.

    ``opts.model`` renders the prompts (the model that will be tuned); ``weak_model``
    scores them.
    """
    from bioner import curation
    from bioner.engines.generative.model import load_causal_lm, load_tokenizer
    from bioner.engines.generative.train import build_samples

    if opts.scheme not in SCHEMES:
        raise BionerError("E701", f"unknown scheme {opts.scheme!r}", hint=f"one of: {', '.join(SCHEMES)}")
    if strategy not in curation.STRATEGIES:  # before hours of scoring
        raise BionerError("E741", f"unknown curation strategy {strategy!r}", hint=f"one of: {', '.join(curation.STRATEGIES)}")
    if not 0.0 < ratio <= 1.0:
        raise BionerError("E741", f"ratio must be in (0, 1], got {ratio}")
    if score not in curation.SCORE_MODES:
        raise BionerError("E741", f"unknown scoring mode {score!r}", hint=f"one of: {', '.join(curation.SCORE_MODES)}")
    if score == "none" and strategy in curation.RANKED:
        raise BionerError("E741", f"strategy {strategy!r} ranks positives by IFD, so they must be scored",
                          hint="--score positives (the default) or --score all; --score none suits random and full")
    report = report if report is not None else Report(skip_invalid=True)
    parts = load_parts(opts, report)
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    if score == "none":  # nothing to score: the weak model is not even loaded
        fp, store = None, None
        samples = build_samples(parts, opts.scheme, load_tokenizer(opts.model), definitions=opts.definitions, report=report)
        scored, cached, seconds = [curation.ScoredSample.unscored(s) for s in samples], 0, 0.0
    else:
        weak = load_causal_lm(weak_model)
        target_tokenizer = weak.tokenizer if opts.model == weak_model else load_tokenizer(opts.model)
        samples = build_samples(parts, opts.scheme, target_tokenizer, definitions=opts.definitions, report=report)
        fp = curation.model_fingerprint(weak.model, weak_model)
        store = curation.ScoreCache(cache if cache is not None else curation.default_cache(fp))
        cached = sum(curation.sample_key(s) in store.scores for s in samples)
        started = time.perf_counter()
        scored = curation.ifd_scores(weak.model, weak.tokenizer, samples, cache=store, batch_size=batch_size, progress=progress,
                                     log_every=0 if progress else 25, score=score)
        seconds = time.perf_counter() - started
    selection = curation.select(scored, ratio=ratio, strategy=strategy, seed=opts.seed)
    types = {p.name: [{"name": s.name, "label": s.label, "definition": s.definition} for s in p.types] for p in parts}
    meta = curation.summary(selection, scored, scheme=opts.scheme, weak_model=weak_model, weak_fingerprint=fp, target_model=opts.model,
                            parts=[p.name for p in parts], types=types, definitions=opts.definitions, seed=opts.seed,
                            score=score, scored_now=sum(s.scored for s in scored) - cached, from_cache=cached, scoring_seconds=round(seconds, 1),
                            cache=str(store.path) if store else None)
    curation.write_curated(selection, output, meta)
    if plot and score != "none":
        curation.histogram_png(scored, output.with_name(output.name + ".ifd.png"),
                               title=f"IFD of {', '.join(p.name for p in parts)} ({opts.scheme}), weak model {Path(weak_model).name}")
    return meta


@handles_errors
def curate_command(
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus (repeatable): its train split and types.")] = None,
    train_file: Annotated[list[str] | None, typer.Option("--train-file", help="Training file in any readable format (repeatable).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Curated samples (JSONL); the summary and plot are written beside it.")] = Path("curated.jsonl"),
    weak_model: Annotated[str, typer.Option("--weak-model", help="Causal LM that scores IFD: Hub name, folder, or gemma3-270m (packaged).")] = "gemma3-270m",
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model you will tune (renders the prompts; default: the weak model).")] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="Answer format: json (BioSelectTune) or tags.")] = "json",
    ratio: Annotated[float, typer.Option("--ratio", help="Share of the positive samples to keep.")] = 0.5,
    strategy: Annotated[str, typer.Option("--strategy", help="hybrid (BioSelectTune), random, ifd-only (no negatives), or full.")] = "hybrid",
    score: Annotated[str, typer.Option("--score", help="Which samples to score: positives (all any strategy reads), all (negatives too, "
                                                        "for their distribution), none (random and full only).")] = "positives",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Samples per forward pass.")] = 8,
    cache: Annotated[Path | None, typer.Option("--cache", help="Score cache file (default: ~/.cache/bioner/ifd/<weak model>.jsonl).")] = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write the IFD histogram (PNG, needs matplotlib).")] = True,
    definitions: Annotated[bool, typer.Option("--definitions/--no-definitions", help="Type definitions in the prompts (as train llm).")] = True,
    train_sample: Annotated[int | None, typer.Option("--train-sample", min=1, help="Documents per corpus/file (a fixed random sample).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of document sampling and of the random strategy.")] = 0,
    root: Annotated[str | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
) -> None:
    """Score LLM tuning samples by IFD with a weak model and keep the best (Hybrid Superfiltering)."""
    opts = LLMTrainOptions(corpus=corpus or [], train_file=train_file or [], model=model or weak_model, scheme=scheme,
                           definitions=definitions, train_sample=train_sample, threads=threads, seed=seed, root=root)
    report = Report(skip_invalid=True)
    try:
        meta = curate(opts, weak_model=weak_model, output=output, ratio=ratio, strategy=strategy, batch_size=batch_size, cache=cache,
                      plot=plot, progress=_interactive(), report=report, score=score)
    except KeyboardInterrupt:
        out().print("Interrupted: the scores so far are cached; run the same command again to continue.", markup=False, highlight=False)
        raise typer.Exit(130) from None
    show = {k: meta[k] for k in ("strategy", "ratio", "samples", "positives", "negatives", "kept", "groups", "ifd_quantiles",
                                 "positives_ifd_at_least_1", "scored", "scored_now", "from_cache", "scoring_seconds")}
    out().print(json.dumps(show, indent=2), markup=False, highlight=False, soft_wrap=True)
    out().print(f"Wrote {meta['kept']} samples to {output} (summary: {output.name}.summary.json)", markup=False, highlight=False)
    print_report(report, what="curate")
