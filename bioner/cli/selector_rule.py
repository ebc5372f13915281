"""``bioner train selector-rule``: choose a selector's rule for one engine on that engine's dev predictions.

A selector's threshold (and guard, score weight, mention grouping) is chosen per engine on that engine's
dev predictions. A trained selector has rules for the engines it was trained with; a new engine or adapter
gets its own rule from its predictions on annotated dev documents (``bioner extract -i dev.jsonl -o
dev.pred.jsonl ...``), without training the selector again: only its settings file changes. Several
``--gold``/``--pred`` pairs (one per corpus) are weighed as ``bioner train selector`` weighs its dev corpora
(``--objective``); a selector trained further (``--init``) gets its rules for other engines back this way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from bioner.errors import BionerError, Report

from ._common import handles_errors, out, print_report
from .train import _file_docs
from .train_selector import ENGINE_NAMES


@handles_errors
def selector_rule_command(
    selector: Annotated[str, typer.Option("--selector", help="Selector folder (bioner train selector), or 'default' (the shipped one).")],
    gold: Annotated[list[Path], typer.Option("--gold", help=(
        "Dev documents with gold entities, in any readable format (repeatable: one file per corpus, paired in order with --pred)."))],
    pred: Annotated[list[Path], typer.Option("--pred", help="The engine's predictions on the same documents (same ids and texts; one per --gold).")],
    output: Annotated[Path, typer.Option("--output", "-o", help=(
        "Folder for the selector with the new rule: its files are copied there (the selector's own folder updates it in place)."))],
    engine: Annotated[str, typer.Option("--engine", "-e", help="The engine whose rule to choose: span or llm.")] = "llm",
    objective: Annotated[str, typer.Option("--objective", help="no-loss or pooled (as bioner train selector; one dev set: the same).")] = "no-loss",
    repair: Annotated[bool, typer.Option("--repair/--no-repair", help=(
        "Also try boundary repair: each candidate may be replaced by its span one token wider or narrower at either end "
        "when the selector prefers that by a margin chosen here (scores about eight spans per prediction)."))] = False,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads.")] = None,
) -> None:
    """Choose a selector's acceptance rule for one engine on that engine's predictions of dev documents."""
    from bioner.selector import selector_path
    from bioner.selector.model import Selector
    from bioner.selector.train import OBJECTIVES, calibrate_selector, dev_part, note_rule, rule_of

    if engine not in ENGINE_NAMES:
        raise typer.BadParameter(f"{engine!r}: one of {', '.join(ENGINE_NAMES)}", param_hint="--engine")
    if objective not in OBJECTIVES:
        raise typer.BadParameter(f"{objective!r}: one of {', '.join(OBJECTIVES)}", param_hint="--objective")
    source = selector_path(selector).resolve()
    target = output.expanduser().resolve()
    if target != source and target.exists() and any(target.iterdir()):
        raise BionerError("E624", "the output folder exists and is not empty", file=target,
                          hint="name a new folder, or the selector's own folder to update it in place")
    if len(gold) != len(pred):
        raise typer.BadParameter(f"{len(gold)} --gold file(s) but {len(pred)} --pred file(s): give one --pred per --gold, in the same order",
                                 param_hint="--pred")
    names = [g.name for g in gold]
    if len(set(names)) < len(names):  # parts are named in the dev tables: full paths when file names repeat
        names = [str(g) for g in gold]
    report = Report(skip_invalid=True)
    parts = [dev_part(n, _file_docs(str(g), report), _file_docs(str(p), report), engine)  # mismatches fail before the model loads
             for n, g, p in zip(names, gold, pred, strict=True)]
    if threads:
        import torch

        torch.set_num_threads(threads)
    model = Selector.load(source)
    table = calibrate_selector(model, parts, objective=objective, repair=repair)
    one = len(parts) == 1  # one pair is recorded as before; several as lists
    note_rule(model, engine, {"gold": str(gold[0]) if one else [str(g) for g in gold], "pred": str(pred[0]) if one else [str(p) for p in pred],
                              "documents": len(parts[0].gold) if one else [len(p.gold) for p in parts], "objective": objective,
                              "repair_tried": repair, "dev": table})
    if target != source:
        shutil.copytree(source, target, dirs_exist_ok=True)
    model.save_settings(target)
    rule = rule_of(model, engine)
    out().print(json.dumps({"selector": str(target), "engine": engine, "threshold": rule.threshold, "guard": rule.guard,
                            "weight": rule.weight, "consistent": rule.consistent, "repair": rule.repair, "dev": table}, indent=2),
                markup=False, highlight=False, soft_wrap=True)
    print_report(report, what="train selector-rule")
