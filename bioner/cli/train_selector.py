"""``bioner train selector``: train the contrastive entity selector (``train_selector``) on corpora or files.

Each ``--corpus`` contributes its train split (gold entities and their perturbations)
and its dev split (where the acceptance threshold is chosen); each ``--train-file`` /
``--dev-file`` its own documents and the types they contain. Every ``--engine`` is run
on the training and dev documents and its false positives join the training
candidates; its dev predictions are what the threshold is chosen on. Engine
predictions are saved under ``<output>/predictions`` and reused when the same command
runs again (an LLM's take long), as is the training checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bioner.doc import Document
from bioner.errors import BionerError, Report

from ._common import _interactive, handles_errors, out, print_report
from .train import _file_docs, _sample

if TYPE_CHECKING:
    from bioner.selector.train import Part, SelectorTrainConfig, SelectorTrainResult

ENGINE_NAMES = ("span", "llm")


@dataclass
class SelectorRunOptions:
    """Everything ``bioner train selector`` takes besides the training settings (``SelectorTrainConfig``)."""

    corpus: list[str] = field(default_factory=list)
    train_file: list[str] = field(default_factory=list)
    dev_file: list[str] = field(default_factory=list)
    output: str = "runs/selector"
    base: str | None = None  # encoder or causal LM; None: MiniLM
    context: int = 120  # characters of context on each side of a candidate
    max_length: int = 160  # tokens of an encoded (candidate, context) pair
    engines: list[str] = field(default_factory=lambda: ["span"])
    span_model: str | None = None
    llm_model: str | None = None
    adapter: str | None = None
    train_sample: dict[str, int] = field(default_factory=dict)  # documents per corpus/file: name -> N, "" -> N for the others
    dev_sample: dict[str, int] = field(default_factory=dict)
    engine_sample: int | None = None  # of the training documents, how many each engine runs on (an LLM is slow)
    engine_threshold: float | None = None  # span engine's threshold on training documents (None: the model's own)
    threads: int | None = None
    root: str | None = None


def parse_samples(items: Sequence[str], option: str) -> dict[str, int]:
    """``["200", "bc2gm=2000"]`` -> ``{"": 200, "bc2gm": 2000}``: a size for every part, and sizes for named ones."""
    out: dict[str, int] = {}
    for item in items:
        name, _, n = item.rpartition("=")
        if not n.isdigit() or int(n) < 1:
            raise typer.BadParameter(f"{item!r}: give N or NAME=N with N >= 1 (e.g. 200 or bc2gm=2000)", param_hint=option)
        out[name] = int(n)
    return out


def _size(samples: dict[str, int], name: str) -> int | None:
    return samples.get(name, samples.get(""))


def _prediction_file(output: Path, part: str, split: str, engine: str, opts: SelectorRunOptions, threshold: float | None) -> Path:
    """Where an engine's predictions on a part are kept; the engine's settings are in the name, so other settings predict again."""
    import hashlib

    model = opts.span_model if engine == "span" else f"{opts.llm_model}|{opts.adapter}"
    key = hashlib.sha256(json.dumps([engine, model, threshold]).encode()).hexdigest()[:8]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in part)
    return output / "predictions" / f"{safe}-{split}-{engine}-{key}.jsonl"


def _engine_tag(engine: str, split: str, opts: SelectorRunOptions) -> str:
    """The engine's name in file names and candidate kinds; a lowered training threshold is part of it."""
    if engine == "span" and split == "train" and opts.engine_threshold is not None:
        return f"span@{opts.engine_threshold:g}"
    return engine


def engine_predictions(docs: Sequence[Document], types: Sequence[str], engine: str, opts: SelectorRunOptions, cache: Path,
                       threshold: float | None = None) -> list[Document]:
    """``engine``'s predictions on the texts of ``docs`` (gold entities removed), read from ``cache`` when it holds these documents.

    ``threshold``: the span engine's (None: the model's own).
    """
    import bioner.io
    from bioner.models import LLMOptions, extract

    ids = [d.id for d in docs]
    if cache.is_file():
        saved = list(bioner.io.read(cache, "jsonl"))
        if [d.id for d in saved] == ids and all(a.text == b.text for a, b in zip(saved, docs, strict=True)):
            return saved
    labels = {t: _prompt(t) for t in types}
    texts = [d.copy(entities=[]) for d in docs]
    if engine == "span":
        pred = extract(texts, labels, model=opts.span_model, threads=opts.threads, threshold=threshold)
    else:
        pred = extract(texts, list(types), model=opts.llm_model, engine="llm", llm=LLMOptions(adapter=opts.adapter), threads=opts.threads)
    cache.parent.mkdir(parents=True, exist_ok=True)
    bioner.io.write(pred, cache, "jsonl")
    return pred


def _prompt(name: str) -> str:
    """The natural-language prompt of a registered type; a user's own type is its own prompt."""
    from bioner.labels import TYPES

    return TYPES[name].label if name in TYPES else name


def load_selector_parts(opts: SelectorRunOptions, report: Report) -> tuple[list[Part], list[Part]]:
    """(train parts, dev parts), each with its engines' predictions."""
    from bioner import corpora
    from bioner.selector.train import Part

    if not opts.corpus and not opts.train_file:
        raise BionerError("E622", "no training data", hint="give --corpus NAME (repeatable) or --train-file FILE")
    unknown = [e for e in opts.engines if e not in ENGINE_NAMES]
    if unknown:
        raise BionerError("E602", f"unknown engine(s) {unknown}", hint=f"--engine takes: {', '.join(ENGINE_NAMES)}")
    out_dir = Path(opts.output)
    train: list[Part] = []
    dev: list[Part] = []

    def add(parts: list[Part], name: str, split: str, docs: list[Document], types: list[str], sample: int | None) -> None:
        docs = _sample(docs, sample, 0)
        part = Part(name, docs, types)
        run_on = docs if split != "train" or opts.engine_sample is None else docs[:opts.engine_sample]
        for engine in opts.engines:
            tag = _engine_tag(engine, split, opts)
            threshold = opts.engine_threshold if tag != engine else None
            cache = _prediction_file(out_dir, name, split, tag, opts, threshold)
            part.predictions[tag] = engine_predictions(run_on, types, engine, opts, cache, threshold)
        if len(run_on) < len(docs):  # engines ran on the first documents only: the other documents give gold candidates alone
            train_rest = Part(name, docs[len(run_on):], types)
            part.gold = list(run_on)
            parts.append(train_rest)
        parts.append(part)

    for name in opts.corpus:
        info = corpora.get(name)
        types = list(info.types)
        if "train" not in info.splits:
            raise BionerError("E502", f"corpus {name!r} has no train split", hint=f"its splits: {', '.join(info.splits)}")
        add(train, name, "train", list(corpora.load(name, "train", root=opts.root, report=report)), types, _size(opts.train_sample, name))
        if "dev" in info.splits:
            add(dev, name, "dev", list(corpora.load(name, "dev", root=opts.root, report=report)), types, _size(opts.dev_sample, name))
    for path, parts, split, sample in [(p, train, "train", _size(opts.train_sample, p)) for p in opts.train_file] + \
                                      [(p, dev, "dev", _size(opts.dev_sample, p)) for p in opts.dev_file]:
        docs = _file_docs(path, report)
        types = sorted({e.label for d in docs for e in d.entities})
        if not types:
            raise BionerError("E622", f"{path} has no entities, so it names no types to verify", file=path)
        add(parts, path, split, docs, types, sample)
    if not dev:
        raise BionerError("E622", "no dev data to choose the selector's threshold on",
                          hint="use corpora with a dev split, or give --dev-file (never a test split)")
    return train, dev


def train_selector_model(opts: SelectorRunOptions, config: SelectorTrainConfig | None = None, *, resume: bool = True,
                         progress: bool = False, report: Report | None = None) -> SelectorTrainResult:
    """Load data, run the engines (or read their saved predictions), and train a selector into ``<output>/selector``."""
    import torch

    from bioner.selector.model import Selector
    from bioner.selector.train import SelectorTrainConfig, train_selector

    report = report if report is not None else Report(skip_invalid=True)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    train, dev = load_selector_parts(opts, report)
    config = config or SelectorTrainConfig()
    torch.manual_seed(config.seed)  # the new classification head's initial weights
    selector = Selector.create(opts.base, context=opts.context, max_length=opts.max_length)
    return train_selector(selector, train, dev, output_dir=opts.output, config=config, resume=resume,
                          progress=progress, log_every=0 if progress else 20)


@handles_errors
def selector_command(
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus (repeatable): its train split to learn from, its dev split to choose the threshold on.")] = None,
    train_file: Annotated[list[str] | None, typer.Option("--train-file", help="Training file in any readable format (repeatable).")] = None,
    dev_file: Annotated[list[str] | None, typer.Option("--dev-file", help="Dev file (repeatable), for the threshold.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Run folder: predictions, checkpoint, and the selector in <output>/selector.")] = "runs/selector",
    base: Annotated[str | None, typer.Option("--base", help="Encoder or causal LM to fine-tune (Hub name, folder, or gemma3-270m). Default: the packaged MiniLM.")] = None,
    context: Annotated[int, typer.Option("--context", min=0, help="Characters of context on each side of a candidate.")] = 120,
    max_length: Annotated[int, typer.Option("--max-length", min=16, help="Tokens of an encoded pair (candidate, type, context).")] = 160,
    engine: Annotated[list[str] | None, typer.Option("--engine", "-e", help="Engine whose false positives to learn from (repeatable): span, llm. Default: span.")] = None,
    span_model: Annotated[str | None, typer.Option("--span-model", help="Span model for --engine span (default: the shipped one).")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Base causal LM for --engine llm (default: the adapter's).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="LoRA adapter for --engine llm (default: the shipped one).")] = None,
    train_sample: Annotated[list[str] | None, typer.Option("--train-sample", help=(
        "Training documents per corpus/file, a fixed random sample: N for all, NAME=N for one (repeatable; e.g. 150 --train-sample bc2gm=2000)."))] = None,
    dev_sample: Annotated[list[str] | None, typer.Option("--dev-sample", help="Dev documents per corpus/file: N or NAME=N, as --train-sample.")] = None,
    engine_sample: Annotated[int | None, typer.Option("--engine-sample", min=1, help="Run the engines on this many of each part's training documents (default: all).")] = None,
    engine_threshold: Annotated[float | None, typer.Option("--engine-threshold", min=0.0, max=1.0, help=(
        "Span engine's threshold on the training documents (lower it to collect more of its real false positives: "
        "a model makes fewer on the data it was trained on). Dev predictions use the model's own."))] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the candidates.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Candidates per optimizer step (whole groups).")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the encoder.")] = 3e-5,
    contrastive: Annotated[float, typer.Option("--contrastive", min=0.0, help="Weight of the contrastive term (0: cross-entropy only).")] = 1.0,
    per_gold: Annotated[int, typer.Option("--per-gold", min=0, help="Perturbed negatives drawn per gold entity (0: all).")] = 4,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop this call after N steps in total (run again to continue).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of candidate sampling and batch order.")] = 0,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from <output>/checkpoint when present.")] = True,
    root: Annotated[str | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
) -> None:
    """Train a selector that accepts correct (mention, type) candidates and rejects near-misses, for any engine."""
    from bioner.selector.train import SelectorTrainConfig, summary

    opts = SelectorRunOptions(corpus=corpus or [], train_file=train_file or [], dev_file=dev_file or [], output=output, base=base,
                              engines=engine or ["span"], context=context, max_length=max_length, span_model=span_model, llm_model=llm_model, adapter=adapter,
                              train_sample=parse_samples(train_sample or [], "--train-sample"),
                              dev_sample=parse_samples(dev_sample or [], "--dev-sample"), engine_sample=engine_sample,
                              engine_threshold=engine_threshold, threads=threads, root=root)
    config = SelectorTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, contrastive=contrastive, per_gold=per_gold or None,
                                 max_steps=max_steps, seed=seed)
    report = Report(skip_invalid=True)
    try:
        result = train_selector_model(opts, config, resume=resume, progress=_interactive(), report=report)
    except KeyboardInterrupt:
        out().print(f"Interrupted: the checkpoint is in {output}; run the same command again to continue.", markup=False, highlight=False)
        raise typer.Exit(130) from None
    out().print(json.dumps(summary(result), indent=2), markup=False, highlight=False, soft_wrap=True)
    print_report(report, what="train selector")
