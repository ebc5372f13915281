"""PubTator: ``PMID|t|title``, ``PMID|a|abstract``, then one tab-separated line per mention.

Layout of one document (documents are separated by blank lines)::

    PMID|t|title
    PMID|a|abstract
    PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>ids[<TAB>extra...]
    PMID<TAB>CID<TAB>D008750<TAB>D003866          (a relation line)

Reading rules (``read``):

* Text: ``title + " " + abstract``, the text PubTator offsets count in (0-based,
  end-exclusive). Passages: ``title`` (0, len(title)) and ``abstract``
  (len(title) + 1, len(text)). A document without an ``|a|`` line has text = the title
  and one ``title`` passage. An empty ``|a|`` line still adds the separating space, as
  offsets from such files count it.
* Mentions: ``Entity(start, end, type)``; every mention column must equal
  ``text[start:end]`` (E202 naming file and line otherwise). ``ids`` are the id column
  split on ``|`` (alternatives, or the parts of a BC5CDR composite mention) and ``+``
  (NCBI-disease composite concepts), each part stripped, with ``-1`` (the "no concept"
  marker) and empty parts left out. When that split loses something (``D1+D2``, ``-1``,
  stray spaces) the raw column is kept in ``attrs["pubtator_ids"]`` so the writer
  reproduces it; columns after the ids (BC5CDR's composite parts) are kept, tab-joined,
  in ``attrs["extra"]``.
* A line whose second column is not a number is a relation line
  (``PMID<TAB>CID<TAB>D1<TAB>D2``); its columns after the PMID go to
  ``metadata["relations"]`` as a list of strings, each counted as W212.
* Malformed input is E201 naming file and line: a line that is no title, abstract,
  mention or relation line; a mention outside a document or with another PMID; a
  non-integer offset; fewer than 6 columns; an ``|a|`` line that does not follow its
  title; and a ``|t|`` line that starts a new document before the previous one ended
  with a blank line. With ``skip_invalid`` a bad mention line skips that line, a bad
  title/abstract line skips its whole document, and a missing blank line only records
  the error (both documents are kept).
* A PMID seen before in the same file (NCBI-disease train repeats 8528200) keeps both
  documents: the later copy gets the id ``PMID#2`` (``#3`` ...), its PMID is kept in
  ``metadata["pubtator_pmid"]``, and W213 is counted.

Writing (``write``) reproduces such files byte for byte (each document followed by a
blank line; the PMID from ``metadata["pubtator_pmid"]`` when set): the title is the
first passage when it starts at 0, the abstract the rest of the text when the second
passage starts one space after it; otherwise the whole text is the title. Passage
types, infons or passages beyond these two that are lost this way are counted (W306).
PubTator cannot hold a line break in the text, a tab in a mention, or a PMID with
``|``/tab: E305. Discontinuous entities are written as their covering span (W302);
scores, sources, attributes and metadata other than the above are dropped (W306).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bioner.doc import Document, Entity, Passage
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, UniqueIds, atomic_write, describe_lost, ensure_report, iter_lines, lost_parts

# the PMID may not contain a tab or "|"; the text after |t|/|a| is free (it may hold "|" and tabs)
_TEXT_LINE = re.compile(r"([^\t|]+)\|([ta])\|(.*)", re.DOTALL)
_INT = re.compile(r"[0-9]+")
_NO_ID = "-1"  # "no concept" marker of NCBI-disease and BC5CDR
_ID_SPLIT = re.compile(r"[|+]")
_HINT = "expected PMID|t|title, PMID|a|abstract, PMID<TAB>start<TAB>end<TAB>mention<TAB>type<TAB>ids or PMID<TAB>relation..."


def split_ids(raw: str) -> tuple[str, ...]:
    """Concept ids of a PubTator id column: split on ``|`` and ``+``, stripped, without ``-1`` and empties."""
    if "|" not in raw and "+" not in raw and raw == raw.strip():  # the common case: one plain id
        return (raw,) if raw and raw != _NO_ID else ()
    parts = (p.strip() for p in _ID_SPLIT.split(raw))
    return tuple(p for p in parts if p and p != _NO_ID)


def _is_relation_head(col: str) -> bool:
    """Would the reader take a line with this second column as a relation? (not a number, not -number)"""
    return not (col[:1].isdigit() or (col[:1] == "-" and col[1:2].isdigit()))


def _entity_attrs(ids: tuple[str, ...], raw_ids: str, extra: Sequence[str]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if "|".join(ids) != raw_ids:
        attrs["pubtator_ids"] = raw_ids  # the split is lossy: keep the column as written
    if extra:
        attrs["extra"] = "\t".join(extra)
    return attrs


@dataclass
class _Draft:
    """A document being read: its lines so far."""

    pmid: str
    title: str
    line: int  # line of the |t| line
    abstract: str | None = None
    entities: list[Entity] = field(default_factory=list)
    relations: list[list[str]] = field(default_factory=list)
    has_annotations: bool = False  # a mention or relation line was seen (no |a| may follow)
    text: str = ""  # title [+ " " + abstract], kept up to date for the offset checks

    def __post_init__(self) -> None:
        self.text = self.title

    def set_abstract(self, abstract: str) -> None:
        self.abstract = abstract
        self.text = f"{self.title} {abstract}"

    def build(self, doc_id: str) -> Document:
        text = self.text
        passages = [Passage(0, len(self.title), "title")]
        if self.abstract is not None:
            passages.append(Passage(len(self.title) + 1, len(text), "abstract"))
        meta: dict[str, Any] = {}
        if self.relations:
            meta["relations"] = self.relations
        if doc_id != self.pmid:
            meta["pubtator_pmid"] = self.pmid
        return Document(doc_id, text, self.entities, passages, metadata=meta)


class _Reader:
    """The line-by-line state machine behind ``read``."""

    def __init__(self, path: PathLike, report: Report) -> None:
        self.path = path
        self.report = report
        self.draft: _Draft | None = None
        self.skipping = False  # inside a document whose title/abstract was invalid
        self.ids = UniqueIds()

    def error(self, code: str, message: str, line: int, hint: str | None = None) -> None:
        self.report.error(BionerError(code, message, file=self.path, line=line, hint=hint))

    def run(self) -> Iterator[Document]:
        for lineno, line in iter_lines(self.path):
            if not line.strip():
                yield from self.finish()
                self.skipping = False
                continue
            m = _TEXT_LINE.fullmatch(line)
            if m is not None:
                yield from self.text_line(m.group(1), m.group(2), m.group(3), lineno)
            elif not self.skipping:
                self.annotation_line(line, lineno)
        yield from self.finish()

    def finish(self) -> Iterator[Document]:
        draft, self.draft = self.draft, None
        if draft is None:
            return
        doc_id = self.ids.unique(draft.pmid)
        if doc_id != draft.pmid:
            self.report.warn("W213", f"PMID {draft.pmid} occurs again; this copy is read as {doc_id!r}", file=self.path, line=draft.line)
        yield draft.build(doc_id)

    def text_line(self, pmid: str, kind: str, value: str, lineno: int) -> Iterator[Document]:
        if kind == "t":
            if self.draft is not None:
                # the error is only the missing separator: when skipping, keep both documents
                self.error("E201", f"title line of PMID {pmid} before document {self.draft.pmid} ended", lineno, hint="expected a blank line between documents")
                yield from self.finish()
            self.skipping = False
            self.draft = _Draft(pmid, value, lineno)
            return
        draft = self.draft
        problem = None
        if draft is None:
            problem = f"abstract line of PMID {pmid} without a title line before it"
        elif draft.pmid != pmid:
            problem = f"abstract line of PMID {pmid} inside document {draft.pmid}"
        elif draft.abstract is not None:
            problem = f"second abstract line for PMID {pmid}"
        elif draft.has_annotations:
            problem = f"abstract line of PMID {pmid} after its mention lines"
        if problem is not None:
            if not self.skipping:
                self.error("E201", problem, lineno, hint="expected PMID|t|title, then PMID|a|abstract, then the mention lines")
            self.draft, self.skipping = None, True  # the offsets of the whole document are in doubt
            return
        assert draft is not None
        draft.set_abstract(value)

    def annotation_line(self, line: str, lineno: int) -> None:
        cols = line.split("\t")
        draft = self.draft
        if len(cols) < 2:
            self.error("E201", f"cannot read line {line[:60]!r}", lineno, hint=_HINT)
            return
        if draft is None:
            self.error("E201", f"annotation line of PMID {cols[0]} outside a document", lineno, hint="expected a PMID|t|title line first")
            return
        if cols[0] != draft.pmid:
            self.error("E201", f"annotation line of PMID {cols[0]} inside document {draft.pmid}", lineno, hint="mention lines must carry their document's PMID")
            return
        draft.has_annotations = True
        if not _is_relation_head(cols[1]):
            self.mention(cols, draft, lineno)
        else:
            draft.relations.append(cols[1:])
            self.report.warn("W212", f"PMID {draft.pmid}: relation {' '.join(cols[1:])!r} kept in metadata['relations']", file=self.path, line=lineno)

    def mention(self, cols: list[str], draft: _Draft, lineno: int) -> None:
        if len(cols) < 6:
            self.error("E201", f"mention line has {len(cols)} columns, expected at least 6", lineno, hint=_HINT)
            return
        if not (_INT.fullmatch(cols[1]) and _INT.fullmatch(cols[2])):
            self.error("E201", f"offsets {cols[1]!r}, {cols[2]!r} are not non-negative integers", lineno, hint=_HINT)
            return
        start, end = int(cols[1]), int(cols[2])
        text = draft.text
        if not start < end <= len(text):
            self.error("E202", f"PMID {draft.pmid}: offsets {start}..{end} are not a span of the text (length {len(text)})", lineno)
            return
        if text[start:end] != cols[3]:
            self.error("E202", f"PMID {draft.pmid}: offsets {start}..{end} cover {text[start:end]!r}, the mention column says {cols[3]!r}", lineno)
            return
        if not cols[4]:
            self.error("E201", "empty type column", lineno, hint=_HINT)
            return
        ids = split_ids(cols[5])
        draft.entities.append(Entity(start, end, cols[4], ids=ids, attrs=_entity_attrs(ids, cols[5], cols[6:])))


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False) -> Iterator[Document]:
    """Stream the documents of a PubTator file (see the module doc for the rules)."""
    return _Reader(path, ensure_report(report, skip_invalid)).run()


# ---------------------------------------------------------------- writing


def _title_abstract(doc: Document) -> tuple[str, str | None, bool]:
    """(title, abstract or None, passages lost?) for ``doc``."""
    text, ps = doc.text, doc.passages
    if len(ps) >= 2 and ps[0].start == 0 and ps[1].start == ps[0].end + 1 and text[ps[0].end : ps[1].start] == " ":
        k = ps[0].end
        exact = len(ps) == 2 and ps[1].end == len(text) and ps[0] == Passage(0, k, "title") and ps[1] == Passage(k + 1, len(text), "abstract")
        return text[:k], text[k + 1 :], not exact
    return text, None, bool(ps) and ps != [Passage(0, len(text), "title")]


def _ids_column(e: Entity) -> str:
    raw = e.attrs.get("pubtator_ids")
    if raw is not None and split_ids(raw) == e.ids:
        return raw
    return "|".join(e.ids)


# what PubTator holds, in the terms of lost_parts (the passage layout is checked on its own)
_KEEP = {"ids", "attrs.pubtator_ids", "attrs.extra", "passages", "metadata.relations", "metadata.pubtator_pmid"}
_BREAKS = ("\t", "\n", "\r")



class _Writer:
    def __init__(self, path: PathLike, report: Report) -> None:
        self.path = path
        self.report = report

    def cannot(self, doc: Document, what: str) -> None:
        self.report.error(BionerError("E305", f"document {doc.id!r}: {what}", file=self.path, hint="PubTator holds one line per title, abstract and mention"))

    def lines(self, doc: Document) -> list[str] | None:
        """The lines of one document, or None when it cannot be written (E305 recorded)."""
        pmid = str(doc.metadata.get("pubtator_pmid", doc.id))
        if not pmid or any(c in pmid for c in "|\t\n\r"):
            self.cannot(doc, f"PMID {pmid!r} is empty or contains '|', a tab or a line break")
            return None
        if "\n" in doc.text or "\r" in doc.text:
            self.cannot(doc, "the text contains a line break")
            return None
        title, abstract, passages_lost = _title_abstract(doc)
        out = [f"{pmid}|t|{title}"] + ([f"{pmid}|a|{abstract}"] if abstract is not None else [])
        lost = lost_parts(doc, _KEEP)
        if passages_lost:
            lost["passage layout"] += 1
        for e in doc.entities:
            line = self.mention(doc, pmid, e)
            if line is not None:
                out.append(line)
        out.extend(self.relations(doc, pmid, lost))
        if lost:
            self.report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=self.path)
        return out

    def mention(self, doc: Document, pmid: str, e: Entity) -> str | None:
        mention = doc.text[e.start : e.end]
        ids = _ids_column(e)
        fields = (mention, e.label, ids, e.attrs.get("extra", ""))
        if not e.label or any(b in f for f in fields for b in _BREAKS) or split_ids(ids) != e.ids:
            self.cannot(doc, f"entity {e.label!r} at {e.start}..{e.end} (mention {mention!r}, ids {e.ids}) cannot be written: empty type, or a tab, line break or '|'/'+' inside a field")
            return None
        if e.discontinuous:
            self.report.warn("W302", f"document {doc.id!r}: discontinuous {e.label!r} {list(e.fragments)} written as {e.start}..{e.end}", file=self.path)
        extra = f"\t{e.attrs['extra']}" if "extra" in e.attrs else ""
        return f"{pmid}\t{e.start}\t{e.end}\t{mention}\t{e.label}\t{ids}{extra}"

    def relations(self, doc: Document, pmid: str, lost: Counter[str]) -> list[str]:
        out = []
        for rel in doc.metadata.get("relations", ()):
            # only PubTator's own shape: columns after the PMID, the first one not a number
            if isinstance(rel, list) and rel and all(isinstance(c, str) and not any(b in c for b in _BREAKS) for c in rel) and _is_relation_head(rel[0]):
                out.append("\t".join([pmid, *rel]))
            else:
                lost["relation of another format"] += 1
        return out


def write(docs: Iterable[Document], path: PathLike, *, report: Report | None = None) -> None:
    """Write PubTator: one block per document, each followed by a blank line."""
    writer = _Writer(path, ensure_report(report))
    with atomic_write(path) as fh:
        for doc in docs:
            lines = writer.lines(doc)
            if lines is not None:
                fh.write("\n".join(lines) + "\n\n")
