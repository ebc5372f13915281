"""``bioner annotate``: annotate files of any size into resumable shards, here or on Ray (``bioner.annotate.annotate``).

``--engine`` says what finds the entities (span, llm: the same choice as ``bioner extract``);
``--ray`` says where the job runs. They are separate because they are independent (an LLM
teacher can run on Ray too) and because the manifest compares the engine, not the runner:
a job started locally can be resumed on Ray and the other way round. ``--engine ray``, the
issue's spelling, is accepted as short for ``--engine span --ray``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn

from bioner.errors import BionerError, Report

from ._common import _interactive, err, handles_errors, out, print_report
from .extract import choose_labels

if TYPE_CHECKING:
    from bioner.annotate import InputFile, Manifest, ProgressEvent

RAY_ENGINE = "ray"  # --engine ray: shorthand for --engine span --ray (the issue's spelling)
LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressView:
    """Renders ``ProgressEvent``s: a bar with documents/s and ETA on a terminal, else a line every ``LOG_EVERY`` s.

    The ETA uses this run's rate only (shards skipped on resume cost nothing) and the
    document count a quick byte scan estimates (``estimate_documents``), when it can.
    """

    def __init__(self) -> None:
        self.interactive = _interactive()
        self.total: int | None = None
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.last_log = 0.0
        self.skipped = 0

    def start(self, files: Sequence[InputFile], manifest: Manifest) -> None:
        from bioner.annotate import estimate_documents

        if manifest.shards:
            err().print(f"Resuming: {len(manifest.shards)} shard(s) already in the output folder", markup=False, highlight=False)
        if not self.interactive:
            return
        self.total = estimate_documents(files, manifest.options["text_unit"])
        self.bar = Progress(SpinnerColumn(), TextColumn("Annotating"), BarColumn(), TextColumn("{task.completed}/{task.fields[of]} docs"),
                            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"), console=err(), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("annotate", total=self.total, of=self.total if self.total is not None else "?", rate="", eta="")

    def __call__(self, ev: ProgressEvent) -> None:
        rate = ev.docs_per_second
        if self.bar is not None and self.task is not None:
            left = max(self.total - ev.documents, 0) if self.total is not None else None
            eta = f"ETA {_clock(left / rate)}" if left is not None and rate > 0 else ""
            self.bar.update(self.task, completed=ev.documents, rate=f"{rate:.1f} docs/s" if rate > 0 else "", eta=eta)
            return
        if ev.skipped:
            self.skipped += 1
            return
        now = time.monotonic()
        if now - self.last_log >= LOG_EVERY or self.last_log == 0.0:
            self.last_log = now
            skipped = f" ({self.skipped} shard(s) were already done)" if self.skipped else ""
            err().print(f"shard {ev.shard} written: {ev.documents} documents, {ev.annotated} annotated in {_clock(ev.elapsed)}, "
                        f"{rate:.1f} docs/s{skipped}", markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@handles_errors
def annotate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder: shard-000000.<ext> files and manifest.json. Rerun the same command to resume.")],
    inputs: Annotated[list[str] | None, typer.Argument(help="More inputs (files or directories), after or instead of -i.", show_default=False)] = None,
    input_opts: Annotated[list[str] | None, typer.Option("--input", "-i", help=(
        "Input file or directory (walked recursively in sorted order; hidden files left out): PubTator, BioC, JSONL, plain .txt, "
        "any readable format. Repeat -i, or list several after it."), show_default=False)] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model folder or Hub name (default: $BIONER_MODEL or the shipped bioner-span-minilm; with --engine llm the causal LM).")] = None,
    labels: Annotated[str | None, typer.Option("--labels", "-l", help="Comma-separated entity types (or LABEL=prompt items). Default: disease, chemical, gene, species, cell line, cell type.")] = None,
    labels_from: Annotated[str | None, typer.Option("--labels-from", help="Use a registered corpus's types (e.g. bc5cdr).")] = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="span or llm: what finds the entities. 'ray' is short for --engine span --ray.")] = "span",
    threshold: Annotated[float | None, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Minimum span probability (default: the model's own).")] = None,
    nested: Annotated[bool, typer.Option("--nested", help="Keep nested entities (default: flat).")] = False,
    per_label: Annotated[bool | None, typer.Option("--per-label/--one-prompt", help="One prompt per label, or all in one (default: per label for the default types).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Shard format: jsonl (lossless), pubtator, bioc-xml, bioc-json, iob ...")] = "jsonl",
    from_format: Annotated[str | None, typer.Option("--from", help="Read every input in this format (default: detected; txt: plain text).")] = None,
    text_unit: Annotated[str, typer.Option("--text-unit", help="A plain-text input is one document (file) or one per non-blank line (line).")] = "file",
    shard_size: Annotated[int, typer.Option("--shard-size", "-n", min=1, help="Documents per shard: the unit written atomically and redone after a crash.")] = 1000,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Processes (or Ray actors), each with its own model and 1 torch thread.")] = 1,
    ray: Annotated[bool, typer.Option("--ray", help="Run on Ray Data: a local Ray of --workers CPUs, or the cluster at --address. Output identical to a local run.")] = False,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address (auto, HOST:6379, ray://HOST:10001); implies --ray.")] = None,
    prefix_ids: Annotated[bool, typer.Option("--prefix-ids", help="Make every id RELPATH:ID (RELPATH: the input relative to the inputs' common folder), for inputs whose ids repeat.")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip and count invalid input records instead of stopping at the first.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over: delete the manifest and shards an earlier run left in the output folder.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per forward pass.")] = 8,
    scheme: Annotated[str | None, typer.Option("--scheme", help="With --engine llm: json or tags (default: the adapter's).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="With --engine llm: LoRA adapter folder (default: the shipped one).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="With --engine llm: an OpenAI-compatible server serving --model.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="With --engine llm: longest answer per sentence, in tokens.")] = 256,
    np_candidates: Annotated[bool, typer.Option("--np-candidates", help=(
        "With --engine llm: list each sentence's noun-phrase candidates in the prompt (a model-free chunker, marked as possibly "
        "incomplete or wrong). Part of the manifest: a resumed job keeps its setting."))] = False,
    selector: Annotated[Path | None, typer.Option("--selector", help="Verify every entity with this selector folder (bioner train selector), or 'default' (the shipped one); rejected ones are left out.")] = None,
    selector_threshold: Annotated[float | None, typer.Option("--selector-threshold", min=0.0, max=1.0, help="With --selector: acceptance threshold (default: the selector's own).")] = None,
    abbreviations: Annotated[bool, typer.Option("--abbreviations/--no-abbreviations", help=(
        "Give every use of an abbreviation the type of its defined long form, as bioner extract does. Part of the manifest."))] = True,
) -> None:
    """Annotate files of any size into resumable shards (atomic shard files, a manifest), locally or on Ray."""
    from bioner.annotate import annotate  # local: keep ``bioner --help`` fast
    from bioner.models import LLMOptions

    sources = [*(input_opts or []), *(inputs or [])]
    if not sources:
        raise typer.BadParameter("give at least one input file or directory (-i)", param_hint="--input")
    if engine == RAY_ENGINE:
        engine, ray = "span", True
    llm = None
    if engine == "llm":
        llm = LLMOptions(scheme=scheme, adapter=adapter, url=url, max_new_tokens=max_new_tokens, candidates=np_candidates)
    elif scheme or adapter or url or np_candidates:
        raise BionerError("E829", "--scheme, --adapter, --url and --np-candidates apply to --engine llm")
    label_set = choose_labels(labels, labels_from) if labels is not None or labels_from is not None else None
    view = ProgressView()
    try:
        result = annotate(
            sources, output, model=model, labels=label_set, engine=engine, threshold=threshold, nested=nested, per_label=per_label,
            out_format=fmt, shard_size=shard_size, workers=workers, ray=ray, address=address, from_format=from_format, text_unit=text_unit,
            prefix_ids=prefix_ids, skip_invalid=skip_invalid, force=force, batch_size=batch_size, llm=llm, selector=selector,
            selector_threshold=selector_threshold, abbreviations=abbreviations, on_progress=view, on_start=view.start,
        )
    finally:
        view.stop()
    print_report(result.read_report, what="input")
    if result.write_issues:
        write_report = Report()
        write_report.counts.update(result.write_issues)
        print_report(write_report, what=f"writing {fmt}")
    done = f"; {result.shards_skipped} shard(s) were already done" if result.shards_skipped else ""
    rate = f", {result.steady_docs_per_second:.1f} docs/s after the first shard" if result.steady_documents else ""
    out().print(f"Annotated {result.documents_annotated} documents ({result.entities} entities) in {result.seconds:.1f} s{rate}{done}; "
                f"{result.documents} documents in {result.shards} shard(s) in {result.out_dir} (manifest {result.manifest.name})",
                markup=False, highlight=False, soft_wrap=True)
