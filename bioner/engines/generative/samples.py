"""Documents -> generation units (sentences) and the entities inside each.

LLM extraction works one sentence at a time (as in BioSelectTune and LLMNER): short
inputs keep prompts cheap and answers short. A unit is a sentence of the document
(its own segmentation when the format carries one, else ``split_sentences``);
sentences that an entity crosses are merged so no entity is cut, and a sentence
longer than ``max_chars`` is cut at token boundaries (outside entities) so one
prompt stays within the model's budget. Units cover every non-space character of
the document, in order, without overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bioner.doc import Document, Entity, Offsets
from bioner.text import join_crossed, split_sentences, tokenize

MAX_CHARS = 1000  # ~250 Gemma tokens of English; longer sentences are cut


@dataclass(frozen=True)
class Unit:
    """One generation unit: ``doc.text[start:end]`` and the gold entities inside it (relative offsets)."""

    doc_id: str
    start: int
    end: int
    text: str
    entities: tuple[Entity, ...] = ()


def _sentences(doc: Document) -> list[Offsets]:
    if doc.sentences:
        return sorted(doc.sentences)
    spans = [s for p in doc.passages for s in split_sentences(doc.text, p.start, p.end)]
    # text outside every passage (all of it when there are none) is split too
    return sorted(spans + _cover(doc.text, spans))


def _cover(text: str, spans: Sequence[Offsets]) -> list[Offsets]:
    """Sentence spans for the non-space text that ``spans`` miss."""
    extra: list[Offsets] = []
    pos = 0
    for s, e in sorted(spans):
        if s > pos:
            extra.extend(split_sentences(text, pos, s))
        pos = max(pos, e)
    if pos < len(text):
        extra.extend(split_sentences(text, pos, len(text)))
    return extra


def _cut_long(text: str, span: Offsets, entities: Sequence[Entity], max_chars: int) -> list[Offsets]:
    s, e = span
    if e - s <= max_chars:
        return [span]
    inside = [(x.start, x.end) for x in entities if x.start < e and x.end > s]
    pieces: list[Offsets] = []
    lo = s
    last_ok = None  # last token end where a cut is allowed
    for ts, te in tokenize(text, s, e):
        if te - lo > max_chars and last_ok is not None and last_ok > lo:
            pieces.append((lo, last_ok))
            lo = ts
            last_ok = None
        if not any(a < te < b for a, b in inside):
            last_ok = te
    pieces.append((lo, e))
    # trim the whitespace a cut leaves at a piece's start
    out = []
    for a, b in pieces:
        while a < b and text[a].isspace():
            a += 1
        if a < b:
            out.append((a, b))
    return out


def units(doc: Document, *, max_chars: int = MAX_CHARS) -> list[Unit]:
    """The document's generation units with their gold entities (offsets relative to the unit)."""
    spans = join_crossed(_sentences(doc), doc.entities)
    cut: list[Offsets] = []
    for span in spans:
        cut.extend(_cut_long(doc.text, span, doc.entities, max_chars))
    out: list[Unit] = []
    ents = sorted(doc.entities, key=Entity.sort_key)
    for s, e in cut:
        inside = tuple(x.shifted(-s) for x in ents if x.start >= s and x.end <= e)
        out.append(Unit(doc.id, s, e, doc.text[s:e], inside))
    return out


def outside_units(doc: Document, unit_list: Sequence[Unit]) -> list[Entity]:
    """Gold entities that no unit holds whole (should be none; reported, never dropped silently)."""
    held = {(u.start + x.start, u.start + x.end, x.label) for u in unit_list for x in u.entities}
    return [x for x in doc.entities if (x.start, x.end, x.label) not in held]
