"""brat standoff: ``<id>.txt`` (the text, exactly) beside ``<id>.ann`` (the annotations).

Reading (``read``: a directory of pairs sorted by name, or one ``.ann``/``.txt`` of a pair):

* The document id is the file stem; the text is the ``.txt`` content, strict UTF-8, unchanged.
* ``T<n><TAB><type> <start> <end>[;<start> <end>...]<TAB><text>`` becomes an Entity
  (several fragments: a discontinuous one). The text column must equal the fragments'
  texts joined by one space (brat's convention); a line break inside a fragment appears
  there as a space, since a line cannot hold it. The T id is kept in ``attrs["id"]``.
* ``N<n><TAB>Reference T<n> <db>:<id>[<TAB><name>]`` adds ``<db>:<id>`` to that entity's ``ids``.
* Every line that is not a T line (N, A/M attributes, R relations, E events, ``*``
  equivalences, ``#`` notes) is kept verbatim, in file order, in
  ``doc.metadata["brat_lines"]``, and written back.
* A malformed line is E201, a text column or offset that does not match the text E202
  (E101/E102 for empty or disordered fragments), a reference to an id no line defines
  E206 — each naming the file and line.

Writing (``write``: one ``<id>.txt`` + ``<id>.ann`` pair per document, each written atomically):

* Entities keep their ``attrs["id"]``; entities without one (or with a clashing one) get
  fresh T numbers above every T id in use, so kept lines never point at a new entity.
* Each T line is followed by its N lines: the kept N lines whose id the entity still has,
  then new ``N<k><TAB>Reference T<n> <id>`` lines for ids no kept line carries. The other
  kept lines follow all T/N lines in their original order. A kept line that refers to an
  entity that is not written (removed, or an id no longer on it) is dropped (W320).
  Files laid out like that (S800, JNLPBA) are re-written byte for byte.
* Scores, sources, other attributes, passages and segmentation cannot be written (W306).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, atomic_write, describe_lost, ensure_report, iter_lines, lost_parts

_T_SYNTAX = "T<n><TAB><type> <start> <end>[;<start> <end>...]<TAB><text>"
_OFFSETS = re.compile(r"\d+ \d+(?:;\d+ \d+)*", re.ASCII)
_T_ID = re.compile(r"T(\d+)", re.ASCII)
_N_ID = re.compile(r"N(\d+)", re.ASCII)
_BAD_NAME = re.compile(r"[/\\\x00]")
_KEPT_META = ("metadata.brat_lines",)
_KEPT_ATTRS = ("ids", "attrs.id")


@dataclass(frozen=True)
class _Line:
    """A non-T line: its own id (None for ``*``), the ids it refers to, and for N lines the concept id."""

    raw: str
    ident: str | None
    refs: tuple[str, ...]
    norm: str | None = None  # the <db>:<id> of an N line


# ---------------------------------------------------------------- reading


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False) -> Iterator[Document]:
    """Documents from a directory of ``.txt``/``.ann`` pairs (sorted by name) or from one pair."""
    report = ensure_report(report, skip_invalid)
    try:
        pairs = _pairs(Path(path))
    except BionerError as exc:
        report.error(exc)
        return
    for ann, txt in pairs:
        doc = _read_pair(ann, txt, report)
        if doc is not None:
            yield doc


def _pairs(p: Path) -> list[tuple[Path, Path]]:
    if p.is_dir():
        anns = sorted(p.glob("*.ann"))
        if not anns:
            raise BionerError("E210", "no .ann file in this directory", file=p, hint="expected brat <id>.txt + <id>.ann pairs")
        return [(a, a.with_suffix(".txt")) for a in anns]
    if p.suffix in (".ann", ".txt"):
        return [(p.with_suffix(".ann"), p.with_suffix(".txt"))]
    if not p.exists():
        raise BionerError("E210", "file not found", file=p)
    raise BionerError("E207", "expected a directory of brat files, or a .ann or .txt file of a pair", file=p)


def read_exact(path: Path) -> str:
    """The file's text exactly (strict UTF-8; a BOM is kept, since brat offsets count it)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BionerError("E210", "file not found", file=path, hint="every .ann needs its .txt beside it") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BionerError("E204", f"invalid UTF-8 byte {data[exc.start:exc.start + 1]!r} at byte {exc.start}", file=path, line=line) from None


def _read_pair(ann: Path, txt: Path, report: Report) -> Document | None:
    try:
        text = read_exact(txt)
        lines = list(iter_lines(ann, allow_empty=True))
    except BionerError as exc:
        report.error(exc)
        return None
    ents: dict[str, Entity] = {}
    others: list[_Line] = []
    defined: dict[str, int] = {}
    line_of: dict[int, int] = {}  # index in others -> line number
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            if line.startswith("T"):
                tid, ent = _parse_t(line, text, ann)
                _define(defined, tid, lineno)
                ents[tid] = ent
            else:
                item = _parse_other(line)
                if item.ident is not None:
                    _define(defined, item.ident, lineno)
                line_of[len(others)] = lineno
                others.append(item)
        except BionerError as exc:
            report.error(BionerError(exc.code, exc.message, file=ann, line=lineno, hint=exc.hint))
    kept = _resolve_refs(others, set(ents), ann, line_of, report)
    for item in kept:
        if item.norm is not None and item.refs[0] in ents:
            tid = item.refs[0]
            ents[tid] = ents[tid].with_(ids=ents[tid].ids + (item.norm,))
    meta = {"brat_lines": [item.raw for item in kept]} if kept else {}
    return Document(id=ann.stem, text=text, entities=list(ents.values()), metadata=meta)


def _define(defined: dict[str, int], ident: str, lineno: int) -> None:
    if ident in defined:
        raise BionerError("E201", f"id {ident!r} is already defined at line {defined[ident]}", hint="every annotation id must be unique in its file")
    defined[ident] = lineno


def _parse_t(line: str, text: str, ann: Path) -> tuple[str, Entity]:
    fields = line.split("\t", 2)
    if len(fields) != 3:
        raise BionerError("E201", f"text-bound line has {len(fields)} tab-separated fields, expected 3", hint=f"expected {_T_SYNTAX}")
    tid, spec, column = fields
    label, _, offsets = spec.partition(" ")
    if not tid[1:] or not label or not _OFFSETS.fullmatch(offsets):
        raise BionerError("E201", f"cannot read {spec!r} as '<type> <start> <end>[;<start> <end>...]'", hint=f"expected {_T_SYNTAX}")
    frags = [(int(a), int(b)) for a, b in (part.split(" ") for part in offsets.split(";"))]
    for s, e in frags:
        if e > len(text):
            raise BionerError("E202", f"{tid}: offsets {s} {e} end past the text of {ann.with_suffix('.txt').name} (length {len(text)})")
    try:
        ent = Entity.from_fragments(frags, label, attrs={"id": tid})
    except BionerError as exc:
        raise BionerError(exc.code, f"{tid}: {exc.message}") from None
    covered = ent.text_in(text)  # fragments in text order, as the entity keeps them
    if column not in (covered, _column(covered)):
        raise BionerError("E202", f"{tid}: offsets {offsets} cover {covered!r}, the text column says {column!r}")
    return tid, ent


def _column(covered: str) -> str:
    # a line cannot hold a line break: brat's text column shows it as a space
    return covered.replace("\r", " ").replace("\n", " ")


def _parse_other(line: str) -> _Line:
    """Any line but T: its id and the ids it refers to (E201 when it has no recognisable shape)."""
    fields = line.split("\t")
    ident, args = fields[0], (fields[1].split(" ") if len(fields) > 1 else [])
    kind = ident[:1]
    if len(fields) < 2 or not args[0] or (kind != "*" and not ident[1:]):
        raise BionerError("E201", "expected <id><TAB><annotation> (N, A, M, R, E, * or # line)")
    if kind == "N":
        if len(args) != 3:
            raise BionerError("E201", "expected N<n><TAB>Reference <T id> <db>:<id>[<TAB><name>]")
        return _Line(line, ident, (args[1],), norm=args[2])
    if kind in ("A", "M") and len(args) in (2, 3):
        return _Line(line, ident, (args[1],))
    # R: <type> Arg1:<id> Arg2:<id>; E: <type>:<trigger id> <role>:<id> ...
    roles = args[1:] if kind == "R" else args
    if kind in ("R", "E") and roles and all(":" in a for a in roles):
        return _Line(line, ident, tuple(a.split(":", 1)[1] for a in roles))
    if kind == "*" and ident == "*" and len(args) >= 3:
        return _Line(line, None, tuple(args[1:]))
    if kind == "#" and len(args) >= 2:
        return _Line(line, ident, (args[1],))
    raise BionerError("E201", f"cannot read {fields[1]!r} as a {kind!r} annotation", hint="see https://brat.nlplab.org/standoff.html")


def _resolve_refs(others: list[_Line], known_t: set[str], ann: Path, line_of: dict[int, int], report: Report) -> list[_Line]:
    """The lines whose references all resolve; E206 for each one that does not (in cascade)."""
    ok = set(range(len(others)))
    while True:
        known = known_t | {others[i].ident for i in ok if others[i].ident}
        bad = [i for i in sorted(ok) if any(r not in known for r in others[i].refs)]
        if not bad:
            return [others[i] for i in sorted(ok)]
        for i in bad:
            missing = [r for r in others[i].refs if r not in known]
            report.error(BionerError("E206", f"dangling id: {', '.join(missing)} is not defined in this file", file=ann, line=line_of[i]))
            ok.discard(i)


# ---------------------------------------------------------------- writing


def write(docs: Iterable[Document], path_dir: PathLike, *, report: Report | None = None) -> None:
    """Write one ``<id>.txt`` + ``<id>.ann`` pair per document into ``path_dir`` (created if needed)."""
    report = ensure_report(report)
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for doc in docs:
        if not doc.id or doc.id in (".", "..") or _BAD_NAME.search(doc.id):
            report.error(BionerError("E305", f"document id {doc.id!r} cannot be used as a file name", file=out))
            continue
        if doc.id in seen:
            report.error(BionerError("E209", f"document id {doc.id!r} written twice: the second would overwrite the first", file=out))
            continue
        seen.add(doc.id)
        ann = out / f"{doc.id}.ann"
        lines = _ann_lines(doc, ann, report)
        with atomic_write(out / f"{doc.id}.txt") as fh:
            fh.write(doc.text)
        with atomic_write(ann) as fh:
            fh.write("".join(line + "\n" for line in lines))


def _ann_lines(doc: Document, ann: Path, report: Report) -> list[str]:
    raw_lines = doc.metadata.get("brat_lines", ())
    kept = [item for item in (_reparse(raw) for raw in raw_lines) if item is not None]
    tids = _assign_ids(doc.entities, kept)
    next_n = 1 + max((int(m.group(1)) for item in kept if item.ident and (m := _N_ID.fullmatch(item.ident))), default=0)
    # N lines on text-bound annotations go with their entity; any other line is written after
    norms: dict[str, list[_Line]] = defaultdict(list)
    generic: list[_Line] = []
    for item in kept:
        if item.norm is not None and _T_ID.fullmatch(item.refs[0]):
            norms[item.refs[0]].append(item)
        else:
            generic.append(item)
    out: list[str] = []
    written: set[str] = set()
    reused = 0  # kept lines written back
    for k, e in enumerate(doc.entities):
        t_line = _t_line(doc, e, tids[k], ann, report)
        if t_line is None:
            continue
        out.append(t_line)
        written.add(tids[k])
        wanted = list(e.ids)
        for item in norms.get(tids[k], []):
            if item.norm in wanted:  # a concept id the entity no longer has loses its line
                wanted.remove(item.norm)
                out.append(item.raw)
                written.add(item.ident or "")
                reused += 1
        for concept in wanted:
            if not concept or any(c.isspace() for c in concept):
                report.error(BionerError("E305", f"document {doc.id!r}: concept id {concept!r} is empty or contains whitespace", file=ann))
                continue
            out.append(f"N{next_n}\tReference {tids[k]} {concept}")
            next_n += 1
    good = _resolve_written(generic, written)
    out.extend(item.raw for item in good)
    dropped = len(raw_lines) - reused - len(good)
    if dropped:
        report.warn("W320", f"document {doc.id!r}: {dropped} annotation line(s) dropped: they refer to entities or ids that are not written", file=ann)
    lost = lost_parts(doc, _KEPT_ATTRS + _KEPT_META)
    if lost:
        report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=ann)
    return out


def _reparse(raw: object) -> _Line | None:
    if not isinstance(raw, str) or "\n" in raw or raw.startswith("T"):
        return None
    try:
        return _parse_other(raw)
    except BionerError:
        return None


def _assign_ids(ents: list[Entity], kept: list[_Line]) -> dict[int, str]:
    """T id per entity index: its own ``attrs["id"]`` when valid and unique, else a fresh number."""
    tids: dict[int, str] = {}
    for k, e in enumerate(ents):
        tid = e.attrs.get("id", "")
        if _T_ID.fullmatch(tid) and tid not in tids.values():
            tids[k] = tid
    # fresh numbers go above every T id in use, including those kept lines refer to
    used = set(tids.values()) | {r for item in kept for r in item.refs}
    fresh = 1 + max((int(m.group(1)) for r in used if (m := _T_ID.fullmatch(r))), default=0)
    for k in range(len(ents)):
        if k not in tids:
            tids[k] = f"T{fresh}"
            fresh += 1
    return tids


def _t_line(doc: Document, e: Entity, tid: str | None, ann: Path, report: Report) -> str | None:
    if not e.label or any(c.isspace() for c in e.label):
        report.error(BionerError("E304", f"document {doc.id!r}: label {e.label!r} is empty or contains whitespace; brat types cannot", file=ann))
        return None
    offsets = ";".join(f"{s} {t}" for s, t in e.parts)
    return f"{tid}\t{e.label} {offsets}\t{_column(e.text_in(doc.text))}"


def _resolve_written(items: list[_Line], written: set[str]) -> list[_Line]:
    """The kept lines whose references are all written (dropping in cascade)."""
    ok = list(items)
    while True:
        known = written | {item.ident for item in ok if item.ident}
        good = [item for item in ok if all(r in known for r in item.refs)]
        if len(good) == len(ok):
            return good
        ok = good


__all__ = ["read", "read_exact", "write"]
