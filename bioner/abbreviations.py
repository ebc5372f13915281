"""Abbreviations defined in a text, and entity labels made consistent across them.

Biomedical abstracts define an abbreviation once ("myocardial infarction (MI)") and then
use the short form alone ("MI was seen in 3 patients"). A span model reads one sentence
at a time, so it sees "MI" without its definition and often misses it or gives it the
wrong type; annotated corpora (BC5CDR, NCBI-disease) tag every occurrence.

``find_abbreviations`` is the Schwartz & Hearst (2003) algorithm, with character
offsets: a short form in parentheses after its long form ("long form (SF)"), or a long
form in parentheses after its short form ("SF (long form)"); the long form is the
shortest run of words before the parenthesis whose letters contain the short form's
letters in order, the first one starting a word.

``propagate`` makes a document's entities agree with its abbreviations: when the long
form of a definition ends an entity of type T, every whole-word occurrence of the short
form (the one in the parentheses included) becomes an entity of type T, unless another
entity overlaps it; an entity that covers exactly a short form but has another type is
relabelled T. With ``remove=True`` an entity that is exactly a short form whose long
form is no entity at all is dropped as well (the model tagged an abbreviation whose
definition it does not call an entity). Added entities carry the long form entity's
score and ``source="abbreviation"``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bioner.doc import Document, Entity, Offsets
from bioner.text import split_sentences

SOURCE = "abbreviation"
_PAREN_RE = re.compile(r"\(([^()]{1,100})\)")
_WORD_RE = re.compile(r"\S+")


@dataclass(frozen=True)
class Abbreviation:
    """A definition in a text: the short form and its long form, as character offsets."""

    short: Offsets
    long: Offsets

    def short_text(self, text: str) -> str:
        return text[self.short[0] : self.short[1]]

    def long_text(self, text: str) -> str:
        return text[self.long[0] : self.long[1]]


def _is_short_form(s: str) -> bool:
    return 2 <= len(s) <= 10 and len(s.split()) <= 2 and s[0].isalnum() and any(c.isalpha() for c in s)


def best_long_form(short: str, long: str) -> int | None:
    """Where in ``long`` the long form of ``short`` starts (Schwartz & Hearst's backward match), or None."""
    s, i = len(short) - 1, len(long) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        # the first character of the short form must start a word of the long form
        while i >= 0 and (long[i].lower() != c or (s == 0 and i > 0 and long[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    return long.rfind(" ", 0, i + 1) + 1


def _pair(text: str, short: Offsets, region: Offsets) -> Abbreviation | None:
    """The definition of the short form at ``short`` whose long form ends ``region`` (a stretch of text before or inside a parenthesis)."""
    sf = text[short[0] : short[1]]
    lo, hi = region
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    words = list(_WORD_RE.finditer(text, lo, hi))
    limit = min(len(sf) + 5, 2 * len(sf))
    if not words:
        return None
    lo = words[max(0, len(words) - limit)].start()
    start = best_long_form(sf, text[lo:hi])
    if start is None:
        return None
    start += lo
    lf = text[start:hi]
    if len(lf) <= len(sf) or sf in lf.split() or len(lf.split()) > limit:
        return None
    return Abbreviation(short, (start, hi))


def find_abbreviations(text: str, sentences: Sequence[Offsets] | None = None) -> list[Abbreviation]:
    """Every abbreviation defined in ``text``, in text order (a long form never crosses a sentence boundary)."""
    out: list[Abbreviation] = []
    for s_lo, s_hi in sentences if sentences is not None else split_sentences(text):
        for m in _PAREN_RE.finditer(text, s_lo, s_hi):
            inner_lo, inner_hi = m.span(1)
            cut = min((k for k in (text.find(";", inner_lo, inner_hi), text.find(",", inner_lo, inner_hi)) if k >= 0), default=inner_hi)
            inner = text[inner_lo:cut]
            lead = len(inner) - len(inner.lstrip())
            short = (inner_lo + lead, inner_lo + len(inner.rstrip()))
            if short[0] < short[1] and _is_short_form(text[short[0] : short[1]]):
                found = _pair(text, short, (s_lo, m.start()))
            else:  # "SF (long form)": the word before the parenthesis is the short form
                before = list(_WORD_RE.finditer(text, s_lo, m.start()))
                if not before or not _is_short_form(before[-1].group()):
                    continue
                found = _pair(text, before[-1].span(), (inner_lo, inner_hi))
            if found is not None:
                out.append(found)
    return out


def _occurrences(text: str, shorts: Iterable[str]) -> dict[str, list[Offsets]]:
    """Whole-word occurrences of each short form (case-sensitive; a hyphen or letter next to it makes it part of
    another word), found in one pass over the text however many short forms there are."""
    forms = sorted(set(shorts), key=lambda f: (-len(f), f))  # longest first: the alternation prefers "IL-2R" to "IL-2"
    out: dict[str, list[Offsets]] = {f: [] for f in forms}
    if forms:
        pat = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, forms)) + r")(?![\w-])")
        for m in pat.finditer(text):
            out[m.group()].append(m.span())
    return out


def _overlaps(a: Offsets, b: Offsets) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class _Entities:
    """A document's entities indexed by span, by end and by start, so that a long text with many
    abbreviations and entities is not scanned once per occurrence."""

    def __init__(self, ents: Iterable[Entity]) -> None:
        self.items: list[Entity | None] = list(ents)  # None: removed
        self.by_span: dict[Offsets, list[int]] = {}
        self.by_end: dict[int, list[int]] = {}
        self.starts: list[tuple[int, int]] = []  # (start, index), sorted
        self.longest = 0
        for k, e in enumerate(self.items):
            assert e is not None
            self._index(k, e)
            self.starts.append((e.start, k))
        self.starts.sort()

    def _index(self, k: int, e: Entity) -> None:
        self.by_span.setdefault((e.start, e.end), []).append(k)
        self.by_end.setdefault(e.end, []).append(k)
        self.longest = max(self.longest, e.end - e.start)

    def add(self, e: Entity) -> None:
        self.items.append(e)
        self._index(len(self.items) - 1, e)
        bisect.insort(self.starts, (e.start, len(self.items) - 1))

    def live(self, ks: Iterable[int]) -> list[int]:
        return [k for k in ks if self.items[k] is not None]

    def ending_at(self, end: int) -> list[Entity]:
        return [e for k in self.by_end.get(end, ()) if (e := self.items[k]) is not None]

    def exact(self, span: Offsets) -> list[int]:
        """Continuous entities covering exactly ``span``."""
        return [k for k in self.live(self.by_span.get(span, ())) if not self.items[k].fragments]  # type: ignore[union-attr]

    def overlapped(self, span: Offsets) -> bool:
        i = bisect.bisect_left(self.starts, (span[0] - self.longest + 1, -1))
        for start, k in self.starts[i:]:
            if start >= span[1]:
                return False
            e = self.items[k]
            if e is not None and e.end > span[0]:
                return True
        return False


def propagate(doc: Document, abbreviations: Iterable[Abbreviation] | None = None, *, remove: bool = False) -> Document:
    """``doc`` with its entities made consistent with its abbreviations (see the module doc)."""
    text = doc.text
    abbrs = list(abbreviations) if abbreviations is not None else find_abbreviations(text, doc.sentences)
    if not abbrs:
        return doc
    ents = _Entities(doc.entities)
    occurrences = _occurrences(text, (ab.short_text(text) for ab in abbrs))
    for ab in abbrs:
        sf = ab.short_text(text)
        # an entity ending where the long form ends and overlapping it names the type ("acute [myocardial infarction] (MI)" too)
        source = max((e for e in ents.ending_at(ab.long[1]) if _overlaps((e.start, e.end), ab.long)),
                     key=lambda e: (e.score or 0.0, e.end - e.start), default=None)
        spans = occurrences[sf]
        if source is None:
            if remove:
                for span in spans:
                    for k in ents.exact(span):
                        ents.items[k] = None
            continue
        for span in spans:
            exact = ents.exact(span)
            if exact:
                for k in exact:
                    e = ents.items[k]
                    if e is not None and e.label != source.label:
                        ents.items[k] = replace(e, label=source.label, source=SOURCE)
                continue
            if ents.overlapped(span):
                continue  # part of a longer mention, or already another entity
            ents.add(Entity(span[0], span[1], source.label, score=source.score, source=SOURCE))
    kept = list(dict.fromkeys(e for e in ents.items if e is not None))  # relabelling can make two entities equal
    return doc.copy(entities=sorted(kept, key=lambda e: (e.start, e.end, e.label)))


def propagate_all(docs: Iterable[Document], *, remove: bool = False) -> list[Document]:
    """``propagate`` on every document."""
    return [propagate(d, remove=remove) for d in docs]
