"""Plain text: the whole file is one document, without annotations.

The document id is the file name without ``.txt``; the text is the file's content,
strict UTF-8 and unchanged (a leading byte-order mark is an encoding mark and is
dropped, as every reader does). Read-only: a text file holds no annotations to write.

Not in ``bioner.io.FORMATS`` (yet): ``.txt`` is shared with PubTator, brat and CoNLL
files, and detection must keep refusing prose it cannot place (E207). ``bioner extract``
reads a ``.txt`` file that detection cannot place with this reader, or any file when
asked with ``--from txt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bioner.doc import Document
from bioner.errors import Report
from bioner.io._common import PathLike, ensure_report, read_text

NAME = "txt"
EXTENSIONS = (".txt",)


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False, doc_id: str | None = None) -> Iterator[Document]:
    """One Document: id ``doc_id`` (default: the file stem), text the whole file.

    Missing (E210), invalid UTF-8 (E204) and empty (E205) files raise even with
    ``skip_invalid``: they are about the whole input, not one record of it.
    """
    ensure_report(report, skip_invalid)  # the same signature as every reader; nothing to count here
    p = Path(path)
    yield Document(doc_id if doc_id is not None else p.stem, read_text(p))


__all__ = ["EXTENSIONS", "NAME", "read"]
