"""HTML output: one self-contained page in displaCy's "ent" style, nested entities visible.

Write-only. The markup is displaCy's (``<div class="entities">`` holding ``<mark
class="entity" style="background: ...">text <span>LABEL</span></mark>``, a ``<figure>``
per document under an ``<h2>`` with its id), written here so that spaCy is not needed;
``to_displacy`` gives displaCy's manual format for users who render with spaCy.

What displaCy cannot draw, this page does:

* Nested entities are nested marks. A mark's vertical padding grows with the depth of
  the marks inside it, so every outer mark shows a rim around its inner ones, and each
  mark ends with its own label.
* Overlapping entities that do not nest ("A [B C] D" vs "A B [C D]") cannot both be
  HTML elements. Entities are placed longest-first at each start; a later entity that
  crosses an already placed one is cut at that one's edges into pieces that nest. Pieces
  of one entity share a ``data-entity`` number, the cut edges are dashed, and the label
  sits on the last piece. Discontinuous entities are drawn the same way, one piece per
  fragment.
* Every mark has a ``title`` tooltip: label, score and offsets.

Colors: known biomedical types (by name, natural label or alias, see ``bioner.labels``)
have fixed colors; other labels get a pastel hue from a hash of the label, the same in
every run. ``colors`` (label -> CSS color) overrides both.
"""

from __future__ import annotations

import hashlib
import html
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bioner.doc import Document, Entity
from bioner.errors import Report
from bioner.io._common import PathLike, atomic_write
from bioner.labels import find_type

NAME = "html"

# fixed colors for the registered types, keyed by their corpus type name (bioner.labels)
PALETTE: dict[str, str] = {
    "Disease": "#ffb3ba",
    "Chemical": "#baffc9",
    "GENE": "#bae1ff",
    "protein": "#aecbfa",
    "DNA": "#d7bde2",
    "RNA": "#f5cba7",
    "cell_line": "#fff3b0",
    "cell_type": "#ffdfba",
    "Species": "#c5e8b7",
    "dis": "#ffb3ba",  # CMeEE's disease and drug: same colors as the English types
    "dru": "#baffc9",
}

_MARK = "padding: {pad:.2f}em 0.6em; margin: 0 0.25em; line-height: 1; border-radius: 0.35em;"
_LABEL = "font-size: 0.8em; font-weight: bold; line-height: 1; border-radius: 0.35em; vertical-align: middle; margin-left: 0.5rem"
_PAD = 0.45  # displaCy's mark padding
_PAD_STEP = 0.4  # extra padding per level of marks nested inside
_LINE = 2.5  # displaCy's line height
_LINE_STEP = 0.8  # extra line height per nesting level, so rims of adjacent lines do not collide
_CUT = "1.5px dashed rgba(0, 0, 0, 0.55)"
# a mark inside another gets an outline: an entity nested in one of its own type has the same color
_INNER = " border: 1px solid rgba(0, 0, 0, 0.3);"
# a mark broken across lines keeps its padding and rounded ends on every line
_WRAP = " -webkit-box-decoration-break: clone; box-decoration-break: clone;"


def label_color(label: str, colors: Mapping[str, str] | None = None) -> str:
    """The CSS color of ``label``: ``colors``, then the palette of known types, then a hashed pastel hue."""
    if colors and label in colors:
        return colors[label]
    known = find_type(label)
    if known is not None and known.name in PALETTE:
        return PALETTE[known.name]
    # md5, not hash(): Python salts str hashes per process, and colors must not change between runs
    hue = int.from_bytes(hashlib.md5(label.encode("utf-8")).digest()[:4], "big") % 360
    return f"hsl({hue}, 70%, 82%)"


@dataclass
class _Piece:
    """A contiguous part of one entity, as one <mark>."""

    start: int
    end: int
    entity: int  # index into the document's sorted entities
    first: bool  # begins the entity (no cut on its left)
    last: bool  # ends the entity: carries the label
    children: list[_Piece] = field(default_factory=list)

    def contains(self, other: _Piece) -> bool:
        return self.start <= other.start and other.end <= self.end

    def height(self) -> int:
        """Levels of marks nested inside this one (0 for a mark with none)."""
        return 1 + max(c.height() for c in self.children) if self.children else 0


def _crosses(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Overlap without one containing the other."""
    overlap = a[0] < b[1] and b[0] < a[1]
    nested = (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1])
    return overlap and not nested


def _pieces(ents: list[Entity]) -> list[_Piece]:
    """Cut entities into pieces that pairwise nest or are disjoint (see the module doc)."""
    placed: list[tuple[int, int]] = []
    pieces: list[_Piece] = []
    for index, ent in enumerate(ents):
        todo = list(ent.parts)
        done: list[tuple[int, int]] = []
        while todo:
            s, e = todo.pop()
            cuts = sorted({p for q in placed if _crosses(q, (s, e)) for p in q if s < p < e})
            if not cuts:
                done.append((s, e))
                continue
            bounds = [s, *cuts, e]
            todo.extend(zip(bounds, bounds[1:]))  # re-checked: a part may cross another placed piece
        done.sort()
        placed.extend(done)
        pieces.extend(_Piece(s, e, index, first=(s == ent.start), last=(e == ent.end)) for s, e in done)
    return pieces


def _forest(pieces: list[_Piece]) -> list[_Piece]:
    """Nest pieces into trees; at an equal span the earlier-placed piece is the outer one."""
    roots: list[_Piece] = []
    stack: list[_Piece] = []
    for p in sorted(pieces, key=lambda p: (p.start, -p.end, p.entity)):
        while stack and not stack[-1].contains(p):
            stack.pop()
        (stack[-1].children if stack else roots).append(p)
        stack.append(p)
    return roots


def _text(text: str) -> str:
    # as displaCy does: escaped, line breaks kept
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _tooltip(ent: Entity, text: str) -> str:
    score = "" if ent.score is None else f" {ent.score:.3f}"
    ids = f" [{', '.join(ent.ids)}]" if ent.ids else ""
    return f"{ent.label}{score} {ent.start}..{ent.end}{ids}: {ent.text_in(text)}"


def _render(text: str, lo: int, hi: int, nodes: list[_Piece], ents: list[Entity], colors: Mapping[str, str] | None, level: int = 0) -> str:
    out: list[str] = []
    pos = lo
    for node in nodes:
        out.append(_text(text[pos : node.start]))
        ent = ents[node.entity]
        style = f"background: {label_color(ent.label, colors)}; " + _MARK.format(pad=_PAD + _PAD_STEP * node.height()) + _WRAP
        if level:
            style += _INNER
        if not node.first:
            style += f" border-left: {_CUT}; border-top-left-radius: 0; border-bottom-left-radius: 0;"
        if not node.last:
            style += f" border-right: {_CUT}; border-top-right-radius: 0; border-bottom-right-radius: 0;"
        inner = _render(text, node.start, node.end, node.children, ents, colors, level + 1)
        label = f'\n    <span style="{_LABEL}">{html.escape(ent.label)}</span>' if node.last else ""
        out.append(f'<mark class="entity" data-entity="{node.entity}" title="{html.escape(_tooltip(ent, text))}" '
                   f'style="{html.escape(style)}">\n    {inner}{label}\n</mark>')
        pos = node.end
    out.append(_text(text[pos:hi]))
    return "".join(out)


def render_document(doc: Document, colors: Mapping[str, str] | None = None) -> str:
    """One document as displaCy's ``<figure>``: its id as a heading, then the marked-up text."""
    ents = sorted(doc.entities, key=Entity.sort_key)
    roots = _forest(_pieces(ents))
    depth = max((r.height() for r in roots), default=0)
    body = _render(doc.text, 0, len(doc.text), roots, ents, colors)
    return (f'<figure style="margin-bottom: 3rem">\n<h2 style="margin: 0 0 0.5rem 0">{html.escape(doc.id)}</h2>\n'
            f'<div class="entities" style="line-height: {_LINE + _LINE_STEP * depth:.1f}; direction: ltr">{body}</div>\n</figure>')


def render_legend(counts: Mapping[str, int], colors: Mapping[str, str] | None = None) -> str:
    """One mark per type with its number of entities."""
    items = "".join(
        f'<mark class="entity" style="background: {html.escape(label_color(label, colors))}; {_MARK.format(pad=_PAD)}">'
        f'{html.escape(label)} <span style="{_LABEL}">{n}</span></mark>'
        for label, n in sorted(counts.items())
    )
    return f'<div class="legend" style="line-height: {_LINE}; margin-bottom: 2rem"><strong>Types:</strong> {items or "none"}</div>'


def render_page(docs: Iterable[Document], *, title: str = "bioner", colors: Mapping[str, str] | None = None) -> str:
    """A complete HTML page: the legend of types, then every document."""
    figures: list[str] = []
    counts: Counter[str] = Counter()
    for doc in docs:
        figures.append(render_document(doc, colors))
        counts.update(e.label for e in doc.entities)
    # the legend needs every type, so the documents are rendered first and kept as markup
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n</head>\n'
        "<body style=\"font-size: 16px; font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif; "
        'padding: 2rem 2rem; direction: ltr">\n'
        f"{render_legend(counts, colors)}\n" + "\n".join(figures) + "\n</body>\n</html>\n"
    )


def displacy_colors() -> dict[str, str]:
    """The palette keyed as displaCy looks labels up (upper case), every name, label and alias of each type.

    Registered as a ``spacy_displacy_colors`` entry point, it gives ``displacy.render`` of
    the spaCy component's output the same colors as this page.
    """
    from bioner.labels import TYPES

    out: dict[str, str] = {}
    for name, color in PALETTE.items():
        t = TYPES[name]
        for key in (t.name, t.label, *t.aliases):
            out.setdefault(key.upper(), color)
    return out


def to_displacy(doc: Document) -> dict[str, Any]:
    """displaCy's manual "ent" input (``spacy.displacy.render(d, style="ent", manual=True)``).

    displaCy's ent style cannot nest, so this keeps a flat selection: outermost first,
    then by position; ``dropped`` says how many entities were left out.
    """
    kept: list[Entity] = []
    for ent in sorted(doc.entities, key=Entity.sort_key):
        if not kept or ent.start >= kept[-1].end:
            kept.append(ent)
    ents = [{"start": e.start, "end": e.end, "label": e.label} for e in kept]
    return {"text": doc.text, "ents": ents, "title": doc.id, "dropped": len(doc.entities) - len(kept)}


def write(docs: Iterable[Document], path: PathLike, *, report: Report | None = None, title: str = "bioner",
          colors: Mapping[str, str] | None = None) -> None:
    """Write one HTML page holding every document (nothing is lost from view: nested entities are drawn)."""
    page = render_page(docs, title=title, colors=colors)
    with atomic_write(path) as fh:
        fh.write(page)


__all__ = ["NAME", "PALETTE", "displacy_colors", "label_color", "render_document", "render_legend", "render_page", "to_displacy", "write"]
