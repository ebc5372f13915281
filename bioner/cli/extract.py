"""``bioner extract``: find entities in a text or in a file with a span model or an LLM (``bioner.models.extract``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import bioner.io
from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io import text as plain_text
from bioner.models import DEFAULT_LABELS, corpus_labels, parse_label_spec
from bioner.stats import default_skip_invalid, parse_source, read_source

from ._common import QUANTIZE_HELP, Counted, _interactive, err, handles_errors, out, parse_quantize, print_report, status
from .convert import output_format

if TYPE_CHECKING:
    from bioner.engines.span import LabelSet
    from bioner.models import ModelRef

TEXT_ID = "text"  # id of the one document made from a TEXT argument
STDOUT_FORMATS = ("table", "json", "jsonl")  # what --format can print without -o
PROGRESS_MIN_DOCS = 16  # fewer documents finish before a bar is worth drawing
BLOCK = 32  # documents per prediction call: the bar moves this often
WORKER_BLOCK = 8  # documents per task sent to a worker process: small, so the workers stay evenly loaded


def choose_labels(labels: str | None = None, labels_from: str | None = None) -> LabelSet:
    """``--labels`` (types, or LABEL=prompt items), ``--labels-from CORPUS``, or ``DEFAULT_LABELS``."""
    if labels is not None and labels_from is not None:
        raise BionerError("E605", "give --labels or --labels-from, not both")
    if labels_from is not None:
        return corpus_labels(labels_from)
    if labels is not None:
        return parse_label_spec(labels)
    return DEFAULT_LABELS


def read_input(source: str, *, from_format: str | None = None, report: Report | None = None) -> list[Document]:
    """Documents of ``-i``: a file in any readable format, a plain ``.txt`` file, or ``corpus:split``.

    A ``.txt`` file that format detection cannot place (prose, not PubTator or CoNLL) is
    one document of plain text; ``from_format="txt"`` reads any file that way.
    """
    if from_format == plain_text.NAME:
        return list(plain_text.read(source))
    ref = parse_source(source)
    report = report if report is not None else Report(skip_invalid=default_skip_invalid(ref))
    if ref.path is not None and from_format is None and ref.path.is_file() and ref.path.suffix.lower() in plain_text.EXTENSIONS:
        try:
            bioner.io.detect_format(ref.path)
        except BionerError as exc:
            if exc.code != "E207":
                raise
            return list(plain_text.read(ref.path))
    return list(read_source(ref, format=from_format, report=report))


@dataclass(frozen=True)
class Destination:
    """Where predictions go: a rich table or JSON lines on stdout, or a file in a format."""

    kind: str  # "table", "jsonl" (stdout) or "file"
    path: Path | None = None
    format: str | None = None  # the writer's format name, for "file"


def destination(output: Path | None, fmt: str | None) -> Destination:
    """Decide the output before any prediction runs, so a bad choice costs no model time."""
    if output is None:
        if fmt is None or fmt == "table":
            return Destination("table")
        if fmt in ("json", "jsonl"):
            return Destination("jsonl")
        bioner.io.get_format(fmt)  # E207 for an unknown name
        raise BionerError("E207", f"format {fmt!r} is written to a file", hint="pass -o FILE, or --format table/json to print")
    if fmt == "table":
        raise BionerError("E207", "--format table prints to the terminal; it cannot go to a file", file=output, hint="drop -o, or choose a file format")
    file_fmt = output_format(output, "jsonl" if fmt == "json" else fmt)
    if not file_fmt.can_write:
        raise BionerError("E207", f"format {file_fmt.name!r} can only be read", file=output)
    return Destination("file", output, file_fmt.name)


def with_progress(docs: Iterable[Document], total: int, description: str) -> Iterator[Document]:
    """Yield ``docs``; on a terminal and for many documents, draw a transient bar on stderr."""
    if not _interactive() or total < PROGRESS_MIN_DOCS:
        yield from docs
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err(), transient=True)
    with bar:
        task = bar.add_task(description, total=total)
        for doc in docs:
            bar.advance(task)
            yield doc


def entity_table(docs: Iterable[Document], title: str) -> Table:
    """One row per entity: document id, offsets, label, the text at the offsets, score."""
    table = Table(title=title)
    for col, justify in (("document", "left"), ("start", "right"), ("end", "right"), ("label", "left"), ("text", "left"), ("score", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for doc in docs:
        for e in doc.entities:
            # Text cells: brackets in biomedical text must not be read as rich markup
            table.add_row(Text(doc.id), str(e.start), str(e.end), Text(e.label), Text(e.text_in(doc.text)),
                          "-" if e.score is None else f"{e.score:.3f}")
    return table


def _documents(text: str | None, input_path: str | None, from_format: str | None, report: Report) -> list[Document]:
    if (text is None) == (input_path is None):
        raise typer.BadParameter("give a TEXT argument or -i FILE (one of them)")
    if input_path is not None:
        return read_input(input_path, from_format=from_format, report=report)
    assert text is not None
    return [Document(TEXT_ID, sys.stdin.read() if text == "-" else text)]


@handles_errors
def extract_command(
    text: Annotated[str | None, typer.Argument(help="Text to annotate ('-' reads it from stdin). Or use -i FILE.", show_default=False)] = None,
    input_path: Annotated[str | None, typer.Option("--input", "-i", help="Input: a file in any readable format, a plain .txt file (one document), or CORPUS:SPLIT.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write predictions here (format from --format or the extension; .jsonl keeps everything).")] = None,
    labels: Annotated[str | None, typer.Option("--labels", "-l", help=(
        "Comma-separated entity types to find, in natural language (disease,gene); entities carry the type as typed. "
        "LABEL=prompt items set the label and the prompt separately. Default: disease, chemical, gene, species, cell line, cell type."))] = None,
    labels_from: Annotated[str | None, typer.Option("--labels-from", help="Use a registered corpus's types (e.g. ncbi-disease): natural-language prompts, corpus type labels.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model folder or Hub name (default: $BIONER_MODEL or the shipped bioner-span-minilm).")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Minimum span probability (default: the model's own, 0.5 if it has none).")] = None,
    nested: Annotated[bool, typer.Option("--nested", help="Keep entities nested inside others (default: flat, no overlaps).")] = False,
    multi_label: Annotated[bool, typer.Option("--multi-label", help="Let one span carry several labels.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="table or json (JSON lines) on stdout, or any writable format for -o.")] = None,
    from_format: Annotated[str | None, typer.Option("--from", help="Input format (default: detected; 'txt' reads the file as one plain-text document).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per forward pass.")] = 8,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads (default: torch's choice; 1 is fastest on a busy machine).")] = None,
    quantize: Annotated[str, typer.Option("--quantize", "-q", help=QUANTIZE_HELP)] = "none",
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Processes, each with its own model and 1 thread (use one per core for large inputs).")] = 1,
    per_label: Annotated[bool | None, typer.Option("--per-label/--one-prompt", help=(
        "Score each label in a prompt of its own (one pass per label) or all in one prompt. "
        "Default: one prompt for a corpus's own label set (--labels-from), per label otherwise."))] = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="span (GLiNER span model) or llm (a causal LM writes the entities).")] = "span",
    scheme: Annotated[str | None, typer.Option("--scheme", help="With --engine llm: json or tags (default: what the adapter was tuned for).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="With --engine llm: LoRA adapter folder (default: the shipped one, when present).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="With --engine llm: an OpenAI-compatible server (vLLM, llama.cpp, Ollama) serving --model.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="With --engine llm: longest answer per sentence, in tokens.")] = 256,
    selector: Annotated[Path | None, typer.Option("--selector", help="Verify every entity with this selector folder (bioner train selector), or 'default' (the shipped one); rejected ones are left out.")] = None,
    selector_threshold: Annotated[float | None, typer.Option("--selector-threshold", min=0.0, max=1.0, help="With --selector: acceptance threshold (default: the selector's own, chosen on dev data).")] = None,
    abbreviations: Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help=(
        "Give every use of an abbreviation the type of its defined long form: \"myocardial infarction (MI)\" found as a disease "
        "makes each later \"MI\" one too."))] = True,
) -> None:
    """Find biomedical entities in a text or a file with a span model or an LLM, optionally verified by a selector."""
    from bioner.models import ENGINES, LLMOptions, iter_extract, load_llm, load_model, resolve_model  # local: keep ``bioner --help`` fast

    if engine not in ENGINES:
        raise typer.BadParameter(f"unknown engine {engine!r}; one of: {', '.join(ENGINES)}", param_hint="--engine")
    if engine == "span" and (scheme or adapter or url):
        raise typer.BadParameter("--scheme, --adapter and --url apply to --engine llm", param_hint="--engine")
    label_set: LabelSet | None = choose_labels(labels, labels_from)
    quantized = parse_quantize(quantize)
    dest = destination(output, fmt)
    read_report = Report(skip_invalid=default_skip_invalid(parse_source(input_path)) if input_path is not None else False)
    with status(f"Reading {input_path}" if input_path else "Reading"):
        docs = _documents(text, input_path, from_format, read_report)
    print_report(read_report, what=f"input {input_path}")
    if selector_threshold is not None and selector is None:
        raise typer.BadParameter("--selector-threshold needs --selector", param_hint="--selector-threshold")
    stage = None
    if selector is not None:
        from bioner.selector import load_selector

        with status("Loading the selector"):
            stage = load_selector(selector)
    llm = LLMOptions(scheme=scheme, adapter=adapter, url=url, max_new_tokens=max_new_tokens)
    if engine == "llm":
        with status("Loading the LLM"):
            llm_engine = load_llm(model, llm, threads=threads, batch_size=batch_size)
        model_ref: ModelRef = model
        model_name = f"{llm_engine.name} ({llm_engine.scheme})"
        label_set = label_set if labels is not None or labels_from is not None else None  # None: the adapter's own types
    elif workers > 1:
        resolved = resolve_model(model)  # each worker process loads it
        model_ref = resolved
        model_name = Path(resolved).name if Path(resolved).exists() else resolved
    else:
        with status("Loading the model"):
            model_ref = load_model(model, threads=threads, quantize=quantized)
        model_name = model_ref.name
        threshold = model_ref.threshold if threshold is None else threshold
    stream = with_progress(
        iter_extract(docs, label_set, model=model_ref, threshold=threshold, flat=not nested, multi_label=multi_label, batch_size=batch_size,
                     quantize=quantized, workers=workers,
                     per_label=per_label, block=BLOCK if workers == 1 else WORKER_BLOCK,
                     engine=engine, llm=llm, selector=stage, selector_threshold=selector_threshold, abbreviations=abbreviations),
        len(docs), "Extracting",
    )
    if dest.kind == "jsonl":
        from bioner.io.jsonl import doc_to_dict

        for doc in stream:
            sys.stdout.write(json.dumps(doc_to_dict(doc), ensure_ascii=False) + "\n")
        return
    if dest.kind == "table":
        found = list(stream)
        n = sum(len(d.entities) for d in found)
        setting = "" if engine == "llm" else f", threshold {threshold if threshold is not None else 'the model default'}"
        if stage is not None:
            rejected = sum(d.metadata.get("selector", {}).get("rejected", 0) for d in found)
            cut = stage.threshold_for(engine) if selector_threshold is None else selector_threshold
            setting += f"; selector {selector} (threshold {cut:.3f}) rejected {rejected}"
        title = f"{n} entities in {len(found)} document(s); model {model_name}{setting}"
        out().print(entity_table(found, title))
        return
    assert dest.path is not None and dest.format is not None
    written = Counted(stream)
    write_report = Report()
    bioner.io.write(written, dest.path, dest.format, report=write_report)
    out().print(f"Wrote {written.entities} entities in {written.documents} documents to {dest.path} [{dest.format}]",
                markup=False, highlight=False, soft_wrap=True)
    print_report(write_report, what="extract")
