"""Nested NER JSON lines: one tokenized sentence per line, entities as token spans.

``{"tokens": [...], "doc_id": "MEDLINE:93061407", "sent_id": "MEDLINE:93061407-0",
"entity_mentions": [{"start": 2, "end": 3, "entity_type": "DNA", "text": "c-fos"}]}`` —
the layout of the GENIA nested-NER releases (Yan et al. 2022, CNN_Nested_NER). ``start`` and
``end`` are token indices, ``end`` exclusive; nested and overlapping mentions are allowed.

Reading
-------
* The text is rebuilt with :func:`bioner.text.join_tokens` (tokens joined by one space,
  sentences by a newline); ``sentences``/``tokens`` are set.
* ``group_by_doc=True`` (default): consecutive lines with the same ``doc_id`` form one Document
  whose id is the ``doc_id``. Sentence ids other than ``<doc_id>-<k>`` (k from 0) are kept in
  ``metadata["sent_ids"]``. A ``doc_id`` that comes back after another document is E209.
  A line without ``doc_id`` is a Document of its own, id ``<file stem>:<line number>``.
* ``group_by_doc=False``: one Document per line, id = ``sent_id`` (else
  ``<file stem>:<line number>``), the ``doc_id`` in ``metadata["doc_id"]``.
* A mention's ``text``, when present, must equal its tokens joined by one space (E202, naming
  the line); indices outside the sentence are E202 too. Tokens must be non-empty strings (E201);
  unlike IOB they may hold spaces (the GENIA files have 8 such tokens, e.g. ``"ER- cells"``),
  and ``Document.tokens`` keeps each as one token. Other keys of a line are kept in ``metadata["extra"]`` (one dict
  per sentence) and written back.

Writing
-------
One line per sentence, keys in the order above, mention ``text`` = its tokens joined by one
space. Tokens and sentences come from the document, else from :func:`bioner.text.tokenize`
(entity boundaries forced) and :func:`bioner.text.split_sentences`; tokens holding spaces are
written whole; the repairs of
:func:`bioner.io.iob.align_tokens` apply and are counted (W302, W303, W305, W307). ``doc_id`` is
``metadata["doc_id"]`` for a document read with ``group_by_doc=False`` (its id is then the
``sent_id``), else the document id; ``sent_id`` comes from ``metadata["sent_ids"]`` or is
``<doc_id>-<k>``. So read -> write -> read gives equal Documents, and the GENIA files are
rewritten byte for byte. Entity scores, sources, ids and attributes, passages, other metadata
and the text layout (spacing between tokens) cannot be written: W306, once per document.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io import file_stem
from bioner.io._common import (
    PathLike,
    atomic_write,
    describe_lost,
    ensure_report,
    iter_json_lines,
    lost_parts,
)
from bioner.io.iob import TokenSpan, align_tokens, doc_from_tokens, text_lost

_KNOWN = ("tokens", "doc_id", "sent_id", "entity_mentions")
_KEEP = {"sentences", "tokens", "metadata.doc_id", "metadata.sent_ids", "metadata.extra"}  # what write() holds


class _Line:
    """One parsed line: tokens, mentions as token spans, ids and other keys."""

    def __init__(self, d: Any) -> None:
        if not isinstance(d, dict):
            raise TypeError("expected a JSON object per line")
        toks = d.get("tokens")
        if not isinstance(toks, list) or not all(isinstance(t, str) and t for t in toks):
            raise ValueError("'tokens' must be a list of non-empty strings")
        self.tokens: list[str] = toks
        self.doc_id = d.get("doc_id")
        if self.doc_id is not None and not isinstance(self.doc_id, str):
            raise ValueError("'doc_id' must be a string")
        self.sent_id = d.get("sent_id")
        self.extra = {k: v for k, v in d.items() if k not in _KNOWN}
        self.spans = [self._mention(k, m) for k, m in enumerate(d.get("entity_mentions", []))]

    def _mention(self, k: int, m: Any) -> tuple[int, int, str]:
        if not isinstance(m, dict) or type(m.get("start")) is not int or type(m.get("end")) is not int or not isinstance(m.get("entity_type"), str):
            raise ValueError(f"entity_mentions[{k}] needs integer 'start', 'end' and string 'entity_type'")
        s, e = m["start"], m["end"]
        if not 0 <= s < e <= len(self.tokens):
            raise BionerError("E202", f"entity_mentions[{k}] covers tokens {s}..{e}; the sentence has {len(self.tokens)} tokens")
        if "text" in m and m["text"] != " ".join(self.tokens[s:e]):
            raise BionerError("E202", f"entity_mentions[{k}] tokens {s}..{e} are {' '.join(self.tokens[s:e])!r} but its 'text' is {m['text']!r}")
        return s, e, m["entity_type"]


class _Group:
    """Sentences of one document being collected."""

    def __init__(self, doc_id: str, line: int) -> None:
        self.doc_id, self.line = doc_id, line
        self.sentences: list[list[str]] = []
        self.spans: list[TokenSpan] = []
        self.sent_ids: list[Any] = []
        self.extra: list[dict[str, Any]] = []

    def add(self, ln: _Line) -> None:
        k = len(self.sentences)
        self.sentences.append(ln.tokens)
        self.spans.extend((k, s, e, label) for s, e, label in ln.spans)
        self.sent_ids.append(ln.sent_id)
        self.extra.append(ln.extra)

    def build(self) -> Document:
        meta: dict[str, Any] = {}
        default = [f"{self.doc_id}-{k}" for k in range(len(self.sent_ids))]
        if any(s is not None for s in self.sent_ids) and self.sent_ids != default:
            meta["sent_ids"] = self.sent_ids
        if any(self.extra):
            meta["extra"] = self.extra
        return doc_from_tokens(self.doc_id, self.sentences, self.spans, meta)


def _parse(path: PathLike, report: Report) -> Iterator[tuple[int, _Line]]:
    return iter_json_lines(path, report, _Line, layout="bioner.io.nested_jsonl")


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False, group_by_doc: bool = True) -> Iterator[Document]:
    """Read nested NER JSON lines; see the module docstring for ids and grouping."""
    report = ensure_report(report, skip_invalid)
    stem = file_stem(path)
    if not group_by_doc:
        for lineno, ln in _parse(path, report):
            meta = {"doc_id": ln.doc_id} if ln.doc_id is not None else {}
            if ln.extra:
                meta["extra"] = [ln.extra]
            sid = ln.sent_id if ln.sent_id is not None else f"{stem}:{lineno}"
            yield doc_from_tokens(str(sid), [ln.tokens], [(0, s, e, lab) for s, e, lab in ln.spans], meta)
        return
    group: _Group | None = None
    done: set[str] = set()
    for lineno, ln in _parse(path, report):
        doc_id = ln.doc_id if ln.doc_id is not None else f"{stem}:{lineno}"
        if group is not None and (ln.doc_id is None or group.doc_id != doc_id):
            done.add(group.doc_id)
            yield group.build()
            group = None
        if group is None:
            if doc_id in done:
                report.error(BionerError("E209", f"sentences of document {doc_id!r} are not consecutive", file=path, line=lineno, hint="keep the lines of a document together, or read with group_by_doc=False"))
                continue
            group = _Group(doc_id, lineno)
        group.add(ln)
    if group is not None:
        yield group.build()


def _records(doc: Document, report: Report, path: PathLike) -> Iterator[dict[str, Any]]:
    view = align_tokens(doc, report=report, file=path, split_whitespace=False)
    meta, n = doc.metadata, len(view.sentences)
    lost = lost_parts(doc, _KEEP) + text_lost(doc, view, keep_empty=True)
    if isinstance(meta.get("doc_id"), str):  # a sentence read with group_by_doc=False
        doc_id = meta["doc_id"]
        sent_ids: list[Any] = [doc.id] if n == 1 else [f"{doc.id}-{k}" for k in range(n)]
    else:
        doc_id = doc.id
        sent_ids = _per_sentence(meta, "sent_ids", n, lost) or [f"{doc.id}-{k}" for k in range(n)]
    extra = _per_sentence(meta, "extra", n, lost) or [{}] * n
    if lost:
        report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=path)
    mentions: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for e, s, i, j in view.spans:
        words = [doc.text[a:b] for a, b in view.sentences[s][i:j]]
        mentions[s].append({"start": i, "end": j, "entity_type": e.label, "text": " ".join(words)})
    for k, toks in enumerate(view.sentences):
        rec = {"tokens": [doc.text[a:b] for a, b in toks], "doc_id": doc_id, "sent_id": sent_ids[k], "entity_mentions": mentions[k]}
        rec.update({key: v for key, v in (extra[k] or {}).items() if key not in rec})
        yield rec


def _per_sentence(meta: dict[str, Any], key: str, n: int, lost: Counter[str]) -> list[Any] | None:
    """``meta[key]`` when it is a list with one item per written sentence; else None (counted as lost if present)."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, list) and len(value) == n:
        return value
    lost[f"metadata {key!r} (not one item per sentence)"] += 1
    return None


def write(docs: Iterable[Document], path: PathLike, *, report: Report | None = None) -> None:
    """Write one JSON line per sentence; see the module docstring."""
    report = ensure_report(report)
    seen: set[str] = set()
    last: str | None = None
    with atomic_write(path) as fh:
        for doc in docs:
            # reading groups consecutive lines by doc_id: a repeated id would merge or be rejected (E209)
            sentence = isinstance(doc.metadata.get("doc_id"), str)  # read with group_by_doc=False
            doc_id = doc.metadata["doc_id"] if sentence else doc.id
            if doc_id in seen and not (sentence and doc_id == last):
                report.error(BionerError("E209", f"document id {doc_id!r} written twice: reading would merge or reject its sentences", file=path))
                continue
            seen.add(doc_id)
            last = doc_id
            for rec in _records(doc, report, path):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


__all__ = ["read", "write"]
