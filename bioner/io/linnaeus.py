"""LINNAEUS original format: full texts in ``txt/<doc>.txt`` and ``tags.tsv`` mentions.

``tags.tsv`` columns: species id, document, start, end, text, category code; offsets
are 0-based, end-exclusive, document-level. The species id becomes ``Entity.ids``, the
category code (misspelling, enumeration, modifier ...) ``attrs["code"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, ensure_report, iter_lines
from bioner.io.brat import read_exact


def read(
    path: PathLike,
    *,
    txt_dir: PathLike | None = None,
    doc_ids: Iterable[str] | None = None,
    label: str = "Species",
    report: Report | None = None,
    skip_invalid: bool = False,
) -> Iterator[Document]:
    """Read ``tags.tsv`` (``path``) with texts from ``txt_dir`` (default: ``txt/`` beside it).

    ``doc_ids`` restricts and orders the documents (a split list); documents without
    mentions are still returned.
    """
    report = ensure_report(report, skip_invalid)
    tags = Path(path)
    txt = Path(txt_dir) if txt_dir is not None else tags.parent / "txt"
    by_doc: dict[str, list[tuple[int, Entity, str]]] = {}
    for lineno, line in iter_lines(tags):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 5:
            report.error(BionerError("E201", f"expected 6 tab-separated columns (species id, document, start, end, text, code), found {len(cols)}", file=tags, line=lineno))
            continue
        try:
            start, end = int(cols[2]), int(cols[3])
            ent = Entity(start, end, label, ids=(cols[0],) if cols[0] else (), attrs={"code": cols[5]} if len(cols) > 5 and cols[5] else {})
        except ValueError:
            report.error(BionerError("E201", f"start/end must be integers, found {cols[2]!r} {cols[3]!r}", file=tags, line=lineno))
            continue
        except BionerError as exc:
            report.error(BionerError(exc.code, exc.message, file=tags, line=lineno))
            continue
        by_doc.setdefault(cols[1], []).append((lineno, ent, cols[4]))
    ids = list(doc_ids) if doc_ids is not None else sorted(by_doc)
    for doc_id in ids:
        try:
            # exactly as stored: the offsets count a leading BOM too (as in brat)
            text = read_exact(txt / f"{doc_id}.txt")
        except BionerError as exc:  # one document's text is missing or unreadable: skip that document
            report.error(exc)
            continue
        except (OSError, ValueError) as exc:  # a document column that is no file name (NUL byte, directory)
            report.error(BionerError("E210", f"cannot read the text of document {doc_id!r}: {exc}", file=txt))
            continue
        ents = []
        for lineno, ent, mention in by_doc.get(doc_id, []):
            if ent.end > len(text) or text[ent.start:ent.end] != mention:
                got = text[ent.start:ent.end] if ent.end <= len(text) else "<past the end of the text>"
                report.error(BionerError("E202", f"document {doc_id}: offsets {ent.start}..{ent.end} cover {got!r}, the file says {mention!r}", file=tags, line=lineno))
                continue
            ents.append(ent)
        doc = Document(doc_id, text, ents)
        doc.sort_entities()
        yield doc
