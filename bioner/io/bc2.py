"""BioCreative II Gene Mention (BC2GM) original format: ``*.in`` + ``GENE.eval`` + ``ALTGENE.eval``.

* ``*.in``: ``<sentence-id> <sentence>`` per line. One Document per sentence: id = the
  sentence id, text = everything after the first space, exactly; ``sentences`` = the
  whole text.
* ``GENE.eval``: ``<sentence-id>|<start> <end>|<mention>``. Offsets count NON-whitespace
  characters (``str.isspace``) before the mention (start) and up to and including its
  last character (end, inclusive), so ``start``/``end`` index the sentence with its
  whitespace removed. They become character offsets (end-exclusive), entity label
  ``GENE``; the mention text must be what they cover (E202 naming the file and line).
  The mention column is optional (as in system output files).
* ``ALTGENE.eval`` (same format): alternative boundaries the official scorer also accepts.
  They go to ``doc.metadata["altgene"]`` as ``[start, end]`` character offsets (end-
  exclusive), in file order. An alternative belongs to every GENE entity it overlaps
  (the rule of the official scorer): ``alternatives(doc, entity)``.
* By default both .eval files are looked for beside the .in file; without a GENE.eval
  the sentences are unlabelled.

``write`` writes the .in, GENE.eval and ALTGENE.eval (beside it by default) back in this
layout, in document order. Labels, scores, ids and other fields are not written (W306);
an entity or alternative that starts or ends on whitespace cannot be expressed in
non-whitespace offsets (E305).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bioner.doc import Document, Entity, Offsets
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, atomic_write, describe_lost, ensure_report, iter_lines, lost_parts

LABEL = "GENE"
_EVAL_SYNTAX = "expected <sentence-id>|<start> <end>|<mention>"


@dataclass(frozen=True)
class _Mention:
    file: Path
    line: int
    start: int  # non-whitespace index of the first character
    last: int  # non-whitespace index of the last character (inclusive)
    text: str | None


def read(
    path: PathLike,
    *,
    gene_eval: PathLike | None = None,
    altgene_eval: PathLike | None = None,
    report: Report | None = None,
    skip_invalid: bool = False,
) -> Iterator[Document]:
    """Sentences of a BC2GM ``.in`` file with their GENE mentions and ALTGENE alternatives."""
    report = ensure_report(report, skip_invalid)
    p = Path(path)
    try:
        sentences = _read_in(p, report)
        genes = _read_eval(Path(gene_eval) if gene_eval is not None else p.parent / "GENE.eval", gene_eval is not None, report)
        alts = _read_eval(Path(altgene_eval) if altgene_eval is not None else p.parent / "ALTGENE.eval", altgene_eval is not None, report)
    except BionerError as exc:
        report.error(exc)
        return
    known = {sid for sid, _ in sentences}
    for table in (genes, alts):
        for sid in [s for s in table if s not in known]:
            for m in table.pop(sid):
                report.error(BionerError("E206", f"dangling id: sentence {sid!r} is not in {p.name}", file=m.file, line=m.line))
    for sid, text in sentences:
        yield _document(sid, text, genes.get(sid, []), alts.get(sid, []), report)


def _read_in(p: Path, report: Report) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for lineno, line in iter_lines(p):
        if not line.strip():
            continue
        sid, sep, text = line.partition(" ")
        if not sep or not sid:
            report.error(BionerError("E201", "expected <sentence-id> <sentence>", file=p, line=lineno))
            continue
        if sid in seen:
            report.error(BionerError("E209", f"sentence id {sid!r} occurs twice", file=p, line=lineno))
            continue
        seen.add(sid)
        out.append((sid, text))
    return out


def _read_eval(p: Path, explicit: bool, report: Report) -> dict[str, list[_Mention]]:
    """Mentions per sentence id, in file order; a missing default file means no annotations."""
    table: dict[str, list[_Mention]] = defaultdict(list)
    if not explicit and not p.exists():
        return table
    for lineno, line in iter_lines(p, allow_empty=True):
        if not line.strip():
            continue
        fields = line.split("|", 2)
        offsets = fields[1].split(" ") if len(fields) > 1 else []
        if len(fields) < 2 or not fields[0] or len(offsets) != 2 or not all(o.isdigit() and o.isascii() for o in offsets):
            report.error(BionerError("E201", f"cannot read {line!r}", file=p, line=lineno, hint=_EVAL_SYNTAX))
            continue
        table[fields[0]].append(_Mention(p, lineno, int(offsets[0]), int(offsets[1]), fields[2] if len(fields) > 2 else None))
    return table


def _document(sid: str, text: str, genes: list[_Mention], alts: list[_Mention], report: Report) -> Document:
    chars = [i for i, c in enumerate(text) if not c.isspace()]  # non-whitespace index -> character offset
    ents = [Entity(s, e, LABEL) for s, e in _spans(sid, text, chars, genes, report)]
    meta = {"altgene": [[s, e] for s, e in _spans(sid, text, chars, alts, report)]}
    return Document(sid, text, ents, sentences=[(0, len(text))], metadata=meta if meta["altgene"] else {})


def _spans(sid: str, text: str, chars: list[int], mentions: list[_Mention], report: Report) -> Iterator[Offsets]:
    for m in mentions:
        if not m.start <= m.last < len(chars):
            report.error(BionerError("E202", f"sentence {sid!r}: offsets {m.start} {m.last} are not a start <= end within its {len(chars)} non-whitespace characters", file=m.file, line=m.line))
            continue
        start, end = chars[m.start], chars[m.last] + 1
        if m.text is not None and text[start:end] != m.text:
            report.error(BionerError("E202", f"sentence {sid!r}: offsets {m.start} {m.last} cover {text[start:end]!r}, the file says {m.text!r}", file=m.file, line=m.line))
            continue
        yield start, end


def alternatives(doc: Document, entity: Entity) -> list[Offsets]:
    """The ALTGENE alternatives of a GENE entity: those overlapping it (the official scorer's rule)."""
    return [(s, e) for s, e in doc.metadata.get("altgene", ()) if s < entity.end and entity.start < e]


# ---------------------------------------------------------------- writing


def write(
    docs: Iterable[Document],
    path: PathLike,
    *,
    gene_eval: PathLike | None = None,
    altgene_eval: PathLike | None = None,
    report: Report | None = None,
) -> None:
    """Write the ``.in`` file at ``path`` and GENE.eval / ALTGENE.eval (beside it by default)."""
    report = ensure_report(report)
    p = Path(path)
    gene_path = Path(gene_eval) if gene_eval is not None else p.parent / "GENE.eval"
    alt_path = Path(altgene_eval) if altgene_eval is not None else p.parent / "ALTGENE.eval"
    in_lines: list[str] = []
    gene_lines: list[str] = []
    alt_lines: list[str] = []
    seen: set[str] = set()
    for doc in docs:
        if not doc.id or any(c.isspace() or c == "|" for c in doc.id) or "\n" in doc.text or "\r" in doc.text:
            report.error(BionerError("E305", f"document {doc.id!r}: the id must be non-empty without whitespace or '|', the text one line", file=p))
            continue
        if doc.id in seen:  # the reader rejects a repeated sentence id (E209)
            report.error(BionerError("E209", f"document id {doc.id!r} written twice: sentence ids must be unique", file=p))
            continue
        seen.add(doc.id)
        in_lines.append(f"{doc.id} {doc.text}")
        nonws = _nonws_index(doc.text)
        for e in doc.entities:
            if e.discontinuous:
                report.warn("W302", f"document {doc.id!r}: discontinuous {e.label!r} {list(e.fragments)} written as {e.start}..{e.end}", file=gene_path)
            gene_lines.extend(_eval_line(doc, e.start, e.end, nonws, gene_path, report))
        for s, e in doc.metadata.get("altgene", ()):
            alt_lines.extend(_eval_line(doc, s, e, nonws, alt_path, report))
        _warn_lost(doc, gene_path, report)
    for target, lines in ((p, in_lines), (gene_path, gene_lines), (alt_path, alt_lines)):
        with atomic_write(target) as fh:
            fh.write("".join(line + "\n" for line in lines))


def _nonws_index(text: str) -> list[int]:
    """For each character offset, the number of non-whitespace characters before it."""
    out, n = [], 0
    for c in text:
        out.append(n)
        n += not c.isspace()
    out.append(n)
    return out


def _eval_line(doc: Document, start: int, end: int, nonws: list[int], file: Path, report: Report) -> list[str]:
    text = doc.text
    if not 0 <= start < end <= len(text) or text[start].isspace() or text[end - 1].isspace():
        report.error(BionerError("E305", f"document {doc.id!r}: span {start}..{end} {text[start:end]!r} starts or ends on whitespace (or lies outside the text): BC2 offsets cannot express it", file=file))
        return []
    return [f"{doc.id}|{nonws[start]} {nonws[end] - 1}|{text[start:end]}"]


def _warn_lost(doc: Document, file: Path, report: Report) -> None:
    keep = {"metadata.altgene"} | ({"sentences"} if doc.sentences in (None, [(0, len(doc.text))]) else set())
    lost = lost_parts(doc, keep)
    labels = sum(1 for e in doc.entities if e.label != LABEL)
    if labels:
        lost["entity label other than GENE"] += labels
    if lost:
        report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=file)


__all__ = ["LABEL", "alternatives", "read", "write"]
