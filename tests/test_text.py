"""Tokens, sentences and chunks as offsets (bioner.text)."""

from __future__ import annotations

import bisect
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioner.doc import Entity, Offsets
from bioner.errors import BionerError
from bioner.text import (
    ABBREVIATIONS,
    Chunk,
    chunk,
    join_tokens,
    merge_chunk_entities,
    split_sentences,
    tokenize,
    tokenize_words,
)


def sents_of(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


# ---------------------------------------------------------------------------
# tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("IL-2", ["IL", "-", "2"]),
        (
            "2,3,7,8-tetrachlorodibenzo-p-dioxin",
            ["2", ",", "3", ",", "7", ",", "8", "-", "tetrachlorodibenzo", "-", "p", "-", "dioxin"],
        ),
        ("10,11-dihydro", ["10", ",", "11", "-", "dihydro"]),
        ("4,4'-DDT", ["4", ",", "4", "'", "-", "DDT"]),
        # Greek letters are letters
        ("TNF-α and α-synuclein, TNFα, NF-κB, β2", ["TNF", "-", "α", "and", "α", "-", "synuclein", ",", "TNFα", ",", "NF", "-", "κB", ",", "β2"]),
        # numbers: decimals and thousands stay whole; a decimal comma splits
        ("0.5 1,000 10,000.5 2.5.1 0,5", ["0.5", "1,000", "10,000.5", "2.5.1", "0", ",", "5"]),
        ("1,2345 1234,567", ["1", ",", "2345", "1234", ",", "567"]),
        # numbers with units split; words keep their digits
        ("10mg ATP7B 2p13 CD4+ Ca2+", ["10", "mg", "ATP7B", "2", "p13", "CD4", "+", "Ca2", "+"]),
        ("p<0.05, 3.5% a=b >2", ["p", "<", "0.05", ",", "3.5", "%", "a", "=", "b", ">", "2"]),
        ('(IL-2/IL-4; CD4+): "x" [1]', ["(", "IL", "-", "2", "/", "IL", "-", "4", ";", "CD4", "+", ")", ":", '"', "x", '"', "[", "1", "]"]),
        ("Crohn's x_y", ["Crohn", "'", "s", "x", "_", "y"]),
        ("e.g. Fig.2", ["e", ".", "g", ".", "Fig", ".", "2"]),
        # unspaced scripts: one token per character
        ("中文テスト한국어ไทย", list("中文テスト한국어ไทย")),
        ("IL-2基因。", ["IL", "-", "2", "基", "因", "。"]),
        ("１２３ｍｇ", ["１２３", "ｍｇ"]),
        # combining marks stay in their word
        ("cafe\u0301 naïve हिन्दी", ["cafe\u0301", "naïve", "हिन्दी"]),
        # every kind of whitespace separates
        ("a\tb\u00a0c\u3000d\ne\u2028f", ["a", "b", "c", "d", "e", "f"]),
        ("", []),
        (" \n\t", []),
    ],
)
def test_tokenize_examples(text: str, tokens: list[str]) -> None:
    assert tokenize_words(text) == tokens
    assert [text[s:e] for s, e in tokenize(text)] == tokens


def test_tokenize_region_is_offsets_into_the_whole_text() -> None:
    text = "The IL-2 gene, 0.5 mg."
    spans = tokenize(text, 4, 13)
    assert [text[s:e] for s, e in spans] == ["IL", "-", "2", "gene"]
    assert spans == [(s + 4, e + 4) for s, e in tokenize(text[4:13])]
    # a region ending inside a number does not look past its end
    assert [text[s:e] for s, e in tokenize(text, 15, 17)] == ["0", "."]
    with pytest.raises(BionerError) as err:
        tokenize(text, 5, 100)
    assert err.value.code == "E103"


def test_tokenize_boundaries_split_tokens() -> None:
    text = "hyperglycemia and 0.5mg IL-2R"
    assert tokenize_words(text)[0] == "hyperglycemia"
    spans = tokenize(text, boundaries=[5, 20, 28, 0, 999, 17])
    words = [text[s:e] for s, e in spans]
    assert words == ["hyper", "glycemia", "and", "0", ".", "5", "mg", "IL", "-", "2", "R"]
    for b in (5, 20, 28):
        assert not any(s < b < e for s, e in spans)


def test_tokenize_long_repetitive_text() -> None:
    unit = "Mutations in the BRCA1 gene (p<0.05) cause 2,3-dioxygenase-deficiency. "
    words = tokenize_words(unit)
    assert words == ["Mutations", "in", "the", "BRCA1", "gene", "(", "p", "<", "0.05", ")", "cause"] + [
        "2", ",", "3", "-", "dioxygenase", "-", "deficiency", ".",
    ]
    spans = tokenize(unit * 2000)
    assert len(spans) == 2000 * len(words)
    assert spans[-1] == (2000 * len(unit) - 2, 2000 * len(unit) - 1)


# ---------------------------------------------------------------------------
# split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Genes were mapped. The locus is on 2p13.", ["Genes were mapped.", "The locus is on 2p13."]),
        ("It works! Does it? Yes... Next.", ["It works!", "Does it?", "Yes...", "Next."]),
        ('He said "stop." Then (see below.) It ended.', ['He said "stop."', "Then (see below.)", "It ended."]),
        ("Mice (e.g. C57BL/6) and rats, i.e. Wistar, were used.", ["Mice (e.g. C57BL/6) and rats, i.e. Wistar, were used."]),
        ("Dose was 5 mg/kg i.v. and i.p. twice. s.c. was not.", ["Dose was 5 mg/kg i.v. and i.p. twice. s.c. was not."]),
        ("As shown in Fig. 2 and Figs. 3-4, it grows. See Fig. 5.", ["As shown in Fig. 2 and Figs. 3-4, it grows.", "See Fig. 5."]),
        ("Smith et al. Reported it. Jones et al. (2001) did not.", ["Smith et al. Reported it.", "Jones et al. (2001) did not."]),
        ("Drug vs. Placebo, approx. 5 mg, ca. 10 cells, cf. Ref. 12 and Eq. 3.", ["Drug vs. Placebo, approx. 5 mg, ca. 10 cells, cf. Ref. 12 and Eq. 3."]),
        ("Dr. Jones saw No. 5 in resp. trials.", ["Dr. Jones saw No. 5 in resp. trials."]),
        ("It was no. Then it was.", ["It was no.", "Then it was."]),
        ("Written by J. Smith and J. A. Jones.", ["Written by J. Smith and J. A. Jones."]),
        ("E. coli and S. cerevisiae grew. S. Typhimurium did not.", ["E. coli and S. cerevisiae grew.", "S. Typhimurium did not."]),
        ("Patients had hepatitis B. The virus was cleared.", ["Patients had hepatitis B.", "The virus was cleared."]),
        ("Doses were 0.5 and 1.5 mg. P < 0. 05 was significant.", ["Doses were 0.5 and 1.5 mg.", "P < 0. 05 was significant."]),
        ("It was low. 25 patients had it. (A) shows it.", ["It was low.", "25 patients had it.", "(A) shows it."]),
        ("Cells died. α-Synuclein rose. mRNA fell. p53 rose.", ["Cells died.", "α-Synuclein rose.", "mRNA fell.", "p53 rose."]),
        ("Mice were used. mice were not.", ["Mice were used. mice were not."]),
        ("Patients with MS. The cohort grew.", ["Patients with MS.", "The cohort grew."]),
        ("30 mg/kg p.o. Although low, it worked.", ["30 mg/kg p.o.", "Although low, it worked."]),
        ("as in Smith et al. RESULTS: none.", ["as in Smith et al.", "RESULTS: none."]),
        # newlines: a single one and a blank line both end a sentence
        ("Title of a paper\nAbstract starts here.\n\nSecond paragraph", ["Title of a paper", "Abstract starts here.", "Second paragraph"]),
        ("a b\r\nc d", ["a b", "c d"]),
        # Chinese/Japanese full stops end a sentence without whitespace; ； does not
        ("患者发热。咳嗽！是否？好", ["患者发热。", "咳嗽！", "是否？", "好"]),
        ("他说：「好。」然后走了；没有回来。", ["他说：「好。」", "然后走了；没有回来。"]),
        ("細胞が死んだ。次にIL-2を測った。", ["細胞が死んだ。", "次にIL-2を測った。"]),
        ("  padded sentence.  ", ["padded sentence."]),
        ("", []),
        ("\n \n", []),
    ],
)
def test_split_sentences_examples(text: str, sentences: list[str]) -> None:
    assert sents_of(text) == sentences


def test_abbreviation_list_is_documented_form() -> None:
    # entries are lower-cased and end with the period they absorb
    assert all(a == a.lower() and a.endswith(".") for a in ABBREVIATIONS)
    for a in ("e.g.", "i.e.", "fig.", "figs.", "al.", "vs.", "approx.", "ca.", "dr.", "cf.", "resp."):
        assert a in ABBREVIATIONS


def test_split_sentences_region() -> None:
    text = "Skip this. Keep this one. And this. Not this."
    spans = split_sentences(text, 11, 35)
    assert [text[s:e] for s, e in spans] == ["Keep this one.", "And this."]
    with pytest.raises(BionerError):
        split_sentences(text, 40, 10)


# ---------------------------------------------------------------------------
# properties on random text

_PIECES = [
    "IL-2", "TNF-α", "2,3,7,8", "0.5", "1,000", "10mg", "e.g.", "Fig.", "et al.", "E.", "coli", "J.", "The", "mRNA",
    "中文", "テスト", "한국어", "ไทย", "。", "！", "；", ".", "!", "?", ")", "(", '"', "'", ",", "-", "/", "cafe\u0301",
    " ", " ", " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u3000", "\r\n", "\u2028",
]
_texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
    st.lists(st.sampled_from(_PIECES), max_size=80).map("".join),
)


def assert_partition(text: str, spans: list[Offsets], *, exactly_once: bool) -> None:
    """Spans are non-empty, ordered, disjoint, without edge whitespace, and cover every non-space char."""
    prev_end = -1
    for s, e in spans:
        assert s < e and s >= prev_end
        assert not text[s].isspace() and not text[e - 1].isspace()
        prev_end = e
    covered = [0] * len(text)
    for s, e in spans:
        for i in range(s, e):
            covered[i] += 1
    for i, c in enumerate(text):
        if not c.isspace():
            assert covered[i] == 1 if exactly_once else covered[i] >= 1, (i, c)


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_tokens_partition_the_non_space_characters(text: str) -> None:
    spans = tokenize(text)
    assert_partition(text, spans, exactly_once=True)
    assert all(not any(ch.isspace() for ch in text[s:e]) for s, e in spans)
    assert tokenize_words(text) == [text[s:e] for s, e in spans]


@settings(max_examples=200, deadline=None)
@given(_texts, st.lists(st.integers(0, 200), max_size=6))
def test_boundaries_are_never_crossed(text: str, boundaries: list[int]) -> None:
    spans = tokenize(text, boundaries=boundaries)
    assert_partition(text, spans, exactly_once=True)
    assert not any(s < b < e for s, e in spans for b in boundaries)


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_sentences_partition_the_non_space_characters(text: str) -> None:
    sents = split_sentences(text)
    assert_partition(text, sents, exactly_once=True)
    # default tokens never cross a default sentence boundary
    starts = [s for s, _ in sents]
    for s, e in tokenize(text):
        i = bisect.bisect_right(starts, s) - 1
        assert sents[i][0] <= s and e <= sents[i][1]


@settings(max_examples=200, deadline=None)
@given(_texts, st.integers(0, 200), st.integers(0, 200))
def test_a_region_is_split_like_its_slice(text: str, a: int, b: int) -> None:
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    piece = text[start:end]
    assert tokenize(text, start, end) == [(s + start, e + start) for s, e in tokenize(piece)]
    assert split_sentences(text, start, end) == [(s + start, e + start) for s, e in split_sentences(piece)]


# ---------------------------------------------------------------------------
# chunk


def chunk_words(text: str, ch: Chunk) -> list[str]:
    return [text[s:e] for s, e in ch.tokens]


def test_chunk_packs_whole_sentences() -> None:
    text = "A b c. D e f g. H i. J k l m n o."  # sentences of 4, 5, 3 and 7 tokens
    chunks = chunk(text, max_tokens=9)
    assert [ch.text_of(text) for ch in chunks] == ["A b c. D e f g.", "H i.", "J k l m n o."]
    assert chunk_words(text, chunks[0]) == ["A", "b", "c", ".", "D", "e", "f", "g", "."]
    assert [len(ch.tokens) for ch in chunk(text, max_tokens=10)] == [9, 10]


def test_chunk_overlap_carries_whole_sentences_only() -> None:
    text = "A b c. D e. F g h. I j k l."  # 4, 3, 4, 5 tokens
    chunks = chunk(text, max_tokens=8, overlap=4)
    # "F g h." (4) cannot be carried: with "I j k l." (5) it would exceed 8
    assert [ch.text_of(text) for ch in chunks] == ["A b c. D e.", "D e. F g h.", "I j k l."]
    # the last sentence (5 tokens) is longer than the overlap: no carry, no partial sentence
    chunks = chunk(text + " M n o p q r s.", max_tokens=12, overlap=4)
    assert [ch.text_of(text + " M n o p q r s.") for ch in chunks] == ["A b c. D e. F g h.", "F g h. I j k l.", "M n o p q r s."]


def test_chunk_cuts_a_long_sentence_with_token_overlap() -> None:
    words = [f"w{i}" for i in range(10)]
    text = "Short one. " + " ".join(words) + " end"
    chunks = chunk(text, max_tokens=4, overlap=1)
    assert [chunk_words(text, ch) for ch in chunks] == [
        ["Short", "one", "."],
        ["w0", "w1", "w2", "w3"],
        ["w3", "w4", "w5", "w6"],
        ["w6", "w7", "w8", "w9"],
        ["w9", "end"],
    ]
    assert chunks[-1].end == len(text)
    assert chunks[2].relative_tokens()[0] == (0, 2)


def test_chunk_with_given_segmentation() -> None:
    text = "aa bb cc\ndd ee"
    # sentences from a file; tokens outside any sentence ("dd ee") still get a chunk
    chunks = chunk(text, max_tokens=2, sentences=[(0, 5)], token_spans=[(6, 8), (0, 2), (3, 5), (9, 11), (12, 14)])
    assert [ch.text_of(text) for ch in chunks] == ["aa bb", "cc\ndd", "ee"]


def test_chunk_arguments_and_empty_text() -> None:
    assert chunk("", 5) == []
    assert chunk(" \n ", 5) == []
    for bad in ((0, 0), (4, 4), (4, -1)):
        with pytest.raises(ValueError):
            chunk("a b", *bad)


_long_texts = st.one_of(
    _texts,
    st.lists(st.sampled_from(["IL-2", "gene", "α", "0.5", ",", "-", " "]), min_size=50, max_size=400).map("".join),
    st.text(st.sampled_from("中文テスト한국어ไทย。；，"), min_size=1, max_size=300),
)


@settings(max_examples=200, deadline=None)
@given(_long_texts, st.integers(1, 12), st.integers(0, 11))
def test_chunks_cover_every_character(text: str, max_tokens: int, overlap: int) -> None:
    overlap = min(overlap, max_tokens - 1)
    chunks = chunk(text, max_tokens, overlap)
    covered = [False] * len(text)
    for ch in chunks:
        assert 0 <= ch.start < ch.end <= len(text)
        assert 1 <= len(ch.tokens) <= max_tokens
        assert all(ch.start <= s < e <= ch.end for s, e in ch.tokens)
        for i in range(ch.start, ch.end):
            covered[i] = True
    assert all(covered[i] for i, c in enumerate(text) if not c.isspace())
    assert [ch.start for ch in chunks] == sorted(ch.start for ch in chunks)
    # every token is in some chunk, whole
    all_tokens = {t for ch in chunks for t in ch.tokens}
    assert all_tokens == set(tokenize(text))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["IL-2", "gene", "α", "。", "E.", "x" * 30]), min_size=1, max_size=30), min_size=1, max_size=8),
    st.integers(1, 10),
    st.integers(0, 9),
)
def test_chunks_of_a_rebuilt_iob_document(sentences: list[list[str]], max_tokens: int, overlap: int) -> None:
    # a document rebuilt from IOB tokens keeps its own segmentation
    text, sent_spans, tok_spans = join_tokens(sentences)
    tokens = [t for sent in tok_spans for t in sent]
    chunks = chunk(text, max_tokens, min(overlap, max_tokens - 1), sentences=sent_spans[::-1], token_spans=tokens)
    assert {t for ch in chunks for t in ch.tokens} == set(tokens)
    for ch in chunks:
        assert len(ch.tokens) <= max_tokens
        # a window of several sentences holds whole sentences
        inside = [s for s in sent_spans if ch.start <= s[0] and s[1] <= ch.end]
        if len(inside) > 1:
            assert sum(len(tok_spans[sent_spans.index(s)]) for s in inside) == len(ch.tokens)


# ---------------------------------------------------------------------------
# merge_chunk_entities


def test_merge_shifts_and_keeps_the_best_duplicate() -> None:
    a, b = Chunk(0, 20, ()), Chunk(10, 30, ())
    merged = merge_chunk_entities(
        [
            (a, [Entity(12, 15, "Gene", score=0.4), Entity(0, 3, "Disease", score=0.9)]),
            (b, [Entity(2, 5, "Gene", score=0.8), Entity(2, 5, "Chemical", score=0.1), Entity(15, 20, "Gene")]),
        ]
    )
    assert [(e.start, e.end, e.label, e.score) for e in merged] == [
        (0, 3, "Disease", 0.9),
        (12, 15, "Chemical", 0.1),
        (12, 15, "Gene", 0.8),
        (25, 30, "Gene", None),
    ]


def test_merge_ties_and_missing_scores() -> None:
    a, b = Chunk(0, 10, ()), Chunk(5, 15, ())
    first = Entity(6, 8, "X", source="first")
    merged = merge_chunk_entities([(a, [first]), (b, [Entity(1, 3, "X", source="second")])])
    assert [e.source for e in merged] == ["first"]  # no scores: the earlier chunk wins
    merged = merge_chunk_entities([(a, [first]), (b, [Entity(1, 3, "X", score=0.1, source="second")])])
    assert [e.source for e in merged] == ["second"]  # any score beats none
    # fragments are shifted too
    frag = Entity.from_fragments([(0, 2), (4, 6)], "X")
    assert merge_chunk_entities([(b, [frag])])[0].fragments == ((5, 7), (9, 11))


def test_merge_rejects_an_entity_outside_its_chunk() -> None:
    with pytest.raises(BionerError) as err:
        merge_chunk_entities([(Chunk(10, 15, ()), [Entity(3, 8, "X")])])
    assert err.value.code == "E101"


def test_chunk_then_merge_recovers_document_entities() -> None:
    text = "BRCA1 mutations cause breast cancer. " * 6 + "Loss of TP53 in tumours of the breast cancer type is common and bad."
    gold = sorted(
        (Entity(i, i + len(w), "X") for w in ("BRCA1", "breast cancer", "TP53") for i in _find_all(text, w)), key=Entity.sort_key
    )
    chunks = chunk(text, max_tokens=12, overlap=5)
    assert len(chunks) > 3
    predicted = []
    for ch in chunks:
        piece = ch.text_of(text)
        found = [Entity(i, i + len(w), "X", score=0.5) for w in ("BRCA1", "breast cancer", "TP53") for i in _find_all(piece, w)]
        predicted.append((ch, found))
    assert [e.key() for e in merge_chunk_entities(predicted)] == [e.key() for e in gold]


def _find_all(text: str, word: str) -> list[int]:
    out, i = [], text.find(word)
    while i >= 0:
        out.append(i)
        i = text.find(word, i + 1)
    return out


# ---------------------------------------------------------------------------
# real text: no NCBI-disease mention crosses a sentence boundary


def read_pubtator(path: Path) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(title + " " + abstract, mentions) per document of a PubTator file."""
    docs: list[tuple[str, list[tuple[int, int, str]]]] = []
    title = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if "|t|" in line[:20]:
            title = line.split("|", 2)[2]
        elif "|a|" in line[:20]:
            docs.append((title + " " + line.split("|", 2)[2], []))
        elif line.count("\t") >= 4:
            _, s, e, mention = line.split("\t")[:4]
            docs[-1][1].append((int(s), int(e), mention))
    return docs


@pytest.mark.parametrize(
    ("name", "n_docs", "n_mentions", "sentence_range"),
    [
        ("NCBItestset_corpus.txt", 100, 960, (870, 920)),
        ("NCBIdevelopset_corpus.txt", 100, 787, (865, 915)),
        ("NCBItrainset_corpus.txt", 593, 5145, (5100, 5350)),
    ],
)
def test_ncbi_disease_mentions_stay_inside_sentences(
    data_dir: Path, name: str, n_docs: int, n_mentions: int, sentence_range: tuple[int, int]
) -> None:
    docs = read_pubtator(data_dir / "ncbi-disease" / "original" / name)
    assert len(docs) == n_docs and sum(len(m) for _, m in docs) == n_mentions
    crossing, n_sents = [], 0
    for text, mentions in docs:
        sents = split_sentences(text)
        n_sents += len(sents)
        starts = [s for s, _ in sents]
        for s, e, mention in mentions:
            assert text[s:e] == mention.rstrip()  # one train mention has trailing spaces in the file
            i = bisect.bisect_right(starts, s) - 1
            if not (i >= 0 and e <= sents[i][1]):
                crossing.append(mention)
    # measured: 0 crossings in all three splits (0 of 6,881 mentions)
    assert crossing == []
    # measured 892 / 889 / 5,205 sentences (the MTL IOB files have 940 / 923 / 5,424)
    assert sentence_range[0] <= n_sents <= sentence_range[1]
