"""The one data model: a Document is the original text plus character-offset Entities.

Everything in bioner (readers, engines, selector, evaluator, writers) consumes and
produces Documents. The text is never altered; entities, passages, sentences and
tokens are all (start, end) character offsets into it, end-exclusive.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, overload

from bioner.errors import BionerError

Offsets = tuple[int, int]


@dataclass(frozen=True)
class Entity:
    """A mention: ``text[start:end]`` with a type label.

    A discontinuous mention ("[breast] and ovarian [cancer]") keeps its parts in
    ``fragments``; ``start``/``end`` then cover the first to the last fragment.
    A continuous one has ``fragments == ()``.
    ``ids`` are normalized concept ids (MeSH, NCBI Taxonomy ...) when the format has them.
    ``attrs`` keeps format details a writer needs to round-trip (e.g. PubTator's
    composite-mention column); it takes part in equality but not in hashing.
    """

    start: int
    end: int
    label: str
    score: float | None = None
    source: str | None = None
    ids: tuple[str, ...] = ()
    fragments: tuple[Offsets, ...] = ()
    attrs: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise BionerError("E101", f"entity {self.label!r} has offsets {self.start}..{self.end}; expected 0 <= start < end")
        if self.fragments:
            prev_end = -1
            for s, e in self.fragments:
                if not (s < e) or s < prev_end:
                    raise BionerError("E102", f"entity {self.label!r} fragments {list(self.fragments)} are not ordered and disjoint")
                prev_end = e
            if self.fragments[0][0] != self.start or self.fragments[-1][1] != self.end:
                raise BionerError("E102", f"entity {self.label!r} spans {self.start}..{self.end} but its fragments cover {self.fragments[0][0]}..{self.fragments[-1][1]}")
            if len(self.fragments) == 1:
                # one fragment is just a continuous span: keep one representation
                object.__setattr__(self, "fragments", ())

    @classmethod
    def from_fragments(cls, fragments: Sequence[Offsets], label: str, **kw: Any) -> Entity:
        frags = tuple(sorted((int(s), int(e)) for s, e in fragments))
        return cls(frags[0][0], frags[-1][1], label, fragments=frags if len(frags) > 1 else (), **kw)

    @property
    def discontinuous(self) -> bool:
        return bool(self.fragments)

    @property
    def parts(self) -> tuple[Offsets, ...]:
        """The fragments, or the single span for a continuous entity."""
        return self.fragments or ((self.start, self.end),)

    @property
    def span(self) -> Offsets:
        return (self.start, self.end)

    def text_in(self, text: str, sep: str = " ") -> str:
        """The mention's surface text; fragments are joined with ``sep``."""
        return sep.join(text[s:e] for s, e in self.parts)

    def key(self) -> tuple[int, int, str]:
        """What strict evaluation compares."""
        return (self.start, self.end, self.label)

    def overlaps(self, other: Entity) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Entity) -> bool:
        return self.start <= other.start and other.end <= self.end

    def with_(self, **changes: Any) -> Entity:
        return replace(self, **changes)

    def shifted(self, delta: int) -> Entity:
        """The same entity with every offset moved by ``delta`` (chunk -> document)."""
        return replace(
            self,
            start=self.start + delta,
            end=self.end + delta,
            fragments=tuple((s + delta, e + delta) for s, e in self.fragments),
        )

    def sort_key(self) -> tuple[int, int, str]:
        # outer spans first at equal start, so nested structure reads naturally
        return (self.start, -self.end, self.label)


@dataclass(frozen=True)
class Passage:
    """A titled region of a document (title, abstract, a section), offsets into the text."""

    start: int
    end: int
    type: str = ""
    infons: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass
class Document:
    """An id, the original text, and everything else as offsets into that text.

    ``sentences`` and ``tokens`` are set when the source format carries a
    segmentation (IOB files, GENIA, BC2GM); otherwise they are None and components
    compute them with ``bioner.text``. ``metadata`` holds format details that have no
    offsets (relations, document infons).
    """

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    sentences: list[Offsets] | None = None
    tokens: list[Offsets] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every offset against the text; raise E101/E103 naming the document."""
        n = len(self.text)
        for ent in self.entities:
            if ent.end > n:
                raise BionerError("E101", f"document {self.id!r}: entity {ent.label!r} at {ent.start}..{ent.end} ends past the text (length {n})")
        for p in self.passages:
            if not (0 <= p.start <= p.end <= n):
                raise BionerError("E103", f"document {self.id!r}: passage {p.type!r} at {p.start}..{p.end} outside the text (length {n})")
        for name in ("sentences", "tokens"):
            spans = getattr(self, name)
            if spans:
                for s, e in spans:
                    if not (0 <= s <= e <= n):
                        raise BionerError("E103", f"document {self.id!r}: {name[:-1]} at {s}..{e} outside the text (length {n})")

    def check_text(self, ent: Entity, expected: str) -> None:
        """Raise E104 when ``expected`` (a mention string from a file) is not what the offsets cover."""
        got = ent.text_in(self.text)
        if got != expected:
            raise BionerError("E104", f"document {self.id!r}: offsets {ent.start}..{ent.end} cover {got!r}, the file says {expected!r}")

    def sort_entities(self) -> None:
        self.entities.sort(key=Entity.sort_key)

    def entity_text(self, ent: Entity) -> str:
        return ent.text_in(self.text)

    @property
    def labels(self) -> set[str]:
        return {e.label for e in self.entities}

    def copy(self, **changes: Any) -> Document:
        """A shallow copy with fresh lists, so entities can be replaced without aliasing."""
        doc = Document(
            id=self.id,
            text=self.text,
            entities=list(self.entities),
            passages=list(self.passages),
            sentences=list(self.sentences) if self.sentences is not None else None,
            tokens=list(self.tokens) if self.tokens is not None else None,
            metadata=dict(self.metadata),
        )
        for name, value in changes.items():
            if not hasattr(doc, name):
                raise TypeError(f"Document has no field {name!r}")
            setattr(doc, name, value)
        if changes:
            doc.validate()
        return doc


@dataclass
class CorpusStats:
    documents: int
    sentences: int
    tokens: int | None
    characters: int
    mentions: int
    by_type: dict[str, int]
    nested: int  # entities inside another entity of the same document
    discontinuous: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Corpus(Sequence[Document]):
    """An ordered collection of Documents with a name and split."""

    def __init__(self, docs: Iterable[Document] = (), name: str = "", split: str = "") -> None:
        self.docs: list[Document] = list(docs)
        self.name = name
        self.split = split

    @overload
    def __getitem__(self, i: int) -> Document: ...
    @overload
    def __getitem__(self, i: slice) -> Corpus: ...
    def __getitem__(self, i: int | slice) -> Document | Corpus:
        if isinstance(i, slice):
            return Corpus(self.docs[i], self.name, self.split)
        return self.docs[i]

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.docs)

    def __repr__(self) -> str:
        return f"Corpus(name={self.name!r}, split={self.split!r}, documents={len(self.docs)})"

    @property
    def labels(self) -> set[str]:
        return {e.label for d in self.docs for e in d.entities}

    def entities(self) -> Iterator[tuple[Document, Entity]]:
        for d in self.docs:
            for e in d.entities:
                yield d, e

    def by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.docs}

    def filter_types(self, labels: Iterable[str]) -> Corpus:
        """Keep only entities whose label is in ``labels`` (documents are all kept)."""
        keep = set(labels)
        return Corpus((d.copy(entities=[e for e in d.entities if e.label in keep]) for d in self.docs), self.name, self.split)

    def map_types(self, mapping: Mapping[str, str | None] | Callable[[str], str | None]) -> Corpus:
        """Rename labels; a label mapped to None is removed. Unmapped labels are kept."""
        fn = mapping if callable(mapping) else (lambda lab: mapping.get(lab, lab))  # type: ignore[union-attr]
        out = []
        for d in self.docs:
            ents = []
            for e in d.entities:
                new = fn(e.label)
                if new is not None:
                    ents.append(e if new == e.label else e.with_(label=new))
            out.append(d.copy(entities=ents))
        return Corpus(out, self.name, self.split)

    def filter(self, pred: Callable[[Document], bool]) -> Corpus:
        return Corpus((d for d in self.docs if pred(d)), self.name, self.split)

    def split_by_ids(self, ids: Iterable[str]) -> Corpus:
        want = list(ids)
        have = self.by_id()
        return Corpus((have[i] for i in want if i in have), self.name, self.split)

    def random_split(self, fractions: Sequence[float], seed: int = 0) -> list[Corpus]:
        """Split documents at random into parts of the given fractions (fixed seed)."""
        if abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"fractions must sum to 1, got {sum(fractions)}")
        order = list(range(len(self.docs)))
        random.Random(seed).shuffle(order)
        parts, start = [], 0
        for k, frac in enumerate(fractions):
            end = len(order) if k == len(fractions) - 1 else start + round(frac * len(order))
            parts.append(Corpus((self.docs[i] for i in sorted(order[start:end])), self.name, self.split))
            start = end
        return parts

    def stats(self) -> CorpusStats:
        from bioner.text import split_sentences  # local: text imports doc

        by_type: Counter[str] = Counter()
        sents = toks = chars = nested = disc = 0
        have_tokens = True
        for d in self.docs:
            chars += len(d.text)
            sents += len(d.sentences) if d.sentences is not None else len(split_sentences(d.text))
            if d.tokens is None:
                have_tokens = False
            else:
                toks += len(d.tokens)
            ents = sorted(d.entities, key=Entity.sort_key)
            for i, e in enumerate(ents):
                by_type[e.label] += 1
                disc += e.discontinuous
                # nested: inside one fragment of another entity with a different span;
                # sorted outer-first, so only earlier entities can contain it
                if any(o.span != e.span and any(s <= e.start and e.end <= t for s, t in o.parts) for o in ents[:i]):
                    nested += 1
        return CorpusStats(
            documents=len(self.docs),
            sentences=sents,
            tokens=toks if have_tokens and self.docs else None,
            characters=chars,
            mentions=sum(by_type.values()),
            by_type=dict(sorted(by_type.items())),
            nested=nested,
            discontinuous=disc,
        )
