"""IOB2 and BIOES column files (CoNLL style): one token per line, a blank line between sentences.

Reading
-------
* Columns are separated by TAB. A file whose first token line has no TAB is read CoNLL-2003
  style, columns separated by single spaces. The first token line fixes the separator and the
  number of columns; a line with another number of columns is E201, and so is a token that
  contains whitespace. The token is column 0, the tag is ``column`` (default: the last one);
  other columns (POS, chunk) are not kept.
* Document markers: ``-DOCSTART-`` lines (CoNLL; an id may follow, ``-DOCSTART- MEDLINE:1``;
  trailing ``O``/``-X-`` placeholder columns are not part of it) and ``###<id>`` lines (JNLPBA,
  ``###MEDLINE:95369245``). With ``doc_marker="auto"`` the sentences after a marker, up to the
  next one, form one Document whose id is the marker's id, or ``<file stem>:doc<k>`` for the
  k-th marker when it has none. Sentences before the first marker (all of them in a file
  without markers) are one Document each, id ``<file stem>:<n>`` for the n-th sentence of the
  file (1-based; skipped invalid sentences keep their number, so ids do not shift).
  ``doc_marker="ignore"`` skips marker lines and makes every sentence its own Document.
  An id seen before in the file (JNLPBA repeats 3 MEDLINE ids) is read as ``<id>#2`` (``#3``
  ...), the file's id kept in ``metadata["iob_doc_id"]`` for the writer, and counted as W213.
* The text is rebuilt with :func:`bioner.text.join_tokens` (tokens joined by one space,
  sentences by a newline); ``Document.sentences``/``tokens`` are set from it and entity offsets
  follow the same rule.
* ``scheme="iob2"``: ``B-X``, ``I-X``, ``O``. An ``I-X`` after ``O`` or after another type is
  W211 and starts an entity, so IOB1 files read correctly (with one W211 per such start).
  ``scheme="bioes"``: ``B-``, ``I-``, ``E-``, ``S-``, ``O``, with BILOU's ``U-``/``L-`` read as
  ``S-``/``E-``. Repairs, each counted: an ``I-X`` with no open X entity is W211 and starts one;
  an ``E-X`` with no open X entity is W214 and is read as ``S-X``; an entity not closed by ``E-``
  (followed by ``O``, ``B-``, ``S-``, another type or the sentence end) is W214 and ends at its
  last token. Any other tag shape (``X-Foo``, ``B-``, ``E-X`` in an IOB2 file) is E203.
  An invalid line makes its whole sentence invalid (skipped with ``skip_invalid=True``).

Writing
-------
* Tokens come from ``doc.tokens``, else from :func:`bioner.text.tokenize` with every entity
  boundary as a forced boundary; sentences from ``doc.sentences``, else
  :func:`bioner.text.split_sentences` (see :func:`align_tokens` for the repairs, W303-W307).
* The format is flat: among overlapping entities the longest is kept (ties: the earlier one in
  ``doc.entities``), repeatedly, so the outermost entities survive; each dropped one is W301.
  A discontinuous entity is written as its covering span (W302).
* ``doc_markers=None`` (default) writes ``-DOCSTART-`` markers unless every document is a single
  sentence whose id is ``<output stem>:<n>`` (what reading without markers gives back); so
  read -> write -> read keeps both the grouping and the ids. A marker carries the id unless it
  is the default ``<output stem>:doc<k>``; ``marker_style="hash"`` writes ``###<id>`` lines
  (JNLPBA) instead of ``-DOCSTART-\\tO``/``-DOCSTART- <id>\\tO``. An id a marker cannot carry
  (whitespace other than single inner spaces, or ending in a placeholder column) is E305.
  With ``doc_markers=False`` ids and grouping that reading will not give back are W306.
* Also W306, once per document: entity scores, sources, ids and attributes, passages, metadata
  (other than ``iob_doc_id``) and the text layout (the file keeps tokens, not the spacing
  between them) when the document has any of them.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from bioner.doc import Document, Entity, Offsets
from bioner.errors import BionerError, Report
from bioner.io import file_stem
from bioner.io._common import PathLike, UniqueIds, atomic_write, describe_lost, ensure_report, iter_lines, lost_parts
from bioner.text import join_tokens

Scheme = Literal["iob2", "bioes"]
DOCSTART = "-DOCSTART-"
HASH = "###"
_PLACEHOLDERS = {"O", "-X-"}  # filler columns of CoNLL marker lines, never part of an id
_PREFIXES = {"iob2": {"B", "I"}, "bioes": {"B", "I", "E", "S", "U", "L"}}
_BILOU = {"U": "S", "L": "E"}
_KEEP = {"sentences", "tokens", "metadata.iob_doc_id"}  # what write() holds besides entity spans and labels
_WS = re.compile(r"\s")
_NONSPACE = re.compile(r"\S+")

# (sentence index, first token, end token exclusive, label): an entity in token coordinates
TokenSpan = tuple[int, int, int, str]


# ---------------------------------------------------------------- shared by token formats


def doc_from_tokens(doc_id: str, sentences: Sequence[Sequence[str]], spans: Iterable[TokenSpan], metadata: dict[str, Any] | None = None) -> Document:
    """A Document whose text is ``sentences`` joined by the join rule, with entities from token spans."""
    text, sent_offsets, tok_offsets = join_tokens(sentences)
    ents = [Entity(tok_offsets[s][i][0], tok_offsets[s][j - 1][1], label) for s, i, j, label in spans]
    tokens = [t for sent in tok_offsets for t in sent]
    return Document(doc_id, text, ents, sentences=sent_offsets, tokens=tokens, metadata=metadata or {})


@dataclass
class TokenView:
    """A document cut into sentences of tokens, each entity placed on whole tokens.

    ``sentences`` holds document-level token offsets per sentence (a sentence may be empty when
    ``doc.sentences`` has an empty one); ``spans`` holds (entity, sentence, first token, end token
    exclusive) in the order of the entities given.
    """

    sentences: list[list[Offsets]]
    spans: list[tuple[Entity, int, int, int]] = field(default_factory=list)


def align_tokens(
    doc: Document,
    entities: Sequence[Entity] | None = None,
    *,
    report: Report,
    file: PathLike | None = None,
    split_whitespace: bool = True,
) -> TokenView:
    """Tokens per sentence for writing ``doc`` in a token format, every entity on whole tokens.

    Repairs, each counted in ``report``: a discontinuous entity is placed as its covering span
    (W302); a token of ``doc.tokens`` with an entity boundary inside is split there (W303); a
    token containing whitespace is split at it (W304; kept whole with ``split_whitespace=False``,
    for formats whose tokens may hold spaces); an entity whose boundary falls between
    tokens is placed on the tokens it covers, or dropped when it covers none (W305); sentences
    that an entity crosses are merged (W307). Without ``doc.tokens`` the text is tokenized
    with the entity boundaries forced; without ``doc.sentences`` it is sentence-split.
    """
    ents = list(doc.entities if entities is None else entities)
    for e in ents:
        if e.discontinuous:
            report.warn("W302", f"document {doc.id!r}: discontinuous {e.label!r} entity {list(e.fragments)} written as {e.start}..{e.end}", file=file)
    bounds = sorted({b for e in ents for b in (e.start, e.end)})
    tokens = _clean_tokens(doc, bounds, report, file, split_whitespace)
    sent_of = _sentence_of_tokens(doc, tokens)
    n_sent = max(sent_of, default=-1) + 1 if doc.sentences is None else max(len(doc.sentences), max(sent_of, default=-1) + 1)
    starts = [s for s, _ in tokens]
    placed: list[tuple[Entity, int, int]] = []  # entity, first token, end token (document-level indices)
    for e in ents:
        i, j = bisect.bisect_left(starts, e.start), bisect.bisect_left(starts, e.end)
        if i == j:
            report.warn("W305", f"document {doc.id!r}: {e.label!r} entity {e.start}..{e.end} covers no token: dropped", file=file)
            continue
        if (tokens[i][0], tokens[j - 1][1]) != (e.start, e.end):
            report.warn("W305", f"document {doc.id!r}: {e.label!r} entity {e.start}..{e.end} written as its tokens {tokens[i][0]}..{tokens[j - 1][1]}", file=file)
        placed.append((e, i, j))
    sent_of, n_sent = _merge_crossed(doc, sent_of, n_sent, placed, report, file)
    view = TokenView([[] for _ in range(n_sent)])
    pos: list[int] = []  # token index inside its sentence
    for tok, s in zip(tokens, sent_of):
        pos.append(len(view.sentences[s]))
        view.sentences[s].append(tok)
    view.spans = [(e, sent_of[i], pos[i], pos[j - 1] + 1) for e, i, j in placed]
    return view


def _clean_tokens(doc: Document, bounds: list[int], report: Report, file: PathLike | None, split_whitespace: bool) -> list[Offsets]:
    """The document's tokens (or the tokenizer's), split at whitespace and entity boundaries."""
    text, given = doc.text, doc.tokens is not None
    if doc.tokens is not None:
        raw = sorted(doc.tokens)
    else:
        from bioner.text import tokenize  # lazy: the tokenizer is only needed for untokenized documents

        raw = sorted(tokenize(text, boundaries=bounds))
    pieces = raw if split_whitespace else [(s, e) for s, e in raw if s < e]
    # one search over all tokens spares the per-token work in the usual, clean case
    if split_whitespace and (any(s >= e for s, e in raw) or _WS.search("".join(text[s:e] for s, e in raw))):
        pieces = []
        for s, e in raw:
            split = _split_whitespace(text, s, e)
            if len(split) > 1 or (split and split[0] != (s, e)):
                report.warn("W304", f"document {doc.id!r}: token {text[s:e]!r} at {s}..{e} contains whitespace: split at it", file=file)
            pieces.extend(split)
    out: list[Offsets] = []
    b = 0  # tokens are sorted, so the first boundary after a token's start only moves forward
    for s, e in pieces:
        while b < len(bounds) and bounds[b] <= s:
            b += 1
        if b == len(bounds) or bounds[b] >= e:
            out.append((s, e))
            continue
        cuts = bounds[b: bisect.bisect_left(bounds, e, b)]
        if given:
            report.warn("W303", f"document {doc.id!r}: token {text[s:e]!r} at {s}..{e} split at entity boundaries {cuts}", file=file)
        edges = [s, *cuts, e]
        out.extend(itertools.pairwise(edges))
    return out


def _split_whitespace(text: str, s: int, e: int) -> list[Offsets]:
    if not _WS.search(text, s, e):
        return [(s, e)] if s < e else []
    return [m.span() for m in _NONSPACE.finditer(text, s, e)]


def _sentence_of_tokens(doc: Document, tokens: list[Offsets]) -> list[int]:
    """Sentence index per token: the last non-empty sentence starting at or before it."""
    if doc.sentences is not None:
        sents = sorted(doc.sentences)
    else:
        from bioner.text import split_sentences  # lazy, as for tokenize

        sents = sorted(split_sentences(doc.text))
    if not sents:
        return [0] * len(tokens)  # tokens but no sentences: one sentence holds them all
    out, k = [], 0
    for ts, _ in tokens:  # sorted: walk sentences and tokens together
        while k + 1 < len(sents) and sents[k + 1][0] <= ts:
            k += 1
        j = k
        while j > 0 and sents[j][0] == sents[j][1]:
            j -= 1  # an empty sentence holds no token
        out.append(j)
    if doc.sentences is None:
        # sentences holding no token are noise of the splitter, not structure to keep
        renum = {s: n for n, s in enumerate(sorted(set(out)))}
        out = [renum[s] for s in out]
    return out


def _merge_crossed(doc: Document, sent_of: list[int], n_sent: int, placed: list[tuple[Entity, int, int]], report: Report, file: PathLike | None) -> tuple[list[int], int]:
    """Merge runs of sentences that an entity crosses; returns new sentence indices and count."""
    join = [False] * n_sent  # join[k]: sentence k+1 is glued to sentence k
    for e, i, j in placed:
        a, b = sent_of[i], sent_of[j - 1]
        if a != b:
            report.warn("W307", f"document {doc.id!r}: {e.label!r} entity {e.start}..{e.end} crosses a sentence boundary: sentences merged", file=file)
            for k in range(a, b):
                join[k] = True
    if not any(join):
        return sent_of, n_sent
    renum, k = [], 0
    for s in range(n_sent):
        if s and not join[s - 1]:
            k += 1
        renum.append(k)
    return [renum[s] for s in sent_of], (renum[-1] + 1 if renum else 0)


# ---------------------------------------------------------------- reading


@dataclass
class _Sentence:
    tokens: list[str] = field(default_factory=list)
    tags: list[list[tuple[str, str]]] = field(default_factory=list)  # per token: (prefix, label) per tag column
    lines: list[int] = field(default_factory=list)
    invalid: bool = False


@dataclass
class _Layout:
    sep: str  # "\t", or " " for CoNLL-2003 style files
    ncols: int
    tag_cols: list[int]

    @property
    def name(self) -> str:
        return "TAB" if self.sep == "\t" else "space"


def _marker(line: str) -> tuple[bool, str | None]:
    """(is a document marker, its id or None)."""
    head = line.lstrip()
    if not head.startswith((DOCSTART, HASH)):
        return False, None  # the common case, decided without splitting
    fields = head.split()
    if not fields:
        return False, None
    if fields[0] == DOCSTART:
        rest = fields[1:]
        while rest and rest[-1] in _PLACEHOLDERS:
            rest.pop()
        return True, " ".join(rest) or None
    if len(fields) == 1 and fields[0].startswith(HASH):
        return True, fields[0][len(HASH):] or None
    return False, None


def _layout(line: str, lineno: int, path: PathLike, column: int | None) -> _Layout:
    """Separator and columns, fixed by the first token line of the file."""
    sep = "\t" if "\t" in line else " "
    ncols = len(line.split(sep))
    if column is None:  # layered: every column after the token
        if ncols < 2:
            raise BionerError("E201", "expected a token and at least one tag column", file=path, line=lineno)
        return _Layout(sep, ncols, list(range(1, ncols)))
    col = column + ncols if column < 0 else column
    if not 1 <= col < ncols:
        raise BionerError("E201", f"tag column {column} does not exist: the line has {ncols} columns", file=path, line=lineno, hint="column 0 is the token; pass column=-1 for the last one")
    return _Layout(sep, ncols, [col])


@functools.lru_cache(maxsize=4096)  # a file has few distinct tags and many lines
def _parse_tag(tag: str, scheme: Scheme) -> tuple[str, str] | None:
    """(prefix, label) with the prefix one of O, B, I, E, S; None for an unknown shape."""
    if tag == "O":
        return "O", ""
    prefix, dash, label = tag.partition("-")
    if not dash or prefix not in _PREFIXES[scheme] or not label or label != label.strip():
        return None
    return _BILOU.get(prefix, prefix), label


def _parse_line(line: str, lineno: int, path: PathLike, lay: _Layout, scheme: Scheme, sent: _Sentence) -> None:
    cols = line.split(lay.sep)
    if len(cols) != lay.ncols:
        raise BionerError("E201", f"expected {lay.ncols} {lay.name}-separated columns, found {len(cols)}", file=path, line=lineno, hint="the first token line of the file fixes the number of columns")
    tok = cols[0]
    if not tok or _WS.search(tok):
        raise BionerError("E201", f"token {tok!r} is empty or contains whitespace", file=path, line=lineno, hint=f"columns are {lay.name}-separated and a token is one column")
    tags = []
    for c in lay.tag_cols:
        parsed = _parse_tag(cols[c], scheme)
        if parsed is None:
            expect = "B-X, I-X or O" if scheme == "iob2" else "B-X, I-X, E-X, S-X (or U-X, L-X) or O"
            raise BionerError("E203", f"unknown tag {cols[c]!r} in column {c}", file=path, line=lineno, hint=f"scheme {scheme!r} expects {expect}")
        tags.append(parsed)
    sent.tokens.append(tok)
    sent.tags.append(tags)
    sent.lines.append(lineno)


def _decode(tags: list[tuple[str, str]], lines: list[int], scheme: Scheme, report: Report, path: PathLike) -> list[tuple[int, int, str]]:
    """Entities (first token, end token exclusive, label) of one tag column, repairing and counting bad sequences."""
    out: list[tuple[int, int, str]] = []
    cur: list[tuple[int, str]] = []  # the open entity (start, label), if any

    def close(end: int, why: str | None = None) -> None:
        if cur:
            start, label = cur.pop()
            if why and scheme == "bioes":
                report.warn("W214", f"{label!r} entity not closed by E- ({why}): ends at its last token", file=path, line=lines[end - 1])
            out.append((start, end, label))

    for i, (p, lab) in enumerate(tags):
        same = bool(cur) and cur[0][1] == lab
        if p == "O":
            close(i, "followed by O")
        elif p == "B":
            close(i, "followed by B-")
            cur.append((i, lab))
        elif p == "I" and not same:
            report.warn("W211", f"I-{lab} after {repr(cur[0][1]) if cur else 'O'}: treated as B-{lab}", file=path, line=lines[i])
            close(i, f"followed by I-{lab}")
            cur.append((i, lab))
        elif p == "E":
            if same:
                close(i + 1)
            else:
                report.warn("W214", f"E-{lab} without an open {lab!r} entity: read as S-{lab}", file=path, line=lines[i])
                close(i, f"followed by E-{lab}")
                out.append((i, i + 1, lab))
        elif p == "S":
            close(i, "followed by S-")
            out.append((i, i + 1, lab))
    close(len(tags), "sentence end")
    return out


@dataclass
class _DocDraft:
    """A document opened by a marker line, filled sentence by sentence."""

    id: str
    line: int
    sentences: list[list[str]] = field(default_factory=list)
    spans: list[TokenSpan] = field(default_factory=list)


class _Reader:
    """State of one pass over a column file: the open sentence, the open document, counters."""

    def __init__(self, path: PathLike, column: int | None, scheme: Scheme, report: Report, doc_marker: str) -> None:
        self.path, self.column, self.scheme, self.report = path, column, scheme, report
        self.group = doc_marker == "auto"
        self.stem = file_stem(path)
        self.layout: _Layout | None = None
        self.sent = _Sentence()
        self.draft: _DocDraft | None = None
        self.n_sent = self.n_marker = 0
        self.ids = UniqueIds()

    def run(self) -> Iterator[Document]:
        for lineno, line in iter_lines(self.path):
            if not line.strip():
                yield from self.finish_sentence()
                continue
            is_marker, marker_id = _marker(line)
            if is_marker:
                yield from self.finish_sentence()
                if self.group:
                    yield from self.finish_doc()
                    self.n_marker += 1
                    self.draft = _DocDraft(marker_id or f"{self.stem}:doc{self.n_marker}", lineno)
            elif not self.sent.invalid:  # the rest of an invalid sentence is skipped
                self.token_line(line, lineno)
        yield from self.finish_sentence()
        yield from self.finish_doc()

    def token_line(self, line: str, lineno: int) -> None:
        try:
            if self.layout is None:
                self.layout = _layout(line, lineno, self.path, self.column)
            _parse_line(line, lineno, self.path, self.layout, self.scheme, self.sent)
        except BionerError as err:
            self.report.error(err)
            self.sent.invalid = True

    def finish_sentence(self) -> Iterator[Document]:
        """Decode the sentence; add it to the open document, or yield it as its own."""
        done, self.sent = self.sent, _Sentence()
        if not done.tokens and not done.invalid:
            return
        self.n_sent += 1  # invalid sentences keep their number, so later ids do not shift
        if done.invalid:
            return
        cols = range(len(done.tags[0]))
        ents = sorted({e for k in cols for e in _decode([t[k] for t in done.tags], done.lines, self.scheme, self.report, self.path)})
        if self.draft is not None:
            idx = len(self.draft.sentences)
            self.draft.sentences.append(done.tokens)
            self.draft.spans.extend((idx, i, j, lab) for i, j, lab in ents)
        else:
            yield self.build(_DocDraft(f"{self.stem}:{self.n_sent}", done.lines[0], [done.tokens], [(0, i, j, lab) for i, j, lab in ents]))

    def finish_doc(self) -> Iterator[Document]:
        draft, self.draft = self.draft, None
        if draft is not None:
            yield self.build(draft)

    def build(self, draft: _DocDraft) -> Document:
        """The Document; an id seen before gets ``#2``, ``#3`` ... (W213), as in PubTator."""
        doc_id, meta = self.ids.unique(draft.id), {}
        if doc_id != draft.id:
            meta["iob_doc_id"] = draft.id
            self.report.warn("W213", f"document id {draft.id!r} occurs again; read as {doc_id!r}", file=self.path, line=draft.line)
        doc = doc_from_tokens(doc_id, draft.sentences, draft.spans, meta)
        doc.sort_entities()
        return doc


def _read(path: PathLike, *, column: int | None, scheme: Scheme, report: Report | None, skip_invalid: bool, doc_marker: str) -> Iterator[Document]:
    """Shared reader: ``column=None`` reads every tag column (layered nested IOB)."""
    if scheme not in _PREFIXES:
        raise ValueError(f"scheme must be 'iob2' or 'bioes', got {scheme!r}")
    if doc_marker not in ("auto", "ignore"):
        raise ValueError(f"doc_marker must be 'auto' or 'ignore', got {doc_marker!r}")
    return _Reader(path, column, scheme, ensure_report(report, skip_invalid), doc_marker).run()


def read(
    path: PathLike,
    *,
    scheme: Scheme = "iob2",
    report: Report | None = None,
    skip_invalid: bool = False,
    doc_marker: Literal["auto", "ignore"] = "auto",
    column: int = -1,
) -> Iterator[Document]:
    """Read an IOB2/BIOES column file; see the module docstring for the rules."""
    if column == 0:
        raise ValueError("column 0 is the token; the tag column is 1 or later (default -1: the last)")
    return _read(path, column=column, scheme=scheme, report=report, skip_invalid=skip_invalid, doc_marker=doc_marker)


def read_layered(
    path: PathLike,
    *,
    scheme: Scheme = "iob2",
    report: Report | None = None,
    skip_invalid: bool = False,
    doc_marker: Literal["auto", "ignore"] = "auto",
) -> Iterator[Document]:
    """Read a layered nested file ``token<TAB>L1<TAB>L2...``, one tag column per nesting layer.

    Entities of all layers are kept, nested ones included (Ju et al. 2018 layout, e.g. GENIA
    ``genia.dev.iob2``); the same span and label in two layers is kept once.
    """
    return _read(path, column=None, scheme=scheme, report=report, skip_invalid=skip_invalid, doc_marker=doc_marker)


# ---------------------------------------------------------------- writing


def _flat(doc: Document, report: Report, file: PathLike) -> list[Entity]:
    """Longest-first selection of non-overlapping entities (W301 for each one dropped), in text order."""
    order = sorted(range(len(doc.entities)), key=lambda k: (doc.entities[k].start - doc.entities[k].end, doc.entities[k].start, k))
    kept: list[tuple[int, int, int]] = []  # (start, end, index), disjoint, sorted
    for k in order:
        e = doc.entities[k]
        # kept spans are disjoint: only the last one starting before e.end can overlap e
        pos = bisect.bisect_left(kept, (e.end, -1, -1))
        if pos and kept[pos - 1][1] > e.start:
            o = doc.entities[kept[pos - 1][2]]
            report.warn("W301", f"document {doc.id!r}: {e.label!r} entity {e.start}..{e.end} overlaps {o.label!r} {o.start}..{o.end}: dropped", file=file)
        else:
            bisect.insort(kept, (e.start, e.end, k))
    return sorted((doc.entities[k] for _, _, k in kept), key=Entity.sort_key)


def _tags(view: TokenView, scheme: Scheme) -> list[list[str]]:
    tags = [["O"] * len(s) for s in view.sentences]
    for e, s, i, j in view.spans:
        row = tags[s]
        if scheme == "bioes" and j - i == 1:
            row[i] = f"S-{e.label}"
            continue
        row[i] = f"B-{e.label}"
        for k in range(i + 1, j):
            row[k] = f"I-{e.label}"
        if scheme == "bioes":
            row[j - 1] = f"E-{e.label}"
    return tags


def _valid_label(label: str) -> bool:
    return bool(label) and label == label.strip() and not any(c.isspace() and c != " " for c in label)


def _marker_line(doc_id: str, default: str, style: str) -> str | None:
    """The marker line for a document, or None when the id cannot be written in it."""
    if style == "hash":
        if doc_id == default:
            return HASH
        return HASH + doc_id if doc_id and len(doc_id.split()) == 1 and doc_id == doc_id.strip() else None
    if doc_id == default:
        return f"{DOCSTART}\tO"
    ok = doc_id and doc_id == " ".join(doc_id.split()) and doc_id.split()[-1] not in _PLACEHOLDERS
    return f"{DOCSTART} {doc_id}\tO" if ok else None


def text_lost(doc: Document, view: TokenView, keep_empty: bool = False) -> Counter[str]:
    """``text layout`` when the written tokens, joined by the join rule, are not ``doc.text``."""
    sents = [" ".join(doc.text[s:e] for s, e in toks) for toks in view.sentences if toks or keep_empty]
    return Counter({"text layout (spacing, text between tokens)": 1} if "\n".join(sents) != doc.text else {})


def _write_doc(fh: IO[str], doc: Document, view: TokenView, scheme: Scheme) -> None:
    for toks, tags in zip(view.sentences, _tags(view, scheme)):
        if not toks:
            continue  # an empty sentence has no line to hold it
        fh.write("".join(f"{doc.text[s:e]}\t{t}\n" for (s, e), t in zip(toks, tags)))
        fh.write("\n")


def write(
    docs: Iterable[Document],
    path: PathLike,
    *,
    scheme: Scheme = "iob2",
    report: Report | None = None,
    doc_markers: bool | None = None,
    marker_style: Literal["docstart", "hash"] = "docstart",
) -> None:
    """Write ``token<TAB>tag`` lines; see the module docstring for markers and what is dropped."""
    if scheme not in _PREFIXES:
        raise ValueError(f"scheme must be 'iob2' or 'bioes', got {scheme!r}")
    if marker_style not in ("docstart", "hash"):
        raise ValueError(f"marker_style must be 'docstart' or 'hash', got {marker_style!r}")
    report = ensure_report(report)
    stem = file_stem(path)
    items: list[tuple[Document, TokenView]] = []
    for doc in docs:
        ents = []
        for e in _flat(doc, report, path):
            if _valid_label(e.label):
                ents.append(e)
            else:
                report.error(BionerError("E304", f"document {doc.id!r}: label {e.label!r} cannot be a tag (empty, or whitespace other than inner spaces)", file=path))
        items.append((doc, align_tokens(doc, ents, report=report, file=path)))
    plain = [doc.id == f"{stem}:{k}" and sum(1 for s in v.sentences if s) == 1 for k, (doc, v) in enumerate(items, 1)]
    if doc_markers is None:
        doc_markers = not all(plain)
    with atomic_write(path) as fh:
        for k, (doc, view) in enumerate(items, 1):
            lost = lost_parts(doc, _KEEP) + text_lost(doc, view)
            if not doc_markers and not plain[k - 1]:
                lost["document id and sentence grouping (doc_markers=False)"] += 1
            if lost:
                report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=path)
            if doc_markers:
                default = f"{stem}:doc{k}"
                doc_id = str(doc.metadata.get("iob_doc_id", doc.id))  # a renamed duplicate keeps its file id
                line = _marker_line(doc_id, default, marker_style)
                if line is None:
                    report.error(BionerError("E305", f"document id {doc_id!r} cannot be written in a {marker_style} marker line", file=path, hint="ids must be one line, without tabs, leading/trailing or repeated spaces"))
                    line = _marker_line(default, default, marker_style)
                fh.write(f"{line}\n\n")
            _write_doc(fh, doc, view, scheme)


__all__ = ["TokenView", "align_tokens", "doc_from_tokens", "read", "read_layered", "text_lost", "write"]
