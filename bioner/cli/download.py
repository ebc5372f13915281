"""``bioner download`` and ``bioner corpora``: fetch registered corpora and list them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bioner import corpora
from bioner.io._common import PathLike

from ._common import handles_errors, out, print_json, status


@dataclass(frozen=True)
class CorpusRow:
    name: str
    title: str
    types: tuple[str, ...]
    splits: tuple[str, ...]
    nested: bool
    language: str
    present: bool  # every file the loader needs exists under the data folder


def list_corpora(root: PathLike | None = None) -> list[CorpusRow]:
    """The registered corpora, and whether each is present under ``root`` (default ``$BIONER_DATA``)."""
    base = Path(root) if root is not None else corpora.data_dir()
    return [
        CorpusRow(c.name, c.title, c.types, c.splits, c.nested, c.language, all((base / f).exists() for f in c.files))
        for c in corpora.CORPORA.values()
    ]


@handles_errors
def download_command(
    corpus: Annotated[str, typer.Argument(help="A registered corpus name (see `bioner corpora`).")],
    root: Annotated[Path | None, typer.Option("--root", help="Data folder (default: $BIONER_DATA or ~/.cache/bioner/data).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again files that are already present.")] = False,
) -> None:
    """Download a corpus from its canonical sources, checking checksums."""
    base = root if root is not None else corpora.data_dir()
    with status(f"Downloading {corpus}"):
        written = corpora.download(corpus, base, force=force)
    console = out()
    if not written:
        console.print(f"{corpus}: already present under {base} (use --force to fetch again)", markup=False, highlight=False, soft_wrap=True)
        return
    for path in written:
        console.print(f"  {path}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"{corpus}: {len(written)} file(s) written under {base}", markup=False, highlight=False, soft_wrap=True)


@handles_errors
def corpora_command(
    root: Annotated[Path | None, typer.Option("--root", help="Data folder (default: $BIONER_DATA or ~/.cache/bioner/data).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the registered corpora: types, splits, nested, language, present locally."""
    rows = list_corpora(root)
    if as_json:
        print_json([{**r.__dict__, "types": list(r.types), "splits": list(r.splits)} for r in rows])
        return
    table = Table(title=f"Corpora (data folder: {root if root is not None else corpora.data_dir()})")
    for col in ("name", "types", "splits", "nested", "lang", "present"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.name, ", ".join(r.types), ", ".join(r.splits), "yes" if r.nested else "-", r.language,
                      "[green]yes[/green]" if r.present else "[dim]no[/dim]")
    out().print(table)
