"""One decision per mention and type in a document ("one sense per discourse").

The selector reads a mention with a few words of context. A document names a disease
once in full ("Cowden disease (CD)") and then writes "CD" ten times in sentences that
say nothing about what CD is; read alone, the later ones look like anything (a cluster
of differentiation, a compact disc) and are rejected although the first is accepted.
Annotated corpora tag every occurrence alike, so a reader who has seen the whole
document would too.

``mention_groups`` puts a document's candidates of one type into one group when they
are the same text (whitespace aside), and joins a short form to its long form where
the document defines the abbreviation (``bioner.abbreviations``: the long form ends a
candidate of that type). ``Selector.select`` with ``consistent`` then keeps every
member of a group when it keeps any of them: each candidate is decided on the highest
score of its group. Whether that helps is chosen on dev per engine, like the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

from bioner.abbreviations import find_abbreviations
from bioner.doc import Entity


def _find(parent: list[int], k: int) -> int:
    while parent[k] != k:
        parent[k] = parent[parent[k]]  # path halving
        k = parent[k]
    return k


def mention_groups(text: str, entities: Sequence[Entity]) -> list[int]:
    """For each entity of ``text``, the index of its group's first member (same label, same or abbreviated text)."""
    parent = list(range(len(entities)))

    def union(a: int, b: int) -> None:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the first member stays the root

    first: dict[tuple[str, str], int] = {}
    for k, e in enumerate(entities):
        key = (e.label, " ".join(text[e.start:e.end].split()))
        if key in first:
            union(first[key], k)
        else:
            first[key] = k
    if len(first) > 1:
        for ab in find_abbreviations(text):
            short = " ".join(ab.short_text(text).split())
            for k, e in enumerate(entities):
                # the candidate the long form ends ("acute [myocardial infarction] (MI)" too), joined to its short form's
                if e.end == ab.long[1] and e.start < ab.long[1] and ab.long[0] < e.end and (e.label, short) in first:
                    union(k, first[(e.label, short)])
    return [_find(parent, k) for k in range(len(entities))]


def group_max(values: Sequence[float], groups: Sequence[int]) -> list[float]:
    """Each value replaced by the largest value of its group (``groups`` as ``mention_groups`` gives them)."""
    best: dict[int, float] = {}
    for v, g in zip(values, groups, strict=True):
        best[g] = max(best.get(g, v), v)
    return [best[g] for g in groups]
