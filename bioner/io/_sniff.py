"""Guess a file's format from its first few KB, for suffixes that do not say (.txt, .xml, .json, .tsv).

Only the head of the file is read, so sniffing a 100 MB corpus costs the same as a
tiny one. Each test looks for what only that format writes at its start; when none
fits, :func:`sniff` returns None and the caller falls back to the extension or asks
the user to name the format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

HEAD_BYTES = 16 * 1024

_PUBTATOR = re.compile(r"^\d+\|[ta]\|")
_BRAT = re.compile(r"^T\d+\t")
_BIOC_XML = re.compile(r"<collection[\s>]|<!DOCTYPE\s+collection", re.IGNORECASE)
_GENIA_ROOT = re.compile(r"<set[\s>]|<article[\s>]")
_GENIA_CONS = re.compile(r"<cons[\s>]")
_TAG = re.compile(r"^(?:O|[BIESUL]-\S+)$")  # BILOU U-/L- are read as BIOES S-/E-
_BIOES_ONLY = re.compile(r"^[ESUL]-")
_JSON_KEY = r'"{}"\s*:'


def _head(path: Path, size: int = HEAD_BYTES) -> tuple[str, bool]:
    """The first ``size`` bytes as text, and whether that is the whole file."""
    with path.open("rb") as fh:
        data = fh.read(size + 1)
    complete = len(data) <= size
    text = data[:size].decode("utf-8", errors="ignore")  # a cut multi-byte char at the end is harmless here
    return text.lstrip("\ufeff"), complete


def _lines(head: str, complete: bool) -> list[str]:
    """Whole lines of the head: the last one is dropped when the head cut it short."""
    lines = head.splitlines()
    if not complete and lines and not head.endswith("\n"):
        lines.pop()
    return lines


def _first_content(lines: list[str]) -> str | None:
    return next((ln for ln in lines if ln.strip()), None)


def _has_keys(text: str, *keys: str) -> bool:
    return all(re.search(_JSON_KEY.format(k), text) for k in keys)


def _json_line_format(obj: Any) -> str | None:
    """Format of one JSON value that holds a whole record (a JSON-lines line or a whole small file)."""
    if isinstance(obj, dict):
        if "tokens" in obj and "entity_mentions" in obj:
            return "nested-jsonl"
        if "documents" in obj and "source" in obj:
            return "bioc-json"
        if "id" in obj and "text" in obj:
            return "jsonl"
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        first = obj[0]
        if "tokenized_text" in first and "ner" in first:
            return "gliner"
        if "text" in first and ("entities" not in first or _cblue_entities(first["entities"])):
            return "cblue"
    return None


def _cblue_entities(ents: Any) -> bool:
    return isinstance(ents, list) and (not ents or (isinstance(ents[0], dict) and "start_idx" in ents[0]))


def _sniff_json(head: str, complete: bool) -> str | None:
    stripped = head.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    if complete:
        try:
            return _json_line_format(json.loads(stripped))
        except (json.JSONDecodeError, RecursionError):
            pass  # JSON lines, or broken JSON: look at the first line below
    lines = _lines(head, complete)
    first = _first_content(lines)
    if first is not None:
        try:
            found = _json_line_format(json.loads(first))
        except (json.JSONDecodeError, RecursionError):
            found = None
        if found:
            return found
    return _sniff_json_prefix(stripped)


def _sniff_json_prefix(text: str) -> str | None:
    """A large or pretty-printed JSON document: look at the keys its head shows."""
    if text.startswith("["):
        body = text[1:].lstrip()
        try:
            # the first element is often whole within the head: judge it as a one-element array
            first, _ = json.JSONDecoder().raw_decode(body)
            return _json_line_format([first])
        except (json.JSONDecodeError, RecursionError):
            pass
        if body.startswith("{"):
            if _has_keys(body, "tokenized_text", "ner"):
                return "gliner"
            if _has_keys(body, "text", "entities", "start_idx"):
                return "cblue"
        return None
    if _has_keys(text, "documents", "source"):
        return "bioc-json"
    if _has_keys(text, "tokens", "entity_mentions"):
        return "nested-jsonl"
    if _has_keys(text, "id", "text"):
        return "jsonl"
    return None


def _sniff_xml(head: str) -> str | None:
    if "<" not in head:
        return None
    if _BIOC_XML.search(head):
        return "bioc-xml"
    if _GENIA_ROOT.search(head) and _GENIA_CONS.search(head):
        return "genia-xml"
    return None


def _sniff_iob(lines: list[str]) -> str | None:
    """Column lines ending in a tag, the same number of columns on each (layered IOB and
    CoNLL POS/chunk columns allowed); any E-/S- tag means BIOES. Document markers are skipped.
    Every whole line of the head is checked, so a BIOES file shows an E-/S- tag in time."""
    seen = 0
    bioes = False
    width = 0
    layered = True  # every column after the token is a tag: one IOB layer per nesting level
    for line in lines:
        s = line.strip()
        if not s or s.startswith(("-DOCSTART-", "###")):
            continue
        cols = [c.strip() for c in (line.split("\t") if "\t" in line else s.split())]
        width = width or len(cols)
        if len(cols) < 2 or len(cols) != width or not _TAG.match(cols[-1]):
            return None
        bioes = bioes or any(_BIOES_ONLY.match(c) and _TAG.match(c) for c in cols[1:])
        layered = layered and all(_TAG.match(c) for c in cols[1:])
        seen += 1
    if not seen:
        return None
    if layered and width >= 3 and not bioes:
        return "iob-layered"
    return "bioes" if bioes else "iob"


def _sniff_lines(lines: list[str]) -> str | None:
    first = _first_content(lines)
    if first is None:
        return None
    if _PUBTATOR.match(first):
        return "pubtator"
    if _BRAT.match(first):
        return "brat"
    return _sniff_iob(lines)


def sniff(path: Path) -> str | None:
    """The name of ``path``'s format in ``bioner.io.FORMATS``, or None when its head fits none.

    Reads at most ``HEAD_BYTES`` bytes. A missing or unreadable file gives None, so
    the reader that follows reports the real problem (E210/E204) with its own message.
    """
    p = Path(path)
    try:
        head, complete = _head(p)
    except OSError:
        return None
    tests: list[Callable[[], str | None]] = [
        lambda: _sniff_json(head, complete),
        lambda: _sniff_xml(head),
        lambda: _sniff_lines(_lines(head, complete)),
    ]
    for test in tests:
        found = test()
        if found is not None:
            return found
    # a brat text file is plain text: recognise it by its annotation file beside it
    if p.suffix == ".txt" and p.with_suffix(".ann").is_file():
        return "brat"
    return None


__all__ = ["HEAD_BYTES", "sniff"]
