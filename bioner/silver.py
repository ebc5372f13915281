"""Silver data for LLM-to-span distillation: raw text, near-duplicate removal, merging teachers, noun-phrase candidates.

The pipeline (issue 7, teacher annotation):

1. ``raw_documents``: the unlabeled text of registered corpora's splits (entities removed,
   ids ``CORPUS:ID``), and ``dedup`` to drop near-identical texts (``bioner silver raw``).
2. ``bioner annotate --engine llm|span`` runs each teacher over it into resumable shards;
   every entity carries its teacher's name (``Entity.source``) and, for span models, a score.
3. ``merge_teachers`` keeps what at least N teachers agree on and what scores high enough,
   with provenance saying who agreed (``bioner silver merge``).

``noun_phrases`` is a model-free chunker whose phrases an LLM teacher can be offered as
candidates (``LLMOptions(candidates=True)``, ``bioner annotate --np-candidates``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from bioner.doc import Document, Entity, Offsets
from bioner.errors import BionerError

PathLike = str | os.PathLike[str]
MATCH_MODES = ("strict", "overlap")
EXAMPLES = 5  # dropped near-duplicates remembered (with the id they repeat) for the report


# ---------------------------------------------------------------------------
# Raw text


def raw_documents(corpora: Sequence[str], split: str = "train", root: PathLike | None = None) -> Iterator[Document]:
    """The unlabeled text of ``split`` of each registered corpus, in the order given.

    Entities and metadata (relations, infons) are removed; the text, passages and any
    sentence/token segmentation the corpus has are kept. Ids become ``CORPUS:ID`` so that
    they are unique across corpora. Unknown corpora (E501) and splits (E502) fail before
    anything is read; a corpus named twice is read once.
    """
    from bioner import corpora as registry

    names = list(dict.fromkeys(corpora))
    if not names:
        raise BionerError("E900", "no corpora given", hint="name at least one registered corpus, e.g. -c ncbi-disease")
    for name in names:
        info = registry.get(name)
        if split not in info.splits:
            raise BionerError("E502", f"corpus {name!r} has no split {split!r}", hint=f"splits: {', '.join(info.splits)}")
    return _raw(names, split, root)


def _raw(names: Sequence[str], split: str, root: PathLike | None) -> Iterator[Document]:
    from bioner import corpora as registry

    for name in names:
        for doc in registry.load(name, split, root=root):  # one corpus in memory at a time
            yield Document(f"{name}:{doc.id}", doc.text, passages=list(doc.passages),
                           sentences=None if doc.sentences is None else list(doc.sentences),
                           tokens=None if doc.tokens is None else list(doc.tokens))


# ---------------------------------------------------------------------------
# Near-duplicates

_DIGIT = re.compile(r"\d")
_SPACES = re.compile(r"\s+")


@functools.cache
def _punctuation() -> dict[int, None]:
    """A str.translate table deleting every Unicode punctuation character (categories P*)."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P")}


def normalize_text(text: str) -> str:
    """The form two texts share when they are near-identical (see ``dedup``)."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _DIGIT.sub("0", t)
    t = t.translate(_punctuation())
    return _SPACES.sub(" ", t).strip()


@dataclass
class DedupStats:
    kept: int = 0
    dropped: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (dropped id, id of the kept document it repeats)


def dedup(docs: Iterable[Document], stats: DedupStats | None = None) -> Iterator[Document]:
    """``docs`` without near-duplicates: the first occurrence is kept, the order is kept.

    Two texts are near-identical when their normalized forms are equal. Normalizing
    (``normalize_text``), in this order: Unicode NFKC (full-width letters and digits, ligatures
    and compatibility characters become their plain forms), casefold, every decimal digit
    (any script) becomes ``0`` (so "2 mg" and "5 mg" match: copies that differ only in
    numbers count as one), every punctuation character (Unicode categories P*: hyphens,
    brackets, quotes, periods ...) is dropped, not replaced (so "IL-6" matches "IL6" but not
    "IL 6"; ``%`` is punctuation too), and runs of whitespace become one space, trimmed at both
    ends. Symbols (``+``, ``<``, ``=``, ``°``) and Greek letters are kept. Only the text counts, not the id or the entities.

    Memory: a 16-byte hash per kept text (and its id), so PubMed-sized streams fit.
    ``stats`` (when given) counts kept and dropped documents as the stream is consumed.
    """
    stats = stats if stats is not None else DedupStats()
    seen: dict[bytes, str] = {}
    for doc in docs:
        key = hashlib.blake2b(normalize_text(doc.text).encode("utf-8"), digest_size=16).digest()
        first = seen.get(key)
        if first is not None:
            stats.dropped += 1
            if len(stats.examples) < EXAMPLES:
                stats.examples.append((doc.id, first))
            continue
        seen[key] = doc.id
        stats.kept += 1
        yield doc


# ---------------------------------------------------------------------------
# Merging teachers


@dataclass
class MergeStats:
    """What ``merge_teachers`` saw and kept. Kept and dropped count merged candidates: one per
    distinct (start, end, label) in strict matching, one per group of overlapping same-label
    entities in overlap matching, however many teachers gave it."""

    names: list[str]
    documents: int = 0  # matched across all inputs
    written: int = 0  # documents yielded (all of them unless empty ones are dropped)
    empty_dropped: int = 0
    entities: list[int] = field(default_factory=list)  # per input, as read
    kept: int = 0
    dropped_agreement: int = 0
    dropped_score: int = 0
    by_label: dict[str, Counter[str]] = field(default_factory=dict)  # label -> kept / agreement / score

    def __post_init__(self) -> None:
        if not self.entities:
            self.entities = [0] * len(self.names)

    def _count(self, label: str, what: str) -> None:
        self.by_label.setdefault(label, Counter())[what] += 1


def merge_teachers(
    sources: Sequence[Iterable[Document]], names: Sequence[str], *, agree: int = 1, min_score: float | None = None,
    match: str = "strict", keep_empty: bool = True, stats: MergeStats | None = None,
) -> Iterator[Document]:
    """One document per input document, holding the entities enough teachers agree on.

    ``sources``: one document stream per teacher (``names`` names them in messages and
    provenance), all holding the same documents (same ids, same texts) in the same order,
    as ``bioner annotate`` outputs of the same input do. They are read in lockstep, one
    document at a time. A document missing from an input (E901), a text that differs (E902)
    or another order (E903, sort the inputs by id) is an error naming both inputs and the id.

    An entity is kept when at least ``agree`` inputs give it: in ``strict`` matching the same
    start, end and label; in ``overlap`` matching an overlapping span with the same label
    (overlap is transitive: a chain of overlapping same-label entities is one candidate,
    kept once, with the span most inputs gave, ties to the earliest input's).
    Then its score — the mean over agreeing teachers that gave a score (each teacher's
    highest in the candidate) — must be >= ``min_score``; an entity no teacher scored
    (LLM teachers) has score None and passes the score filter.

    Provenance on every kept entity: ``source`` = the agreeing teachers' sources (their
    entities' ``source``, else the input's name) joined with "+", ``score`` = the mean score
    or None, ``attrs`` = {"teachers": "n/m" (n of m inputs agree), "sources": the agreeing
    inputs' names joined with "+"}. Other fields (ids, fragments) come from the chosen
    span's first teacher. ``keep_empty=False`` leaves out documents with no entity kept.
    """
    names = list(names)
    if not sources:
        raise BionerError("E900", "no teacher inputs to merge", hint="give annotate output folders or annotation files")
    if len(names) != len(sources):
        raise BionerError("E904", f"{len(sources)} inputs but {len(names)} names")
    if match not in MATCH_MODES:
        raise BionerError("E904", f"unknown match mode {match!r}", hint=f"one of: {', '.join(MATCH_MODES)}")
    if not 1 <= agree <= len(sources):
        raise BionerError("E904", f"agreement of {agree} teachers asked, but there are {len(sources)} input(s)",
                          hint=f"choose --agree between 1 and {len(sources)}")
    if stats is None:
        stats = MergeStats(names)
    elif len(stats.entities) != len(names):
        stats.names, stats.entities = names, [0] * len(names)
    return _merge(list(sources), names, agree, min_score, match, keep_empty, stats)


def _merge(sources: list[Iterable[Document]], names: list[str], agree: int, min_score: float | None, match: str,
           keep_empty: bool, stats: MergeStats) -> Iterator[Document]:
    iters = [iter(s) for s in sources]
    while True:
        got = [next(it, None) for it in iters]  # None: that input has ended
        if all(d is None for d in got):
            return
        for j in range(1, len(got)):
            ref, other = got[0], got[j]
            if ref is None or other is None or ref.id != other.id:
                raise _mismatch(ref, other, iters[0], iters[j], names[0], names[j])
            if ref.text != other.text:
                raise _text_differs(ref, other, names[0], names[j])
        docs = [d for d in got if d is not None]
        merged = _merge_doc(docs, names, agree, min_score, match, stats)
        stats.documents += 1
        if not merged.entities and not keep_empty:
            stats.empty_dropped += 1
            continue
        stats.written += 1
        yield merged


def _mismatch(ref: Document | None, other: Document | None, it_ref: Iterator[Document], it_other: Iterator[Document], a: str,
              b: str) -> BionerError:
    """E901 (a document one input lacks) or E903 (same documents, other order); reads the rest of both inputs' ids (error path only)."""
    rest_a = ([] if ref is None else [ref.id]) + [d.id for d in it_ref]
    rest_b = ([] if other is None else [other.id]) + [d.id for d in it_other]
    set_a, set_b = set(rest_a), set(rest_b)  # earlier positions matched, so the rest decides
    for doc_id in rest_a:
        if doc_id not in set_b:
            return BionerError("E901", f"document {doc_id!r} is in {a} but not in {b}",
                               hint="merge annotations of the same input documents: annotate each teacher over the same file(s)")
    for doc_id in rest_b:
        if doc_id not in set_a:
            return BionerError("E901", f"document {doc_id!r} is in {b} but not in {a}",
                               hint="merge annotations of the same input documents: annotate each teacher over the same file(s)")
    where = f"{rest_a[0]!r} in {a}, {rest_b[0]!r} in {b}"
    return BionerError("E903", f"{a} and {b} hold the same documents in different orders (first difference: {where})",
                       hint="inputs are merged in a stream: sort both by document id (or annotate them from the same input files in the same order)")


def _text_differs(ref: Document, other: Document, a: str, b: str) -> BionerError:
    at = next((i for i, (x, y) in enumerate(zip(ref.text, other.text)) if x != y), min(len(ref.text), len(other.text)))
    return BionerError("E902", f"document {ref.id!r} has another text in {b} than in {a} (first difference at character {at}; "
                               f"lengths {len(ref.text)} and {len(other.text)})",
                       hint="the teachers must have annotated the same input text")


def _groups(cands: list[tuple[int, Entity]], match: str) -> list[list[tuple[int, Entity]]]:
    """Candidates: entities grouped by (start, end, label), or into chains of overlapping same-label entities."""
    if match == "strict":
        by_key: dict[tuple[int, int, str], list[tuple[int, Entity]]] = {}
        for k, e in cands:
            by_key.setdefault(e.key(), []).append((k, e))
        return list(by_key.values())
    groups: list[list[tuple[int, Entity]]] = []
    by_label: dict[str, list[tuple[int, Entity]]] = {}
    for k, e in cands:
        by_label.setdefault(e.label, []).append((k, e))
    for items in by_label.values():
        items.sort(key=lambda ke: (ke[1].start, -ke[1].end, ke[0]))
        end = -1
        for k, e in items:
            if groups and e.start < end and groups[-1][0][1].label == e.label:
                groups[-1].append((k, e))
                end = max(end, e.end)
            else:
                groups.append([(k, e)])
                end = e.end
    return groups


def _chosen(group: list[tuple[int, Entity]]) -> Entity:
    """The entity whose span most inputs gave; ties go to the earliest input's (then its first span)."""
    support: dict[Offsets, set[int]] = {}
    for k, e in group:
        support.setdefault(e.span, set()).add(k)
    best: Entity | None = None
    best_n = 0
    for _, e in sorted(group, key=lambda ke: (ke[0], ke[1].sort_key())):
        n = len(support[e.span])
        if n > best_n:
            best, best_n = e, n
    assert best is not None
    return best


def _merge_doc(docs: list[Document], names: list[str], agree: int, min_score: float | None, match: str, stats: MergeStats) -> Document:
    cands: list[tuple[int, Entity]] = []
    for k, d in enumerate(docs):
        stats.entities[k] += len(d.entities)
        cands.extend((k, e) for e in d.entities)
    kept: list[Entity] = []
    for group in _groups(cands, match):
        ent = _chosen(group)
        teachers = sorted({k for k, _ in group})
        if len(teachers) < agree:
            stats.dropped_agreement += 1
            stats._count(ent.label, "agreement")
            continue
        scores = []
        for k in teachers:
            mine = [e.score for kk, e in group if kk == k and e.score is not None]
            if mine:
                scores.append(max(mine))
        score = sum(scores) / len(scores) if scores else None
        if min_score is not None and score is not None and score < min_score:
            stats.dropped_score += 1
            stats._count(ent.label, "score")
            continue
        sources = [next(e.source for kk, e in group if kk == k) or names[k] for k in teachers]
        kept.append(ent.with_(score=score, source="+".join(sources),
                              attrs={"teachers": f"{len(teachers)}/{len(docs)}", "sources": "+".join(names[k] for k in teachers)}))
        stats.kept += 1
        stats._count(ent.label, "kept")
    return docs[0].copy(entities=sorted(kept, key=Entity.sort_key))


def read_teacher(path: PathLike) -> Iterator[Document]:
    """A teacher's annotations: a finished ``bioner annotate`` output folder (it has a manifest.json),
    else an annotation file (or brat folder) of any readable format. Errors come before the first document."""
    import bioner.io
    from bioner.annotate import MANIFEST, Manifest, read_output

    p = Path(path)
    if not p.exists():
        raise BionerError("E210", "file not found", file=p)
    if p.is_dir() and (p / MANIFEST).is_file():
        manifest = Manifest.load(p / MANIFEST)
        if not manifest.complete:
            raise BionerError("E905", f"the annotate job in this folder has not finished ({len(manifest.shards)} shard(s) written)", file=p,
                              hint="rerun the same bioner annotate command to finish it, then merge")
        return read_output(p)
    fmt = bioner.io.detect_format(p)  # E207 now, not mid-stream
    return bioner.io.read(p, fmt.name)


def teacher_names(paths: Sequence[PathLike]) -> list[str]:
    """Short names for inputs: the file or folder name, or the full path when two names clash."""
    short = [Path(p).name or str(p) for p in paths]
    clash = {n for n, c in Counter(short).items() if c > 1}
    return [str(p) if n in clash else n for p, n in zip(paths, short)]


# ---------------------------------------------------------------------------
# Noun-phrase candidates for an LLM teacher

MAX_PHRASE_WORDS = 6
# lowercase (casefolded); function words never start, end or sit inside a candidate
STOPWORDS: frozenset[str] = frozenset("""
a an the this that these those each every either neither some any no all both such another other same own
i we you he she it they me us him her them my our your his its their which who whom whose what whatever itself themselves
of in on at by for with without within from to into onto upon over under between among through throughout during before
after above below against about across along around via per than versus vs toward towards near beyond despite except
like unlike and or but nor yet so if then because although though while whereas whether unless until since as
is are was were be been being am has have had having do does did done can could may might must shall should will would
not also very more most less least only even still further however thus therefore hence moreover furthermore here there
where when how why often rather quite well already again ever never always et al ie eg respectively
""".split())
# frequent verbs of abstracts the suffix rule misses (present tense, irregular participles)
VERBS: frozenset[str] = frozenset("""
show shows shown suggest suggests indicate indicates reveal reveals cause causes induce induces inhibit inhibits affect
affects occur occurs exhibit exhibits include includes contain contains remain remains appear appears become becomes
involve involves promote promotes prevent prevents enhance enhances mediate mediates regulate regulates demonstrate
demonstrates report reports predispose predisposes receive receives treat treats found known seen given taken made
""".split())
# -ing / -ed words that are mostly nouns in biomedical text
SUFFIX_NOUNS: frozenset[str] = frozenset("""
bleeding hearing signaling signalling binding swelling vomiting itching wheezing staining screening sequencing splicing
folding coding setting training imaging smoking drinking feeding dosing breed
""".split())
_VERB_SUFFIXES = ("ed", "ing")
JOINERS = frozenset("-\u2010\u2011\u2012\u2013/'\u2019")  # join the words around them, spaced or not


class _Unit(NamedTuple):
    start: int
    end: int
    tokens: int
    word: bool  # has a letter or digit (else: punctuation)


def _is_punct(s: str) -> bool:
    return not any(c.isalnum() for c in s)


def _content(text: str, u: _Unit) -> bool:
    """A word that may be part of a noun phrase: not punctuation, not a stopword, not a verb by suffix or list.

    Only single-token words are tested: compounds ("drug-induced", "IL-6") are always content.
    """
    if not u.word:
        return False
    if u.tokens > 1:
        return True
    w = text[u.start:u.end]
    low = w.casefold()
    if low in STOPWORDS or low in VERBS:
        return False
    return not (w.isalpha() and len(w) >= 5 and low.endswith(_VERB_SUFFIXES) and w[1:].islower() and low not in SUFFIX_NOUNS)


def noun_phrases(text: str, tokens: Sequence[Offsets] | None = None) -> list[Offsets]:
    """Candidate noun phrases of ``text`` as (start, end) offsets: a model-free heuristic, in text order.

    ``tokens``: token offsets into ``text`` (default: ``bioner.text.tokenize(text)``).

    1. Words: tokens glued together without whitespace form one word, punctuation at its
       edges cut off ("IL-6", "1,2-dichloroethane", "Alzheimer's", "drug-induced" are one
       word each; "mice." is "mice" and "."). A hyphen, slash or apostrophe standing between
       two content words with spaces around it ("IL - 6" in text rebuilt from IOB tokens)
       joins them too.
    2. Content words: any word of several tokens; a single-token word unless it is a
       stopword (``STOPWORDS``), a listed verb (``VERBS``), or a verb by suffix (lowercase
       after its first letter, alphabetic, 5+ letters, ending in -ed or -ing, except the
       nouns in ``SUFFIX_NOUNS``: "bleeding", "signaling" ...).
    3. Phrases: maximal runs of content words separated only by spaces (punctuation and line
       breaks end a run). Leading numbers are dropped ("5 patients" -> "patients"; "type 2
       diabetes" keeps its 2); a run longer than ``MAX_PHRASE_WORDS`` words keeps its last
       ones (English noun phrases end in their head); a phrase needs a letter and 2+ characters.

    Candidates are offered to a teacher as hints: they miss and over-cut phrases, and that
    is said in the prompt.
    """
    from bioner.text import tokenize

    toks = list(tokens) if tokens is not None else tokenize(text)
    glued: list[list[Offsets]] = []
    for s, e in toks:
        if glued and glued[-1][-1][1] == s:
            glued[-1].append((s, e))
        else:
            glued.append([(s, e)])
    units: list[_Unit] = []
    for g in glued:
        wordy = [i for i, (s, e) in enumerate(g) if not _is_punct(text[s:e])]
        if not wordy:
            units.extend(_Unit(s, e, 1, False) for s, e in g)
            continue
        lo, hi = wordy[0], wordy[-1]
        units.extend(_Unit(s, e, 1, False) for s, e in g[:lo])
        units.append(_Unit(g[lo][0], g[hi][1], hi - lo + 1, True))
        units.extend(_Unit(s, e, 1, False) for s, e in g[hi + 1:])
    joined: list[_Unit] = []
    i = 0
    while i < len(units):
        u = units[i]
        if (not u.word and text[u.start:u.end] in JOINERS and joined and i + 1 < len(units) and _content(text, joined[-1])
                and _content(text, units[i + 1]) and "\n" not in text[joined[-1].end:units[i + 1].start]):
            nxt = units[i + 1]
            joined[-1] = _Unit(joined[-1].start, nxt.end, joined[-1].tokens + 1 + nxt.tokens, True)
            i += 2
            continue
        joined.append(u)
        i += 1
    runs: list[list[_Unit]] = []
    prev: _Unit | None = None
    for u in joined:
        if not _content(text, u):
            prev = None
            continue
        if prev is not None and "\n" not in text[prev.end:u.start] and "\r" not in text[prev.end:u.start]:
            runs[-1].append(u)
        else:
            runs.append([u])
        prev = u
    found: list[Offsets] = []
    for run in runs:
        run = run[-MAX_PHRASE_WORDS:]
        while run and not any(c.isalpha() for c in text[run[0].start:run[0].end]):
            run = run[1:]
        if run and run[-1].end - run[0].start >= 2:
            found.append((run[0].start, run[-1].end))
    return found


def candidate_phrases(text: str) -> list[str]:
    """The distinct ``noun_phrases`` of ``text`` as strings, in text order: what a prompt lists."""
    return list(dict.fromkeys(text[s:e] for s, e in noun_phrases(text)))


__all__ = [
    "MATCH_MODES", "MAX_PHRASE_WORDS", "DedupStats", "MergeStats", "candidate_phrases", "dedup", "merge_teachers", "normalize_text",
    "noun_phrases", "raw_documents", "read_teacher", "teacher_names",
]
