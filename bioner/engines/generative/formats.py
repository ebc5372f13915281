"""Task formats for generative extraction: the text an LLM writes, and reading it back.

Two formats, each an encoder (text + gold entities -> target text) and a decoder
(generated text -> Entities with character offsets into the text). Decoders never
raise on model output: they return what they could place plus counts of what
failed (``Decoded``). ``labels`` maps a type name (``Entity.label``) to the label
written in the output, in the order the types are listed.

**Labels.** Decoding maps an output label back to its type name case-insensitively,
ignoring surrounding spaces, quotes, ``*``/``-``/``#`` markup and ``_`` vs space; the
type names themselves are accepted as aliases when they collide with no label.
Anything else counts in ``unknown_types`` (per mention). Labels must be non-empty,
on one line, and distinct after that normalization (E702); tag labels also may not
hold ``:``.

**JSON** (BioSelectTune): ``[{"entity": "<label>", "name": "<mention>"}, ...]`` on one
line, mentions in text order (start, longer first, then type order), ``[]`` when the
text has none. The decoder takes the first ``[`` that opens a list of objects (code
fences and prose around it are ignored), reads it with ``json.loads`` when that
works and otherwise with a tolerant scanner: single-quoted strings, unescaped inner
quotes (a quote closes a string only when ``,``/``:``/``}``/``]`` or the end follows),
trailing commas, bare keys, ``type``/``label`` for ``entity``, ``text``/``mention``
for ``name``, ``{"<label>": "<mention>" | [...]}`` objects, and a truncated list (the
complete items are kept, ``truncated=True``). Each element that yields no
(type, name) pair is one parse failure; an output with no list and no object is one.

*Names back to offsets* (``policy=``). A name is looked up exactly, then stripped,
then ignoring case and spacing; whole-word occurrences (no letter or digit of a
space-separated script glued to either end; CJK text has no word boundaries) are
preferred. An output listing a name more often than it occurs, or a name not in the
text, counts align failures. Policies (numbers: gold -> encode -> decode over all
118,747 units of the 8 corpora, ``bench/results/llm_formats.md``; strict F1 with
targets listing every mention / each (type, name) once):

- ``"monotone-outside"`` (default; 99.81 / 97.22): the list is in text order, so each
  listing takes the first free occurrence at or after the previous item's start
  (wrapping around if none), preferring whole words, then occurrences outside every
  mention placed so far, then those inside a mention of another type, last those
  inside one of the same type (``cancer`` after ``breast cancer``; ``CD28`` that only
  occurs inside ``CD28 surface receptor`` still lands there).
- ``"monotone"`` (99.37 / 96.78): the same without the outside preference.
- ``"order"`` (98.58 / 96.05): the k-th listing of a (type, name) takes the next
  occurrence after the previous listing of that pair.
- ``"all-outside"`` (99.46 / 99.46): every occurrence of each listed (type, name),
  longer names first, keeping only the least nested ones (as above).
- ``"all"`` (98.47 / 98.47): every occurrence.
- ``"auto"`` (99.72 / 99.46): ``monotone-outside`` when the list repeats a (type, name)
  (the model lists every mention), else ``all-outside``. The choice for models not
  tuned on these targets, which tend to list each name once.

What JSON cannot carry: which occurrence of a repeated string is meant. Gold
mentions the policy does not put back are reported by ``unrepresentable`` as
``ambiguous name`` (default policy: 397 of 209,088, 0.19%; most in CMeEE and GENIA).
A discontinuous mention is not written (``discontinuous``; its joined text would
decode to a wrong continuous span).

**Tags** (LLMNER): one line per type present, in ``labels`` order,
``<label>: <the text copied with each mention of that type in [ ]>``; nested mentions
of one type nest (``[[CD28] surface receptor]``), and types overlap freely because
each has its own line. A text with no entity gets the single line ``none``. Literal
``[``, ``]`` in the copy are escaped ``\\[``, ``\\]``, and a literal backslash is
written ``\\\\`` only where a bracket or backslash follows it (so ``\\n`` in a text
stays as is). Line breaks inside the text are copied as spaces (decoding compares
with the text after the same one-to-one substitution, so offsets do not move).

Decoding reads each line with a bracket stack (unmatched brackets are parse
failures; whitespace just inside brackets is trimmed). When the bracket-free copy
is not the text, it tries reading unescaped brackets that sit where the text has
the same bracket as literal (models forget to escape), and otherwise aligns copy
and text character by character (``difflib``, no junk heuristic): a boundary maps
through equal runs and equal-length substitutions position by position, through
copy-only runs to where they would sit, and to the outer edge of a substituted
run it touches; a boundary inside a substitution of a different length is an
align failure. Works the same for text without spaces (Chinese). ``truncated`` when
the last line leaves a bracket open or copies only a prefix of the text. Tags
cannot carry discontinuous mentions, two mentions of one type that cross
(``crossing``), nor a mention with whitespace at an edge (``edge whitespace``: the
decoder trims it); none of these occur in the corpora. The same span with two
types is two lines.

**Completion** (``is_complete``, called by backends on the text so far): JSON when
the list that was opened is closed (brackets inside strings ignored); tags after a
finished ``none`` line, a blank line after content, a finished line with no ``:``
after content, or a repeated label (the model started over).

Both encoders drop exact duplicates (same span and type: ``duplicate``) and types
missing from ``labels`` (``unlisted type``); decoders never return an entity twice.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from types import MappingProxyType
from typing import Any, ClassVar

from bioner.doc import Entity
from bioner.errors import BionerError


@dataclass(frozen=True)
class Decoded:
    """What a decoder read from one output.

    ``items`` counts every mention the output proposed (JSON elements, bracket
    pairs and stray brackets); the failure counts are parts of it, except that an
    output with nothing readable at all is one parse failure with ``items == 0``.
    """

    entities: list[Entity]
    items: int = 0
    parse_failures: int = 0
    align_failures: int = 0
    unknown_types: int = 0
    truncated: bool = False


class TaskFormat(ABC):
    """Encoder (text + entities -> target) and decoder (output -> entities) for one answer format."""

    name: ClassVar[str]

    @abstractmethod
    def encode(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> str:
        """The target the model learns to write for ``text`` (entity offsets relative to it)."""

    @abstractmethod
    def decode(self, text: str, output: str, labels: Mapping[str, str]) -> Decoded:
        """Entities (type names, offsets into ``text``) from a generated answer; never raises on ``output``."""

    @abstractmethod
    def is_complete(self, output: str) -> bool:
        """True when the answer written so far is closed and generation may stop."""

    @abstractmethod
    def unrepresentable(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> Counter[str]:
        """Reason -> number of ``entities`` that ``decode(encode(...))`` does not give back."""


# ---------------------------------------------------------------- shared helpers

_LABEL_EDGE = " \t\"'`*_-#•"


@lru_cache(maxsize=8192)
def _norm_label(s: str) -> str:
    s = s.strip().strip(_LABEL_EDGE).replace("_", " ")
    return " ".join(s.split()).casefold()


def _check_labels(labels: Mapping[str, str], *, colon: bool) -> None:
    _check_items(tuple(labels.items()), colon)


@lru_cache(maxsize=256)
def _check_items(pairs: tuple[tuple[str, str], ...], colon: bool) -> None:
    seen: dict[str, str] = {}
    for type_name, label in pairs:
        if not isinstance(label, str) or not _norm_label(label):
            raise BionerError("E702", f"type {type_name!r} has an empty output label {label!r}")
        if "\n" in label or "\r" in label or (colon and ":" in label):
            raise BionerError("E702", f"output label {label!r} of type {type_name!r} may not hold a line break" + (" or ':'" if colon else ""),
                              hint="tags lines are '<label>: <text>'")
        key = _norm_label(label)
        if key in seen:
            raise BionerError("E702", f"types {seen[key]!r} and {type_name!r} have the same output label {label!r}",
                              hint="output labels must differ (case and spaces are ignored when decoding)")
        seen[key] = type_name


def _label_index(labels: Mapping[str, str]) -> Mapping[str, str]:
    """Normalized output label (and type name, unless it collides) -> type name."""
    return _index_items(tuple(labels.items()))


@lru_cache(maxsize=256)
def _index_items(pairs: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    index = {_norm_label(label): t for t, label in pairs}
    for t, _ in pairs:
        index.setdefault(_norm_label(t), t)
    return MappingProxyType(index)


def _representable(entities: Sequence[Entity], labels: Mapping[str, str]) -> tuple[list[Entity], Counter[str]]:
    """Continuous, listed-type, de-duplicated entities in output order, and what was left out."""
    order = {t: i for i, t in enumerate(labels)}
    lost: Counter[str] = Counter()
    keep: dict[tuple[int, int, str], Entity] = {}
    for e in entities:
        if e.label not in order:
            lost["unlisted type"] += 1
        elif e.discontinuous:
            lost["discontinuous"] += 1
        elif (e.start, e.end, e.label) in keep:
            lost["duplicate"] += 1
        else:
            keep[(e.start, e.end, e.label)] = e
    ents = sorted(keep.values(), key=lambda e: (e.start, -e.end, order[e.label]))
    return ents, lost


def _unique(entities: Iterable[Entity]) -> list[Entity]:
    seen: set[tuple[int, int, str]] = set()
    out = []
    for e in entities:
        if e.key() not in seen:
            seen.add(e.key())
            out.append(e)
    return sorted(out, key=Entity.sort_key)


def _lost_in_round_trip(fmt: TaskFormat, text: str, kept: Sequence[Entity], labels: Mapping[str, str]) -> int:
    got = Counter(e.key() for e in fmt.decode(text, fmt.encode(text, kept, labels), labels).entities)
    want = Counter(e.key() for e in kept)
    return sum((want - got).values())


# ---------------------------------------------------------------- JSON: parsing

_LIST_START = re.compile(r"\[\s*[{\]]")
# compared after _norm_label (so "entity_type" is "entity type")
_TYPE_KEYS = ("entity", "type", "label", "entity type", "category", "class")
_NAME_KEYS = ("name", "text", "mention", "span", "entity name", "word", "value")
_BARE_KEY = re.compile(r"[A-Za-z_][\w \-]*\s*:")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'"}

Value = Any  # str | list[str] | None from the tolerant scanner
_DECODER = json.JSONDecoder()


def _list_end(s: str, start: int) -> int | None:
    """Index of the ``]`` closing the list opened at ``start``, ignoring brackets inside strings."""
    depth = 0
    quote = ""
    prev = ""  # last non-space character outside strings
    i, n = start, len(s)
    while i < n:
        c = s[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
                prev = c
        elif c == '"' or (c == "'" and prev in "[{:,"):
            quote = c  # single quotes only where a value or key starts: apostrophes are not strings
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i
        if not quote and not c.isspace():
            prev = c
        i += 1
    return None


def _closes(s: str, k: int) -> bool:
    """Does a quote just before ``s[k]`` end a string (rather than sit inside it unescaped)?"""
    n = len(s)
    while k < n and s[k].isspace():
        k += 1
    if k >= n or s[k] in ":}]":
        return True
    if s[k] != ",":
        return False
    k += 1
    while k < n and s[k].isspace():
        k += 1
    return k >= n or s[k] in "\"'{}]" or _BARE_KEY.match(s, k) is not None


def _string(s: str, i: int) -> tuple[str, int, bool]:
    """Read the string whose quote is at ``s[i]``: (value, index after it, closed)."""
    q = s[i]
    buf: list[str] = []
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if c == "\\" and j + 1 < n:
            nxt = s[j + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", s[j + 2:j + 6]):
                code = int(s[j + 2:j + 6], 16)
                j += 6
                low = s[j + 2:j + 6] if s[j:j + 2] == "\\u" else ""
                if 0xD800 <= code < 0xDC00 and re.fullmatch(r"[dD][c-fC-F][0-9a-fA-F]{2}", low):
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                    j += 6
                buf.append(chr(code))
                continue
            buf.append(_ESCAPES.get(nxt, "\\" + nxt))
            j += 2
            continue
        if c == q and _closes(s, j + 1):
            return "".join(buf), j + 1, True
        buf.append(c)
        j += 1
    return "".join(buf), n, False


def _skip(s: str, i: int, chars: str = ",") -> int:
    n = len(s)
    while i < n and (s[i].isspace() or s[i] in chars):
        i += 1
    return i


def _value(s: str, i: int) -> tuple[Value, int, bool]:
    """A value at ``s[i]``: string, list of strings, skipped object (None) or bare word."""
    n = len(s)
    c = s[i]
    if c in "\"'":
        return _string(s, i)
    if c == "[":
        out: list[str] = []
        i += 1
        while True:
            i = _skip(s, i)
            if i >= n:
                return out, n, False
            if s[i] == "]":
                return out, i + 1, True
            if s[i] == "}":  # the enclosing object closes: let it
                return out, i, True
            v, i, ok = _value(s, i)
            if not ok:
                return out, i, False
            if isinstance(v, str):
                out.append(v)
    if c == "{":
        end = _list_end(s, i)
        return None, (n if end is None else end + 1), end is not None
    j = i
    while j < n and s[j] not in ",}]\n":
        j += 1
    if j == i:  # nothing readable here: consume the character so callers move on
        j += 1
    word = s[i:j].strip()
    return (None if word in ("null", "None", "") else word), j, j < n


def _object(s: str, i: int) -> tuple[list[tuple[str, Value]], int, bool]:
    """Key-value pairs of the object opening at ``s[i]``; (pairs, index after it, closed)."""
    pairs: list[tuple[str, Value]] = []
    n = len(s)
    i += 1
    while True:
        i = _skip(s, i)
        if i >= n:
            return pairs, n, False
        if s[i] == "}":
            return pairs, i + 1, True
        if s[i] == "]":  # the list closed without this object closing
            return pairs, i, True
        if s[i] in "\"'":
            key, i, ok = _string(s, i)
            if not ok:
                return pairs, n, False
        else:
            j = i
            while j < n and s[j] not in ":,}]":
                j += 1
            key, i = s[i:j], j
        i = _skip(s, i, "")
        if i >= n:
            return pairs, n, False
        if s[i] != ":":
            continue  # a key without value: skip it (the caller finds the pair missing)
        i = _skip(s, i + 1, "")
        if i >= n:
            return pairs, n, False
        if s[i] in ",}]":
            pairs.append((key.strip(), None))
            continue
        value, i, ok = _value(s, i)
        if not ok:
            return pairs, n, False
        pairs.append((key.strip(), value))


def _pairs_of(obj: Mapping[str, Value] | Sequence[tuple[str, Value]], index: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """(label, name) pairs an object stands for, or None when it holds none."""
    if isinstance(obj, dict):  # the canonical shape, fast
        t, nm = obj.get("entity"), obj.get("name")
        if isinstance(t, str) and isinstance(nm, str):
            return [(t, nm)]
    items = list(obj.items()) if isinstance(obj, Mapping) else list(obj)
    keyed = {_norm_label(str(k)): v for k, v in items}
    name_key = next((k for k in _NAME_KEYS if isinstance(keyed.get(k), str)), None)
    type_key = next((k for k in _TYPE_KEYS if k != name_key and isinstance(keyed.get(k), str)), None)
    if name_key is None and isinstance(keyed.get("entity"), str):
        other = next((k for k in _TYPE_KEYS[1:] if isinstance(keyed.get(k), str)), None)
        if other is not None:  # {"entity": "BRCA1", "type": "gene"}
            name_key, type_key = "entity", other
    if name_key is not None and type_key is not None:
        return [(keyed[type_key], keyed[name_key])]
    # {"<label>": "<mention>"} or {"<label>": ["<mention>", ...]}
    out: list[tuple[str, str]] = []
    for k, v in items:
        if _norm_label(str(k)) in index:
            for name in [v] if isinstance(v, str) else (v if isinstance(v, list) else []):
                if isinstance(name, str):
                    out.append((str(k), name))
    return out or None


def parse_json_items(output: str, index: Mapping[str, str] | None = None) -> tuple[list[tuple[str, str] | None], bool, bool]:
    """Elements of the answer list: (label, name) or None when unreadable; (elements, found, closed).

    ``found`` is False when the output holds neither a list of objects nor an object.
    """
    index = index or {}
    m = _LIST_START.search(output)
    if m is not None:
        try:  # well-formed JSON (whatever follows it) at C speed
            data, _ = _DECODER.raw_decode(output, m.start())
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, list):
            out: list[tuple[str, str] | None] = []
            for el in data:
                got = _pairs_of(el, index) if isinstance(el, dict) else None
                out.extend(got if got else [None])
            return out, True, True
        start = m.start() + 1
    else:
        brace = output.find("{")
        if brace < 0:
            return [], False, False
        start = brace
    return _scan_items(output, start, in_list=m is not None, index=index)


def _scan_items(s: str, i: int, *, in_list: bool, index: Mapping[str, str]) -> tuple[list[tuple[str, str] | None], bool, bool]:
    out: list[tuple[str, str] | None] = []
    n = len(s)
    while True:
        i = _skip(s, i)
        if i >= n:
            return out, True, not in_list
        c = s[i]
        if c == "]" and in_list:
            return out, True, True
        if c == "{":
            pairs, i, closed = _object(s, i)
            got = _pairs_of(pairs, index)
            if got:
                out.extend(got)  # kept even when only the '}' is missing
            elif closed:
                out.append(None)
            if not closed:
                return out, True, False
        elif in_list:
            _, i, ok = _value(s, i)  # a stray element (a bare string, a number)
            out.append(None)
            if not ok:
                return out, True, False
        else:
            nxt = s.find("{", i)  # objects outside a list: prose between them is skipped
            if nxt < 0:
                return out, True, True
            i = nxt


# ---------------------------------------------------------------- JSON: names back to offsets

def _word_char(c: str) -> bool:
    # letters/digits of scripts written with spaces; CJK text has no word boundaries
    return c.isalnum() and ord(c) < 0x2E80


def _whole_word(text: str, s: int, e: int) -> bool:
    left = s == 0 or not (_word_char(text[s - 1]) and _word_char(text[s]))
    right = e == len(text) or not (_word_char(text[e - 1]) and _word_char(text[e]))
    return left and right


def _occurrences(text: str, name: str) -> list[tuple[int, int]]:
    """Where ``name`` occurs: exactly, else stripped, else ignoring case and spacing."""
    for cand in (name, name.strip()):
        if cand:
            found, k = [], text.find(cand)
            while k >= 0:
                found.append((k, k + len(cand)))
                k = text.find(cand, k + 1)
            if found:
                return found
    parts = name.split()
    if not parts:
        return []
    pattern = r"\s*".join(r"\s*".join(re.escape(ch) for ch in p) if len(p) <= 1 else re.escape(p) for p in parts)
    try:
        return [(m.start(), m.end()) for m in re.finditer(pattern, text, re.IGNORECASE) if m.end() > m.start()]
    except re.error:  # pragma: no cover - re.escape makes this unreachable
        return []


POLICIES = ("monotone-outside", "monotone", "order", "all-outside", "all", "auto")
DEFAULT_POLICY = "monotone-outside"

Occurrence = tuple[int, int, bool]  # start, end, whole word


def _depth(placed: Mapping[tuple[int, int, str], Entity], type_name: str, s: int, e: int) -> int:
    """2: strictly inside a placed mention of the same type, 1: of another type, 0: outside all."""
    level = 0
    for ps, pe, t in placed:
        if ps <= s and e <= pe and (ps, pe) != (s, e):
            if t == type_name:
                return 2
            level = 1
    return level


def assign_names(text: str, pairs: Sequence[tuple[str, str]], policy: str = DEFAULT_POLICY, *,
                 whole_word: bool = True) -> tuple[list[Entity], int]:
    """Place (type name, mention) pairs in ``text`` under ``policy``; (entities, pairs not placed)."""
    cache: dict[str, list[Occurrence]] = {}

    def occurrences(name: str) -> list[Occurrence]:
        if name not in cache:
            cache[name] = [(s, e, not whole_word or _whole_word(text, s, e)) for s, e in _occurrences(text, name)]
        return cache[name]

    if policy == "auto":  # a list that never repeats a (type, name) was written once per name
        policy = "monotone-outside" if len(set(pairs)) < len(pairs) else "all-outside"
    placed: dict[tuple[int, int, str], Entity] = {}
    failures = 0
    if policy in ("all", "all-outside"):
        # longer names first, so that a shorter name's occurrences inside them are known
        for type_name, name in sorted(dict.fromkeys(pairs), key=lambda p: -len(p[1])):
            occ = occurrences(name)
            if not occ:
                failures += 1
                continue
            best = [o for o in occ if o[2]] or occ
            if policy == "all-outside":
                depth = {o: _depth(placed, type_name, o[0], o[1]) for o in best}
                least = min(depth.values())
                best = [o for o in best if depth[o] == least]
            for s, e, _ in best:
                placed.setdefault((s, e, type_name), Entity(s, e, type_name))
        return _unique(placed.values()), failures
    last: dict[tuple[str, str], int] = {}
    cursor = 0
    for type_name, name in pairs:
        free = [o for o in occurrences(name) if (o[0], o[1], type_name) not in placed]
        if not free:
            failures += 1  # not in the text, or listed more often than it occurs
            continue
        if policy == "order":
            after = last.get((type_name, name), -1)
            s, e, _ = min(free, key=lambda o: (o[0] <= after, not o[2], o[0]))
        elif policy == "monotone":
            s, e, _ = min(free, key=lambda o: (o[0] < cursor, not o[2], o[0]))
        else:
            s, e, _ = min(free, key=lambda o: (o[0] < cursor, not o[2], _depth(placed, type_name, o[0], o[1]), o[0]))
        placed[(s, e, type_name)] = Entity(s, e, type_name)
        last[(type_name, name)] = s
        cursor = s
    return _unique(placed.values()), failures


@dataclass(frozen=True)
class JsonRead:
    pairs: list[tuple[str, str]]  # (type name, mention) in output order
    items: int
    parse_failures: int
    unknown_types: int
    truncated: bool


class JsonFormat(TaskFormat):
    """``[{"entity": "<label>", "name": "<mention>"}, ...]``; see the module docstring."""

    name: ClassVar[str] = "json"

    def __init__(self, policy: str = DEFAULT_POLICY, *, dedup: bool = False, whole_word: bool = True) -> None:
        if policy not in POLICIES:
            raise BionerError("E703", f"unknown name assignment policy {policy!r}", hint=f"policies: {', '.join(POLICIES)}")
        self.policy = policy
        self.dedup = dedup  # encode each (type, name) once, at its first mention
        self.whole_word = whole_word

    def __repr__(self) -> str:
        return f"JsonFormat(policy={self.policy!r}, dedup={self.dedup}, whole_word={self.whole_word})"

    def encode(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> str:
        _check_labels(labels, colon=False)
        ents, _ = _representable(entities, labels)
        items: list[dict[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for e in ents:
            mention = text[e.start:e.end]
            if self.dedup:
                if (e.label, mention) in seen:
                    continue
                seen.add((e.label, mention))
            items.append({"entity": labels[e.label], "name": mention})
        return json.dumps(items, ensure_ascii=False)

    def decode(self, text: str, output: str, labels: Mapping[str, str]) -> Decoded:
        read = self.read(output, labels)
        ents, align = assign_names(text, read.pairs, self.policy, whole_word=self.whole_word)
        return Decoded(ents, items=read.items, parse_failures=read.parse_failures, align_failures=align,
                       unknown_types=read.unknown_types, truncated=read.truncated)

    def read(self, output: str, labels: Mapping[str, str]) -> JsonRead:
        """The (type name, mention) pairs of an output, before they are placed in the text."""
        _check_labels(labels, colon=False)
        index = _label_index(labels)
        try:
            elements, found, closed = parse_json_items(output, index)
        except RecursionError:  # pragma: no cover - the scanner is iterative; belt and braces
            return JsonRead([], 0, 1, 0, False)
        if not found:
            return JsonRead([], 0, 1, 0, False)
        pairs: list[tuple[str, str]] = []
        parse_failures = unknown = 0
        for el in elements:
            if el is None or not el[1].strip():
                parse_failures += 1
                continue
            type_name = index.get(_norm_label(el[0]))
            if type_name is None:
                unknown += 1
            else:
                pairs.append((type_name, el[1]))
        return JsonRead(pairs, len(elements), parse_failures, unknown, not closed)

    def is_complete(self, output: str) -> bool:
        m = _LIST_START.search(output)
        return m is not None and _list_end(output, m.start()) is not None

    def unrepresentable(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> Counter[str]:
        _check_labels(labels, colon=False)
        kept, lost = _representable(entities, labels)
        missed = _lost_in_round_trip(self, text, kept, labels)
        if missed:
            lost["ambiguous name"] += missed
        return lost


# ---------------------------------------------------------------- tags

NONE = "none"  # the whole answer for a text without entities


def _is_none(line: str) -> bool:
    return len(line) <= 16 and _norm_label(line).rstrip(".") == NONE


def _flat(text: str) -> str:
    """The text as one line: line breaks become spaces, one for one (offsets do not move)."""
    return text.replace("\r", " ").replace("\n", " ")


def _tag_representable(text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> tuple[list[Entity], Counter[str]]:
    """What a tags target carries, and what it leaves out by reason."""
    ents, lost = _representable(entities, labels)
    # the decoder trims whitespace just inside brackets, so such a mention could not come back
    trimmed = [e for e in ents if not (text[e.start].isspace() or text[e.end - 1].isspace())]
    if len(trimmed) < len(ents):
        lost["edge whitespace"] += len(ents) - len(trimmed)
    kept, crossing = _crossing_free(trimmed)
    if crossing:
        lost["crossing"] += crossing
    return kept, lost


def _crossing_free(ents: Sequence[Entity]) -> tuple[list[Entity], int]:
    """Per type, keep mentions that nest or are disjoint (first come first kept); count the rest."""
    kept: list[Entity] = []
    lost = 0
    for e in ents:  # sorted by start, longer first
        if any(k.label == e.label and k.start < e.end and e.start < k.end and not (k.contains(e) or e.contains(k)) for k in kept):
            lost += 1
        else:
            kept.append(e)
    return kept, lost


_BACKSLASH_BEFORE = re.compile(r"\\(?=[\[\]\\])")


def _escape(segment: str, markup_follows: bool) -> str:
    """Escape literal brackets, and a backslash that a bracket or backslash follows."""
    out = _BACKSLASH_BEFORE.sub(r"\\\\", segment)
    if markup_follows and segment.endswith("\\"):
        out += "\\"
    return out.replace("[", "\\[").replace("]", "\\]")


def mark(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each span in brackets (spans must nest or be disjoint), literal brackets escaped."""
    opens: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    for s, e in spans:
        opens.setdefault(s, []).append(e)
        closes.setdefault(e, []).append(s)
    out: list[str] = []
    prev = 0
    for i in sorted(set(opens) | set(closes)):
        out.append(_escape(text[prev:i], True))
        out.append("]" * len(closes.get(i, ())))  # inner spans close first: all are plain ']'
        out.append("[" * len(opens.get(i, ())))
        prev = i
    out.append(_escape(text[prev:], False))
    return "".join(out)


@dataclass
class _Copy:
    plain: str  # the copy without markup
    spans: list[tuple[int, int]]  # bracketed spans in ``plain``
    failures: int  # unmatched brackets and empty brackets
    items: int
    unclosed: int  # '[' still open at the end of the line


def _read_copy(copy: str, literal: frozenset[int] = frozenset()) -> _Copy:
    """Bracket stack over one line; ``literal`` = indices in ``copy`` of unescaped brackets read as text."""
    plain: list[str] = []
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    failures = 0
    i, n = 0, len(copy)
    while i < n:
        c = copy[i]
        if c == "\\" and i + 1 < n and copy[i + 1] in "[]\\":
            plain.append(copy[i + 1])
            i += 2
            continue
        if c == "[" and i not in literal:
            stack.append(len(plain))
        elif c == "]" and i not in literal:
            if stack:
                spans.append((stack.pop(), len(plain)))
            else:
                failures += 1
        else:
            plain.append(c)
        i += 1
    unclosed = len(stack)
    failures += unclosed
    text = "".join(plain)
    items = len(spans) + failures
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            trimmed.append((s, e))
        else:
            failures += 1  # "[]" or "[ ]"
    return _Copy(text, trimmed, failures, items, unclosed)


def _unescaped_brackets(copy: str) -> tuple[str, list[int]]:
    """The copy with escapes resolved, and for each character its index in ``copy`` (-1 if escaped)."""
    chars: list[str] = []
    where: list[int] = []
    i, n = 0, len(copy)
    while i < n:
        if copy[i] == "\\" and i + 1 < n and copy[i + 1] in "[]\\":
            chars.append(copy[i + 1])
            where.append(-1)
            i += 2
        else:
            chars.append(copy[i])
            where.append(i)
            i += 1
    return "".join(chars), where


def _unmatched(a: str, b: str) -> int:
    """Characters of ``a`` and ``b`` outside their common subsequence (difflib's)."""
    same = sum(m.size for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return len(a) + len(b) - 2 * same


def _reread_literal(copy: str, text: str, first: _Copy) -> _Copy | None:
    """Read again with unescaped brackets that align to the same bracket of the text as literal.

    Kept when it matches the text better than the first reading (models forget to escape).
    """
    raw, where = _unescaped_brackets(copy)
    literal: set[int] = set()
    for a, _, size in SequenceMatcher(None, raw, text, autojunk=False).get_matching_blocks():
        for k in range(size):
            if raw[a + k] in "[]" and where[a + k] >= 0:
                literal.add(where[a + k])
    if not literal:
        return None
    got = _read_copy(copy, frozenset(literal))
    if got.plain == text or _unmatched(got.plain, text) < _unmatched(first.plain, text):
        return got
    return None


class _Aligner:
    """Maps span boundaries in a model's copy to offsets in the text (see the module docstring)."""

    def __init__(self, copy: str, text: str) -> None:
        self.ops = SequenceMatcher(None, copy, text, autojunk=False).get_opcodes()

    def _op(self, k: int) -> tuple[str, int, int, int, int] | None:
        """The opcode holding copy character ``k``."""
        lo, hi = 0, len(self.ops) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            tag, i1, i2, j1, j2 = self.ops[mid]
            if k < i1:
                hi = mid - 1
            elif k >= i2:
                lo = mid + 1
            else:
                return self.ops[mid]
        return None

    def start(self, p: int) -> int | None:
        op = self._op(p)
        if op is None:
            return None
        tag, i1, i2, j1, j2 = op
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            return j1 + (p - i1)
        if tag == "delete" or p == i1:
            return j1
        return None

    def end(self, p: int) -> int | None:
        op = self._op(p - 1)
        if op is None:
            return None
        tag, i1, i2, j1, j2 = op
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            return j1 + (p - i1)
        if tag == "delete":
            return j1
        if p == i2:
            return j2
        return None


class TagsFormat(TaskFormat):
    """One line per type: ``<label>: <text with [mentions]>``; see the module docstring."""

    name: ClassVar[str] = "tags"

    def encode(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> str:
        _check_labels(labels, colon=True)
        ents, _ = _tag_representable(text, entities, labels)
        flat = _flat(text)
        lines = []
        for type_name, label in labels.items():
            spans = [(e.start, e.end) for e in ents if e.label == type_name]
            if spans:
                lines.append(f"{label}: {mark(flat, spans)}")
        return "\n".join(lines) if lines else NONE

    def decode(self, text: str, output: str, labels: Mapping[str, str]) -> Decoded:
        _check_labels(labels, colon=True)
        index = _label_index(labels)
        flat = _flat(text)
        ents: list[Entity] = []
        items = parse = align = unknown = 0
        truncated = False
        lines = [ln.rstrip("\r") for ln in output.split("\n")]
        if not output.strip():
            return Decoded([], parse_failures=1)
        for ln in lines:
            if not ln.strip() or _is_none(ln):
                continue
            label, colon, copy = ln.partition(":")
            if not colon:
                parse += 1
                continue
            copy = copy[1:] if copy.startswith(" ") else copy
            read = _read_copy(copy)
            if read.plain != flat and ("[" in flat or "]" in flat):
                read = _reread_literal(copy, flat, read) or read
            items += read.items
            parse += read.failures
            # the answer stopped inside this line: a bracket left open, or the copy is a cut-off prefix
            short = read.plain.rstrip()
            truncated = read.unclosed > 0 or (flat.startswith(short) and any(c.isalnum() for c in flat[len(short):]))
            type_name = index.get(_norm_label(label))
            if type_name is None:
                unknown += len(read.spans)
                continue
            if read.plain == flat:
                ents.extend(Entity(s, e, type_name) for s, e in read.spans)
                continue
            aligner = _Aligner(read.plain, flat)
            for s, e in read.spans:
                a, b = aligner.start(s), aligner.end(e)
                if a is not None and b is not None:
                    while a < b and flat[a].isspace():
                        a += 1
                    while b > a and flat[b - 1].isspace():
                        b -= 1
                if a is None or b is None or a >= b:
                    align += 1
                else:
                    ents.append(Entity(a, b, type_name))
        return Decoded(_unique(ents), items=items, parse_failures=parse, align_failures=align, unknown_types=unknown, truncated=truncated)

    def is_complete(self, output: str) -> bool:
        finished = output.split("\n")[:-1]  # lines a newline has closed
        content = False
        seen: set[str] = set()
        for ln in finished:
            s = ln.strip()
            if not s:
                if content:
                    return True
                continue
            if _is_none(s):
                return True
            label, colon, _ = s.partition(":")
            if not colon:
                if content:
                    return True
                continue  # prose before the answer
            key = _norm_label(label)
            if key in seen:
                return True
            seen.add(key)
            content = True
        return False

    def unrepresentable(self, text: str, entities: Sequence[Entity], labels: Mapping[str, str]) -> Counter[str]:
        _check_labels(labels, colon=True)
        kept, lost = _tag_representable(text, entities, labels)
        missed = _lost_in_round_trip(self, text, kept, labels)
        if missed:  # never expected: a bug in the format, reported rather than hidden
            lost["round trip"] += missed
        return lost


# ---------------------------------------------------------------- registry and costs

FORMATS: dict[str, TaskFormat] = {"json": JsonFormat(), "tags": TagsFormat()}


def get_format(name: str) -> TaskFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise BionerError("E701", f"unknown task format {name!r}", hint=f"formats: {', '.join(FORMATS)}") from None


def target_cost(fmt: TaskFormat, samples: Iterable[tuple[str, Sequence[Entity]]], labels: Mapping[str, str],
                count: Callable[[str], int] = len) -> tuple[int, int]:
    """(total ``count`` of the targets, gold entities) over (text, entities) samples.

    ``count`` is ``len`` for characters, or a tokenizer's length for model tokens
    (``lambda s: len(tok(s, add_special_tokens=False).input_ids)``).
    """
    total = ents = 0
    for text, entities in samples:
        total += count(fmt.encode(text, entities, labels))
        ents += len(entities)
    return total, ents
