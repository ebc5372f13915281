"""bioner's own format: one JSON object per document per line, lossless.

``{"id", "text", "entities": [{"start", "end", "label", "score"?, "source"?, "ids"?,
"fragments"?, "attrs"?}], "passages"?, "sentences"?, "tokens"?, "metadata"?}``.
Optional keys are omitted when empty, and entity ``text`` is written for readers'
convenience and checked against the offsets when read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from bioner.doc import Document, Entity, Passage
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, atomic_write, ensure_report, iter_json_lines


def entity_to_dict(e: Entity, text: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"start": e.start, "end": e.end, "label": e.label}
    if text is not None:
        d["text"] = e.text_in(text)
    if e.score is not None:
        d["score"] = e.score
    if e.source is not None:
        d["source"] = e.source
    if e.ids:
        d["ids"] = list(e.ids)
    if e.fragments:
        d["fragments"] = [list(f) for f in e.fragments]
    if e.attrs:
        d["attrs"] = dict(e.attrs)
    return d


def doc_to_dict(doc: Document) -> dict[str, Any]:
    d: dict[str, Any] = {"id": doc.id, "text": doc.text, "entities": [entity_to_dict(e, doc.text) for e in doc.entities]}
    if doc.passages:
        d["passages"] = [{"start": p.start, "end": p.end, "type": p.type, **({"infons": dict(p.infons)} if p.infons else {})} for p in doc.passages]
    if doc.sentences is not None:
        d["sentences"] = [list(s) for s in doc.sentences]
    if doc.tokens is not None:
        d["tokens"] = [list(t) for t in doc.tokens]
    if doc.metadata:
        d["metadata"] = doc.metadata
    return d


def _pairs(v: Any, what: str) -> list[tuple[int, int]]:
    if not isinstance(v, list) or not all(isinstance(x, list) and len(x) == 2 and all(type(i) is int for i in x) for x in v):
        raise ValueError(f"{what!r} must be a list of [start, end] integer pairs")
    return [(x[0], x[1]) for x in v]


def _typed(v: Any, typ: type, what: str) -> Any:
    """``v`` when it is a ``typ`` (list or dict), else ValueError naming the field."""
    if not isinstance(v, typ):
        raise ValueError(f"{what!r} must be a JSON {'array' if typ is list else 'object'}")
    return v


def doc_from_dict(d: Any) -> Document:
    """Build a Document from its dict; raises ValueError/BionerError naming the bad field."""
    if not isinstance(d, dict):
        raise ValueError("expected a JSON object per line")
    for key, typ in (("id", str), ("text", str)):
        if not isinstance(d.get(key), typ):
            raise ValueError(f"field {key!r} must be a string")
    ents = []
    for k, e in enumerate(_typed(d.get("entities", []), list, "entities")):
        if not isinstance(e, dict) or type(e.get("start")) is not int or type(e.get("end")) is not int or not isinstance(e.get("label"), str):
            raise ValueError(f"entities[{k}] needs integer 'start', 'end' and string 'label'")
        frags = tuple(_pairs(e["fragments"], f"entities[{k}].fragments")) if "fragments" in e else ()
        score = e.get("score")
        if score is not None and not isinstance(score, (int, float)):
            raise ValueError(f"entities[{k}].score must be a number")
        if e.get("source") is not None and not isinstance(e["source"], str):
            raise ValueError(f"entities[{k}].source must be a string")
        ent = Entity(
            e["start"], e["end"], e["label"],
            score=float(score) if score is not None else None,
            source=e.get("source"),
            ids=tuple(str(i) for i in _typed(e.get("ids", []), list, f"entities[{k}].ids")),
            fragments=frags,
            attrs={str(a): str(b) for a, b in _typed(e.get("attrs", {}), dict, f"entities[{k}].attrs").items()},
        )
        if ent.end > len(d["text"]):
            raise BionerError("E101", f"entities[{k}] at {ent.start}..{ent.end} ends past the text (length {len(d['text'])})")
        if "text" in e and ent.text_in(d["text"]) != e["text"]:
            raise BionerError("E202", f"entities[{k}] offsets {ent.start}..{ent.end} cover {ent.text_in(d['text'])!r} but its 'text' is {e['text']!r}")
        ents.append(ent)
    passages = []
    for k, p in enumerate(_typed(d.get("passages", []), list, "passages")):
        if not isinstance(p, dict) or type(p.get("start")) is not int or type(p.get("end")) is not int:
            raise ValueError(f"passages[{k}] needs integer 'start' and 'end'")
        infons = _typed(p.get("infons", {}), dict, f"passages[{k}].infons")
        passages.append(Passage(p["start"], p["end"], str(p.get("type", "")), {str(a): str(b) for a, b in infons.items()}))
    meta = d.get("metadata", {})
    if not isinstance(meta, dict):
        raise ValueError("'metadata' must be an object")
    return Document(
        id=d["id"],
        text=d["text"],
        entities=ents,
        passages=passages,
        sentences=_pairs(d["sentences"], "sentences") if "sentences" in d else None,
        tokens=_pairs(d["tokens"], "tokens") if "tokens" in d else None,
        metadata=meta,
    )


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False) -> Iterator[Document]:
    report = ensure_report(report, skip_invalid)
    for _, doc in iter_json_lines(path, report, doc_from_dict, layout="bioner.io.jsonl"):
        yield doc


def write(docs: Iterable[Document], path: PathLike, *, report: Report | None = None) -> None:
    with atomic_write(path) as fh:
        for doc in docs:
            fh.write(json.dumps(doc_to_dict(doc), ensure_ascii=False) + "\n")
