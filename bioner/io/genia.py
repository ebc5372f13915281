"""GENIA 3.02 term corpus XML (``GENIAcorpus3.02.xml``, gpml.dtd): read only.

One Document per ``<article>``:

* id: the ``<bibliomisc>`` text as is (``MEDLINE:95369245``), the form the standard split
  lists use (``load_split_ids``). The release holds ``MEDLINE:97218353`` twice; the second
  copy is renamed ``MEDLINE:97218353#2`` (W213), so a split list selects the first one.
  (CNN_Nested_NER's preprocessing kept the later copy for its train set.)
* text: each ``<sentence>``'s text exactly as in the XML with the inline tags removed
  (entities such as ``&amp;`` decoded); the sentences of a passage joined by one space,
  the title and the abstract passages joined by one newline. ``sentences`` and
  ``passages`` (``title``, ``abstract``) are set; there are no tokens in this release.
* entities: every ``<cons>`` with a ``sem``, at the character offsets of its text, nesting
  kept; the original ``sem`` is in ``attrs["sem"]`` when the label differs from it.

Labels (``mapping``):

* ``"5types"`` (default), the mapping of the nested NER literature (Finkel & Manning 2009,
  Lu & Roth 2015, Yan et al. 2022): ``G#DNA_*`` -> DNA, ``G#RNA_*`` -> RNA,
  ``G#protein_*`` -> protein, ``G#cell_line``, ``G#cell_type``; every other type dropped.
* ``"none"``: the ``sem`` value itself (``G#protein_molecule``).
* a Mapping from ``sem`` values to labels (None or missing: dropped).

Coordinations (``sem="(AND G#a G#b)"``, OR, BUT_NOT, ...) with ``coordination="drop"``
(default) are not entities, like in the standard nested-NER data (CNN_Nested_NER), whose
dev and test counts this reproduces exactly (train too, with the later copy of 97218353); with ``"same-type"`` the whole coordination is an entity when all
its parts map to one label. The ``cons`` inside coordinations without ``sem`` (``CD2``, ``*cell``)
are fragments, never entities. After mapping, a second entity with the same span and label
is dropped (W221): nested cons of one extent whose types map to one label.
Dropped types are counted per ``sem`` in ``dropped`` when given, and warned (W220).
``keep_unmapped=True`` keeps them instead, labelled with their ``sem``.

Parsing uses ``xml.parsers.expat`` (the parser under ``xml.etree``) so that every
problem names its line; articles are yielded while the file is parsed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.parsers import expat

from bioner.doc import Document, Entity, Offsets, Passage
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, UniqueIds, ensure_report, iter_lines, read_text

SPLITS = ("train", "dev", "test")
PASSAGE_SEP = "\n"
SENTENCE_SEP = " "
CHUNK_CHARS = 1 << 20  # text fed to the parser at a time; articles are yielded between chunks
FIVE_TYPES = ("DNA", "RNA", "protein", "cell_line", "cell_type")
_FIVE = re.compile(r"G#(DNA|RNA|protein)(?:_|$)")
_COORD_PART = re.compile(r"G#[^\s()]+")

Resolver = Callable[[str], "str | None"]


def five_types(sem: str) -> str | None:
    """The 5-type label of a single GENIA ``sem`` value, or None when it has none."""
    if sem in ("G#cell_line", "G#cell_type"):
        return sem[2:]
    m = _FIVE.match(sem)
    return m.group(1) if m else None


def load_split_ids(split_dir: PathLike) -> dict[str, list[str]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` from ``<split_dir>/<split>.txt``.

    The lists (CNN_Nested_NER, Yan et al. 2022; 1,601/199/199 articles) hold ids like
    ``MEDLINE:93061407``, the same form as the Document ids this reader gives.
    """
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        out[split] = [line.strip() for _, line in iter_lines(Path(split_dir) / f"{split}.txt") if line.strip()]
    return out


def read(
    path: PathLike,
    *,
    report: Report | None = None,
    skip_invalid: bool = False,
    mapping: Literal["5types", "none"] | Mapping[str, str | None] = "5types",
    keep_unmapped: bool = False,
    coordination: Literal["drop", "same-type"] = "drop",
    dropped: Counter[str] | None = None,
) -> Iterator[Document]:
    """Documents from a GENIA 3.02 XML file; ``dropped`` (if given) counts dropped cons per ``sem``.

    Bad ``mapping`` or ``coordination`` values raise ValueError at once, before reading.
    """
    resolve = _resolver(mapping, coordination)
    builder = _Builder(Path(path), ensure_report(report, skip_invalid), resolve, keep_unmapped, dropped if dropped is not None else Counter())
    return _parse(builder)


def _parse(builder: _Builder) -> Iterator[Document]:
    path, report = builder.path, builder.report
    text = read_text(path)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    builder.parser = parser
    for k in range(0, len(text) + 1, CHUNK_CHARS):
        chunk = text[k : k + CHUNK_CHARS]
        try:
            parser.Parse(chunk, k + CHUNK_CHARS > len(text))
        except expat.ExpatError as exc:
            report.error(BionerError("E208", f"invalid XML: {expat.errors.messages.get(exc.code, str(exc))} (column {exc.offset + 1})", file=path, line=exc.lineno))
            return  # the rest of the file cannot be read reliably
        yield from builder.ready
        builder.ready.clear()


def _identity(sem: str) -> str | None:
    return sem


def _resolver(mapping: str | Mapping[str, str | None], coordination: str) -> Resolver:
    if coordination not in ("drop", "same-type"):
        raise ValueError(f"coordination must be 'drop' or 'same-type', got {coordination!r}")
    if mapping == "5types":
        single: Resolver = five_types
    elif mapping == "none":
        single = _identity
    elif isinstance(mapping, Mapping):
        single = mapping.get
    else:
        raise ValueError(f"mapping must be '5types', 'none' or a Mapping of sem values to labels, got {mapping!r}")

    def resolve(sem: str) -> str | None:
        if not sem.startswith("("):
            return single(sem)
        if coordination == "drop":
            return None
        labels = {single(part) for part in _COORD_PART.findall(sem)}
        return labels.pop() if len(labels) == 1 else None  # {None} pops None too

    return resolve


@dataclass
class _Article:
    line: int
    ident: str | None = None
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    passages: list[Passage] = field(default_factory=list)
    sentences: list[Offsets] = field(default_factory=list)
    cons: list[tuple[int, int, int, str | None, int]] = field(default_factory=list)  # start, end, order, sem, line
    error: BionerError | None = None


class _Builder:
    """expat handlers that build one Document per article."""

    def __init__(self, path: Path, report: Report, resolve: Resolver, keep_unmapped: bool, dropped: Counter[str]) -> None:
        self.path = path
        self.report = report
        self.resolve = resolve
        self.keep_unmapped = keep_unmapped
        self.dropped = dropped
        self.parser: expat.XMLParserType | None = None
        self.ready: list[Document] = []
        self.ids = UniqueIds()
        self.art: _Article | None = None
        self.where: list[str] = []  # open elements inside the article
        self.stack: list[tuple[int, int, str | None, int]] = []  # open cons: start, order, sem, line
        self.order = 0
        self.sent_start = 0
        self.passage_start = 0
        self.first_sentence = True
        self.bibliomisc: list[str] = []

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def fail(self, message: str) -> None:
        """Mark the current article invalid (the first problem is reported when it ends)."""
        if self.art is not None and self.art.error is None:
            self.art.error = BionerError("E201", message, file=self.path, line=self.line, hint="see gpml.dtd beside the corpus")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name == "article":
            self.art = _Article(self.line)
            self.where = []
            return
        art = self.art
        if art is None:
            return  # set, import: outside articles
        inside = self.where[-1] if self.where else "article"
        self.where.append(name)
        if name == "cons":
            if inside not in ("sentence", "cons"):
                self.fail(f"<cons> inside <{inside}>, expected inside a <sentence>")
            self.stack.append((art.pos, self.order, attrs.get("sem"), self.line))
            self.order += 1
        elif name == "sentence":
            if inside not in ("title", "abstract"):
                self.fail(f"<sentence> inside <{inside}>, expected inside <title> or <abstract>")
            if not self.first_sentence:
                self._add(SENTENCE_SEP)
            self.first_sentence = False
            self.sent_start = art.pos
        elif name in ("title", "abstract"):
            if art.passages:
                self._add(PASSAGE_SEP)
            self.passage_start = art.pos
            self.first_sentence = True
        elif name == "bibliomisc":
            self.bibliomisc = []
        elif name != "articleinfo":
            self.fail(f"unexpected element <{name}> in an article")

    def data(self, text: str) -> None:
        if self.art is None or not self.where:
            return
        inside = self.where[-1]
        if inside in ("sentence", "cons"):
            self._add(text)
        elif inside == "bibliomisc":
            self.bibliomisc.append(text)
        elif text.strip():
            self.fail(f"text {text.strip()[:40]!r} directly inside <{inside}>, expected inside a <sentence>")

    def end(self, name: str) -> None:
        art = self.art
        if art is None:
            return
        if name == "article":
            self._finish(art)
            self.art = None
            return
        self.where.pop()
        if name == "cons":
            start, order, sem, line = self.stack.pop()
            art.cons.append((start, art.pos, order, sem, line))
        elif name == "sentence":
            art.sentences.append((self.sent_start, art.pos))
        elif name in ("title", "abstract"):
            art.passages.append(Passage(self.passage_start, art.pos, name))
        elif name == "bibliomisc":
            art.ident = "".join(self.bibliomisc).strip()

    def _add(self, text: str) -> None:
        assert self.art is not None
        self.art.parts.append(text)
        self.art.pos += len(text)

    def _finish(self, art: _Article) -> None:
        if art.error is None and not art.ident:
            art.error = BionerError("E201", "article without a <bibliomisc> id", file=self.path, line=art.line)
        if art.error is not None:
            self.report.error(art.error)
            return
        assert art.ident is not None
        ident = self.ids.unique(art.ident)
        if ident != art.ident:
            self.report.warn("W213", f"article id {art.ident!r} occurs again: this copy is {ident!r}", file=self.path, line=art.line)
        doc = Document(ident, "".join(art.parts), self._entities(art, ident), passages=art.passages, sentences=art.sentences)
        self.ready.append(doc)

    def _entities(self, art: _Article, ident: str) -> list[Entity]:
        out: list[Entity] = []
        keys: set[tuple[int, int, str]] = set()
        # outer cons first at equal spans, so the outer one's sem is kept for duplicates
        for start, end, _, sem, line in sorted(art.cons, key=lambda c: (c[0], -c[1], c[2])):
            if sem is None:
                self.dropped["(no sem)"] += 1  # a fragment of a coordination, not an entity
                continue
            label = self.resolve(sem)
            if label is None:
                if not self.keep_unmapped:
                    self.dropped[sem] += 1
                    self.report.warn("W220", f"document {ident!r}: {sem!r} at {start}..{end} has no label in the mapping", file=self.path, line=line)
                    continue
                label = sem
            if start == end:
                self.report.error(BionerError("E101", f"document {ident!r}: empty <cons sem={sem!r}>", file=self.path, line=line))
                continue
            if (start, end, label) in keys:
                self.dropped[f"(duplicate {label})"] += 1
                self.report.warn("W221", f"document {ident!r}: {label!r} at {start}..{end} twice ({sem!r} inside a cons of the same extent)", file=self.path, line=line)
                continue
            keys.add((start, end, label))
            out.append(Entity(start, end, label, attrs={"sem": sem} if label != sem else {}))
        return out


__all__ = ["FIVE_TYPES", "SPLITS", "five_types", "load_split_ids", "read"]
