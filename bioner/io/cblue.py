"""CBLUE / CMeEE JSON: a JSON array of ``{"text", "entities": [{"start_idx", "end_idx", "type", "entity"}]}``.

* One Document per item, id ``<file stem>:<n>`` (1-based: ``CMeEE_dev:1``), ``sentences`` =
  the whole text. ``end_idx`` is inclusive: an entity is ``text[start_idx:end_idx + 1]``,
  and its ``entity`` string must be exactly that (E202 naming the file, the item's line
  and index). Nested and overlapping entities are kept, in file order.
* An item without an ``entities`` key (the official unlabelled test file) gives a
  Document with ``metadata["unlabelled"] = True``; other item keys are kept in
  ``metadata["cblue_extra"]`` and other entity keys (string values) in ``attrs``.
* The writer writes the same layout (``indent=2``, ``ensure_ascii=False``, no final
  newline), so the CMeEE files are re-written byte for byte. Document ids are not stored
  (W306 when one is not the positional ``<stem>:<n>``), nor scores, sources, ids,
  passages or a segmentation other than the one sentence; a discontinuous entity is
  written as its covering span (W302).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import file_stem
from bioner.io._common import (
    SURROGATE_HINT,
    PathLike,
    atomic_write,
    describe_lost,
    ensure_report,
    lone_surrogate,
    lost_parts,
    read_text,
    surrogate_escapes,
)

_KEYS = ("start_idx", "end_idx", "type", "entity")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_LAYOUT_HINT = 'expected [{"text": ..., "entities": [{"start_idx", "end_idx", "type", "entity"}]}, ...]'


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False) -> Iterator[Document]:
    report = ensure_report(report, skip_invalid)
    path = Path(path)
    for n, line, item in _items(read_text(path), path, report):
        where = f"item {n} (line {line})"
        try:
            doc = _document(item, f"{file_stem(path)}:{n}", where, path, line, report)
        except (ValueError, TypeError) as exc:
            report.error(BionerError("E201", f"{where}: {exc}", file=path, line=line, hint=_LAYOUT_HINT))
            continue
        yield doc


def _items(text: str, path: Path, report: Report) -> Iterator[tuple[int, int, Any]]:
    """(1-based index, line, value) of each element of the top-level array, decoded one by one."""
    pos = _skip_ws(text, 0)
    if text[pos : pos + 1] != "[":
        report.error(BionerError("E208", "expected a JSON array at the top", file=path, line=text.count("\n", 0, pos) + 1, hint=_LAYOUT_HINT))
        return
    pos = _skip_ws(text, pos + 1)
    line, counted, n = 1, 0, 0
    while text[pos : pos + 1] != "]":
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            report.error(BionerError("E208", f"invalid JSON at column {exc.colno}: {exc.msg}", file=path, line=exc.lineno))
            return  # no way to find the next item reliably
        except RecursionError:  # json's decoder recurses once per nesting level
            report.error(BionerError("E208", "invalid JSON: nested too deeply", file=path, line=text.count("\n", 0, pos) + 1))
            return
        line += text.count("\n", counted, pos)
        counted, n = pos, n + 1
        if surrogate_escapes(text, pos, end) and lone_surrogate(value):
            report.error(BionerError("E204", f"item {n}: a string holds a lone surrogate escape", file=path, line=line, hint=SURROGATE_HINT))
        else:
            yield n, line, value
        pos = _skip_ws(text, end)
        if text[pos : pos + 1] == ",":
            pos = _skip_ws(text, pos + 1)
        elif text[pos : pos + 1] != "]":
            report.error(BionerError("E208", "expected ',' or ']' after an array element", file=path, line=text.count("\n", 0, pos) + 1))
            return
    if text[pos + 1 :].strip():
        report.error(BionerError("E208", "unexpected content after the array", file=path, line=text.count("\n", 0, pos) + 1))


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]  # [ \t\n\r]* always matches


def _document(item: Any, doc_id: str, where: str, path: Path, line: int, report: Report) -> Document:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise TypeError("expected an object with a string 'text'")
    text = item["text"]
    meta: dict[str, Any] = {}
    if "entities" not in item:
        meta["unlabelled"] = True
    extra = {k: v for k, v in item.items() if k not in ("text", "entities")}
    if extra:
        meta["cblue_extra"] = extra
    raw = item.get("entities", [])
    if not isinstance(raw, list):
        raise TypeError("'entities' must be a list")
    ents = []
    for k, e in enumerate(raw):
        try:
            ents.append(_entity(e, text))
        except (ValueError, TypeError) as exc:
            report.error(BionerError("E201", f"{where} entities[{k}]: {exc}", file=path, line=line, hint=_LAYOUT_HINT))
        except BionerError as exc:
            report.error(BionerError(exc.code, f"{where} entities[{k}]: {exc.message}", file=path, line=line))
    return Document(doc_id, text, ents, sentences=[(0, len(text))], metadata=meta)


def _entity(e: Any, text: str) -> Entity:
    if not isinstance(e, dict) or type(e.get("start_idx")) is not int or type(e.get("end_idx")) is not int or not isinstance(e.get("type"), str):
        raise TypeError("needs integer 'start_idx', 'end_idx' and a string 'type'")
    start, end = e["start_idx"], e["end_idx"] + 1  # end_idx is inclusive
    if not 0 <= start < end <= len(text):
        raise BionerError("E202", f"start_idx {start} / end_idx {end - 1} (inclusive) outside the text (length {len(text)})")
    if "entity" in e and e["entity"] != text[start:end]:
        raise BionerError("E202", f"start_idx {start} / end_idx {end - 1} cover {text[start:end]!r}, 'entity' says {e['entity']!r}")
    attrs = {k: v for k, v in e.items() if k not in _KEYS}
    if not all(isinstance(v, str) for v in attrs.values()):
        raise TypeError(f"extra entity keys must hold strings: {sorted(attrs)}")
    return Entity(start, end, e["type"], attrs=attrs)


def write(docs: Iterable[Document], path: PathLike, *, report: Report | None = None) -> None:
    report = ensure_report(report)
    path = Path(path)
    items = [_item(doc, n, file_stem(path), path, report) for n, doc in enumerate(docs, 1)]
    with atomic_write(path) as fh:
        fh.write(json.dumps(items, ensure_ascii=False, indent=2))


def _item(doc: Document, n: int, stem: str, path: Path, report: Report) -> dict[str, Any]:
    item: dict[str, Any] = {"text": doc.text}
    if doc.entities or not doc.metadata.get("unlabelled"):
        item["entities"] = [_entity_dict(doc, e, path, report) for e in doc.entities]
    item.update(doc.metadata.get("cblue_extra", {}))
    keep = {"attrs." + k for e in doc.entities for k in e.attrs if k not in _KEYS} | {"metadata.unlabelled", "metadata.cblue_extra"}
    if doc.sentences in (None, [(0, len(doc.text))]):
        keep.add("sentences")
    lost = lost_parts(doc, keep)
    if doc.id != f"{stem}:{n}":
        lost["document id"] += 1  # ids are positional in this format
    if lost:
        report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=path)
    return item


def _entity_dict(doc: Document, e: Entity, path: Path, report: Report) -> dict[str, Any]:
    if e.discontinuous:
        report.warn("W302", f"document {doc.id!r}: discontinuous {e.label!r} {list(e.fragments)} written as {e.start}..{e.end}", file=path)
    out: dict[str, Any] = {"start_idx": e.start, "end_idx": e.end - 1, "type": e.label, "entity": doc.text[e.start : e.end]}
    out.update((k, v) for k, v in e.attrs.items() if k not in _KEYS)
    return out


__all__ = ["read", "write"]
