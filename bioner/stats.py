"""Corpus statistics, and the one rule for naming a data source on the command line.

A *source* is either a path (a file in any readable format, or a brat directory) or
a registered corpus: ``ncbi-disease`` (all its splits) or ``ncbi-disease:test``. An
existing path always wins, so a file that happens to be called like a corpus is read
as a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioner import corpora
from bioner.doc import Corpus, Document
from bioner.errors import BionerError, Report

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class SourceRef:
    """What a source string names: a corpus (and maybe a split) or a path."""

    corpus: str | None = None
    split: str | None = None
    path: Path | None = None

    @property
    def is_corpus(self) -> bool:
        return self.corpus is not None

    def __str__(self) -> str:
        if self.corpus is not None:
            return f"{self.corpus}:{self.split}" if self.split else self.corpus
        return str(self.path)


def parse_source(source: PathLike) -> SourceRef:
    """Resolve ``source`` to an existing path or a registered corpus (``name`` or ``name:split``)."""
    text = os.fspath(source)
    path = Path(text)
    if path.exists():
        return SourceRef(path=path)
    name, sep, split = text.partition(":")
    if name in corpora.CORPORA:
        if sep and split not in corpora.CORPORA[name].splits:
            raise BionerError("E502", f"corpus {name!r} has no split {split!r}", hint=f"splits: {', '.join(corpora.CORPORA[name].splits)}")
        return SourceRef(corpus=name, split=split or None)
    if sep and os.sep not in name and "." not in name:
        # looks like corpus:split with a corpus name nobody registered
        raise BionerError("E501", f"unknown corpus {name!r}", hint=f"known corpora: {', '.join(corpora.CORPORA)}; or give an existing file")
    raise BionerError("E210", "file not found", file=path, hint=f"give a file, a directory, or a registered corpus such as {next(iter(corpora.CORPORA), 'ncbi-disease')}:test")


def default_skip_invalid(ref: SourceRef) -> bool:
    """Registered corpora skip (and count) the known quirks of their releases; files stop at the first bad record."""
    return ref.is_corpus


def read_source(
    source: PathLike | SourceRef,
    *,
    format: str | None = None,
    report: Report | None = None,
    skip_invalid: bool | None = None,
    root: PathLike | None = None,
) -> Iterable[Document]:
    """Documents of one source: a file or directory (streamed), or one split of a corpus.

    ``skip_invalid=None`` uses :func:`default_skip_invalid`; a given ``report`` keeps
    its own setting. A corpus without a split is an error here (E502), since the
    splits must not be mixed by accident.
    """
    ref = source if isinstance(source, SourceRef) else parse_source(source)
    skip = default_skip_invalid(ref) if skip_invalid is None else skip_invalid
    report = report if report is not None else Report(skip_invalid=skip)
    if ref.corpus is not None:
        if format:
            raise BionerError("E207", f"--format does not apply to the registered corpus {ref.corpus!r}", hint="the registry knows its files' formats")
        if ref.split is None:
            splits = corpora.get(ref.corpus).splits
            raise BionerError("E502", f"name a split of corpus {ref.corpus!r}", hint=f"e.g. {ref.corpus}:{splits[-1]} (splits: {', '.join(splits)})")
        return corpora.load(ref.corpus, ref.split, root=root, report=report)
    import bioner.io  # local: the io registry imports format modules lazily anyway

    assert ref.path is not None
    return bioner.io.read(ref.path, format, report=report, skip_invalid=report.skip_invalid)


@dataclass(frozen=True)
class StatsRow:
    """Statistics of one split of a corpus (or of one file)."""

    corpus: str
    split: str | None
    documents: int
    sentences: int
    tokens: int | None
    characters: int
    mentions: int
    by_type: dict[str, int]
    nested: int
    discontinuous: int
    skipped: int  # invalid records skipped while reading
    issues: dict[str, int] = field(default_factory=dict)  # every reader report count, by code

    def as_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus, "split": self.split, "documents": self.documents, "sentences": self.sentences,
            "tokens": self.tokens, "characters": self.characters, "mentions": self.mentions, "by_type": dict(self.by_type),
            "nested": self.nested, "discontinuous": self.discontinuous, "skipped": self.skipped, "issues": dict(self.issues),
        }


def _row(corpus: Corpus, name: str, split: str | None, report: Report) -> StatsRow:
    s = corpus.stats()
    return StatsRow(
        corpus=name, split=split, documents=s.documents, sentences=s.sentences, tokens=s.tokens, characters=s.characters,
        mentions=s.mentions, by_type=dict(s.by_type), nested=s.nested, discontinuous=s.discontinuous,
        skipped=report.skipped, issues=dict(sorted(report.counts.items())),
    )


def corpus_stats(
    source: PathLike,
    split: str | None = None,
    *,
    format: str | None = None,
    root: PathLike | None = None,
    skip_invalid: bool | None = None,
) -> list[StatsRow]:
    """One row per split of a registered corpus (all splits unless one is named), or one row for a file.

    ``source`` is a corpus name, ``name:split``, or a path in any readable format
    (``format`` overrides detection). ``root`` is the corpus data folder (default
    ``$BIONER_DATA``). ``skip_invalid=None`` skips and counts invalid records for
    registered corpora and raises on them for files.
    """
    ref = parse_source(source)
    if ref.corpus is not None:
        if split is not None and ref.split is not None and split != ref.split:
            raise BionerError("E502", f"two different splits given: {ref.split!r} and {split!r}")
        info = corpora.get(ref.corpus)
        wanted = split or ref.split
        if wanted is not None and wanted not in info.splits:
            raise BionerError("E502", f"corpus {info.name!r} has no split {wanted!r}", hint=f"splits: {', '.join(info.splits)}")
        rows = []
        for sp in [wanted] if wanted else list(info.splits):
            report = Report(skip_invalid=default_skip_invalid(ref) if skip_invalid is None else skip_invalid)
            docs = read_source(SourceRef(corpus=info.name, split=sp), format=format, report=report, root=root)
            rows.append(_row(Corpus(docs, info.name, sp), info.name, sp, report))
        return rows
    if split is not None:
        raise BionerError("E502", f"a file has no splits (got split {split!r})", file=ref.path, hint="name a registered corpus to choose a split")
    report = Report(skip_invalid=bool(skip_invalid))
    docs = read_source(ref, format=format, report=report)
    return [_row(Corpus(docs), str(ref.path), None, report)]


__all__ = ["SourceRef", "StatsRow", "corpus_stats", "default_skip_invalid", "parse_source", "read_source"]
