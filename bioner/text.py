"""Views of text with offsets: token joining, tokenization, sentence splitting, chunking.

Nothing here changes the text; every function returns (start, end) offsets into it,
end-exclusive. Everything is regular expressions run with ``finditer`` over the text
(no per-character Python loops), so it scales to all of PubMed.

Tokens (``tokenize``), following the tokenization of the BioNER corpora (NCBI-disease,
BC5CDR, JNLPBA) where they agree, in this order:

* Whitespace (``str.isspace``) separates tokens and is never part of one.
* A word is a letter followed by letters, digits and combining marks: ``IL2``,
  ``ATP7B``, ``TNFα``, ``β2`` and ``CD4`` are one token each. Greek letters are letters.
* A number starts with a digit: ``7``, a decimal ``0.5``, ``2.5.1`` (dotted versions, EC
  numbers), or a number with thousands separators ``1,000`` / ``10,000.5`` (a comma
  followed by exactly three digits, not a fourth). Any other comma between digits is its
  own token, so chemical locants split: ``2,3,7,8`` -> ``2 , 3 , 7 , 8``, ``10,11`` ->
  ``10 , 11``; a 3-digit group reads as thousands (``2,300`` stays one token).
  A decimal comma (``0,5``) is therefore split too.
* Letters after a number start a new token: ``10mg`` -> ``10 mg``, ``2p13`` -> ``2 p13``,
  ``5HT`` -> ``5 HT`` (a word may contain digits, a number never contains letters).
* Every other character is its own token: hyphens, slashes, brackets, commas, colons,
  semicolons, periods, quotes, apostrophes, ``+ % = < >``, the underscore, symbols, and
  a combining mark that follows no letter. ``IL-2`` -> ``IL - 2``,
  ``TNF-α`` -> ``TNF - α``, ``Crohn's`` -> ``Crohn ' s``, ``p<0.05`` -> ``p < 0.05``.
* Scripts written without spaces (CJK ideographs, Hiragana, Katakana, Hangul, Thai, Lao,
  Khmer, Myanmar) give one token per character (code point); digits and marks of these
  scripts too.
* ``boundaries``: extra offsets where a token must be split (entity boundaries from an
  annotation), so no token crosses one. The text on each side is tokenized on its own.

The MTL/BioBERT IOB files split decimals (``0 . 5``); use ``boundaries`` or the file's
own tokens when exact alignment with them matters.

Sentences (``split_sentences``): a sentence never includes surrounding whitespace, and
every non-whitespace character of the text is in exactly one sentence. A sentence ends:

* at every line break (LF, CR and the other ``str.splitlines`` separators):
  a blank line and a single newline alike, since titles and abstracts, IOB-rebuilt text
  (``join_tokens``) and most corpus files put one sentence or paragraph per line;
* after a Chinese/Japanese full stop, exclamation or question mark (``。！？｡``, then any
  closing quotes/brackets), without needing whitespace. The full-width semicolon ``；``
  does not end a sentence: like ``;`` it joins clauses of one sentence (``chunk`` cuts
  sentences that are too long);
* after ``.``, ``!`` or ``?`` (a run of them, then any closing quotes/brackets) followed
  by whitespace and then an uppercase or uncased letter, a digit, a Greek letter (either
  case: ``α-Synuclein``), an opening quote/bracket, or a lowercase-initial word with
  capitals or digits (gene-style names: ``mRNA``, ``p53``, ``hiPS``). Any other lowercase
  word never starts a sentence ("E. coli", "S. cerevisiae", "i.p. urethane", "vs. placebo"
  stay whole; the price: "... mice. beta4 -/- mice" is one sentence).
  A single ``.`` does not end a sentence:

  - between numbers: "P < 0. 05", "EC 1. 1. 1. 49" (spaced decimals are frequent in
    PubMed-derived corpora; NCBI-disease has ~590), at the price of "in 1987. 93% of";
  - after an abbreviation in ``NUMBER_ABBREVIATIONS`` when a digit or an opening bracket
    follows ("No. 5", "Ref. [12]", "Eq. (3)", "pp. 12"): "no." may also end a sentence;
  - after an abbreviation in ``ABBREVIATIONS`` ("e.g.", "Fig.", "et al.", "vs.",
    "approx.", "Dr." ...), a dotted abbreviation ("i.v.", "s.c.", "b.i.d.", "U.S.") or a
    single capital letter, an initial ("J. Smith", "S. Typhimurium") — unless the next
    word opens a sentence: one of ``SENTENCE_OPENERS`` ("hepatitis B. The ...",
    "30 mg/kg p.o. Although ...") or an all-caps heading before ``:`` ("et al. RESULTS:").
    A capital followed by a period is another initial ("J. A. Smith"), never an opener.
    Abbreviations match in lowercase or capitalized ("fig."/"Fig."), not in capitals, so
    acronyms end sentences: "patients with MS. The", "NO. The".

  A decimal point (``0.5``) is never followed by whitespace, so it never ends a sentence.
  Measured on the PubTator texts (title + " " + abstract): no gold mention of NCBI-disease
  (train, dev, test: 6,881 mentions) or BC5CDR (28,785) crosses a sentence boundary.

Chunks (``chunk``): model-sized windows of whole sentences, see its docstring;
``merge_chunk_entities`` maps entities found in chunks back to document offsets.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bioner.doc import Entity, Offsets
from bioner.errors import BionerError

# The joining rule for token-based formats (IOB, nested JSON lines, GENIA tokens):
# tokens of a sentence are joined by one space, sentences by one newline. So a
# document rebuilt from tokens has token i of sentence j at a known offset, and
# whitespace tokenization of the rebuilt text gives the tokens back.
TOKEN_SEP = " "
SENTENCE_SEP = "\n"


def join_tokens(sentences: Sequence[Sequence[str]]) -> tuple[str, list[Offsets], list[list[Offsets]]]:
    """Rebuild text from tokenized sentences.

    Returns the text, the offsets of each sentence, and the offsets of each token per
    sentence. Tokens must not contain whitespace (a reader checks this and reports the
    line), so the rule stays reversible.
    """
    parts: list[str] = []
    sent_offsets: list[Offsets] = []
    tok_offsets: list[list[Offsets]] = []
    pos = 0
    for j, sent in enumerate(sentences):
        if j:
            parts.append(SENTENCE_SEP)
            pos += len(SENTENCE_SEP)
        start = pos
        toks: list[Offsets] = []
        for i, tok in enumerate(sent):
            if i:
                parts.append(TOKEN_SEP)
                pos += len(TOKEN_SEP)
            parts.append(tok)
            toks.append((pos, pos + len(tok)))
            pos += len(tok)
        sent_offsets.append((start, pos))
        tok_offsets.append(toks)
    return "".join(parts), sent_offsets, tok_offsets


# ---------------------------------------------------------------------------
# Character classes

# Scripts written without spaces between words: one token per character.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK and Kangxi radicals
    "\u3005\u3007\u3021-\u3029\u3038-\u303c"  # iteration marks, ideographic numbers
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul Jamo extensions, syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # halfwidth Katakana
    "\U00020000-\U0003ffff"  # CJK extensions B..H
)


def _ranges(spans: Iterable[tuple[int, int]]) -> str:
    """A character-class body for inclusive code point ranges."""
    return "".join(re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in spans)


def _bmp_spans(bmp: str, char_class: str) -> list[tuple[int, int]]:
    r"""The BMP code point ranges (inclusive) that ``char_class`` matches; ``bmp`` is the whole BMP."""
    return [(m.start(), m.end() - 1) for m in re.finditer(f"{char_class}+", bmp)]


def _bmp_marks() -> list[tuple[int, int]]:
    r"""Combining marks (category M) of the BMP outside the unspaced scripts.

    Python's ``\w`` has no marks, so decomposed accents and Indic vowel signs would
    otherwise split words.
    """
    unspaced = re.compile(f"[{_UNSPACED}]")
    cat = unicodedata.category
    spans: list[tuple[int, int]] = []
    for c in range(0x10000):
        if cat(chr(c))[0] == "M" and not unspaced.match(chr(c)):
            if spans and spans[-1][1] == c - 1:
                spans[-1] = (spans[-1][0], c)
            else:
                spans.append((c, c))
    return spans


def _union(*spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(s for group in spans for s in group):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


@functools.cache
def _token_re() -> re.Pattern[str]:
    r"""The tokenizer: one regex, built on first use (~40 ms), so importing stays cheap.

    Word classes exclude the unspaced scripts: letters (``\w`` minus digits and ``_``),
    digits (``\d``) and word characters (both). A class built on ``\w``/``\d`` is tested
    item by item for every character, while explicit BMP ranges compile to a bitmap (one
    lookup): twice the speed. Characters beyond the BMP (rare: math alphanumerics,
    historic scripts) go, behind a one-range guard, to the equivalent ``\w`` class.
    Combining marks continue a word only in the BMP; an astral mark is its own token.
    """
    bmp = "".join(map(chr, range(0x10000)))
    astral = "\U00010000-\U0010ffff"
    letter_class = f"[^\\W\\d_{_UNSPACED}]"
    letter_spans, digit_spans = _bmp_spans(bmp, letter_class), _bmp_spans(bmp, f"[^\\D{_UNSPACED}]")
    letter = f"(?:[{_ranges(letter_spans)}]|(?=[{astral}]){letter_class})"
    wordchar = f"[{_ranges(_union(letter_spans, digit_spans))}]"
    digit = f"[{_ranges(digit_spans)}]"
    # marks and zero-width (non-)joiners continue a word (Indic, Persian); so does any astral word character
    extra = f"(?:[{_ranges(_bmp_marks())}\u200c\u200d]|(?=[{astral}])[^\\W_{_UNSPACED}])"
    # unrolled (chars* (extra+ chars*)*) so that the common path is one bitmap class
    word = f"{letter}{wordchar}*(?:{extra}+{wordchar}*)*"
    number = f"{digit}{{1,3}}(?:,{digit}{{3}})+(?!{digit})(?:\\.{digit}+)*|{digit}+(?:\\.{digit}+)*"
    return re.compile(f"{word}|{number}|\\S")


_NONSPACE_RE = re.compile(r"\S")
_TRIM_RE = re.compile(r"\S(?:.*\S)?", re.DOTALL)


def _region(text: str, start: int, end: int | None) -> tuple[int, int]:
    end = len(text) if end is None else end
    if not (0 <= start <= end <= len(text)):
        raise BionerError("E103", f"region {start}..{end} is outside the text (length {len(text)})")
    return start, end


# ---------------------------------------------------------------------------
# Tokens


def tokenize(text: str, start: int = 0, end: int | None = None, *, boundaries: Iterable[int] = ()) -> list[Offsets]:
    """Token offsets of ``text[start:end]`` (offsets into ``text``); rules in the module doc.

    No token crosses an offset in ``boundaries`` (offsets outside start..end are ignored).
    """
    start, end = _region(text, start, end)
    cuts = sorted({b for b in boundaries if start < b < end})
    if not cuts:
        return [m.span() for m in _token_re().finditer(text, start, end)]
    spans: list[Offsets] = []
    lo = start
    # endpos makes the regex see each piece as if the text ended there
    for hi in cuts + [end]:
        spans.extend(m.span() for m in _token_re().finditer(text, lo, hi))
        lo = hi
    return spans


def tokenize_words(text: str) -> list[str]:
    """The token strings of ``text``."""
    return [m.group() for m in _token_re().finditer(text)]


# ---------------------------------------------------------------------------
# Sentences

# Lower-cased, with the final period. A single "." after one of these (lowercase or
# capitalized: "fig."/"Fig.") ends a sentence only before a sentence opener (see below).
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "e.g.", "i.e.", "i.v.", "i.p.", "i.m.", "s.c.", "p.o.", "b.i.d.", "t.i.d.", "q.d.", "viz.", "cf.", "vs.",
        "v.s.", "resp.", "approx.", "appr.", "ca.", "c.a.", "esp.", "incl.", "al.", "fig.", "figs.", "tab.", "suppl.",
        "ibid.", "dr.", "drs.", "mr.", "mrs.", "ms.", "prof.", "jr.", "st.", "dept.", "univ.", "var.", "cv.", "subsp.",
        "ssp.", "syn.", "sect.", "ser.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.",
        "oct.", "nov.", "dec.",
    }
)
# A single "." after one of these does not end a sentence when a digit or "(" / "[" follows.
NUMBER_ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "no.", "nos.", "nr.", "ref.", "refs.", "eq.", "eqs.", "p.", "pp.", "vol.", "art.", "ch.", "chap.", "ex.",
        "exp.", "n.",
    }
)
# Words that start a sentence after an abbreviation or a single capital letter
# ("hepatitis B. The ...", "p.o. Although ..."): no name or species epithet is one.
SENTENCE_OPENERS: frozenset[str] = frozenset(
    {
        "A", "After", "Additionally", "Again", "All", "Also", "Although", "Among", "An", "And", "Another", "Any", "Are",
        "As", "At", "Because", "Before", "Both", "But", "By", "Collectively", "Conclusion", "Conclusions",
        "Consequently", "Consistent", "Consistently", "Data", "Despite", "During", "Each", "Either", "Finally", "First",
        "For", "Four", "From", "Further", "Furthermore", "Given", "Hence", "Here", "However", "If", "Importantly", "In",
        "Indeed", "Instead", "Interestingly", "Is", "It", "Its", "Key", "Later", "Likewise", "Many", "Mean", "Median",
        "Methods", "Moreover", "Most", "Nevertheless", "No", "None", "Nonetheless", "Not", "Notably", "Of", "On", "One",
        "Only", "Other", "Our", "Overall", "Patients", "Previous", "Rather", "Recent", "Results", "Second", "Several",
        "She", "Similar", "Similarly", "Since", "So", "Some", "Such", "Taken", "That", "The", "Their", "Then", "There",
        "Therefore", "These", "They", "Third", "This", "Those", "Three", "Though", "Thus", "To", "Together", "Two",
        "Under", "Unlike", "Using", "We", "What", "When", "Where", "Whereas", "Whether", "Which", "While", "With",
        "Within", "Without", "Yet",
    }
)

_CLOSERS = "\"'”’»)\\]}」』）】〕〉》"
_OPENERS = "\"'“‘«(\\[{「『（【〔〈《"
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
_SENT_END_RE = re.compile(
    f"(?P<nl>[{_LINE_BREAKS}])"
    f"|(?P<cjk>[。！？｡]+[{_CLOSERS}]*)"
    f"|(?P<term>(?P<punct>[.!?]+)[{_CLOSERS}]*)(?=\\s)"
)
_DOTTED_RE = re.compile(r"[^\W\d_](?:\.[^\W\d_])+")


def _may_start_sentence(c: str) -> bool:
    # uppercase, titlecase and uncased letters (CJK ...), digits, Greek, opening brackets
    return (c.isalpha() and not c.islower()) or c.isdigit() or c in _OPENERS or "\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff"


def _mixed_case_at(text: str, k: int, hi: int) -> bool:
    """A lowercase-initial word with capitals or digits, like gene names: ``mRNA``, ``p53``."""
    m = _token_re().match(text, k, hi)
    return m is not None and any(ch.isupper() or ch.isdigit() for ch in m.group()[1:])


def _word_before(text: str, i: int, lo: int) -> str:
    """The whitespace-delimited word ending at ``i``, without opening brackets/quotes."""
    seg = text[max(lo, i - 24) : i]  # abbreviations are short; a longer word is none of them
    if not seg or seg[-1].isspace():
        return ""
    return seg.split()[-1].lstrip(_OPENERS)


def _ends_sentence(text: str, m: re.Match[str], lo: int, hi: int) -> bool:
    """Whether a ``.``/``!``/``?`` run followed by whitespace ends a sentence."""
    nxt = _NONSPACE_RE.search(text, m.end(), hi)
    if nxt is None:
        return True
    k = nxt.start()
    c = text[k]
    if not (_may_start_sentence(c) or _mixed_case_at(text, k, hi)):
        return False
    if m.group("punct") != ".":
        return True  # "!", "?", "..." and mixed runs
    word = _word_before(text, m.start(), lo)
    if c.isdigit() and word[-1:].isdigit():
        return False  # a spaced decimal, "P < 0. 05"
    if _abbreviation(word) in NUMBER_ABBREVIATIONS and (c.isdigit() or c in "(["):
        return False
    if _abbreviation(word) in ABBREVIATIONS or _DOTTED_RE.fullmatch(word) or (len(word) == 1 and word.isupper()):
        return _opens_sentence(text, k, hi)
    return True


def _abbreviation(word: str) -> str:
    # "fig" and "Fig" match "fig."; acronyms do not: "MS.", "NO.", "MR." end sentences
    return word[:1].lower() + word[1:] + "."


def _opens_sentence(text: str, k: int, hi: int) -> bool:
    """Whether the word at ``k`` opens a sentence after an abbreviation."""
    m = _token_re().match(text, k, hi)
    if m is None:
        return False
    word, after = m.group(), text[m.end() : min(m.end() + 1, hi)]
    if after == ".":
        return False  # another initial: "J. A. Smith"
    # a common sentence opener, or a structured-abstract heading ("RESULTS:")
    return word in SENTENCE_OPENERS or (len(word) > 1 and word.isupper() and after == ":")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Offsets]:
    """Sentence offsets of ``text[start:end]`` (offsets into ``text``); rules in the module doc."""
    start, end = _region(text, start, end)
    spans: list[Offsets] = []
    lo = start
    for m in _SENT_END_RE.finditer(text, start, end):
        if m.lastgroup == "term" and not _ends_sentence(text, m, start, end):
            continue
        _add_trimmed(text, lo, m.end(), spans)
        lo = m.end()
    _add_trimmed(text, lo, end, spans)
    return spans


def _add_trimmed(text: str, lo: int, hi: int, spans: list[Offsets]) -> None:
    m = _TRIM_RE.search(text, lo, hi)
    if m is not None:
        spans.append(m.span())


# ---------------------------------------------------------------------------
# Chunks


@dataclass(frozen=True)
class Chunk:
    """A model-sized window ``text[start:end]`` and its tokens, in document offsets.

    ``tokens`` is a tuple (the chunk is immutable). Entities predicted on
    ``text_of(text)`` have offsets relative to ``start``; ``merge_chunk_entities``
    shifts them back.
    """

    start: int
    end: int
    tokens: tuple[Offsets, ...]

    def text_of(self, text: str) -> str:
        return text[self.start : self.end]

    def relative_tokens(self) -> list[Offsets]:
        """Token offsets relative to ``start`` (into ``text_of(text)``)."""
        return [(s - self.start, e - self.start) for s, e in self.tokens]


class _Unit(NamedTuple):
    """A sentence (or tokens outside every sentence) and its token index range."""

    start: int
    end: int
    lo: int  # first token index
    hi: int  # one past the last token index

    @property
    def size(self) -> int:
        return self.hi - self.lo


def chunk(
    text: str,
    max_tokens: int,
    overlap: int = 0,
    *,
    sentences: Sequence[Offsets] | None = None,
    token_spans: Sequence[Offsets] | None = None,
) -> list[Chunk]:
    """Cut ``text`` into windows of at most ``max_tokens`` tokens, whole sentences first.

    Sentences (default ``split_sentences(text)``) are packed greedily, in order, into a
    window while its token count (default tokens ``tokenize(text)``) stays within
    ``max_tokens``. When a window is full, the next one starts with the longest run of
    the previous window's last *whole* sentences that has at most ``overlap`` tokens (and
    leaves room for the next sentence): context is never a partial sentence, whose cut
    entities the merge could not recognise as duplicates. So a last sentence longer than
    ``overlap`` gives no overlap. A sentence longer than ``max_tokens`` gets windows of
    its own: ``max_tokens`` tokens each, consecutive ones sharing ``overlap`` tokens.

    ``sentences`` and ``token_spans`` (e.g. a Document's own) may come in any order;
    tokens must not overlap. A token belongs to the sentence it starts in; tokens
    outside every given sentence are grouped like a sentence. A packed window spans its
    first sentence's start to its last sentence's end; a cut sentence's windows span
    their tokens (the first/last one extends to the sentence's start/end). So every
    character of a sentence or a token is in at least one chunk, in order of start.
    """
    if max_tokens < 1 or not (0 <= overlap < max_tokens):
        raise ValueError(f"need max_tokens >= 1 and 0 <= overlap < max_tokens, got max_tokens={max_tokens}, overlap={overlap}")
    toks = sorted(token_spans) if token_spans is not None else tokenize(text)
    sents = sorted(sentences) if sentences is not None else split_sentences(text)
    chunks: list[Chunk] = []
    window: list[_Unit] = []
    count = 0
    for unit in _units(sents, toks):
        if unit.size > max_tokens:
            if window:
                chunks.append(_packed(window, toks))
            window, count = [], 0
            chunks.extend(_cut(unit, toks, max_tokens, overlap))
            continue
        if window and count + unit.size > max_tokens:
            chunks.append(_packed(window, toks))
            window = _carry(window, min(overlap, max_tokens - unit.size))
            count = sum(u.size for u in window)
        window.append(unit)
        count += unit.size
    if window:
        chunks.append(_packed(window, toks))
    return chunks


def _units(sents: Sequence[Offsets], toks: Sequence[Offsets]) -> list[_Unit]:
    """Sentences with their tokens, and runs of tokens that fall between sentences."""
    starts = [s for s, _ in toks]
    units: list[_Unit] = []
    i = 0  # first token not yet in a unit
    for s, e in sents:
        j = max(i, bisect_left(starts, s))
        if j > i:  # tokens before this sentence, in no sentence
            units.append(_Unit(toks[i][0], toks[j - 1][1], i, j))
        k = max(j, bisect_left(starts, e))  # a token belongs to the sentence it starts in
        if k > j:
            units.append(_Unit(min(s, toks[j][0]), max(e, toks[k - 1][1]), j, k))
        else:
            units.append(_Unit(s, e, j, j))
        i = k
    if i < len(toks):
        units.append(_Unit(toks[i][0], toks[-1][1], i, len(toks)))
    return units


def _packed(window: Sequence[_Unit], toks: Sequence[Offsets]) -> Chunk:
    return Chunk(min(u.start for u in window), max(u.end for u in window), tuple(toks[window[0].lo : window[-1].hi]))


def _carry(window: Sequence[_Unit], budget: int) -> list[_Unit]:
    """The longest suffix of whole units with at most ``budget`` tokens."""
    kept: list[_Unit] = []
    used = 0
    for u in reversed(window):
        if used + u.size > budget:
            break
        kept.append(u)
        used += u.size
    return kept[::-1]


def _cut(unit: _Unit, toks: Sequence[Offsets], max_tokens: int, overlap: int) -> list[Chunk]:
    out: list[Chunk] = []
    i = unit.lo
    while True:
        j = min(i + max_tokens, unit.hi)
        start = unit.start if i == unit.lo else toks[i][0]
        end = unit.end if j == unit.hi else toks[j - 1][1]
        out.append(Chunk(start, end, tuple(toks[i:j])))
        if j == unit.hi:
            return out
        i += max_tokens - overlap


def join_crossed(sents: Sequence[Offsets], ents: Sequence[Entity]) -> list[Offsets]:
    """Join consecutive sentences that an entity crosses (a sentence split inside a mention)."""
    out: list[Offsets] = []
    for s, e in sorted(sents):
        if out and any(x.start < s and x.end > out[-1][1] for x in ents):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def merge_chunk_entities(chunks_entities: Iterable[tuple[Chunk, Sequence[Entity]]]) -> list[Entity]:
    """Entities found in chunks (offsets relative to ``chunk.start``) in document offsets.

    Overlapping windows find the same mention twice: entities with the same start, end
    and label are one, and the one with the highest score is kept (a missing score
    counts as lowest; on a tie the earlier chunk's entity wins). Entities that differ in
    start, end or label are all kept — nested and overlapping mentions are allowed.
    Returned sorted by ``Entity.sort_key``. An entity ending past its chunk is an error
    (E101): the offsets cannot belong to that chunk's text.
    """
    best: dict[tuple[int, int, str], Entity] = {}
    for ch, ents in chunks_entities:
        length = ch.end - ch.start
        for ent in ents:
            if ent.end > length:
                raise BionerError(
                    "E101",
                    f"entity {ent.label!r} at {ent.start}..{ent.end} ends past its chunk {ch.start}..{ch.end} (length {length})",
                    hint="entity offsets must be relative to chunk.start",
                )
            doc_ent = ent.shifted(ch.start)
            key = doc_ent.key()
            old = best.get(key)
            if old is None or _score(doc_ent) > _score(old):
                best[key] = doc_ent
    return sorted(best.values(), key=Entity.sort_key)


def _score(ent: Entity) -> float:
    return float("-inf") if ent.score is None else ent.score
