"""``bioner silver``: silver training data from teachers (``bioner.silver``).

``silver raw`` writes the unlabeled text of registered corpora (near-duplicates removed)
for ``bioner annotate`` to run teachers over; ``silver merge`` keeps what enough teachers
agree on, with provenance on every entity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bioner.errors import Report

from ._common import Counted, handles_errors, out, print_report

silver_app = typer.Typer(name="silver", help="Silver training data from teacher models: raw text, de-duplication, merging teachers.",
                         no_args_is_help=True)


def _names(values: list[str] | None) -> list[str]:
    """``-c a -c b,c`` -> ``[a, b, c]``."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


@handles_errors
def raw_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSONL file to write (replaced atomically).")],
    corpus: Annotated[list[str] | None, typer.Option("--corpus", "-c", help="Registered corpus (repeatable, or comma-separated).", show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="Split whose text is taken.")] = "train",
    dedup: Annotated[bool, typer.Option("--dedup/--no-dedup", help=(
        "Drop near-identical texts (equal after NFKC, casefold, digits -> 0, punctuation dropped, whitespace collapsed); "
        "the first is kept."))] = True,
    root: Annotated[Path | None, typer.Option("--root", help="Corpus data folder (default: $BIONER_DATA).")] = None,
) -> None:
    """Write the unlabeled text of corpora's splits (entities removed, ids CORPUS:ID) as JSONL, for teachers to annotate."""
    import bioner.io
    from bioner.silver import DedupStats, raw_documents
    from bioner.silver import dedup as drop_duplicates

    names = _names(corpus)
    docs = raw_documents(names, split, root)
    stats = DedupStats()
    counted = Counted(drop_duplicates(docs, stats) if dedup else docs)
    bioner.io.write(counted, output, "jsonl")
    out().print(f"Wrote {counted.documents} documents ({split} of {', '.join(dict.fromkeys(names))}) to {output}",
                markup=False, highlight=False, soft_wrap=True)
    if dedup:
        out().print(f"Near-duplicates: kept {stats.kept}, dropped {stats.dropped}", markup=False, highlight=False)
        for dropped, first in stats.examples:
            out().print(f"  {dropped} repeats {first}", markup=False, highlight=False, soft_wrap=True)


@handles_errors
def merge_command(
    inputs: Annotated[list[Path], typer.Argument(help="Teacher outputs: bioner annotate output folders or annotation files (any readable format).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Silver file to write; the format comes from the extension or --format.")],
    agree: Annotated[int, typer.Option("--agree", min=1, help="Keep an entity when at least this many inputs give it (1: any teacher).")] = 1,
    min_score: Annotated[float | None, typer.Option("--min-score", help=(
        "Keep an entity when its score (mean over agreeing teachers that gave one) is >= this. "
        "Entities without a score (LLM teachers) pass this filter."))] = None,
    match: Annotated[str, typer.Option("--match", help="strict: same start, end and label; overlap: overlapping spans with the same label.")] = "strict",
    keep_empty: Annotated[bool, typer.Option("--keep-empty/--drop-empty", help="Keep documents where no entity is kept (negatives for training).")] = True,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Output format (default: from the extension).")] = None,
) -> None:
    """Merge teachers' annotations of the same documents: keep what enough of them agree on, with provenance on every entity."""
    import bioner.io
    from bioner.silver import MergeStats, merge_teachers, read_teacher, teacher_names

    names = teacher_names(inputs)
    sources = [read_teacher(p) for p in inputs]  # every input checked before anything is written
    stats = MergeStats(names)
    report = Report()
    bioner.io.write(merge_teachers(sources, names, agree=agree, min_score=min_score, match=match, keep_empty=keep_empty, stats=stats),
                    output, fmt, report=report)
    print_report(report, what="writing")
    con = out()

    def say(line: str) -> None:
        con.print(line, markup=False, highlight=False, soft_wrap=True)

    dropped_empty = f", {stats.empty_dropped} without entities left out" if stats.empty_dropped else ""
    say(f"Merged {stats.documents} documents from {len(names)} input(s); wrote {stats.written}{dropped_empty} to {output}")
    for name, n in zip(names, stats.entities):
        say(f"  {name}: {n} entities")
    score = f" (score < {min_score})" if min_score is not None else ""
    say(f"Kept {stats.kept} entities; dropped {stats.dropped_agreement} by agreement (< {agree} of {len(names)}), "
        f"{stats.dropped_score} by score{score}")
    for label in sorted(stats.by_label):
        c = stats.by_label[label]
        say(f"  {label}: kept {c['kept']}, dropped by agreement {c['agreement']}, by score {c['score']}")


silver_app.command("raw")(raw_command)
silver_app.command("merge")(merge_command)
