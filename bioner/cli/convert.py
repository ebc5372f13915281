"""``bioner convert`` and ``bioner formats``: stream Documents from one format to another."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import bioner.io
from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike
from bioner.stats import default_skip_invalid, parse_source, read_source

from ._common import Counted, handles_errors, out, print_report, track


@dataclass
class ConvertResult:
    """What ``convert`` wrote, and everything it skipped or could not represent (in ``report``)."""

    source: str
    output: Path
    input_format: str  # format name, or "corpus" for a registered corpus
    output_format: str
    documents: int
    entities: int  # entities handed to the writer; the writer's drops are in report
    report: Report


def output_format(path: PathLike, to_format: str | None = None) -> bioner.io.Format:
    """The format to write: ``to_format``, else the longest matching extension of ``path``."""
    if to_format:
        return bioner.io.get_format(to_format)
    name = Path(path).name.lower()
    matches = sorted(((ext, f) for f in bioner.io.FORMATS.values() for ext in f.extensions if name.endswith(ext)), key=lambda x: -len(x[0]))
    if not matches:
        raise BionerError("E207", "cannot tell the output format from the file name", file=Path(path),
                          hint=f"pass --to, one of: {', '.join(n for n, f in bioner.io.FORMATS.items() if f.can_write)}")
    return matches[0][1]


def convert(
    source: PathLike,
    output: PathLike,
    *,
    from_format: str | None = None,
    to_format: str | None = None,
    skip_invalid: bool | None = None,
    root: PathLike | None = None,
    wrap: Callable[[Iterable[Document]], Iterable[Document]] | None = None,
) -> ConvertResult:
    """Read ``source`` (a file, a brat directory or ``corpus:split``) and write it to ``output``.

    Documents stream through: a file is never held in memory whole. Nothing is written
    when reading fails (writers are atomic). ``skip_invalid=None`` skips invalid records
    of registered corpora and stops at the first one in a file; every skip and every
    entity the output format cannot hold is counted in the result's ``report``.
    ``wrap`` sees the document stream (a progress display).
    """
    ref = parse_source(source)
    fmt_out = output_format(output, to_format)
    if not fmt_out.can_write:
        raise BionerError("E207", f"format {fmt_out.name!r} can only be read", file=Path(output))
    if ref.path is None:
        in_name = "corpus"
    else:
        in_name = bioner.io.get_format(from_format).name if from_format else bioner.io.detect_format(ref.path).name
    report = Report(skip_invalid=default_skip_invalid(ref) if skip_invalid is None else skip_invalid)
    docs = read_source(ref, format=from_format, report=report, root=root)
    stream = Counted(wrap(docs) if wrap is not None else docs)
    bioner.io.write(stream, output, fmt_out.name, report=report)
    return ConvertResult(str(ref), Path(output), in_name, fmt_out.name, stream.documents, stream.entities, report)


@handles_errors
def convert_command(
    source: Annotated[str, typer.Argument(help="Input file, brat directory, or CORPUS:SPLIT (e.g. ncbi-disease:test).")],
    output: Annotated[Path, typer.Argument(help="Output file (or directory for brat).")],
    from_format: Annotated[str | None, typer.Option("--from", help="Input format (default: detected).")] = None,
    to_format: Annotated[str | None, typer.Option("--to", help="Output format (default: from the extension).")] = None,
    skip_invalid: Annotated[bool | None, typer.Option(
        "--skip-invalid/--strict",
        help="Skip and count invalid records instead of stopping at the first (default: strict for files, skip for registered corpora).",
    )] = None,
) -> None:
    """Convert documents between formats; reports every skipped record and dropped entity."""
    result = convert(source, output, from_format=from_format, to_format=to_format, skip_invalid=skip_invalid,
                     wrap=lambda docs: track(docs, f"Converting {source}"))
    out().print(
        f"Wrote {result.documents} documents ({result.entities} entities) from {result.source} [{result.input_format}] "
        f"to {result.output} [{result.output_format}]",
        markup=False, highlight=False, soft_wrap=True,
    )
    print_report(result.report, what="convert")


def formats_command() -> None:
    """List the file formats: extensions, read/write support, nested entities."""
    table = Table(title="Formats")
    for col in ("name", "extensions", "read", "write", "nested", "description"):
        table.add_column(col)
    for f in bioner.io.FORMATS.values():
        table.add_row(f.name, " ".join(f.extensions), "yes" if f.can_read else "-", "yes" if f.can_write else "-",
                      "yes" if f.nested else "flat", f.description)
    out().print(table)
