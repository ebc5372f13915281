"""``bioner train llm``: LoRA-tune a causal LM to write entities as JSON or symbolic tags (``train_llm``).

Options come from the defaults here, a config file (``--config``, YAML or JSON, keys as
the option names) and the command line, later ones winning, as for ``train span``.
Each ``--corpus`` contributes its train split with the registry's types and
definitions; each ``--train-file`` (any readable format) its own documents and the
types it contains. The run writes checkpoints under ``--output`` (the same command
continues an interrupted run) and the adapter to ``<output>/adapter``, which
``bioner extract --engine llm --adapter <output>/adapter`` uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bioner.errors import BionerError, Report

from ._common import _interactive, handles_errors, out, print_report
from .train import _file_docs, _sample, load_config

if TYPE_CHECKING:
    from bioner.engines.generative.train import LLMTrainResult, Part, Sample

SCHEMES = ("json", "tags")


@dataclass
class LLMTrainOptions:
    """Everything ``bioner train llm`` takes; a config file's keys are these field names."""

    corpus: list[str] = field(default_factory=list)
    train_file: list[str] = field(default_factory=list)
    curated: list[str] = field(default_factory=list)  # files written by `bioner curate`: their samples as they are
    output: str = "runs/llm"
    model: str = "gemma3-270m"
    scheme: str = "json"
    steps: int = 300
    batch_size: int = 4
    grad_accum: int = 2
    lr: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    max_len: int = 512
    definitions: bool = True
    train_sample: int | None = None
    seed: int = 0
    threads: int | None = None
    max_steps: int | None = None
    resume: bool = True
    root: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, where: str = "config") -> LLMTrainOptions:
        known = {f.name for f in fields(cls)}
        norm = {k.replace("-", "_"): v for k, v in values.items()}
        unknown = sorted(set(norm) - known)
        if unknown:
            raise ValueError(f"{where}: unknown options {unknown}; valid: {', '.join(sorted(known))}")
        return cls(**norm)

    def merged(self, overrides: Mapping[str, Any]) -> LLMTrainOptions:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for k, v in overrides.items():
            if v is not None and v != []:
                values[k] = v
        return LLMTrainOptions(**values)


def load_parts(opts: LLMTrainOptions, report: Report) -> list[Part]:
    """One Part per corpus (its train split and registry types) or file (the types it contains)."""
    from bioner import corpora
    from bioner.engines.generative.prompts import TypeSpec
    from bioner.engines.generative.train import Part

    if not opts.corpus and not opts.train_file:
        raise BionerError("E605", "no training data", hint="give --corpus NAME (repeatable), --train-file FILE or --curated FILE")
    parts: list[Part] = []
    for name in opts.corpus:
        info = corpora.get(name)
        split = "train" if "train" in info.splits else None
        if split is None:
            raise BionerError("E502", f"corpus {name!r} has no train split", hint=f"its splits: {', '.join(info.splits)}"
                              + ("; use cmeee-carved, a fixed train/test split of CMeEE's labelled dev file" if name == "cmeee" else ""))
        docs = _sample(list(corpora.load(name, split, root=opts.root, report=report)), opts.train_sample, opts.seed)
        parts.append(Part(name, docs, [TypeSpec.of(t) for t in info.types]))
    for path in opts.train_file:
        docs = _sample(_file_docs(path, report), opts.train_sample, opts.seed)
        types = sorted({e.label for d in docs for e in d.entities})
        if not types:
            raise BionerError("E605", f"{path} has no entities, so there are no types to learn", file=path)
        parts.append(Part(path, docs, [TypeSpec.of(t) for t in types]))
    return parts


def train_llm_model(opts: LLMTrainOptions, *, progress: bool = False, report: Report | None = None) -> LLMTrainResult:
    """Load data and model, build samples, run ``train_llm``; the adapter goes to ``<output>/adapter``."""
    from bioner.engines.generative.model import load_causal_lm
    from bioner.engines.generative.train import LLMTrainConfig, build_samples, train_llm

    if opts.scheme not in SCHEMES:
        raise BionerError("E701", f"unknown scheme {opts.scheme!r}", hint=f"one of: {', '.join(SCHEMES)}")
    report = report if report is not None else Report(skip_invalid=True)
    if opts.curated:
        if opts.corpus or opts.train_file:
            raise BionerError("E732", "give --curated files or --corpus/--train-file, not both",
                              hint="curate the corpora together with `bioner curate`, then tune on that file")
        samples, types = curated_samples(opts)
    else:
        parts = load_parts(opts, report)  # data errors before minutes of model loading
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    lm = load_causal_lm(opts.model)
    config = LLMTrainConfig(scheme=opts.scheme, max_steps=opts.steps, batch_size=opts.batch_size, grad_accum=opts.grad_accum, lr=opts.lr,
                            lora_r=opts.lora_r, lora_alpha=opts.lora_alpha, max_len=opts.max_len, definitions=opts.definitions, seed=opts.seed)
    if not opts.curated:
        samples = build_samples(parts, opts.scheme, lm.tokenizer, definitions=opts.definitions, report=report)
        types = {p.name: [{"name": s.name, "label": s.label, "definition": s.definition} for s in p.types] for p in parts}
    return train_llm(lm.model, lm.tokenizer, samples, output_dir=opts.output, config=config, base_model=opts.model, types=types,
                     max_steps=opts.max_steps, resume=opts.resume, progress=progress, report=report)


def curated_samples(opts: LLMTrainOptions) -> tuple[list[Sample], dict[str, list[dict[str, str]]]]:
    """The samples of ``opts.curated`` files and their types; each file's scheme must be the run's."""
    from bioner.curation import read_curated

    samples: list[Sample] = []
    types: dict[str, list[dict[str, str]]] = {}
    for path in opts.curated:
        got, meta = read_curated(path)
        if meta.get("scheme") != opts.scheme:
            raise BionerError("E734", f"{path} was curated for scheme {meta.get('scheme')!r}, this run tunes {opts.scheme!r}", file=path,
                              hint=f"add --scheme {meta.get('scheme')}, or curate again with --scheme {opts.scheme}")
        if meta.get("target_model") not in (None, opts.model):
            raise BionerError("E734", f"{path} holds prompts rendered for {meta.get('target_model')!r}, this run tunes {opts.model!r}", file=path,
                              hint="curate with --model set to the model you tune (prompt templates differ between models)")
        samples.extend(got)
        types.update(meta.get("types", {}))
    return samples, types


@handles_errors
def llm_command(
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus to tune on (repeatable): its train split and types.")] = None,
    train_file: Annotated[list[str] | None, typer.Option("--train-file", help="Training file in any readable format (repeatable).")] = None,
    curated: Annotated[list[str] | None, typer.Option("--curated", help="Tune on the samples of a file written by `bioner curate` (repeatable).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML or JSON file of options (keys as below); flags override it.")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Run folder: checkpoints, and the adapter in <output>/adapter. (default: runs/llm)")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Base causal LM: Hub name, folder, or gemma3-270m (packaged). (default: gemma3-270m)")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="What the model writes: json (BioSelectTune) or tags (LLMNER). (default: json)")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Optimizer steps of the schedule. (default: 300)")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Samples per forward pass. (default: 4)")] = None,
    grad_accum: Annotated[int | None, typer.Option("--grad-accum", min=1, help="Forward passes per optimizer step. (default: 2)")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate of the LoRA weights. (default: 2e-4)")] = None,
    lora_r: Annotated[int | None, typer.Option("--lora-r", min=1, help="LoRA rank. (default: 16)")] = None,
    max_len: Annotated[int | None, typer.Option("--max-len", min=16, help="Longest sample in tokens; longer ones are left out and counted. (default: 512)")] = None,
    definitions: Annotated[bool | None, typer.Option("--definitions/--no-definitions", help="List each type with its definition in the prompt. (default: on)")] = None,
    train_sample: Annotated[int | None, typer.Option("--train-sample", min=1, help="Training documents per corpus/file (a fixed random sample).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop this call after N steps in total (continue later).")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the adapter's random start, data order and sampling. (default: 0)")] = None,
    resume: Annotated[bool | None, typer.Option("--resume/--no-resume", help="Continue from <output>/checkpoint when present. (default: resume)")] = None,
    root: Annotated[str | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
) -> None:
    """LoRA-tune a causal LM (default: Gemma 3 270M) to write entities as JSON or symbolic tags."""
    flags = {"corpus": corpus or [], "train_file": train_file or [], "curated": curated or [], "output": output, "model": model, "scheme": scheme, "steps": steps,
             "batch_size": batch_size, "grad_accum": grad_accum, "lr": lr, "lora_r": lora_r, "max_len": max_len, "definitions": definitions,
             "train_sample": train_sample, "max_steps": max_steps, "threads": threads, "seed": seed, "resume": resume, "root": root}
    try:
        base = LLMTrainOptions.from_mapping(load_config(config), where=str(config)) if config is not None else LLMTrainOptions()
        opts = base.merged(flags)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    report = Report(skip_invalid=True)
    try:
        r = train_llm_model(opts, progress=_interactive(), report=report)
    except KeyboardInterrupt:
        out().print(f"Interrupted: the checkpoint is in {opts.output}; run the same command again to continue.", markup=False, highlight=False)
        raise typer.Exit(130) from None
    state = f"adapter: {r.adapter}" if r.adapter else f"stopped at --max-steps; run again to continue (checkpoint in {r.output_dir})"
    loss = f"; last loss {r.losses[-1]:.4f}" if r.losses else ""
    out().print(f"Tuned {r.steps} steps ({r.epochs:.2f} epochs) on {r.samples} samples{loss}; {state}",
                markup=False, highlight=False, soft_wrap=True)
    print_report(report, what="train")
