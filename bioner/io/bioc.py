"""BioC XML and BioC JSON, with the data structures and encoders of the ``bioc`` package.

Reading (``read``):

* Text: every passage text is placed at its document-level ``offset`` and the gaps
  between passages are filled with spaces (BC5CDR: title at 0, abstract at
  len(title) + 1, so the text is ``title + " " + abstract``). A passage that starts
  before the previous one ends is E201. A passage without text whose sentences carry
  the text (sentence-level BioC) gets its text from its sentences the same way.
* ``Passage(start, end, type=infons["type"], infons=the other infons)``; sentences
  become ``Document.sentences``.
* Annotations (in passages, sentences, or directly in the document) become entities:
  the label is ``infons["type"]`` (required: E201 when absent; no guessing from other
  keys); ``ids`` come from the identifier infons (``identifier``, ``MESH``,
  ``NCBI Gene`` ..., see ``ID_INFONS``) split on ``| , ; +``, without ``-``/``-1``.
  ``attrs`` keep what the writer needs: ``id`` (the annotation id), ``infon:<key>`` for
  every infon but ``type``, and ``bioc_level`` (``document``/``sentence``) when the
  annotation is not in a passage. Several locations make a discontinuous entity
  (``Entity.from_fragments``). The annotation ``text`` must equal the location texts
  joined with ``text_sep`` in offset order (E202; BioC XML errors name the line).
* Relations go to ``metadata["relations"]`` as ``{"id", "infons", "nodes": [{"refid",
  "role"}]}`` (plus ``"passage"``/``"sentence"``: an index, when not document-level);
  a node pointing at no annotation or relation is E206. Document infons go to
  ``metadata["infons"]``, the collection header (source, date, key, infons) to
  ``metadata["bioc_collection"]``; a passage whose text only its sentences carry is
  listed in ``metadata["bioc_textless_passages"]``, sentence infons in
  ``metadata["bioc_sentence_infons"]``. A repeated document id is read as ``id#2``
  (W213). Annotations without a ``<text>`` are not checked.
* XML is streamed (lxml ``iterparse``, each document freed once read, lines kept for
  errors), so memory stays flat on any file size; ``bioc.biocxml.BioCXMLDocumentReader``
  keeps the whole tree (~700 MB for a 50 MB file), so it is not used for reading.
  BioC JSON is one JSON object and is read whole (``bioc.biocjson``'s decoder).
* An XML syntax error is E208 (E204 for bad UTF-8) with its line; the documents before
  it have been read, nothing after it can be.

Writing (``write``, with the ``bioc`` package's encoders, streamed) gives back the same
header, passages, offsets, infons, sentences, annotation ids and relations, so
read -> write -> read is lossless. Text outside the passages is not stored in BioC: it
must be whitespace (line breaks and tabs there come back as spaces, reported as W306;
offsets are kept), otherwise E305, as for characters XML 1.0 cannot hold. A document
without passages is written as one passage with the whole text; entities without an
annotation id get ``T1``, ``T2`` ...; changed ``ids`` are written as an ``identifier``
infon. Scores, sources, tokens and other attributes are dropped (W306).
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bioc import BioCAnnotation, BioCDocument, BioCLocation, BioCNode, BioCPassage, BioCRelation, BioCSentence
from bioc.biocjson.decoder import parse_doc
from bioc.biocjson.encoder import BioCJSONEncoder
from bioc.biocxml.encoder import encode_document
from lxml import etree

from bioner.doc import Document, Entity, Offsets, Passage
from bioner.errors import BionerError, Report
from bioner.io._common import (
    SURROGATE_HINT,
    PathLike,
    UniqueIds,
    atomic_write,
    describe_lost,
    ensure_report,
    lone_surrogate,
    lost_parts,
    read_text,
    surrogate_escapes,
)

# infon keys (compared lower-cased) whose values are concept ids
ID_INFONS = ("identifier", "mesh", "ncbi gene", "ncbi_gene", "ncbigene", "ncbi taxonomy", "taxonomy", "omim", "chebi", "umls", "cui")
_ID_KEYS = frozenset(ID_INFONS)
_ID_SPLIT = re.compile(r"[|,;+]")
_NO_ID = {"", "-", "-1"}
_FORMATS = ("xml", "json")
_HEADER = ("source", "date", "key")


def split_ids(infons: Mapping[str, str]) -> tuple[str, ...]:
    """Concept ids from the identifier infons, in infon order."""
    out: list[str] = []
    for key, value in infons.items():
        if key.lower() in _ID_KEYS:
            out.extend(p for p in (x.strip() for x in _ID_SPLIT.split(value)) if p not in _NO_ID)
    return tuple(out)


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _infons(d: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in d.items()}


def _check_format(fmt: str) -> None:
    if fmt not in _FORMATS:
        raise BionerError("E207", f"unknown BioC flavour {fmt!r}", hint=f"use fmt={' or '.join(map(repr, _FORMATS))}")


# ---------------------------------------------------------------- XML -> bioc objects


class _Malformed(Exception):
    """An element that cannot be read (bad offset, missing attribute); carries its line."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def _int(el: Any, value: str | None, what: str) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Malformed(f"{what} {value!r} is not an integer", el.sourceline) from None


class _XmlDecoder:
    """lxml elements of one <document> -> bioc objects, remembering each object's line."""

    def __init__(self) -> None:
        self.lines: dict[int, int] = {}

    def _mark(self, obj: Any, el: Any) -> Any:
        self.lines[id(obj)] = el.sourceline
        return obj

    def document(self, el: Any) -> BioCDocument:
        doc = self._mark(BioCDocument(), el)
        doc.id = None
        for c in el:
            if c.tag == "id":
                doc.id = _text(c.text)
            elif c.tag == "infon":
                doc.infons[c.get("key") or ""] = c.text or ""
            elif c.tag == "passage":
                doc.add_passage(self.passage(c))
            elif c.tag == "annotation":
                doc.add_annotation(self.annotation(c))
            elif c.tag == "relation":
                doc.add_relation(self.relation(c))
        return doc

    def passage(self, el: Any) -> BioCPassage:
        p = self._mark(BioCPassage(), el)
        p.offset, p.text = None, None
        self._container(p, el)
        return p

    def sentence(self, el: Any) -> BioCSentence:
        s = self._mark(BioCSentence(), el)
        s.offset, s.text = None, None
        self._container(s, el)
        return s

    def _container(self, obj: Any, el: Any) -> None:
        for c in el:
            if c.tag == "offset":
                obj.offset = _int(c, c.text, "offset")
            elif c.tag == "text":
                obj.text = _text(c.text)
            elif c.tag == "infon":
                obj.infons[c.get("key") or ""] = c.text or ""
            elif c.tag == "sentence":
                obj.add_sentence(self.sentence(c))
            elif c.tag == "annotation":
                obj.add_annotation(self.annotation(c))
            elif c.tag == "relation":
                obj.add_relation(self.relation(c))
        if obj.offset is None:
            raise _Malformed(f"<{el.tag}> without <offset>", el.sourceline)

    def annotation(self, el: Any) -> BioCAnnotation:
        a = self._mark(BioCAnnotation(), el)
        a.id, a.text = el.get("id"), None
        for c in el:
            if c.tag == "infon":
                a.infons[c.get("key") or ""] = c.text or ""
            elif c.tag == "location":
                a.add_location(BioCLocation(_int(c, c.get("offset"), "location offset"), _int(c, c.get("length"), "location length")))
            elif c.tag == "text":
                a.text = _text(c.text)
        return a

    def relation(self, el: Any) -> BioCRelation:
        r = self._mark(BioCRelation(), el)
        r.id = el.get("id")
        for c in el:
            if c.tag == "infon":
                r.infons[c.get("key") or ""] = c.text or ""
            elif c.tag == "node":
                r.add_node(BioCNode(_text(c.get("refid")), _text(c.get("role"))))
        return r


def _xml_error(exc: etree.XMLSyntaxError, path: PathLike) -> BionerError:
    msg = str(exc.msg)
    if (exc.lineno == 0 and "no element found" in msg) or "Document is empty" in msg:
        return BionerError("E205", "file is empty", file=path, hint="expected a BioC <collection>")
    code = "E204" if "encoding" in msg or "UTF-8" in msg else "E208"
    return BionerError(code, f"invalid XML: {msg}", file=path, line=exc.lineno or None)


def _read_header(doc_el: Any, header: dict[str, Any]) -> None:
    """Collection header elements before ``doc_el`` (the earlier ones are freed already)."""
    for el in reversed(list(doc_el.itersiblings(preceding=True))):
        if el.tag == "infon":
            header.setdefault("infons", {})[_text(el.get("key"))] = _text(el.text)
        elif el.tag in _HEADER:
            header[el.tag] = _text(el.text)


def _xml_documents(path: PathLike, report: Report) -> Iterator[tuple[BioCDocument, dict[int, int], dict[str, Any]]]:
    """(bioc document, lines of its objects, collection header) for each <document>, streamed."""
    if not Path(path).is_file():
        raise BionerError("E210", "file not found", file=path)
    header: dict[str, Any] = {}
    # a pull parser fed in chunks, not iterparse: when a chunk holds a syntax error, lxml 6.2 raises from
    # iterparse before handing out the documents parsed earlier in that chunk; the pull parser keeps them queued
    parser = etree.XMLPullParser(events=("end",), tag="document", load_dtd=False, no_network=True, resolve_entities=False)
    failure: etree.XMLSyntaxError | None = None
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
            except etree.XMLSyntaxError as exc:
                failure = exc
            for _, el in parser.read_events():
                parent = el.getparent()
                _read_header(el, header)
                decoder = _XmlDecoder()
                try:
                    yield decoder.document(el), decoder.lines, header
                except _Malformed as exc:
                    report.error(BionerError("E201", str(exc), file=path, line=exc.line))
                # free what is read: the document and the siblings before it
                el.clear()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
            if failure is not None or not chunk:
                break
    if failure is not None:
        report.error(_xml_error(failure, path))


def _json_documents(path: PathLike, report: Report) -> Iterator[tuple[BioCDocument, dict[int, int], dict[str, Any]]]:
    text = read_text(path)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        report.error(BionerError("E208", f"invalid JSON at column {exc.colno}: {exc.msg}", file=path, line=exc.lineno))
        return
    except RecursionError:  # json's decoder recurses once per nesting level
        report.error(BionerError("E208", "invalid JSON: nested too deeply", file=path))
        return
    if not isinstance(obj, dict) or not isinstance(obj.get("documents"), list):
        report.error(BionerError("E201", "expected a BioC collection: an object with a 'documents' list", file=path))
        return
    if not isinstance(obj.get("infons", {}), dict):
        report.error(BionerError("E201", "the collection's 'infons' must be an object", file=path))
        return
    escapes = surrogate_escapes(text)
    if escapes and lone_surrogate({k: v for k, v in obj.items() if k != "documents"}):
        report.error(BionerError("E204", "the collection header holds a lone surrogate escape", file=path, hint=SURROGATE_HINT))
        return
    header: dict[str, Any] = {k: _text(obj.get(k)) for k in _HEADER if obj.get(k) is not None}
    if obj.get("infons"):
        header["infons"] = _infons(obj["infons"])
    for k, d in enumerate(obj["documents"]):
        if escapes and lone_surrogate(d):
            report.error(BionerError("E204", f"documents[{k}]: a string holds a lone surrogate escape", file=path, hint=SURROGATE_HINT))
            continue
        try:
            bdoc = parse_doc(d)
            _check_json_types(bdoc)
        except (KeyError, TypeError, AttributeError) as exc:
            name = d.get("id") if isinstance(d, dict) else None
            report.error(BionerError("E201", f"documents[{k}] (id {name!r}): missing or invalid field {exc}", file=path, hint="see bioc.biocjson for the BioC JSON layout"))
            continue
        yield bdoc, {}, header


def _check_json_types(bdoc: BioCDocument) -> None:
    """TypeError naming the field when a JSON value has a type the reader cannot use.

    ``parse_doc`` copies any JSON value into any field (``"text": true``, ``"infons": null``).
    """

    def check(obj: Any, what: str, has_text: bool = False) -> None:
        if not isinstance(obj.infons, dict):
            raise TypeError(f"{what} 'infons' must be an object")
        if has_text and obj.text is not None and not isinstance(obj.text, str):
            raise TypeError(f"{what} 'text' must be a string")
        if getattr(obj, "id", None) is not None and type(obj.id) not in (str, int):
            raise TypeError(f"{what} 'id' must be a string")

    def annotations_and_relations(obj: Any, what: str) -> None:
        for a in obj.annotations:
            check(a, f"{what} annotation", has_text=True)
        for r in obj.relations:
            check(r, f"{what} relation")
            if not all(isinstance(n.refid, str) and isinstance(n.role, str) for n in r.nodes):
                raise TypeError(f"{what} relation {r.id!r}: node 'refid' and 'role' must be strings")

    check(bdoc, "document")
    annotations_and_relations(bdoc, "document")
    for k, p in enumerate(bdoc.passages):
        check(p, f"passage {k}", has_text=True)
        annotations_and_relations(p, f"passage {k}")
        for j, s in enumerate(p.sentences):
            check(s, f"passage {k} sentence {j}", has_text=True)
            annotations_and_relations(s, f"passage {k} sentence {j}")


# ---------------------------------------------------------------- bioc objects -> Document


@dataclass
class _Build:
    """Turns one bioc document into a Document; errors name the document, annotation and line."""

    path: PathLike
    report: Report
    text_sep: str
    lines: dict[int, int]
    doc_id: str = ""
    text: str = ""
    sentences: list[Offsets] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    ann_ids: set[str] = field(default_factory=set)

    def error(self, code: str, message: str, obj: Any, hint: str | None = None) -> None:
        where = f"document {self.doc_id!r}: " if self.doc_id else ""
        self.report.error(BionerError(code, where + message, file=self.path, line=self.lines.get(id(obj)), hint=hint))

    def document(self, bdoc: BioCDocument, header: Mapping[str, Any]) -> Document | None:
        if not bdoc.id:
            self.error("E201", "document without an id", bdoc)
            return None
        self.doc_id = str(bdoc.id)
        laid_out = self.layout(bdoc)
        if laid_out is None:
            return None
        passages, textless, sentence_infons = laid_out
        relations: list[dict[str, Any]] = []
        for p in bdoc.passages:
            for s in p.sentences:
                self.annotations(s.annotations, "sentence")
            self.annotations(p.annotations, None)
        self.annotations(bdoc.annotations, "document")
        self.relations(bdoc, relations)
        meta: dict[str, Any] = {}
        if relations:
            meta["relations"] = relations
        if bdoc.infons:
            meta["infons"] = _infons(bdoc.infons)
        # always set, even when empty, so the writer knows the header came from a BioC file
        meta["bioc_collection"] = {**header, **({"infons": dict(header["infons"])} if "infons" in header else {})}
        if textless:
            meta["bioc_textless_passages"] = textless
        if any(sentence_infons):
            meta["bioc_sentence_infons"] = sentence_infons
        return Document(self.doc_id, self.text, self.entities, passages, sentences=self.sentences or None, metadata=meta)

    def layout(self, bdoc: BioCDocument) -> tuple[list[Passage], list[int], list[dict[str, str]]] | None:
        """Place passages (and sentences) at their offsets; None after an E201/E202."""
        pieces: list[str] = []
        pos = 0
        passages: list[Passage] = []
        textless: list[int] = []
        sentence_infons: list[dict[str, str]] = []
        for k, p in enumerate(bdoc.passages):
            ptype = _text(p.infons.get("type"))
            if type(p.offset) is not int:
                self.error("E201", f"passage {k} ({ptype!r}): offset {p.offset!r} is not an integer", p)
                return None
            if p.offset < pos:
                self.error("E201", f"passage {k} ({ptype!r}) at offset {p.offset!r} starts before the previous passage ends ({pos})", p, hint="passages must be in offset order and must not overlap")
                return None
            ptext = self.passage_text(p, k)
            if ptext is None:
                return None
            if not p.text and p.sentences:
                textless.append(k)
            sentence_infons.extend(_infons(s.infons) for s in p.sentences)
            pieces.append(" " * (p.offset - pos) + ptext)
            pos = p.offset + len(ptext)
            passages.append(Passage(p.offset, pos, ptype, {k2: v for k2, v in _infons(p.infons).items() if k2 != "type"}))
        self.text = "".join(pieces)
        return passages, textless, sentence_infons

    def passage_text(self, p: BioCPassage, k: int) -> str | None:
        """The passage text, or the text its sentences spell out; records sentence spans."""
        own = p.text or ""
        built: list[str] = []
        end = p.offset
        for j, s in enumerate(p.sentences):
            stext = s.text or ""
            if type(s.offset) is not int or s.offset < (p.offset if own else end):
                self.error("E201", f"passage {k}, sentence {j}: offset {s.offset!r} is before the passage or the previous sentence", s)
                return None
            if own:
                rel = s.offset - p.offset
                if s.text is not None and own[rel : rel + len(stext)] != stext:
                    self.error("E202", f"passage {k}, sentence {j} at {s.offset}: text {stext[:40]!r} differs from the passage text there {own[rel:rel + len(stext)][:40]!r}", s)
                    return None
            else:
                built.append(" " * (s.offset - end) + stext)
            end = s.offset + len(stext)
            self.sentences.append((s.offset, end))
        return own if own else "".join(built)

    def annotations(self, anns: Iterable[BioCAnnotation], level: str | None) -> None:
        for a in anns:
            ent = self.entity(a, level)
            if ent is not None:
                self.entities.append(ent)
                if a.id is not None:
                    self.ann_ids.add(str(a.id))

    def entity(self, a: BioCAnnotation, level: str | None) -> Entity | None:
        label = _text(a.infons.get("type"))
        if not label:
            self.error("E201", f"annotation {a.id!r} has no 'type' infon", a, hint="the entity type must be in <infon key=\"type\">")
            return None
        frags = [(loc.offset, loc.offset + loc.length) for loc in a.locations if type(loc.offset) is int and type(loc.length) is int]
        if not frags or len(frags) != len(a.locations) or any(s < 0 or e <= s for s, e in frags):
            self.error("E201", f"annotation {a.id!r} needs locations with an offset >= 0 and a length > 0, got {a.locations}", a)
            return None
        if max(e for _, e in frags) > len(self.text):
            self.error("E202", f"annotation {a.id!r} at {frags} ends past the text (length {len(self.text)})", a)
            return None
        infons = a.infons if all(type(v) is str for v in a.infons.values()) else _infons(a.infons)  # JSON may hold numbers
        attrs = {"infon:" + k: v for k, v in infons.items() if k != "type"}
        if a.id is not None:
            attrs["id"] = str(a.id)
        if level is not None:
            attrs["bioc_level"] = level
        try:
            if len(frags) == 1:
                ent = Entity(frags[0][0], frags[0][1], label, ids=split_ids(infons), attrs=attrs)
            else:
                ent = Entity.from_fragments(frags, label, ids=split_ids(infons), attrs=attrs)
        except BionerError as exc:
            self.error("E201", f"annotation {a.id!r}: {exc.message}", a)
            return None
        if a.text is not None and ent.text_in(self.text, self.text_sep) != a.text:
            self.error("E202", f"annotation {a.id!r} at {list(ent.parts)} covers {ent.text_in(self.text, self.text_sep)!r}, its text is {a.text!r}", a)
            return None
        return ent

    def relations(self, bdoc: BioCDocument, out: list[dict[str, Any]]) -> None:
        where: list[tuple[BioCRelation, dict[str, int]]] = [(r, {}) for r in bdoc.relations]
        n_sent = 0
        for k, p in enumerate(bdoc.passages):
            for s in p.sentences:
                where.extend((r, {"sentence": n_sent}) for r in s.relations)
                n_sent += 1
            where.extend((r, {"passage": k}) for r in p.relations)
        known = self.ann_ids | {str(r.id) for r, _ in where if r.id is not None}
        for r, place in where:
            missing = [n.refid for n in r.nodes if n.refid not in known]
            if missing:
                self.error("E206", f"relation {r.id!r} refers to {missing}, which are no annotation or relation ids", r)
                continue
            rel: dict[str, Any] = {"id": r.id, "infons": _infons(r.infons), "nodes": [{"refid": n.refid, "role": n.role} for n in r.nodes]}
            out.append({**rel, **place})


def read(path: PathLike, *, fmt: str = "xml", report: Report | None = None, skip_invalid: bool = False, text_sep: str = " ") -> Iterator[Document]:
    """Read BioC XML (streamed) or BioC JSON; ``text_sep`` joins the parts of a discontinuous annotation's text."""
    _check_format(fmt)
    return _read(path, fmt, ensure_report(report, skip_invalid), text_sep)


def _read(path: PathLike, fmt: str, report: Report, text_sep: str) -> Iterator[Document]:
    source = _xml_documents(path, report) if fmt == "xml" else _json_documents(path, report)
    ids = UniqueIds()
    for bdoc, lines, header in source:
        doc = _Build(path, report, text_sep, lines).document(bdoc, header)
        if doc is None:
            continue
        unique = ids.unique(doc.id)
        if unique != doc.id:
            report.warn("W213", f"document id {doc.id!r} occurs again; this copy is read as {unique!r}", file=path, line=lines.get(id(bdoc)))
            doc.id = unique
        yield doc


# ---------------------------------------------------------------- Document -> bioc objects

_KEEP = {"ids", "attrs.id", "attrs.bioc_level", "passages", "sentences", "metadata.relations", "metadata.infons", "metadata.bioc_collection", "metadata.bioc_textless_passages", "metadata.bioc_sentence_infons"}


class _Encode:
    """One Document -> one BioCDocument, or None when the text cannot be kept (E305)."""

    def __init__(self, path: PathLike, report: Report, text_sep: str) -> None:
        self.path = path
        self.report = report
        self.text_sep = text_sep

    def cannot(self, doc: Document, what: str) -> None:
        self.report.error(BionerError("E305", f"document {doc.id!r}: {what}", file=self.path, hint="BioC keeps only passage texts; text between passages must be whitespace"))

    def passages(self, doc: Document, lost: Counter[str]) -> list[Passage] | None:
        ps = doc.passages or [Passage(0, len(doc.text))]
        pos = 0
        for p in ps:
            gap = doc.text[pos : p.start]
            if p.start < pos or gap.strip():
                self.cannot(doc, f"passage {p.type!r} at {p.start}..{p.end}: overlaps the previous one or follows text that is not whitespace")
                return None
            if gap != " " * len(gap):
                # offsets survive, but a reader fills the gap with spaces: say so
                lost["line breaks or tabs between passages (read back as spaces)"] += 1
            pos = p.end
        if pos != len(doc.text):
            self.cannot(doc, f"text after the last passage (from {pos}) would be lost")
            return None
        return ps

    def document(self, doc: Document) -> BioCDocument | None:
        lost = lost_parts(doc, _KEEP)
        ps = self.passages(doc, lost)
        if ps is None:
            return None
        for name in [n for n in lost if n.startswith("entity attr 'infon:")]:
            del lost[name]  # every infon:<key> attribute is written back as an infon
        bdoc = BioCDocument()
        bdoc.id = doc.id
        infons = doc.metadata.get("infons", {})
        if isinstance(infons, Mapping):
            bdoc.infons = _infons(infons)
        else:
            lost["metadata 'infons' (not a mapping)"] += 1
        bps = [self.passage(doc, p) for p in ps]
        bdoc.passages = bps
        sents = self.sentences(doc, ps, bps, lost)
        self.annotations(doc, ps, bps, sents, bdoc)
        self.relations(doc, bps, sents, bdoc, lost)
        textless = set(doc.metadata.get("bioc_textless_passages", ()))
        for k, (p, bp) in enumerate(zip(ps, bps)):
            if k in textless and self.spelled_by_sentences(doc, p, bp):
                bp.text = None  # sentence-level BioC: the sentences carry the text
        if lost:
            self.report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=self.path)
        return bdoc

    @staticmethod
    def passage(doc: Document, p: Passage) -> BioCPassage:
        bp = BioCPassage()
        bp.offset = p.start
        bp.text = doc.text[p.start : p.end]
        bp.infons = ({"type": p.type} if p.type else {}) | dict(p.infons)
        return bp

    @staticmethod
    def spelled_by_sentences(doc: Document, p: Passage, bp: BioCPassage) -> bool:
        """Would the reader rebuild exactly this passage text from its sentences alone?"""
        if not bp.sentences:
            return False
        built, end = [], p.start
        for s in bp.sentences:
            built.append(" " * (s.offset - end) + s.text)
            end = s.offset + len(s.text)
        return "".join(built) == doc.text[p.start : p.end]

    def sentences(self, doc: Document, ps: list[Passage], bps: list[BioCPassage], lost: Counter[str]) -> list[tuple[int, int, BioCSentence]]:
        infons = doc.metadata.get("bioc_sentence_infons", [])
        out = []
        for i, (s, e) in enumerate(doc.sentences or ()):
            home = next((k for k, p in enumerate(ps) if p.start <= s and e <= p.end), None)
            if home is None:
                lost["sentence outside every passage"] += 1
                continue
            bs = BioCSentence()
            bs.offset, bs.text = s, doc.text[s:e]
            bs.infons = dict(infons[i]) if len(infons) == len(doc.sentences or ()) else {}
            bps[home].add_sentence(bs)
            out.append((s, e, bs))
        return out

    def annotations(self, doc: Document, ps: list[Passage], bps: list[BioCPassage], sents: list[tuple[int, int, BioCSentence]], bdoc: BioCDocument) -> None:
        taken = {e.attrs["id"] for e in doc.entities if "id" in e.attrs}
        fresh = (f"T{n}" for n in range(1, 1 << 62) if f"T{n}" not in taken)
        for e in doc.entities:
            if not e.label:  # the reader needs a non-empty 'type' infon
                self.report.error(BionerError("E304", f"document {doc.id!r}: entity at {e.start}..{e.end} has an empty label", file=self.path))
                continue
            ann = BioCAnnotation()
            ann.id = e.attrs.get("id") or next(fresh)
            ann.infons = {"type": e.label} | self.infons(e)
            ann.locations = [BioCLocation(s, t - s) for s, t in e.parts]
            ann.text = e.text_in(doc.text, self.text_sep)
            level = e.attrs.get("bioc_level")
            if level == "document":
                bdoc.add_annotation(ann)
                continue
            sent = next((bs for s, t, bs in sents if s <= e.start and e.end <= t), None) if level == "sentence" else None
            if sent is not None:
                sent.add_annotation(ann)
            else:
                # the passage holding the start, else the last one starting before it
                k = max((k for k, p in enumerate(ps) if p.start <= e.start), default=0)
                bps[k].add_annotation(ann)

    @staticmethod
    def infons(e: Entity) -> dict[str, str]:
        """The annotation's infons but ``type``: kept ones, with ``identifier`` when the ids changed."""
        kept = {k[len("infon:") :]: v for k, v in e.attrs.items() if k.startswith("infon:")}
        if split_ids(kept) == e.ids:
            return kept
        out = {k: v for k, v in kept.items() if k.lower() not in ID_INFONS}
        if e.ids:
            out["identifier"] = "|".join(e.ids)
        return out

    def relations(self, doc: Document, bps: list[BioCPassage], sents: list[tuple[int, int, BioCSentence]], bdoc: BioCDocument, lost: Counter[str]) -> None:
        sent_objs = {i: bs for i, (_, _, bs) in enumerate(sents)} if len(sents) == len(doc.sentences or ()) else {}
        for n, rel in enumerate(doc.metadata.get("relations", ())):
            nodes = rel.get("nodes", []) if isinstance(rel, dict) else None
            if not (isinstance(nodes, list) and all(isinstance(nd, dict) for nd in nodes)):
                lost["relation of another format"] += 1
                continue
            br = BioCRelation()
            br.id = _text(rel.get("id")) or f"R{n}"
            br.infons = _infons(rel.get("infons", {}))
            br.nodes = [BioCNode(_text(nd.get("refid")), _text(nd.get("role"))) for nd in nodes]
            if "sentence" in rel and rel["sentence"] in sent_objs:
                sent_objs[rel["sentence"]].add_relation(br)
            elif "passage" in rel and isinstance(rel["passage"], int) and 0 <= rel["passage"] < len(bps):
                bps[rel["passage"]].add_relation(br)
            else:
                bdoc.add_relation(br)


def _header(first: Document | None) -> dict[str, Any]:
    """The collection header read with the first document, exactly; a default one for other documents."""
    got = first.metadata.get("bioc_collection") if first is not None else None
    if not isinstance(got, Mapping):
        return {"source": "bioner", "date": "", "key": "", "infons": {}}
    head: dict[str, Any] = {k: _text(got[k]) for k in _HEADER if k in got}
    head["infons"] = _infons(got.get("infons", {}))
    return head


def _write_xml(fh: Any, bdocs: Iterator[BioCDocument], head: dict[str, Any], report: Report, path: PathLike) -> None:
    with etree.xmlfile(fh, encoding="UTF-8") as xf:
        xf.write_declaration()
        xf.write_doctype("<!DOCTYPE collection SYSTEM 'BioC.dtd'>")
        with xf.element("collection"):
            xf.write("\n")
            for key in (k for k in _HEADER if k in head):
                el = etree.Element(key)
                el.text = head[key]
                xf.write(el, pretty_print=True)
            for k, v in head["infons"].items():
                el = etree.Element("infon", key=k)
                el.text = v
                xf.write(el, pretty_print=True)
            for bdoc in bdocs:
                try:
                    tree = encode_document(bdoc)
                except ValueError as exc:  # lxml refuses control characters XML 1.0 cannot hold
                    report.error(BionerError("E305", f"document {bdoc.id!r}: {exc}", file=path))
                    continue
                xf.write(tree, pretty_print=True)


def _write_json(fh: Any, bdocs: Iterator[BioCDocument], head: dict[str, Any]) -> None:
    # the collection object written piece by piece, so documents stream out one at a time
    fields = {"bioctype": "BioCCollection", **{k: head.get(k) for k in _HEADER}, "version": "1.0", "infons": head["infons"]}
    fh.write(json.dumps(fields, ensure_ascii=False)[:-1] + ', "documents": [')
    encoder = BioCJSONEncoder()
    for n, bdoc in enumerate(bdocs):
        fh.write(("," if n else "") + "\n" + json.dumps(encoder.default(bdoc), ensure_ascii=False))
    fh.write("\n]}\n")


def write(docs: Iterable[Document], path: PathLike, *, fmt: str = "xml", report: Report | None = None, text_sep: str = " ") -> None:
    """Write BioC XML or JSON; the collection header comes from the first document (``metadata["bioc_collection"]``)."""
    _check_format(fmt)
    report = ensure_report(report)
    encode = _Encode(path, report, text_sep)
    it = iter(docs)
    first = next(it, None)  # the header is written before any document
    head = _header(first)
    stream = itertools.chain([first] if first is not None else [], it)
    bdocs = (b for d in stream if (b := encode.document(d)) is not None)
    with atomic_write(path) as fh:
        if fmt == "xml":
            fh.flush()  # lxml writes bytes: hand it the binary buffer under the text handle
            _write_xml(cast(io.TextIOWrapper, fh).buffer, bdocs, head, report, path)
        else:
            _write_json(fh, bdocs, head)
