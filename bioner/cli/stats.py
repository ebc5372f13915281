"""``bioner stats``: documents, sentences, mentions per type, nested/discontinuous and skipped counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from bioner.stats import StatsRow, corpus_stats

from ._common import handles_errors, out, print_json, status


def _cell(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def stats_table(rows: Sequence[StatsRow]) -> Table:
    """One column per split, one row per measure: narrow enough for any terminal."""
    title = rows[0].corpus if rows and len({r.corpus for r in rows}) == 1 else "statistics"
    table = Table(title=title)
    table.add_column("")
    for r in rows:
        table.add_column(r.split or "all", justify="right")
    types = sorted({t for r in rows for t in r.by_type})
    per_type: list[tuple[str, list[int | None]]] = [(f"  {t}", [r.by_type.get(t, 0) for r in rows]) for t in types]
    measures: list[tuple[str, list[int | None]]] = [
        ("documents", [r.documents for r in rows]),
        ("sentences", [r.sentences for r in rows]),
        ("tokens", [r.tokens for r in rows]),
        ("mentions", [r.mentions for r in rows]),
        *per_type,
        ("nested", [r.nested for r in rows]),
        ("discontinuous", [r.discontinuous for r in rows]),
        ("skipped invalid", [r.skipped for r in rows]),
    ]
    for name, values in measures:
        table.add_row(name, *(_cell(v) for v in values), end_section=name == "discontinuous")
    codes = sorted({c for r in rows for c in r.issues})
    for code in codes:
        table.add_row(f"  {code}", *(_cell(r.issues.get(code, 0)) for r in rows), style="dim")
    return table


@handles_errors
def stats_command(
    source: Annotated[str, typer.Argument(help="A registered corpus (all splits), CORPUS:SPLIT, or a file/directory in any format.")],
    split: Annotated[str | None, typer.Option("--split", "-s", help="Only this split of a registered corpus.")] = None,
    format: Annotated[str | None, typer.Option("--format", "-f", help="Format of a file (default: detected).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list with one object per split).")] = False,
    skip_invalid: Annotated[bool | None, typer.Option(
        "--skip-invalid/--strict", help="Skip and count invalid records (default: skip for registered corpora, strict for files).",
    )] = None,
) -> None:
    """Corpus statistics per split."""
    with status(f"Reading {source}"):
        rows = corpus_stats(source, split, format=format, skip_invalid=skip_invalid)
    if as_json:
        print_json([r.as_dict() for r in rows])
    else:
        out().print(stats_table(rows))
