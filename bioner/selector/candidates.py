"""Candidate entities for the selector: gold spans, their perturbations, and engines' false positives.

A candidate is a (mention, type) an engine could propose for a document; the selector
learns to accept gold ones and reject the rest. Negatives of a gold entity (its
*group*, which the contrastive term compares it against) are made on word tokens:

* ``shift``: one boundary moved by one or two tokens in either direction, or the
  whole span moved by one token;
* ``sub``: a single token of a multi-token mention (e.g. "cancer" of "breast cancer");
* ``super``: the mention widened by one token on both sides;
* ``type``: the same span with another type of the corpus.

A perturbation that is itself a gold entity (nested or adjacent mentions) is not a
negative and is left out. Engine false positives (``engine:<name>``) are the
predictions of a real engine run that match no gold entity exactly; each joins the
group of a gold entity of its type that it overlaps, if there is one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bioner.doc import Document, Entity, Offsets
from bioner.errors import BionerError
from bioner.text import tokenize

KINDS = ("shift", "sub", "super", "type")


@dataclass(frozen=True)
class Candidate:
    """One (mention, type) to accept or reject, with its offsets in ``Document`` number ``doc``."""

    doc: int  # index into the documents the candidates were made from
    entity: Entity
    target: int  # 1: gold, 0: not gold
    kind: str  # "gold", one of KINDS, or "engine:<name>"
    group: int = -1  # index (in the candidate list) of the gold candidate this one competes with; -1: none


def _tokens(doc: Document) -> list[Offsets]:
    # engine tokens if the reader kept them (so shifts follow the corpus tokenization), else bioner's
    return list(doc.tokens) if doc.tokens else tokenize(doc.text)


def _sentence_of(doc: Document, start: int, end: int) -> Offsets:
    for s, e in doc.sentences or ():
        if s <= start and end <= e:
            return s, e
    return 0, len(doc.text)


def _token_window(doc: Document, ent: Entity, toks: Sequence[Offsets]) -> tuple[int, int, int | None, int | None] | None:
    """Token indices (first, last) of ``ent``'s sentence and (i, j) of the tokens ``ent`` covers (None, None when it covers
    none), ends exclusive; None when the sentence has no token."""
    lo, hi = _sentence_of(doc, ent.start, ent.end)
    idx = [k for k, (s, e) in enumerate(toks) if lo <= s and e <= hi]
    if not idx:
        return None
    covered = [k for k in idx if toks[k][1] > ent.start and toks[k][0] < ent.end]
    i, j = (covered[0], covered[-1] + 1) if covered else (None, None)
    return idx[0], idx[-1] + 1, i, j


def perturbations(doc: Document, ent: Entity, types: Sequence[str], tokens: Sequence[Offsets] | None = None) -> list[tuple[str, Entity]]:
    """Every negative made from gold entity ``ent``: (kind, entity), spans inside its sentence.

    Some may coincide with other gold entities; ``gold_candidates`` removes those.
    """
    toks = list(tokens) if tokens is not None else _tokens(doc)
    window = _token_window(doc, ent, toks)
    out: list[tuple[str, Entity]] = []
    if window is None:
        return [("type", Entity(ent.start, ent.end, t)) for t in types if t != ent.label]
    first, last, i, j = window

    def span(a: int, b: int, keep_start: bool, keep_end: bool) -> Entity | None:
        if not (first <= a < b <= last):
            return None
        start = ent.start if keep_start else toks[a][0]
        end = ent.end if keep_end else toks[b - 1][1]
        return Entity(start, end, ent.label) if start < end else None

    def add(kind: str, e: Entity | None) -> None:
        if e is not None and (e.start, e.end) != (ent.start, ent.end):
            out.append((kind, e))

    if i is not None and j is not None:
        if j - i > 1:  # sub and super first: a shift that yields the same span is kept under the more specific kind
            for k in range(i, j):
                add("sub", span(k, k + 1, False, False))
        add("super", span(i - 1, j + 1, False, False))
        for d in (-2, -1, 1, 2):
            add("shift", span(i + d, j, False, True))  # start moved, end kept
            add("shift", span(i, j + d, True, False))  # end moved, start kept
        for d in (-1, 1):
            add("shift", span(i + d, j + d, False, False))
    out.extend(("type", Entity(ent.start, ent.end, t)) for t in types if t != ent.label)
    seen: set[tuple[int, int, str]] = set()
    unique = []
    for kind, e in out:
        if e.key() not in seen:
            seen.add(e.key())
            unique.append((kind, e))
    return unique


def boundary_variants(doc: Document, ent: Entity, tokens: Sequence[Offsets] | None = None) -> list[Entity]:
    """The spans ``ent`` becomes with its start, its end or both moved by one token, inside its sentence, same type.

    What the selector's boundary repair (``model.repair_spans``) compares a candidate with: the
    nearest of the ``shift``/``sub``/``super`` mistakes it was trained to rank below the
    right span. A discontinuous entity, or one that covers no token, has none.
    """
    if ent.fragments:
        return []
    toks = list(tokens) if tokens is not None else _tokens(doc)
    window = _token_window(doc, ent, toks)
    if window is None:
        return []
    first, last, i, j = window
    if i is None or j is None:
        return []
    out: list[Entity] = []
    seen = {(ent.start, ent.end)}
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            x, y = i + a, j + b
            if not (first <= x < y <= last):
                continue
            start = ent.start if a == 0 else toks[x][0]  # an unmoved boundary stays where the engine put it
            end = ent.end if b == 0 else toks[y - 1][1]
            if start < end and (start, end) not in seen:
                seen.add((start, end))
                out.append(Entity(start, end, ent.label))
    return out


def document_variants(doc: Document, entities: Sequence[Entity]) -> list[list[Entity]]:
    """``boundary_variants`` of each of ``entities`` (of ``doc``), the document tokenized once."""
    toks = _tokens(doc)
    return [boundary_variants(doc, e, toks) for e in entities]


def gold_candidates(
    docs: Sequence[Document], types: Sequence[str], *, per_gold: int | None = 4, seed: int = 0, start: int = 0, base: int = 0,
) -> list[Candidate]:
    """Gold entities (target 1), each followed by up to ``per_gold`` of its perturbations (target 0).

    ``per_gold`` None keeps every perturbation; otherwise they are drawn round-robin over
    the kinds (one of each kind, then again) in a seeded order of kinds shuffled per gold
    entity, so that every kind of mistake is seen. ``start`` is added to ``doc`` indices
    and ``base`` to ``group`` indices, for lists that will follow others in one list.
    """
    rng = random.Random(f"selector-candidates:{seed}")
    out: list[Candidate] = []
    for d, doc in enumerate(docs):
        gold = {e.key() for e in doc.entities}
        toks = _tokens(doc)
        for ent in sorted(doc.entities, key=Entity.sort_key):
            if ent.label not in types:
                continue
            head = len(out)
            out.append(Candidate(start + d, Entity(ent.start, ent.end, ent.label), 1, "gold"))
            negs = [(k, e) for k, e in perturbations(doc, ent, types, toks) if e.key() not in gold]
            for kind, e in _draw(negs, per_gold, rng):
                out.append(Candidate(start + d, e, 0, kind, base + head))
    return out


def _draw(negs: list[tuple[str, Entity]], n: int | None, rng: random.Random) -> list[tuple[str, Entity]]:
    if n is None or len(negs) <= n:
        return negs
    by_kind: dict[str, list[tuple[str, Entity]]] = {}
    for item in negs:
        by_kind.setdefault(item[0], []).append(item)
    for items in by_kind.values():
        rng.shuffle(items)
    picked: list[tuple[str, Entity]] = []
    order = list(KINDS)
    rng.shuffle(order)  # a fixed order would never reach the last kinds when n is small
    while len(picked) < n:
        for kind in order:
            if by_kind.get(kind) and len(picked) < n:
                picked.append(by_kind[kind].pop())
    return picked


def engine_candidates(
    gold: Sequence[Document], predicted: Sequence[Document], engine: str, candidates: Sequence[Candidate], *, start: int = 0,
    base: int = 0, types: Iterable[str] | None = None,
) -> list[Candidate]:
    """The false positives of an engine run: predictions that match no gold entity (start, end and type).

    ``predicted`` holds the engine's Documents for the same texts, in the same order as
    ``gold``. Each false positive joins the group of an overlapping gold candidate of its
    type in ``candidates`` (the list ``gold_candidates`` made from ``gold`` with the same
    ``start`` and ``base``), when one exists.
    """
    if len(gold) != len(predicted):
        raise BionerError("E401", f"{engine}: {len(predicted)} predicted documents for {len(gold)} gold ones")
    keep = set(types) if types is not None else None
    heads: dict[int, list[int]] = {}
    for k, c in enumerate(candidates):
        if c.kind == "gold":
            heads.setdefault(c.doc, []).append(k)
    out: list[Candidate] = []
    for d, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if g.id != p.id or g.text != p.text:
            raise BionerError("E402", f"{engine}: predicted document {p.id!r} does not match gold document {g.id!r} (id or text)")
        keys = {e.key() for e in g.entities}
        seen: set[tuple[int, int, str]] = set()
        for e in p.entities:
            if e.key() in keys or e.key() in seen or (keep is not None and e.label not in keep):
                continue
            seen.add(e.key())
            group = next((base + h for h in heads.get(start + d, ()) if candidates[h].entity.label == e.label
                          and candidates[h].entity.overlaps(e)), -1)
            out.append(Candidate(start + d, Entity(e.start, e.end, e.label), 0, f"engine:{engine}", group))
    return out


def kind_counts(candidates: Iterable[Candidate]) -> Mapping[str, int]:
    """How many candidates of each kind (for reports)."""
    counts: dict[str, int] = {}
    for c in candidates:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    return dict(sorted(counts.items()))
