"""``bioner demo``: corpus statistics and the evaluator on a deterministically damaged copy of gold."""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bioner import corpora
from bioner.doc import Document, Entity
from bioner.io._common import PathLike
from bioner.stats import StatsRow, corpus_stats

from ._common import handles_errors, out, status
from .stats import stats_table

if TYPE_CHECKING:
    from bioner.evaluate import Evaluation

@dataclass(frozen=True)
class PerturbCounts:
    kept: int
    dropped: int
    shifted: int


def _shift(e: Entity, starts: list[int], ends: list[int], rng: random.Random) -> Entity | None:
    """Move one boundary of ``e`` by one token (in or out); None when no move keeps it a valid span."""
    first_end = e.parts[0][1]
    last_start = e.parts[-1][0]
    options: list[tuple[int, int]] = []
    i = bisect.bisect_right(ends, e.start) - 1  # last token ending at or before the start
    if i >= 0:
        options.append((starts[i], e.end))  # start one token earlier
    j = bisect.bisect_right(starts, e.start)  # first token starting after the start
    if j < len(starts) and starts[j] < first_end:
        options.append((starts[j], e.end))  # start one token later
    k = bisect.bisect_left(ends, e.end) - 1  # last token ending before the end
    if k >= 0 and ends[k] > last_start:
        options.append((e.start, ends[k]))  # end one token earlier
    m = bisect.bisect_left(starts, e.end)  # first token starting at or after the end
    if m < len(starts):
        options.append((e.start, ends[m]))  # end one token later
    if not options:
        return None
    start, end = rng.choice(options)
    if not e.fragments:
        return e.with_(start=start, end=end)
    frags = list(e.fragments)
    frags[0] = (start, frags[0][1])
    frags[-1] = (frags[-1][0], end)
    return e.with_(start=start, end=end, fragments=tuple(frags))


def perturb(docs: Iterable[Document], *, drop: float = 0.1, shift: float = 0.1, seed: int = 0) -> tuple[list[Document], PerturbCounts]:
    """Copies of ``docs`` with about ``drop`` of the entities removed and ``shift`` of them moved by one token.

    Deterministic for a given seed: each entity, in document order, draws one number
    that decides whether it is dropped, shifted or kept.
    """
    from bioner.text import tokenize  # local: engines' tokenizer, loaded only when needed

    rng = random.Random(seed)
    result: list[Document] = []
    kept = dropped = shifted = 0
    for doc in docs:
        tokens = tokenize(doc.text)  # "one token" as every engine sees it
        starts, ends = [s for s, _ in tokens], [e for _, e in tokens]
        ents: list[Entity] = []
        for e in doc.entities:
            r = rng.random()
            if r < drop:
                dropped += 1
                continue
            moved = _shift(e, starts, ends, rng) if r < drop + shift else None
            if moved is not None:
                shifted += 1
                ents.append(moved)
            else:
                kept += 1
                ents.append(e)
        result.append(doc.copy(entities=ents))
    return result, PerturbCounts(kept, dropped, shifted)


@dataclass
class DemoResult:
    stats: list[StatsRow]
    evaluation: Evaluation
    counts: PerturbCounts
    corpus: str
    split: str


def run_demo(corpus: str = "ncbi-disease", split: str = "test", *, root: PathLike | None = None, seed: int = 0) -> DemoResult:
    """Statistics of every split of ``corpus``, and gold ``split`` scored against its perturbed copy."""
    from bioner.evaluate import evaluate  # local: keep ``bioner --help`` fast

    rows = corpus_stats(corpus, root=root)
    gold = corpora.load(corpus, split, root=root)
    pred, counts = perturb(gold, seed=seed)
    return DemoResult(rows, evaluate(gold, pred), counts, corpus, split)


@handles_errors
def demo_command(
    corpus: Annotated[str, typer.Option("--corpus", help="Registered corpus to show.")] = "ncbi-disease",
    split: Annotated[str, typer.Option("--split", help="Split to score.")] = "test",
    root: Annotated[Path | None, typer.Option("--root", help="Data folder (default: $BIONER_DATA).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the perturbation.")] = 0,
) -> None:
    """Show corpus statistics and the evaluator on a perturbed copy of the gold standard."""
    from bioner.evaluate import render

    with status(f"Loading {corpus}"):
        result = run_demo(corpus, split, root=root, seed=seed)
    console = out()
    console.print(stats_table(result.stats))
    c = result.counts
    console.print(
        f"\nPredictions = {result.corpus}:{result.split} gold with {c.dropped} entities dropped and {c.shifted} "
        f"boundaries shifted by one token ({c.kept} unchanged; seed {seed}):",
        markup=False, highlight=False,
    )
    console.print(render(result.evaluation, by_type=True, relaxed=True))
