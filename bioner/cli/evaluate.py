"""``bioner evaluate``: strict and relaxed P/R/F1 of predictions against gold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import typer

from bioner.errors import Report
from bioner.io._common import PathLike
from bioner.stats import default_skip_invalid, parse_source, read_source

from ._common import handles_errors, out, parse_labels, print_json, print_report, status

if TYPE_CHECKING:
    from bioner.evaluate import Evaluation


def evaluate_sources(
    gold: PathLike,
    pred: PathLike,
    *,
    gold_format: str | None = None,
    pred_format: str | None = None,
    labels: Iterable[str] | None = None,
    root: PathLike | None = None,
    gold_report: Report | None = None,
    pred_report: Report | None = None,
) -> Evaluation:
    """Evaluate ``pred`` against ``gold``; each is a file, a brat directory or ``corpus:split``.

    Invalid records of registered corpora are skipped and counted in the side's report
    (as ``corpora.load`` does); a file's first invalid record raises.
    """
    from bioner.evaluate import evaluate  # local: keep ``bioner --help`` fast

    g_ref, p_ref = parse_source(gold), parse_source(pred)
    g_docs = read_source(g_ref, format=gold_format, report=gold_report, root=root)
    p_docs = read_source(p_ref, format=pred_format, report=pred_report, root=root)
    return evaluate(g_docs, p_docs, labels=labels)


@handles_errors
def evaluate_command(
    gold: Annotated[str, typer.Option("--gold", "-g", help="Gold file, brat directory, or CORPUS:SPLIT.")],
    pred: Annotated[str, typer.Option("--pred", "-p", help="Predicted file or brat directory.")],
    gold_format: Annotated[str | None, typer.Option("--gold-format", help="Format of the gold file (default: detected).")] = None,
    pred_format: Annotated[str | None, typer.Option("--pred-format", help="Format of the predictions (default: detected).")] = None,
    relaxed: Annotated[bool, typer.Option("--relaxed/--no-relaxed", help="Also show relaxed (overlap) scores.")] = True,
    by_type: Annotated[bool, typer.Option("--by-type/--no-by-type", help="One row per entity type.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print every score as JSON.")] = False,
    labels: Annotated[str | None, typer.Option("--labels", help="Comma-separated types to score (default: all).")] = None,
) -> None:
    """Score predictions against gold: strict and relaxed, micro and macro, per type."""
    from bioner.evaluate import render

    g_report, p_report = (Report(skip_invalid=default_skip_invalid(parse_source(s))) for s in (gold, pred))
    with status("Evaluating"):
        ev = evaluate_sources(gold, pred, gold_format=gold_format, pred_format=pred_format, labels=parse_labels(labels),
                              gold_report=g_report, pred_report=p_report)
    print_report(g_report, what=f"gold {gold}")
    print_report(p_report, what=f"predictions {pred}")
    if as_json:
        print_json(ev.as_dict())
    else:
        out().print(render(ev, by_type=by_type, relaxed=relaxed))
