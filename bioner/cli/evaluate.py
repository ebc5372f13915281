"""``bioner evaluate``: strict and relaxed P/R/F1 of predictions against gold.

Predictions come from a file (``--pred``) or from a span model run on the gold texts
(``--model``, or the default model when no ``--pred`` is given).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bioner.errors import Report
from bioner.io._common import PathLike
from bioner.stats import default_skip_invalid, parse_source, read_source

from ._common import QUANTIZE_HELP, _interactive, err, handles_errors, out, parse_labels, parse_quantize, print_json, print_report, status

if TYPE_CHECKING:
    from bioner.evaluate import Evaluation
    from bioner.models import LLMOptions, ModelRef
    from bioner.selector import SelectorRef


def evaluate_sources(
    gold: PathLike,
    pred: PathLike,
    *,
    gold_format: str | None = None,
    pred_format: str | None = None,
    labels: Iterable[str] | None = None,
    root: PathLike | None = None,
    gold_report: Report | None = None,
    pred_report: Report | None = None,
    selector: SelectorRef = None,
    selector_threshold: float | None = None,
    engine: str | None = None,
) -> Evaluation:
    """Evaluate ``pred`` against ``gold``; each is a file, a brat directory or ``corpus:split``.

    Invalid records of registered corpora are skipped and counted in the side's report
    (as ``corpora.load`` does); a file's first invalid record raises. ``selector``:
    the predictions are verified by it first (any engine's saved output can be), at
    its threshold for ``engine`` (the engine that made them) unless ``selector_threshold``.
    """
    from bioner.evaluate import evaluate  # local: keep ``bioner --help`` fast
    from bioner.selector import load_selector

    stage = load_selector(selector)
    g_ref, p_ref = parse_source(gold), parse_source(pred)
    g_docs = read_source(g_ref, format=gold_format, report=gold_report, root=root)
    p_docs = read_source(p_ref, format=pred_format, report=pred_report, root=root)
    if stage is not None:
        p_docs = stage.select(p_docs, threshold=selector_threshold, engine=engine)
    return evaluate(g_docs, p_docs, labels=labels)


def evaluate_model_source(
    gold: PathLike,
    model: ModelRef = None,
    *,
    gold_format: str | None = None,
    labels: Iterable[str] | None = None,
    limit: int | None = None,
    root: PathLike | None = None,
    gold_report: Report | None = None,
    threshold: float | None = None,
    flat: bool = True,
    batch_size: int = 8,
    threads: int | None = None,
    quantize: str | None = None,
    save_predictions: PathLike | None = None,
    engine: str = "span",
    llm: LLMOptions | None = None,
    selector: SelectorRef = None,
    selector_threshold: float | None = None,
    abbreviations: bool = True,
    context_types: bool = True,
) -> Evaluation:
    """Run ``model`` on the texts of ``gold`` (a file, brat directory or ``corpus:split``) and score it.

    The label set is the corpus's types with their natural-language prompts for a
    registered corpus, else the gold's own types (``labels`` keeps only those types).
    ``context_types``: a corpus that is one type of a larger one (BC5CDR-disease) is
    predicted with the larger one's label set and scored on its own types
    (``bioner.models.corpus_prediction_labels``); False: its own types only.
    ``limit`` scores the first documents only. ``save_predictions`` writes the
    predictions (format from the extension). ``engine``/``llm``/``selector``/``abbreviations``: see ``bioner.models.iter_extract``.
    """
    import bioner.io
    from bioner.evaluate import evaluate
    from bioner.models import corpus_labels, corpus_prediction_labels, extract, gold_labels

    ref = parse_source(gold)
    types = list(labels) if labels is not None else None
    known = corpus_labels(ref.corpus, types) if ref.corpus is not None else None  # checked before reading a whole corpus
    docs = list(read_source(ref, format=gold_format, report=gold_report, root=root))
    if limit is not None:
        docs = docs[:limit]
    label_set = known if known is not None else gold_labels(docs, types)
    asked = corpus_prediction_labels(ref.corpus, types) if ref.corpus is not None and context_types else label_set
    pred = extract(docs, asked, model=model, threshold=threshold, flat=flat, batch_size=batch_size, threads=threads, quantize=quantize,
                   engine=engine, llm=llm, selector=selector, selector_threshold=selector_threshold, abbreviations=abbreviations)
    if save_predictions is not None:
        bioner.io.write(pred, save_predictions)
    return evaluate(docs, pred, labels=list(label_set))


@handles_errors
def evaluate_command(
    gold: Annotated[str | None, typer.Option("--gold", "-g", help="Gold file, brat directory, or CORPUS:SPLIT.")] = None,
    pred: Annotated[str | None, typer.Option("--pred", "-p", help="Predicted file or brat directory (without it, a model predicts).")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Predict with this span model (folder or Hub name; default: the shipped model).")] = None,
    corpus: Annotated[str | None, typer.Option("--corpus", "-c", help="Gold = this registered corpus's --split (instead of --gold).")] = None,
    split: Annotated[str, typer.Option("--split", "-s", help="Split of --corpus.")] = "test",
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="With a model: score only the first N gold documents.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="With a model: minimum span probability (default: the model's own).")] = None,
    nested: Annotated[bool, typer.Option("--nested", help="With a model: keep nested entities (default: flat).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="With a model: windows per forward pass.")] = 8,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="With a model: torch threads.")] = None,
    quantize: Annotated[str, typer.Option("--quantize", "-q", help="With a model: " + QUANTIZE_HELP)] = "none",
    save_predictions: Annotated[Path | None, typer.Option("--save-predictions", help="With a model: also write its predictions to this file.")] = None,
    gold_format: Annotated[str | None, typer.Option("--gold-format", help="Format of the gold file (default: detected).")] = None,
    pred_format: Annotated[str | None, typer.Option("--pred-format", help="Format of the predictions (default: detected).")] = None,
    relaxed: Annotated[bool, typer.Option("--relaxed/--no-relaxed", help="Also show relaxed (overlap) scores.")] = True,
    by_type: Annotated[bool, typer.Option("--by-type/--no-by-type", help="One row per entity type.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print every score as JSON.")] = False,
    labels: Annotated[str | None, typer.Option("--labels", help="Comma-separated types to score (with a model: to predict and score; default: all).")] = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help=(
        "With a model: span (GLiNER) or llm (a causal LM; --model is then the base LM). "
        "With --pred and --selector: the engine that made the predictions (picks the selector's threshold for it)."))] = "span",
    scheme: Annotated[str | None, typer.Option("--scheme", help="With --engine llm: json or tags (default: the adapter's).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="With --engine llm: LoRA adapter folder (default: the shipped one, when present).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="With --engine llm: an OpenAI-compatible server serving --model.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="With --engine llm: longest answer per sentence.")] = 256,
    selector: Annotated[Path | None, typer.Option("--selector", help="Verify the predictions (a model's or --pred's) with this selector folder, or 'default' (the shipped one), before scoring.")] = None,
    selector_threshold: Annotated[float | None, typer.Option("--selector-threshold", min=0.0, max=1.0, help="With --selector: acceptance threshold (default: the selector's own).")] = None,
    leave_out: Annotated[str | None, typer.Option("--leave-out", help=(
        "Zero-shot: train a span model without this corpus (and corpora sharing its texts) into --run-dir, or load the one there, "
        "and score it on this corpus's --split with natural-language labels."))] = None,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="With --leave-out: the training run folder. (default: runs/leave-out/CORPUS)")] = None,
    train_config: Annotated[Path | None, typer.Option("--train-config", help=(
        "With --leave-out: span training options (YAML/JSON, as bioner train span --config; its corpus list, if any, is checked). "
        "(default: bioner.leave_out.RECIPE, 2,000 steps on samples of the other corpora)"))] = None,
    abbreviations: Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help=(
        "With a model: give every use of an abbreviation the type of its defined long form, as bioner extract does. "
        "(--leave-out scores the model alone.)"))] = True,
    context_types: Annotated[bool, typer.Option("--context-types/--own-types", help=(
        "With a model on a corpus that is one type of a larger one (bc5cdr-disease): ask for the larger one's whole label set, "
        "as the model learned it, and score this one's type; or ask for its own types only."))] = True,
) -> None:
    """Score predictions against gold: strict and relaxed, micro and macro, per type.

    Predictions are --pred, or a span model's (--model; the default model when neither is given).
    """
    from bioner.evaluate import render

    if leave_out is not None:
        if pred is not None or model is not None or gold is not None or corpus is not None or engine != "span":
            raise typer.BadParameter("--leave-out trains and scores its own span model on that corpus; drop --pred, --model, --gold, --corpus and --engine")
        _leave_out(leave_out, split=split, run_dir=run_dir, train_config=train_config, threads=threads, threshold=threshold, limit=limit,
                   relaxed=relaxed, by_type=by_type, as_json=as_json)
        return
    if run_dir is not None or train_config is not None:
        raise typer.BadParameter("--run-dir and --train-config go with --leave-out")
    if selector_threshold is not None and selector is None:
        raise typer.BadParameter("--selector-threshold needs --selector", param_hint="--selector-threshold")
    if corpus is not None and gold is not None:
        raise typer.BadParameter("give --gold or --corpus, not both")
    gold_src = f"{corpus}:{split}" if corpus is not None else gold
    if gold_src is None:
        raise typer.BadParameter("give the gold standard: --gold FILE_OR_CORPUS:SPLIT, or --corpus NAME [--split test]")
    g_report = Report(skip_invalid=default_skip_invalid(parse_source(gold_src)))
    from bioner.models import ENGINES, LLMOptions

    if engine not in ENGINES:
        raise typer.BadParameter(f"unknown engine {engine!r}; one of: {', '.join(ENGINES)}", param_hint="--engine")
    llm = LLMOptions(scheme=scheme, adapter=adapter, url=url, max_new_tokens=max_new_tokens) if engine == "llm" else None
    if pred is None:
        with status("Predicting and evaluating"):
            ev = evaluate_model_source(gold_src, model, gold_format=gold_format, labels=parse_labels(labels), limit=limit, gold_report=g_report,
                                       threshold=threshold, flat=not nested, batch_size=batch_size, threads=threads,
                                       quantize=parse_quantize(quantize), save_predictions=save_predictions, engine=engine, llm=llm,
                                       selector=selector, selector_threshold=selector_threshold, abbreviations=abbreviations,
                                       context_types=context_types)
        print_report(g_report, what=f"gold {gold_src}")
    else:
        if model is not None or limit is not None or save_predictions is not None:
            raise typer.BadParameter("--model, --limit and --save-predictions predict with a model; they do not apply to --pred")
        p_report = Report(skip_invalid=default_skip_invalid(parse_source(pred)))
        with status("Evaluating"):
            ev = evaluate_sources(gold_src, pred, gold_format=gold_format, pred_format=pred_format, labels=parse_labels(labels),
                                  gold_report=g_report, pred_report=p_report, selector=selector, selector_threshold=selector_threshold,
                                  engine=engine)
        print_report(g_report, what=f"gold {gold_src}")
        print_report(p_report, what=f"predictions {pred}")
    if as_json:
        print_json(ev.as_dict())
    else:
        out().print(render(ev, by_type=by_type, relaxed=relaxed))


def _leave_out(corpus: str, *, split: str, run_dir: Path | None, train_config: Path | None, threads: int | None, threshold: float | None,
               limit: int | None, relaxed: bool, by_type: bool, as_json: bool) -> None:
    """``evaluate --leave-out``: train or load the leave-one-out model, then score it (``bioner.leave_out``)."""
    from bioner.cli.train import LOG_EVERY, SpanTrainOptions, load_config
    from bioner.evaluate import render
    from bioner.leave_out import leave_out_evaluate, leave_out_model, recipe_options

    try:
        opts = SpanTrainOptions.from_mapping(load_config(train_config), where=str(train_config)) if train_config is not None else recipe_options()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--train-config") from None
    opts = opts.merged({"output": str(run_dir or Path("runs/leave-out") / corpus), "threads": threads})
    report = Report(skip_invalid=True)
    interactive = _interactive()
    run = leave_out_model(corpus, opts, progress=interactive, log_every=0 if interactive else LOG_EVERY, report=report)
    verb = "Trained" if run.trained_now else "Loaded"
    err().print(f"{verb} {run.model_dir} (trained on {', '.join(run.trained_on)}; never on {corpus})", markup=False, highlight=False, soft_wrap=True)
    with status(f"Scoring on {corpus}:{split}"):
        ev = leave_out_evaluate(corpus, run.model_dir, split=split, threads=threads, threshold=threshold, limit=limit, report=report)
    print_report(report, what=f"{corpus}:{split}")
    if as_json:
        print_json(ev.as_dict())
    else:
        out().print(render(ev, by_type=by_type, relaxed=relaxed))
