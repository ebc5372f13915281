"""Shared helpers for readers and writers: strict UTF-8 reading, atomic writing."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from bioner.doc import Document
from bioner.errors import BionerError, Report

T = TypeVar("T")

PathLike = str | os.PathLike[str]


def read_text(path: PathLike, *, allow_empty: bool = False) -> str:
    """Read a whole file as UTF-8; E210 when missing, E204 naming the line of bad bytes, E205 when empty."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise BionerError("E210", "file not found", file=p) from None
    except IsADirectoryError:
        raise BionerError("E210", "expected a file, found a directory", file=p) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BionerError("E204", f"invalid UTF-8 byte {data[exc.start:exc.start + 1]!r} at byte {exc.start}", file=p, line=line, hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a BOM is an encoding mark, not content
    if not allow_empty and not text.strip():
        raise BionerError("E205", "file is empty", file=p, hint="expected at least one document")
    return text


def iter_lines(path: PathLike, *, allow_empty: bool = False) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline) for a UTF-8 text file, streamed.

    Only ``\\n`` (and ``\\r\\n``) end lines; other Unicode separators stay inside lines,
    because they can be part of document text.
    """
    p = Path(path)
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        raise BionerError("E210", "file not found", file=p) from None
    except IsADirectoryError:
        raise BionerError("E210", "expected a file, found a directory", file=p) from None
    seen_content = False
    with fh:
        for i, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BionerError("E204", f"invalid UTF-8 byte {raw[exc.start:exc.start + 1]!r} at column {exc.start + 1}", file=p, line=i, hint="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8") from None
            if i == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a BOM is an encoding mark, not content
            line = line[:-1] if line.endswith("\n") else line
            line = line[:-1] if line.endswith("\r") else line
            if not seen_content and line.strip():
                seen_content = True
            yield i, line
    if not seen_content and not allow_empty:
        raise BionerError("E205", "file is empty", file=p, hint="expected at least one document")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` (same file system, so ``os.replace`` is atomic), with
    the permissions a plain ``open`` would give: mkstemp's private 0600 would otherwise
    survive the rename and hide the output from other users."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w") -> Iterator[IO[str]]:
    """Write to a temporary file beside ``path`` and move it into place only on success."""
    p = Path(path)
    fd, tmp = temp_beside(p)
    try:
        with os.fdopen(fd, mode, encoding="utf-8", newline="\n") as fh:
            yield fh
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def ensure_report(report: Report | None, skip_invalid: bool = False) -> Report:
    return report if report is not None else Report(skip_invalid=skip_invalid)


def lost_parts(doc: Document, keep: Collection[str]) -> Counter[str]:
    """What a writer that holds only ``keep`` leaves out of ``doc``, counted for one W306 warning.

    ``keep`` names entity fields (``score``, ``source``, ``ids``, ``attrs.<key>``) and
    document fields (``passages``, ``sentences``, ``tokens``, ``metadata.<key>``).
    """
    lost: Counter[str] = Counter()
    for e in doc.entities:
        lost.update(f"entity {a}" for a in ("score", "source") if getattr(e, a) is not None and a not in keep)
        if e.ids and "ids" not in keep:
            lost["entity ids"] += 1
        lost.update(f"entity attr {k!r}" for k in e.attrs if f"attrs.{k}" not in keep)
    lost.update(name for name in ("passages", "sentences", "tokens") if getattr(doc, name) and name not in keep)
    lost.update(f"metadata {k!r}" for k in doc.metadata if f"metadata.{k}" not in keep)
    return lost


def describe_lost(lost: Counter[str]) -> str:
    """``Counter({"entity score": 3, "passages": 1})`` -> ``"entity score x3, passages"``."""
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in sorted(lost.items()))


class UniqueIds:
    """Makes document ids unique within one file: a repeated ``id`` becomes ``id#2``, ``id#3`` ...

    Compact enough for all of PubMed: numeric ids (PMIDs) are kept in a bitmap.
    """

    _BITMAP_LIMIT = 1 << 28  # PMIDs are < 50M today; larger numbers go to the set

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[str] = set()

    def _add(self, doc_id: str) -> bool:
        """Record ``doc_id``; False when it was already there."""
        if doc_id.isascii() and doc_id.isdigit() and doc_id[0] != "0" and int(doc_id) < self._BITMAP_LIMIT:
            byte, bit = divmod(int(doc_id), 8)
            if byte >= len(self._bits):
                self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))  # grow by doubling
            if self._bits[byte] >> bit & 1:
                return False
            self._bits[byte] |= 1 << bit
            return True
        if doc_id in self._other:
            return False
        self._other.add(doc_id)
        return True

    def unique(self, doc_id: str) -> str:
        """``doc_id`` the first time, then the first free ``doc_id#n`` (n >= 2)."""
        if self._add(doc_id):
            return doc_id
        n = 2
        while not self._add(f"{doc_id}#{n}"):
            n += 1
        return f"{doc_id}#{n}"


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE_HINT = "a \\uD800-\\uDFFF escape that is not half of a pair is no character (a string cut inside a UTF-16 pair)"


def surrogate_escapes(raw: str, start: int = 0, end: int | None = None) -> bool:
    """Does the JSON text ``raw[start:end]`` have a ``\\uD800``-``\\uDFFF`` escape? Only such an escape decodes to a surrogate."""
    return _SURROGATE_ESCAPE.search(raw, start, len(raw) if end is None else end) is not None


def lone_surrogate(value: Any) -> bool:
    """Does a decoded JSON value hold a lone surrogate (``"\\ud83d"`` alone)?

    Python decodes one into a str that no UTF-8 file can hold, so every writer would fail
    on it later. Costly: call it only when :func:`surrogate_escapes` found an escape.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def iter_json_lines(path: PathLike, report: Report, build: Callable[[Any], T], *, layout: str) -> Iterator[tuple[int, T]]:
    """(line number, ``build(record)``) for each non-blank line of a JSON-lines file.

    A line that is not JSON (E208), holds a lone surrogate (E204), or that ``build``
    rejects (TypeError/ValueError -> E201 pointing at ``layout``; BionerError keeps its
    code) goes to ``report`` with file and line; reading continues when it skips.
    """
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            if surrogate_escapes(line) and lone_surrogate(value):
                raise BionerError("E204", "a string holds a lone surrogate escape", hint=SURROGATE_HINT)
            record = build(value)
        except json.JSONDecodeError as exc:
            report.error(BionerError("E208", f"invalid JSON at column {exc.colno}: {exc.msg}", file=path, line=lineno))
        except RecursionError:  # json's decoder recurses once per nesting level
            report.error(BionerError("E208", "invalid JSON: nested too deeply", file=path, line=lineno))
        except (TypeError, ValueError) as exc:
            report.error(BionerError("E201", str(exc), file=path, line=lineno, hint=f"see {layout} for the record layout"))
        except BionerError as exc:
            report.error(BionerError(exc.code, exc.message, file=path, line=lineno, hint=exc.hint))
        else:
            yield lineno, record
