"""``bioner train selector``: train the contrastive entity selector (``train_selector``) on corpora or files.

Each ``--corpus`` contributes its train split (gold entities and their perturbations)
and its dev split (where the acceptance threshold is chosen); each ``--train-file`` /
``--dev-file`` its own documents and the types they contain. Every ``--engine`` is run
on the training and dev documents and its false positives join the training
candidates; its dev predictions are what the threshold is chosen on. Engine
predictions are saved under ``<output>/predictions`` and reused when the same command
runs again (an LLM's take long), as is the training checkpoint.

A model makes few (and untypical) errors on the documents it was trained on, so its
false positives on a train split teach the selector little about its errors on new text.
``--engine-on dev-half`` harvests them where the model is honest: each dev split is cut
in two (alternate documents), the engines' false positives on the first half join the
training candidates, and the threshold is chosen on the second half. The train splits
then give gold spans and their perturbations only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
ENGINE_ON = ("train", "dev-half")  # where engine false positives are harvested


@dataclass
class SelectorRunOptions:
    """Everything ``bioner train selector`` takes besides the training settings (``SelectorTrainConfig``)."""

    corpus: list[str] = field(default_factory=list)
    train_file: list[str] = field(default_factory=list)
    dev_file: list[str] = field(default_factory=list)
    output: str = "runs/selector"
    base: str | None = None  # encoder or causal LM; None: MiniLM
    init: str | None = None  # a trained selector to train further instead of a new one on ``base`` (its base, LoRA, context, length)
    lora_r: int | None = None  # LoRA adapters of this rank instead of the base's own weights
    context: int = 120  # characters of context on each side of a candidate
    max_length: int = 160  # tokens of an encoded (candidate, context) pair
    engines: list[str] = field(default_factory=lambda: ["span"])
    span_model: str | None = None
    llm_model: str | None = None
    adapter: str | None = None
    train_sample: dict[str, int] = field(default_factory=dict)  # documents per corpus/file: name -> N, "" -> N for the others
    dev_sample: dict[str, int] = field(default_factory=dict)
    # of each part's training documents, how many each engine runs on (an LLM is slow): name -> N, "" -> N for the others;
    # 0: none (the part gives gold spans and their perturbations only)
    engine_sample: dict[str, int] = field(default_factory=dict)
    engine_threshold: float | None = None  # span engine's threshold on training documents (None: the model's own)
    engine_on: str = "train"  # "train": engines run on the training documents; "dev-half": on half of each dev split
    threads: int | None = None
    root: str | None = None


def parse_samples(items: Sequence[str], option: str, minimum: int = 1) -> dict[str, int]:
    """``["200", "bc2gm=2000"]`` -> ``{"": 200, "bc2gm": 2000}``: a size for every part, and sizes for named ones."""
    out: dict[str, int] = {}
    for item in items:
        name, _, n = item.rpartition("=")
        if not n.isdigit() or int(n) < minimum:
            raise typer.BadParameter(f"{item!r}: give N or NAME=N with N >= {minimum} (e.g. 200 or bc2gm=2000)", param_hint=option)
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
    if engine == "span" and split != "dev" and opts.engine_threshold is not None:
        return f"span@{opts.engine_threshold:g}"
    return engine


def engine_predictions(docs: Sequence[Document], labels: Mapping[str, str], engine: str, opts: SelectorRunOptions, cache: Path,
                       threshold: float | None = None) -> list[Document]:
    """``engine``'s predictions on the texts of ``docs`` (gold entities removed), read from ``cache`` when it holds these documents.

    ``labels``: type -> prompt (a corpus's own, its guidelines included). ``threshold``: the span engine's (None: the model's own).
    """
    import bioner.io
    from bioner.models import LLMOptions, extract

    ids = [d.id for d in docs]
    if cache.is_file():
        saved = list(bioner.io.read(cache, "jsonl"))
        if [d.id for d in saved] == ids and all(a.text == b.text for a, b in zip(saved, docs, strict=True)):
            return saved
    texts = [d.copy(entities=[]) for d in docs]
    if engine == "span":
        pred = extract(texts, dict(labels), model=opts.span_model, threads=opts.threads, threshold=threshold)
    else:
        pred = extract(texts, list(labels), model=opts.llm_model, engine="llm", llm=LLMOptions(adapter=opts.adapter), threads=opts.threads)
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
    if opts.engine_on not in ENGINE_ON:
        raise BionerError("E602", f"unknown --engine-on {opts.engine_on!r}", hint=f"one of: {', '.join(ENGINE_ON)}")
    on_dev = opts.engine_on == "dev-half"
    out_dir = Path(opts.output)
    train: list[Part] = []
    dev: list[Part] = []

    def add(parts: list[Part], name: str, split: str, docs: list[Document], prompts: Mapping[str, str], engines: Sequence[str],
            engine_size: int | None = None) -> None:
        """A part with ``engines``' predictions on its first ``engine_size`` documents (None: all); ``split`` "train" and
        "dev-a" are training parts, "dev" is where the threshold is chosen."""
        types = list(prompts)
        part = Part(name, docs, types)
        run_on = docs if engine_size is None else docs[:engine_size]
        if not run_on:  # --engine-sample NAME=0: gold spans and their perturbations only
            parts.append(part)
            return
        for engine in engines:
            tag = _engine_tag(engine, split, opts)
            threshold = opts.engine_threshold if tag != engine else None
            cache = _prediction_file(out_dir, name, split, tag, opts, threshold)
            part.predictions[tag] = engine_predictions(run_on, prompts, engine, opts, cache, threshold)
        if len(run_on) < len(docs):  # engines ran on the first documents only: the other documents give gold candidates alone
            parts.append(Part(name, docs[len(run_on):], types))
            part.gold = list(run_on)
        parts.append(part)

    def add_dev(name: str, docs: list[Document], prompts: Mapping[str, str]) -> None:
        if not on_dev:
            add(dev, name, "dev", docs, prompts, opts.engines)
            return
        if len(docs) < 2:
            raise BionerError("E622", f"dev data {name!r} has {len(docs)} document(s); --engine-on dev-half needs at least 2 to cut in two",
                              hint="give more dev documents (--dev-sample) or use --engine-on train")
        add(train, f"{name}#dev-a", "dev-a", docs[0::2], prompts, opts.engines,  # alternate documents: both halves span the whole split
            _size(opts.engine_sample, name))
        add(dev, name, "dev", docs[1::2], prompts, opts.engines)

    train_engines = () if on_dev else opts.engines
    for name in opts.corpus:
        info = corpora.get(name)
        prompts = info.natural_labels  # the corpus's own prompts, its guidelines included (LINNAEUS's species)
        if "train" not in info.splits:
            raise BionerError("E502", f"corpus {name!r} has no train split", hint=f"its splits: {', '.join(info.splits)}")
        docs = _sample(list(corpora.load(name, "train", root=opts.root, report=report)), _size(opts.train_sample, name), 0)
        add(train, name, "train", docs, prompts, train_engines, _size(opts.engine_sample, name))
        if "dev" in info.splits:
            add_dev(name, _sample(list(corpora.load(name, "dev", root=opts.root, report=report)), _size(opts.dev_sample, name), 0), prompts)
    for path, split in [(p, "train") for p in opts.train_file] + [(p, "dev") for p in opts.dev_file]:
        docs = _file_docs(path, report)
        file_prompts = {t: _prompt(t) for t in sorted({e.label for d in docs for e in d.entities})}
        if not file_prompts:
            raise BionerError("E622", f"{path} has no entities, so it names no types to verify", file=path)
        if split == "train":
            add(train, path, split, _sample(docs, _size(opts.train_sample, path), 0), file_prompts, train_engines, _size(opts.engine_sample, path))
        else:
            add_dev(path, _sample(docs, _size(opts.dev_sample, path), 0), file_prompts)
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
    if opts.init:
        selector = Selector.load(opts.init, trainable=True)
    else:
        selector = Selector.create(opts.base, context=opts.context, max_length=opts.max_length, seed=config.seed, lora_r=opts.lora_r)
    return train_selector(selector, train, dev, output_dir=opts.output, config=config, resume=resume,
                          progress=progress, log_every=0 if progress else 20)


@handles_errors
def selector_command(
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus (repeatable): its train split to learn from, its dev split to choose the threshold on.")] = None,
    train_file: Annotated[list[str] | None, typer.Option("--train-file", help="Training file in any readable format (repeatable).")] = None,
    dev_file: Annotated[list[str] | None, typer.Option("--dev-file", help="Dev file (repeatable), for the threshold.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Run folder: predictions, checkpoint, and the selector in <output>/selector.")] = "runs/selector",
    base: Annotated[str | None, typer.Option("--base", help="Encoder or causal LM to fine-tune (Hub name, folder, or gemma3-270m). Default: the packaged MiniLM.")] = None,
    init: Annotated[str | None, typer.Option("--init", help=(
        "Train a trained selector further (a folder, or 'default': the shipped one) instead of a new one: e.g. on another "
        "engine's false positives. It keeps its base, LoRA, context and length; its rules are chosen anew on dev."))] = None,
    context: Annotated[int | None, typer.Option("--context", min=0, help=f"Characters of context on each side of a candidate. [default: {SelectorRunOptions.context}]")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=16, help=f"Tokens of an encoded pair (candidate, type, context). [default: {SelectorRunOptions.max_length}]")] = None,
    engine: Annotated[list[str] | None, typer.Option("--engine", "-e", help="Engine whose false positives to learn from (repeatable): span, llm. Default: span.")] = None,
    span_model: Annotated[str | None, typer.Option("--span-model", help="Span model for --engine span (default: the shipped one).")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="Base causal LM for --engine llm (default: the adapter's).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="LoRA adapter for --engine llm (default: the shipped one).")] = None,
    train_sample: Annotated[list[str] | None, typer.Option("--train-sample", help=(
        "Training documents per corpus/file, a fixed random sample: N for all, NAME=N for one (repeatable; e.g. 150 --train-sample bc2gm=2000)."))] = None,
    dev_sample: Annotated[list[str] | None, typer.Option("--dev-sample", help="Dev documents per corpus/file: N or NAME=N, as --train-sample.")] = None,
    engine_sample: Annotated[list[str] | None, typer.Option("--engine-sample", help=(
        "Run the engines on this many of each part's training documents: N or NAME=N, as --train-sample (default: all; "
        "0: none, e.g. to keep another corpus's gold in the mix without running an engine made for one corpus on it)."))] = None,
    engine_threshold: Annotated[float | None, typer.Option("--engine-threshold", min=0.0, max=1.0, help=(
        "Span engine's threshold on the training documents (lower it to collect more of its real false positives: "
        "a model makes fewer on the data it was trained on). Dev predictions use the model's own."))] = None,
    engine_on: Annotated[str, typer.Option("--engine-on", help=(
        "Where the engines' false positives come from: train (the training documents) or dev-half (alternate documents of "
        "each dev split, which the engine never trained on; the threshold is then chosen on the other half)."))] = "train",
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the candidates.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Candidates per optimizer step (whole groups).")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate of the encoder.")] = 3e-5,
    head_lr: Annotated[float, typer.Option("--head-lr", help="Learning rate of the classification head (new: high; with --init lower it, e.g. to --lr).")] = 1e-3,
    contrastive: Annotated[float, typer.Option("--contrastive", min=0.0, help="Weight of the contrastive term (0: cross-entropy only).")] = 1.0,
    per_gold: Annotated[int, typer.Option("--per-gold", min=0, help="Perturbed negatives drawn per gold entity (0: all).")] = 4,
    freeze_embeddings: Annotated[bool, typer.Option("--freeze-embeddings", help=(
        "Keep the base's token embeddings fixed (for a large-vocabulary causal LM such as gemma3-270m, where they are most "
        "of the weights: faster steps, 1.4 GB less optimizer state)."))] = False,
    lora_r: Annotated[int | None, typer.Option("--lora-r", min=1, help=(
        "Train LoRA adapters of this rank on the base's linear layers (and the head) instead of its weights: the saved "
        "selector is a few MB and loads its base by name (needs bioner[llm]; use a higher --lr, e.g. 2e-4)."))] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop this call after N steps in total (run again to continue).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the new head's random start, candidate sampling and batch order.")] = 0,
    guard: Annotated[bool, typer.Option("--guard/--no-guard", help=(
        "Also choose, per engine that scores its entities, an engine score from which candidates are kept without the "
        "selector's vote (only when it raises dev F1)."))] = True,
    fuse: Annotated[bool, typer.Option("--fuse/--no-fuse", help=(
        "Also choose, per engine that scores its entities, a weight of that score in the decision (log-odds mixed with "
        "the selector's; only when it raises dev F1)."))] = True,
    consistent: Annotated[bool, typer.Option("--consistent/--no-consistent", help=(
        "Also try deciding a document's mentions of one type and text (and an abbreviation with its long form) together, "
        "kept when any of them is (only when it raises dev F1)."))] = True,
    repair: Annotated[bool, typer.Option("--repair/--no-repair", help=(
        "Also try boundary repair: a candidate is replaced by its span one token wider or narrower at either end when "
        "the selector prefers that by a margin chosen on dev (scores about eight spans per candidate; only when it raises dev F1)."))] = False,
    objective: Annotated[str, typer.Option("--objective", help=(
        "How each engine's rule is chosen on the dev parts: no-loss (the largest mean F1 gain over corpora/files among "
        "rules that lower none of them) or pooled (micro F1 over all dev predictions together)."))] = "no-loss",
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from <output>/checkpoint when present.")] = True,
    root: Annotated[str | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
) -> None:
    """Train a selector that accepts correct (mention, type) candidates and rejects near-misses, for any engine."""
    from bioner.selector.train import OBJECTIVES, SelectorTrainConfig, summary

    if objective not in OBJECTIVES:
        raise typer.BadParameter(f"{objective!r}: one of {', '.join(OBJECTIVES)}", param_hint="--objective")
    if init is not None:
        given = [o for o, v in (("--base", base), ("--lora-r", lora_r), ("--context", context), ("--max-length", max_length)) if v is not None]
        if given:
            raise typer.BadParameter(f"{', '.join(given)}: a selector trained further keeps its own; drop them or --init", param_hint="--init")

    shape = {k: v for k, v in (("context", context), ("max_length", max_length)) if v is not None}  # else SelectorRunOptions' defaults
    opts = SelectorRunOptions(corpus=corpus or [], train_file=train_file or [], dev_file=dev_file or [], output=output, base=base, init=init,
                              engines=engine or ["span"], **shape, span_model=span_model, llm_model=llm_model, adapter=adapter,
                              train_sample=parse_samples(train_sample or [], "--train-sample"),
                              dev_sample=parse_samples(dev_sample or [], "--dev-sample"), engine_sample=parse_samples(engine_sample or [], "--engine-sample", minimum=0),
                              engine_threshold=engine_threshold, engine_on=engine_on, threads=threads, root=root, lora_r=lora_r)
    config = SelectorTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr, contrastive=contrastive, per_gold=per_gold or None,
                                 max_steps=max_steps, seed=seed, guard=guard, fuse=fuse, consistent=consistent, objective=objective,
                                 freeze_embeddings=freeze_embeddings, repair=repair)
    report = Report(skip_invalid=True)
    try:
        result = train_selector_model(opts, config, resume=resume, progress=_interactive(), report=report)
    except KeyboardInterrupt:
        out().print(f"Interrupted: the checkpoint is in {output}; run the same command again to continue.", markup=False, highlight=False)
        raise typer.Exit(130) from None
    out().print(json.dumps(summary(result), indent=2), markup=False, highlight=False, soft_wrap=True)
    print_report(report, what="train selector")
