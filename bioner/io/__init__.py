"""Readers and writers for the file formats of the field, one module per format.

Every module exposes ``read(path, *, report=None, skip_invalid=False, **options)``
yielding Documents and/or ``write(docs, path, *, report=None, **options)``. This
package keeps the registry: names, file extensions, content sniffing, and the
``read``/``write`` entry points that dispatch on them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike


@dataclass(frozen=True)
class Format:
    name: str
    module: str  # module under bioner.io holding read()/write()
    extensions: tuple[str, ...]
    description: str
    can_read: bool = True
    can_write: bool = True
    nested: bool = True  # can the format represent nested/overlapping entities?
    # options passed to the module's read/write for this format name (e.g. scheme="bioes")
    options: tuple[tuple[str, Any], ...] = ()
    read_fn: str = "read"  # function names in the module, when one module holds several formats

    def _fn(self, name: str) -> Callable[..., Any]:
        return getattr(importlib.import_module(f"bioner.io.{self.module}"), name)  # type: ignore[no-any-return]

    def read(self, path: PathLike, **kw: Any) -> Iterator[Document]:
        if not self.can_read:
            raise BionerError("E207", f"format {self.name!r} can only be written", file=path)
        return self._fn(self.read_fn)(path, **{**dict(self.options), **kw})  # type: ignore[no-any-return]

    def write(self, docs: Iterable[Document], path: PathLike, **kw: Any) -> None:
        if not self.can_write:
            raise BionerError("E207", f"format {self.name!r} can only be read", file=path)
        self._fn("write")(docs, path, **{**dict(self.options), **kw})


FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format("jsonl", "jsonl", (".jsonl", ".ndjson"), "bioner's own lossless format, one document per line"),
        Format("iob", "iob", (".iob", ".iob2", ".bio", ".conll", ".tsv"), "IOB2 column file (token<TAB>tag)", nested=False, options=(("scheme", "iob2"),)),
        Format("bioes", "iob", (".bioes", ".iobes"), "BIOES column file (token<TAB>tag)", nested=False, options=(("scheme", "bioes"),)),
        Format("iob-layered", "iob", (".layered.iob2",), "layered nested IOB2 (token<TAB>layer1<TAB>layer2...)", can_write=False, read_fn="read_layered"),
        Format("pubtator", "pubtator", (".pubtator", ".pubtator.txt"), "PubTator (PMID|t|, PMID|a|, tab-separated mentions)"),
        Format("bioc-xml", "bioc", (".bioc.xml", ".xml"), "BioC XML", options=(("fmt", "xml"),)),
        Format("bioc-json", "bioc", (".bioc.json",), "BioC JSON", options=(("fmt", "json"),)),
        Format("brat", "brat", (".ann",), "brat standoff (.txt + .ann), a file pair or a directory"),
        Format("genia-xml", "genia", (".genia.xml",), "GENIA 3.02 term corpus XML (nested cons elements)", can_write=False),
        Format("nested-jsonl", "nested_jsonl", (".jsonlines",), "nested NER JSON lines (tokens + entity_mentions)"),
        Format("cblue", "cblue", (".cblue.json",), "CBLUE/CMeEE JSON (character offsets, inclusive end)"),
        Format("bc2", "bc2", (".in",), "BioCreative II GM: <id> <sentence> lines + GENE.eval/ALTGENE.eval beside them"),
        Format("gliner", "gliner", (".gliner.json",), "GLiNER training JSON (tokenized_text + word-index spans)"),
        Format("html", "html", (".html", ".htm"), "HTML page in displaCy's entity style, nested entities visible (write-only)", can_read=False),
    ]
}


def file_stem(path: PathLike) -> str:
    """The file name without its format extension, compound ones included.

    ``CMeEE_dev.cblue.json`` -> ``CMeEE_dev``; readers that make positional ids
    (``<stem>:<n>``) and writers that check them use this, so ids survive a round trip.
    """
    name = Path(path).name
    lower = name.lower()
    exts = sorted((e for f in FORMATS.values() for e in f.extensions if lower.endswith(e) and len(e) < len(name)), key=len, reverse=True)
    return name[: -len(exts[0])] if exts else Path(path).stem


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise BionerError("E207", f"unknown format {name!r}", hint=f"choose one of: {', '.join(FORMATS)}") from None


def detect_format(path: PathLike) -> Format:
    """Guess the format from the path's extension, then from its first bytes.

    Compound extensions (``.bioc.xml``) win over plain ones (``.xml``); a directory is brat.
    Ambiguous suffixes (.json, .xml, .txt, .tsv) are settled by looking at the content.
    """
    from bioner.io._sniff import sniff

    p = Path(path)
    if p.is_dir():
        return FORMATS["brat"]
    name = p.name.lower()
    by_ext = sorted(
        ((ext, f) for f in FORMATS.values() for ext in f.extensions if name.endswith(ext)),
        key=lambda x: -len(x[0]),
    )
    # suffixes shared by several formats (or by the IOB family): the content decides
    ambiguous = {".xml", ".json", ".txt", ".tsv", ".iob", ".iob2", ".bio", ".conll"}
    if by_ext and by_ext[0][0] not in ambiguous:
        return by_ext[0][1]
    found = sniff(p)
    if found is not None:
        return FORMATS[found]
    if by_ext:
        return by_ext[0][1]
    raise BionerError("E207", "cannot tell the format from the file name or its content", file=p, hint=f"pass the format explicitly, one of: {', '.join(FORMATS)}")


def read(path: PathLike, format: str | None = None, *, report: Report | None = None, skip_invalid: bool = False, **options: Any) -> Iterator[Document]:
    """Read Documents from ``path``; ``format`` overrides detection."""
    fmt = get_format(format) if format else detect_format(path)
    return fmt.read(path, report=report, skip_invalid=skip_invalid, **options)


def write(docs: Iterable[Document], path: PathLike, format: str | None = None, *, report: Report | None = None, **options: Any) -> None:
    """Write Documents to ``path``; the format comes from ``format`` or the extension."""
    if format:
        fmt = get_format(format)
    else:
        name = Path(path).name.lower()
        matches = sorted(((ext, f) for f in FORMATS.values() for ext in f.extensions if name.endswith(ext)), key=lambda x: -len(x[0]))
        if not matches:
            raise BionerError("E207", "cannot tell the output format from the file name", file=path, hint=f"pass the format explicitly, one of: {', '.join(FORMATS)}")
        fmt = matches[0][1]
    fmt.write(docs, path, report=report, **options)


__all__ = ["FORMATS", "Format", "detect_format", "file_stem", "get_format", "read", "write"]
