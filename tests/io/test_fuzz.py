"""Property-based robustness tests of every reader.

Seeds are small valid files: written by each format's own writer from random Documents
(unicode, CJK, astral characters, nested/overlapping and discontinuous entities), or, for
the read-only formats (GENIA XML, layered IOB, LINNAEUS), generated or hand-written, plus
the heads of the real files; every seed must read back without error. Hypothesis then
mutates them (characters, lines, digits, swapped numbers, tabs and pipes, truncation,
invalid UTF-8, empty and random files, deep nesting, JSON/XML nodes, lone surrogates,
deleted files) and checks, reading with ``skip_invalid=False`` and ``skip_invalid=True``:

1. only BionerError escapes, naming its file; with ``skip_invalid=True`` only a whole-file
   problem (bad UTF-8, empty file, unparseable XML/JSON) may, the error strict reading
   stopped at is counted in the Report, and the documents before it are the same;
2. every Document has its entities (and fragments, passages, segments) inside its text,
   and only valid Unicode strings;
3. where the file carries the mention text, every entity's text is what the file says
   (the test re-parses the mention column itself).

Format sniffing is run on the same files (it must name a format or give up).

CI runs a fixed, derandomized set of examples. A longer exploring run:
``BIONER_FUZZ_SCALE=20 pytest tests/io/test_fuzz.py`` (random seeds, 20x the examples).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from bioner.doc import Document, Entity, Passage
from bioner.errors import BionerError, Report
from bioner.io import FORMATS, get_format, linnaeus
from bioner.io._sniff import sniff

Files = dict[str, bytes]  # relative path -> content
Draw = Callable[[st.SearchStrategy[Any]], Any]

SCALE = int(os.environ.get("BIONER_FUZZ_SCALE", "1"))


def fuzz_settings(n: int) -> settings:
    # derandomized in CI so a run never flakes; a scaled-up local run explores new examples
    return settings(
        max_examples=n * SCALE,
        deadline=None,
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# ---------------------------------------------------------------- random Documents

# letters, digits, punctuation the formats use as syntax, Greek, accents, a combining mark,
# CJK, an astral emoji, no-break space, Unicode line/paragraph separators, NEL, a BOM
TEXT_CHARS = list("abcXYZ019 .,;:-()[]/|+'\"<>&=_%#*\\{}αβé中文字が한😀\u0301\u00a0\u2028\u2029\x85\ufeff\t")
LINE_BREAKS = ["\n", "\r", "\r\n"]
LABELS = ["Disease", "Chemical", "GENE", "DNA", "cell_type", "gene or gene product", "疾病", "B-X", "a|b", "T1", "x\ty", ""]
CONCEPTS = [(), ("D000001",), ("MESH:D01", "OMIM:2"), ("-1",), ("1+2",), ("a b",)]


def text_strategy(newlines: bool, max_size: int = 30) -> st.SearchStrategy[str]:
    chars = TEXT_CHARS + (LINE_BREAKS if newlines else [])
    return st.one_of(
        st.text(st.sampled_from([c for c in chars if len(c) == 1]), max_size=max_size),
        st.lists(st.sampled_from(chars), max_size=max_size).map("".join),  # multi-char items (\r\n)
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size // 2),
    ).map(lambda t: t if newlines else t.replace("\n", " ").replace("\r", " "))


@st.composite
def entity_strategy(draw: Draw, n: int, discontinuous: bool) -> Entity:
    label = draw(st.sampled_from(LABELS))
    ids = draw(st.sampled_from(CONCEPTS))
    if discontinuous and n >= 3 and draw(st.booleans()):
        cuts = sorted(draw(st.sets(st.integers(0, n), min_size=4, max_size=4)))
        return Entity.from_fragments([(cuts[0], cuts[1]), (cuts[2], cuts[3])], label, ids=ids)
    s = draw(st.integers(0, n - 1))
    return Entity(s, draw(st.integers(s + 1, n)), label, ids=ids)


@st.composite
def document_strategy(draw: Draw, newlines: bool, discontinuous: bool, ids: st.SearchStrategy[str]) -> Document:
    title = draw(text_strategy(newlines))
    passages: list[Passage] = []
    text = title
    if draw(st.booleans()):  # title + " " + abstract, the PubTator/BioC layout
        text = f"{title} {draw(text_strategy(newlines))}"
        passages = [Passage(0, len(title), "title"), Passage(len(title) + 1, len(text), "abstract")]
    ents = draw(st.lists(entity_strategy(len(text), discontinuous), max_size=6)) if text else []
    return Document(draw(ids), text, ents, passages)


SAFE_IDS = st.text(st.sampled_from("abcXYZ0123456789_-.:#"), min_size=1, max_size=6)
NAME_IDS = st.text(st.sampled_from("abcXYZ0123456789_-"), min_size=1, max_size=6)  # usable as file names


def documents(newlines: bool = True, discontinuous: bool = False, ids: st.SearchStrategy[str] = SAFE_IDS) -> st.SearchStrategy[list[Document]]:
    return st.lists(document_strategy(newlines, discontinuous, ids), min_size=1, max_size=3)


@st.composite
def bc2_documents(draw: Draw) -> list[Document]:
    docs = draw(documents(newlines=False, ids=st.text(st.sampled_from("abcXYZ0123456789_-:"), min_size=1, max_size=6)))
    for doc in docs:  # ALTGENE alternatives: some entity spans again
        alts = [[e.start, e.end] for e in doc.entities if draw(st.booleans())]
        if alts:
            doc.metadata["altgene"] = alts
    return docs


# ---------------------------------------------------------------- generated seeds of read-only formats

TOKEN = st.text(st.sampled_from("abcXYZ019-.,()αé中😀|"), min_size=1, max_size=4)
LAYER_TAGS = ["O", "O", "B-DNA", "I-DNA", "B-protein", "I-protein", "B-cell_type"]


@st.composite
def layered_iob(draw: Draw) -> Files:
    layers = draw(st.integers(1, 4))
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 3)) == 2:
            lines += [draw(st.sampled_from(["-DOCSTART-\tO", "-DOCSTART- MEDLINE:1\tO", "###MEDLINE:2"])), ""]
        for _ in range(draw(st.integers(1, 6))):
            lines.append("\t".join([draw(TOKEN)] + [draw(st.sampled_from(LAYER_TAGS)) for _ in range(layers)]))
        lines.append("")
    return {"f.layered.iob2": "\n".join(lines).encode("utf-8")}


SEMS = ["G#protein_molecule", "G#DNA_domain_or_region", "G#RNA_molecule", "G#cell_type", "G#cell_line", "G#other_name",
        "(AND G#protein_molecule G#protein_molecule)", None]
XML_TEXT = st.text(st.sampled_from(list("abc XYZ019-.,()<>&'\"αé中😀\t\n")), max_size=8)


@st.composite
def genia_content(draw: Draw, depth: int) -> str:
    out = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 3 and draw(st.booleans()):
            sem = draw(st.sampled_from(SEMS))
            attr = f" sem={quoteattr(sem)}" if sem is not None else ""
            out.append(f'<cons lex="x"{attr}>{draw(genia_content(depth + 1))}</cons>')
        else:
            out.append(escape(draw(XML_TEXT) or "x"))  # an empty <cons> is E101
    return "".join(out)


@st.composite
def genia_xml(draw: Draw) -> Files:
    articles = []
    for k in range(draw(st.integers(1, 3))):
        ident = draw(st.sampled_from([f"MEDLINE:{k}", "MEDLINE:1", " MEDLINE:9 "]))
        parts = []
        for tag in draw(st.sampled_from([["title"], ["title", "abstract"], ["abstract"]])):
            sents = "\n".join(f"<sentence>{draw(genia_content(0))}</sentence>" for _ in range(draw(st.integers(1, 3))))
            parts.append(f"<{tag}>\n{sents}\n</{tag}>")
        articles.append(f"<article>\n<articleinfo>\n<bibliomisc>{ident}</bibliomisc>\n</articleinfo>\n" + "\n".join(parts) + "\n</article>")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE set SYSTEM "gpml.dtd">\n<set>\n<import resource="GENIAontology.daml" prefix="G"></import>\n'
    return {"f.genia.xml": (head + "\n".join(articles) + "\n</set>\n").encode("utf-8")}


GENIA_SEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE set SYSTEM "gpml.dtd">
<set>
<article>
<articleinfo>
<bibliomisc>MEDLINE:95369245</bibliomisc>
</articleinfo>
<title>
<sentence><cons lex="IL-2_gene_expression" sem="G#other_name"><cons lex="IL-2_gene" sem="G#DNA_domain_or_region">IL-2 gene</cons> expression</cons> and <cons lex="NF-kappa_B" sem="G#protein_molecule">NF-kappa B</cons> &amp; more.</sentence>
</title>
<abstract>
<sentence><cons lex="(AND x y)" sem="(AND G#cell_type G#cell_type)"><cons lex="T*">T</cons> and <cons lex="B_cell" sem="G#cell_type">B cells</cons></cons> respond.</sentence>
<sentence>None.</sentence>
</abstract>
</article>
</set>
"""
LAYERED_SEED = b"IL\tB-protein\tO\n-\tI-protein\tO\n2\tI-protein\tO\ngene\tO\tO\n\n###MEDLINE:1\n\nc\tB-DNA\tB-protein\nfos\tI-DNA\tO\n"


@st.composite
def linnaeus_files(draw: Draw) -> Files:
    files: Files = {}
    lines = ["#species id\tdocument\tstart\tend\ttext\tcode"]
    for doc_id in draw(st.lists(NAME_IDS, min_size=1, max_size=3, unique=True)):
        text = draw(text_strategy(newlines=True))
        files[f"txt/{doc_id}.txt"] = text.encode("utf-8")
        for _ in range(draw(st.integers(0, 4)) if text else 0):
            s = draw(st.integers(0, len(text) - 1))
            e = draw(st.integers(s + 1, len(text)))
            if not re.search(r"[\t\n\r]", text[s:e]):  # a mention column cannot hold them
                lines.append(f"species:ncbi:{draw(st.integers(1, 9999))}\t{doc_id}\t{s}\t{e}\t{text[s:e]}\t{draw(st.sampled_from(['', '1', 'm']))}")
    files["tags.tsv"] = ("\n".join(lines) + "\n").encode("utf-8")
    return files


# ---------------------------------------------------------------- mentions as the file states them


def text_lines(data: bytes) -> list[str]:
    """Lines as bioner.io._common.iter_lines gives them (undecodable bytes replaced)."""
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return [line.removesuffix("\r") for line in text.split("\n")]


def read_bytes(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""


_DIGITS = re.compile(r"[0-9]+")


def check_pubtator(folder: Path, docs: list[Document]) -> None:
    said: dict[tuple[str, int, int], set[str]] = defaultdict(set)
    for line in text_lines(read_bytes(folder / "f.pubtator")):
        cols = line.split("\t")
        if len(cols) >= 4 and _DIGITS.fullmatch(cols[1]) and _DIGITS.fullmatch(cols[2]):
            said[cols[0], int(cols[1]), int(cols[2])].add(cols[3])
    for doc in docs:
        pmid = doc.metadata.get("pubtator_pmid", doc.id)
        for e in doc.entities:
            assert doc.text[e.start : e.end] in said[pmid, e.start, e.end], (doc.id, e)


def check_brat(folder: Path, docs: list[Document]) -> None:
    for doc in docs:
        assert doc.text == read_bytes(folder / f"{doc.id}.txt").decode("utf-8")
        said: dict[str, set[str]] = defaultdict(set)
        for line in text_lines(read_bytes(folder / f"{doc.id}.ann")):
            fields = line.split("\t", 2)
            if len(fields) == 3:
                said[fields[0]].add(fields[2])
        for e in doc.entities:
            covered = e.text_in(doc.text)
            assert {covered, covered.replace("\r", " ").replace("\n", " ")} & said[e.attrs["id"]], (doc.id, e)


def _check_bioc(said: dict[str | None, set[str | None]], docs: list[Document]) -> None:
    for doc in docs:
        for e in doc.entities:
            texts = said[e.attrs.get("id")]
            assert None in texts or e.text_in(doc.text) in texts, (doc.id, e, texts)


def check_bioc_xml(folder: Path, docs: list[Document]) -> None:
    said: dict[str | None, set[str | None]] = defaultdict(set)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(read_bytes(folder / "f.bioc.xml") or b"<x/>", parser) if docs else None
    for ann in root.iter("annotation") if root is not None else ():
        texts = [c.text or "" for c in ann if c.tag == "text"]
        said[ann.get("id")].add(texts[-1] if texts else None)
    _check_bioc(said, docs)


def check_bioc_json(folder: Path, docs: list[Document]) -> None:
    if not docs:
        return
    said: dict[str | None, set[str | None]] = defaultdict(set)

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if "locations" in v:
                text = v.get("text")
                said[None if v.get("id") is None else str(v["id"])].add(text if isinstance(text, str) or text is None else "<not a string>")
            v = list(v.values())
        if isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.loads(read_bytes(folder / "f.bioc.json")))
    _check_bioc(said, docs)


def json_array_items(text: str) -> list[Any]:
    """The elements of a top-level JSON array that decode, in order, up to the first bad one."""
    dec, out = json.JSONDecoder(), []
    pos = len(text) - len(text.lstrip(" \t\n\r"))
    if text[pos : pos + 1] != "[":
        return out
    pos += 1
    while True:
        pos += len(text[pos:]) - len(text[pos:].lstrip(" \t\n\r,"))
        try:
            value, pos = dec.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            return out
        out.append(value)


def check_cblue(folder: Path, docs: list[Document]) -> None:
    items = json_array_items(read_bytes(folder / "f.cblue.json").decode("utf-8", errors="replace").removeprefix("\ufeff"))
    for doc in docs:
        item = items[int(doc.id.rsplit(":", 1)[1]) - 1]
        assert doc.text == item["text"]
        for e in doc.entities:
            surface = doc.text[e.start : e.end]
            raws = [r for r in item.get("entities", []) if isinstance(r, dict) and (r.get("start_idx"), r.get("end_idx"), r.get("type")) == (e.start, e.end - 1, e.label)]
            assert any(r.get("entity", surface) == surface for r in raws), (doc.id, e)


def _nonws_before(text: str) -> list[int]:
    out, n = [], 0
    for c in text:
        out.append(n)
        n += not c.isspace()
    return out + [n]


def check_bc2(folder: Path, docs: list[Document]) -> None:
    sentences: dict[str, set[str]] = defaultdict(set)
    for line in text_lines(read_bytes(folder / "s.in")):
        sid, _, text = line.partition(" ")
        sentences[sid].add(text)
    tables: list[dict[tuple[str, int, int], set[str | None]]] = []
    for name in ("GENE.eval", "ALTGENE.eval"):
        said: dict[tuple[str, int, int], set[str | None]] = defaultdict(set)
        for line in text_lines(read_bytes(folder / name)):
            fields = line.split("|", 2)
            offsets = fields[1].split(" ") if len(fields) > 1 else []
            if len(offsets) == 2 and all(_DIGITS.fullmatch(o) for o in offsets):
                said[fields[0], int(offsets[0]), int(offsets[1])].add(fields[2] if len(fields) > 2 else None)
        tables.append(said)
    for doc in docs:
        assert doc.text in sentences[doc.id]
        nonws = _nonws_before(doc.text)
        spans = [(tables[0], e.start, e.end) for e in doc.entities] + [(tables[1], s, t) for s, t in doc.metadata.get("altgene", [])]
        for said, s, t in spans:
            got = said[doc.id, nonws[s], nonws[t] - 1]
            assert None in got or doc.text[s:t] in got, (doc.id, s, t, got)


def _json_lines(path: Path) -> Iterator[Any]:
    for line in text_lines(read_bytes(path)):
        try:
            yield json.loads(line)
        except (ValueError, RecursionError):
            continue


def check_jsonl(folder: Path, docs: list[Document]) -> None:
    said: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in _json_lines(folder / "f.jsonl"):
        if isinstance(d, dict) and isinstance(d.get("id"), str):
            said[d["id"]].append(d)
    for doc in docs:
        raws = [d for d in said[doc.id] if d.get("text") == doc.text]
        assert raws, doc.id
        for e in doc.entities:
            surface = e.text_in(doc.text)
            listed = [r for d in raws if isinstance(d.get("entities", []), list) for r in d.get("entities", [])]
            found = [r for r in listed if isinstance(r, dict) and (r.get("start"), r.get("end"), r.get("label")) == (e.start, e.end, e.label)]
            assert any(r.get("text", surface) == surface for r in found), (doc.id, e)


def check_nested_jsonl(folder: Path, docs: list[Document]) -> None:
    said: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for d in _json_lines(folder / "f.jsonlines"):
        if isinstance(d, dict) and isinstance(d.get("tokens"), list) and all(isinstance(t, str) for t in d["tokens"]):
            mentions = d.get("entity_mentions", [])
            if isinstance(mentions, list):
                said[tuple(d["tokens"])].extend(m for m in mentions if isinstance(m, dict))
    for doc in docs:
        assert doc.sentences is not None and doc.tokens is not None
        for e in doc.entities:
            s, t = next(sent for sent in doc.sentences if sent[0] <= e.start and e.end <= sent[1])
            toks = [tok for tok in doc.tokens if s <= tok[0] and tok[1] <= t]
            words = tuple(doc.text[a:b] for a, b in toks)
            i, j = [a for a, _ in toks].index(e.start), [b for _, b in toks].index(e.end) + 1
            surface = doc.text[e.start : e.end]
            assert any((m.get("start"), m.get("end"), m.get("entity_type")) == (i, j, e.label) and m.get("text", surface) == surface for m in said[words]), (doc.id, e)


def check_linnaeus(folder: Path, docs: list[Document]) -> None:
    said: dict[tuple[str, int, int], set[str]] = defaultdict(set)
    for line in text_lines(read_bytes(folder / "tags.tsv")):
        cols = line.split("\t")
        try:
            said[cols[1], int(cols[2]), int(cols[3])].add(cols[4])
        except (IndexError, ValueError):
            continue
    for doc in docs:
        for e in doc.entities:
            assert doc.text[e.start : e.end] in said[doc.id, e.start, e.end], (doc.id, e)


# ---------------------------------------------------------------- mutations

SNIPPETS = [
    "\t", "|", "\n", "\r", " ", "-", "+", ";", ":", ",", "0", "7", "99", "-1", "T1", "N1", "A1", "R1", "*", "#",
    '"', "{", "}", "[", "]", "null", "true", "1e9", "\\u0000", "\\ud800", "<", ">", "&", "&amp;", "&bogus;", "&#0;",
    "]]>", "<!--", "<cons>", "</cons>", "</sentence>", "<text>", "<offset>3</offset>", "|t|", "|a|", "-DOCSTART-",
    "###", "B-", "I-X", "E-X", "S-", "O", "中", "😀", "\u2028", "\x00", "\ufeff", "\u0301",
]
INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe4\xb8", b"\x80", b"\xf4\x90\x80\x80"]


def _s(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _b(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def m_delete(draw: Draw, data: bytes) -> bytes:
    t = _s(data)
    i = draw(st.integers(0, len(t)))
    return _b(t[:i] + t[i + draw(st.integers(1, 4)) :])


def m_insert(draw: Draw, data: bytes) -> bytes:
    t = _s(data)
    i = draw(st.integers(0, len(t)))
    return _b(t[:i] + draw(st.sampled_from(SNIPPETS) | st.text(max_size=3)) + t[i:])


def m_replace(draw: Draw, data: bytes) -> bytes:
    t = _s(data)
    if not t:
        return data
    i = draw(st.integers(0, len(t) - 1))
    return _b(t[:i] + draw(st.sampled_from(SNIPPETS)) + t[i + 1 :])


def m_digit(draw: Draw, data: bytes) -> bytes:
    """Change a digit (an offset, most of the time), or a whole number."""
    t = _s(data)
    spots = [m.span() for m in re.finditer(r"[0-9]+", t)]
    if not spots:
        return data
    s, e = draw(st.sampled_from(spots))
    if draw(st.booleans()):
        i = draw(st.integers(s, e - 1))
        return _b(t[:i] + str(draw(st.integers(0, 9))) + t[i + 1 :])
    return _b(t[:s] + str(max(0, int(t[s:e]) + draw(st.sampled_from([-2, -1, 1, 2, 1000])))) + t[e:])


def m_tab_or_pipe(draw: Draw, data: bytes) -> bytes:
    t = _s(data)
    i = draw(st.integers(0, len(t)))
    return _b(t[:i] + draw(st.sampled_from(["\t", "|", "\t\t", " ", "\t|"])) + t[i:])


def m_swap_numbers(draw: Draw, data: bytes) -> bytes:
    """Swap two numbers of one line (start and end, or the fragments of a discontinuous mention)."""
    lines = _s(data).split("\n")
    k = draw(st.integers(0, len(lines) - 1))
    spots = [m.span() for m in re.finditer(r"[0-9]+", lines[k])]
    if len(spots) < 2:
        return data
    (a, b), (c, d) = sorted(draw(st.lists(st.sampled_from(spots), min_size=2, max_size=2, unique=True)))
    line = lines[k]
    lines[k] = line[:a] + line[c:d] + line[b:c] + line[a:b] + line[d:]
    return _b("\n".join(lines))


def m_nest(draw: Draw, data: bytes) -> bytes:
    """Nesting deeper than a recursive parser goes, where a value or an element may start."""
    t = _s(data)
    spots = [0] + [m.end() for m in re.finditer(r'[:\[\n>]', t)]
    i = draw(st.sampled_from(spots))
    return _b(t[:i] + draw(st.sampled_from(["[" * 5000, '{"text":' * 3000, "<x>" * 3000])) + t[i:])


def m_drop_file(draw: Draw, files: Files) -> Files:
    """One file of a set gone: a brat .txt or .ann, an .eval file, a LINNAEUS text."""
    if len(files) < 2:
        return files
    gone = draw(st.sampled_from(sorted(files)))
    return {k: v for k, v in files.items() if k != gone}


def m_brat_fragment_order(draw: Draw, files: Files) -> Files:
    """List a discontinuous mention's fragments in another order, its text column following that order or not."""
    anns = sorted(f for f in files if f.endswith(".ann"))
    if not anns:
        return files
    name = draw(st.sampled_from(anns))
    text = files.get(name[: -len(".ann")] + ".txt", b"").decode("utf-8", errors="replace")
    lines = _s(files[name]).split("\n")
    k = draw(st.integers(0, len(lines) - 1))
    m = re.fullmatch(r"(T\w*\t\S+ )([0-9 ;]+)\t(.*)", lines[k])
    if m is None or ";" not in m.group(2):
        return files
    frags = [tuple(map(int, f.split(" "))) for f in m.group(2).split(";")]
    frags = frags[::-1] if draw(st.booleans()) else frags[1:] + frags[:1]
    column = m.group(3)
    if draw(st.booleans()):  # the column in file order: not the entity's text
        column = " ".join(text[s:e] for s, e in frags).replace("\n", " ").replace("\r", " ")
    lines[k] = f"{m.group(1)}{';'.join(f'{s} {e}' for s, e in frags)}\t{column}"
    return {**files, name: _b("\n".join(lines))}


def m_lines(draw: Draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    op = draw(st.sampled_from(["duplicate", "swap", "delete", "blank"]))
    if op == "duplicate":
        lines.insert(j, lines[i])
    elif op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "delete":
        del lines[i]
    else:
        lines.insert(i, b"")
    return b"\n".join(lines)


def m_truncate(draw: Draw, data: bytes) -> bytes:
    return data[: draw(st.integers(0, max(0, len(data) - 1)))]


def m_invalid_utf8(draw: Draw, data: bytes) -> bytes:
    i = draw(st.integers(0, len(data)))
    return data[:i] + draw(st.sampled_from(INVALID_UTF8)) + data[i:]


def m_empty(draw: Draw, data: bytes) -> bytes:
    return draw(st.sampled_from([b"", b"\n", b" \n\n", b"\xef\xbb\xbf"]))


def m_random(draw: Draw, data: bytes) -> bytes:
    return draw(st.binary(max_size=40))


JSON_KEYS = ["id", "text", "entities", "start", "end", "label", "fragments", "ids", "attrs", "score", "source", "passages", "type",
             "infons", "sentences", "tokens", "metadata", "doc_id", "sent_id", "entity_mentions", "entity_type", "start_idx",
             "end_idx", "entity", "tokenized_text", "ner", "documents", "locations", "offset", "length", "annotations",
             "relations", "nodes", "refid", "role"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 30) | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=2), inner, max_size=3),
    max_leaves=6,
)


def _json_paths(v: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
    for k, x in items:
        yield from _json_paths(x, path + (k,))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        value = value[k]
    return value


def mutate_json(draw: Draw, value: Any) -> Any:
    """Replace, delete, duplicate or bump one node, add a key to an object, or cut a string."""
    paths = list(_json_paths(value))
    strings = [p for p in paths if p and isinstance(_at(value, p), str)]
    if strings and draw(st.integers(0, 3)) == 2:
        # a string cut inside a UTF-16 pair (JavaScript tools): half a surrogate pair, alone
        path = draw(st.sampled_from(strings))
        node = _at(value, path)
        i = draw(st.integers(0, len(node)))
        _at(value, path[:-1])[path[-1]] = node[:i] + draw(st.sampled_from(["\ud83d", "\ude00"])) + node[i:]
        return value
    path = draw(st.sampled_from(paths))
    if not path:
        return draw(JSON_VALUES)
    parent = value
    for k in path[:-1]:
        parent = parent[k]
    key, node = path[-1], parent[path[-1]]
    op = draw(st.sampled_from(["replace", "delete", "duplicate", "bump", "add"]))
    if op == "replace":
        parent[key] = draw(JSON_VALUES)
    elif op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(node))
    elif op == "bump" and type(node) is int:
        parent[key] = node + draw(st.sampled_from([-1, 1, -node - 1, 10**6]))
    elif op == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(JSON_KEYS))] = draw(JSON_VALUES)
    else:
        parent[key] = draw(JSON_VALUES)
    return value


def m_json(draw: Draw, data: bytes, whole: bool) -> bytes:
    if whole:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            return data
        # ASCII: lone surrogates become "\\ud83d" escapes; else surrogatepass writes them as invalid UTF-8
        out = json.dumps(mutate_json(draw, value), ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
        return out.encode("utf-8", "surrogatepass")
    lines = data.split(b"\n")
    i = draw(st.integers(0, len(lines) - 1))
    try:
        value = json.loads(lines[i])
    except (ValueError, RecursionError):
        return data
    lines[i] = json.dumps(mutate_json(draw, value), ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    return b"\n".join(lines)


XML_TAGS = ["document", "passage", "sentence", "annotation", "location", "text", "offset", "infon", "id", "relation", "node",
            "cons", "title", "abstract", "article", "articleinfo", "bibliomisc", "collection", "set", "x"]
XML_ATTRS = ["id", "key", "offset", "length", "refid", "role", "sem", "lex"]
XML_VALUES = st.one_of(st.integers(-3, 50).map(str), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=5), st.sampled_from(["", " 3", "1.5", "(AND G#a G#b)"]))


def m_xml(draw: Draw, data: bytes) -> bytes:
    """Remove, unwrap, duplicate, move or rename an element, or change its text or an attribute."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return data
    els = list(root.iter(tag=etree.Element))
    el = draw(st.sampled_from(els))
    parent = el.getparent()
    op = draw(st.sampled_from(["remove", "unwrap", "duplicate", "move", "rename", "text", "attr"]))
    try:
        if op in ("remove", "unwrap", "duplicate", "move") and parent is not None:
            i = parent.index(el)
            if op == "duplicate":
                parent.insert(i, copy.deepcopy(el))
            elif op == "move":
                parent.remove(el)
                target = draw(st.sampled_from([e for e in root.iter(tag=etree.Element) if e is not el]))
                target.insert(draw(st.integers(0, len(target))), el)
            else:
                kids = list(el) if op == "unwrap" else []
                parent.remove(el)
                for k, kid in enumerate(kids):
                    parent.insert(i + k, kid)
        elif op == "rename":
            el.tag = draw(st.sampled_from(XML_TAGS))
        elif op == "text":
            el.text = draw(XML_VALUES)
        else:
            el.set(draw(st.sampled_from(XML_ATTRS)), draw(XML_VALUES))
    except ValueError:  # lxml refuses some values; keep the file as it was
        return data
    return etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)


BYTE_OPS = [m_delete, m_insert, m_replace, m_digit, m_digit, m_swap_numbers, m_tab_or_pipe, m_lines, m_lines, m_truncate, m_invalid_utf8,
            m_empty, m_random, m_nest]


# ---------------------------------------------------------------- formats under test


@dataclass(frozen=True)
class Spec:
    name: str
    entry: str  # what the reader is given, relative to the folder holding the files
    seeds: st.SearchStrategy[Files]
    check: Callable[[Path, list[Document]], None] | None = None  # the file's own mention texts
    whole_file: frozenset[str] = frozenset({"E204", "E205", "E210"})  # may escape with skip_invalid=True
    json: str | None = None  # "lines" or "whole": JSON-aware mutations apply
    xml: bool = False  # XML-aware mutations apply
    file_ops: tuple[Callable[[Draw, Files], Files], ...] = ()  # format-specific mutations of the whole file set
    reader: Callable[..., Iterator[Document]] | None = None

    def read(self, folder: Path, **kw: Any) -> Iterator[Document]:
        if self.reader is not None:
            return self.reader(folder / self.entry, **kw)
        return get_format(self.name).read(folder / self.entry, **kw)


_SCRATCH: list[Path] = []


def written(name: str, entry: str) -> Callable[[list[Document]], Files]:
    """Seed maker: the format's writer, unrepresentable records skipped (and counted)."""

    def write(docs: list[Document]) -> Files:
        folder = _SCRATCH[0] / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        get_format(name).write(docs, folder / entry, report=Report(skip_invalid=True))
        return files_in(folder)

    return write


def files_in(folder: Path) -> Files:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def from_writer(name: str, entry: str, docs: st.SearchStrategy[list[Document]]) -> st.SearchStrategy[Files]:
    return docs.map(written(name, entry))


def fixed(files: Files, generated: st.SearchStrategy[Files]) -> st.SearchStrategy[Files]:
    return st.one_of(st.just(files), generated)


_XML_ESCAPES = frozenset({"E204", "E205", "E210", "E208"})
SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("jsonl", "f.jsonl", from_writer("jsonl", "f.jsonl", documents(discontinuous=True)), check_jsonl, json="lines"),
        Spec("iob", "f.iob", from_writer("iob", "f.iob", documents())),
        Spec("bioes", "f.bioes", from_writer("bioes", "f.bioes", documents())),
        Spec("iob-layered", "f.layered.iob2", fixed({"f.layered.iob2": LAYERED_SEED}, layered_iob())),
        Spec("pubtator", "f.pubtator", from_writer("pubtator", "f.pubtator", documents(newlines=False)), check_pubtator),
        Spec("bioc-xml", "f.bioc.xml", from_writer("bioc-xml", "f.bioc.xml", documents(discontinuous=True)), check_bioc_xml, _XML_ESCAPES, xml=True),
        Spec("bioc-json", "f.bioc.json", from_writer("bioc-json", "f.bioc.json", documents(discontinuous=True)), check_bioc_json, json="whole"),
        Spec("brat", ".", from_writer("brat", ".", documents(discontinuous=True, ids=NAME_IDS)), check_brat, file_ops=(m_brat_fragment_order, m_drop_file)),
        Spec("genia-xml", "f.genia.xml", fixed({"f.genia.xml": GENIA_SEED}, genia_xml()), whole_file=_XML_ESCAPES, xml=True),
        Spec("nested-jsonl", "f.jsonlines", from_writer("nested-jsonl", "f.jsonlines", documents()), check_nested_jsonl, json="lines"),
        Spec("cblue", "f.cblue.json", from_writer("cblue", "f.cblue.json", documents()), check_cblue, json="whole"),
        Spec("bc2", "s.in", bc2_documents().map(written("bc2", "s.in")), check_bc2, file_ops=(m_drop_file,)),
        # a file that is no JSON list at all cannot be read in part
        Spec("gliner", "f.gliner.json", from_writer("gliner", "f.gliner.json", documents()), whole_file=_XML_ESCAPES | {"E201"}, json="whole"),
        Spec("linnaeus", "tags.tsv", linnaeus_files(), check_linnaeus, reader=linnaeus.read, file_ops=(m_drop_file,)),
    ]
}


def test_every_reader_is_fuzzed() -> None:
    assert {name for name, f in FORMATS.items() if f.can_read} <= set(SPECS)


@st.composite
def mutated(draw: Draw, spec: Spec, files: Files) -> Files:
    files = dict(files)
    structural: list[Callable[[Draw, bytes], bytes]] = []
    if spec.json:
        structural.append(lambda d, b: m_json(d, b, spec.json == "whole"))
    if spec.xml:
        structural.append(m_xml)
    # half the time the file stays well-formed JSON/XML, so the reader gets past its parser
    ops = structural if structural and draw(st.booleans()) else BYTE_OPS + structural
    for _ in range(draw(st.integers(1, 3))):
        if not files:
            break
        # rare branches compare with a middle value: Hypothesis favours 0 and the bounds
        if spec.file_ops and draw(st.integers(0, 3)) == 2:
            files = draw(st.sampled_from(spec.file_ops))(draw, files)
            continue
        name = draw(st.sampled_from(sorted(files)))
        files[name] = draw(st.sampled_from(ops))(draw, files[name])
    return files


# ---------------------------------------------------------------- the properties


@dataclass
class Outcome:
    docs: list[Document]
    error: BionerError | None
    report: Report = field(default_factory=Report)


def put(folder: Path, files: Files) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)


def run(spec: Spec, folder: Path, skip: bool) -> Outcome:
    """Exhaust the reader; anything but a BionerError propagates and fails the test."""
    report = Report(skip_invalid=skip)
    docs: list[Document] = []
    try:
        for doc in spec.read(folder, report=report, skip_invalid=skip):
            docs.append(doc)
    except BionerError as exc:
        return Outcome(docs, exc, report)
    return Outcome(docs, None, report)


def check_documents(docs: list[Document]) -> None:
    for doc in docs:
        assert isinstance(doc.id, str) and isinstance(doc.text, str)
        # valid Unicode: a lone surrogate ("\\ud800" in JSON) would make every writer fail
        json.dumps([doc.id, doc.text, [(e.label, e.ids, dict(e.attrs)) for e in doc.entities]], ensure_ascii=False).encode("utf-8")
        n = len(doc.text)
        for e in doc.entities:
            assert isinstance(e.label, str) and 0 <= e.start < e.end <= n, (doc.id, e)
            assert all(0 <= s < t <= n for s, t in e.parts), (doc.id, e)
            assert all(isinstance(i, str) for i in e.ids), (doc.id, e)
            assert e.source is None or isinstance(e.source, str), (doc.id, e)
            assert e.score is None or isinstance(e.score, float), (doc.id, e)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in e.attrs.items()), (doc.id, e)
        doc.validate()


def check_properties(spec: Spec, folder: Path) -> tuple[Outcome, Outcome]:
    if spec.entry != ".":
        # format sniffing reads the same files: it names a format or gives up, never crashes
        assert sniff(folder / spec.entry) in {None, *FORMATS}
    strict, lenient = run(spec, folder, skip=False), run(spec, folder, skip=True)
    for out in (strict, lenient):
        check_documents(out.docs)
        if spec.check is not None:
            spec.check(folder, out.docs)
    # shown by --hypothesis-show-statistics: how often mutations are caught, and by which code
    event(f"strict: {strict.error.code if strict.error else 'read'}; skip_invalid: {'raised' if lenient.error else 'read'}")
    assert lenient.docs[: len(strict.docs)] == strict.docs  # skipping changes nothing before the first error
    if lenient.error is not None:
        assert lenient.error.code in spec.whole_file, f"skip_invalid=True let a record-level error escape: {lenient.error}"
        if lenient.error.code == "E210":  # only the file the reader was given is the whole input
            assert Path(str(lenient.error.file)) == folder / spec.entry, lenient.error
    if strict.error is None:
        assert lenient.error is None and lenient.docs == strict.docs and lenient.report.skipped == 0
    else:
        # the error that stopped strict reading was counted (or it was about the whole file)
        same = lenient.error is not None and lenient.error.code == strict.error.code
        assert same or lenient.report.counts[strict.error.code] >= 1, (strict.error, lenient.report.summary())
    # every problem names its file
    assert all(err.file for err in (strict.error, lenient.error) if err is not None), (strict.error, lenient.error)
    assert all(issue.file for issue in lenient.report), lenient.report.issues
    return strict, lenient


@pytest.fixture(scope="module", autouse=True)
def _scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _SCRATCH.insert(0, tmp_path_factory.mktemp("fuzz-seeds"))
    yield
    _SCRATCH.pop(0)


# tuned so the whole file takes ~25 s of CPU (2-core CI machine); see the module doc for a longer run
EXAMPLES = {"jsonl": 150, "iob": 90, "bioes": 90, "iob-layered": 110, "pubtator": 150, "bioc-xml": 120, "bioc-json": 120, "brat": 130,
            "genia-xml": 110, "nested-jsonl": 110, "cblue": 130, "bc2": 110, "gliner": 100, "linnaeus": 110}


def _fuzz_test(name: str) -> Callable[..., None]:
    spec = SPECS[name]

    @fuzz_settings(EXAMPLES[name])
    @given(data=st.data())
    def test(tmp_path: Path, data: st.DataObject) -> None:
        seed = data.draw(spec.seeds, label="seed files")
        put(tmp_path / "in", seed)
        strict = run(spec, tmp_path / "in", skip=False)
        # the writer's output reads back (E205: no document could be written, e.g. only empty texts)
        assert strict.error is None or strict.error.code == "E205", f"a valid seed does not read: {strict.error}"
        files = data.draw(mutated(spec, seed), label="mutated files")
        put(tmp_path / "in", files)
        check_properties(spec, tmp_path / "in")

    test.__name__ = test.__qualname__ = f"test_fuzz_{name.replace('-', '_')}"
    return test


for _name in SPECS:
    _test = _fuzz_test(_name)
    globals()[_test.__name__] = _test


# ---------------------------------------------------------------- one offset digit changed

# E204: a digit of the XML declaration's encoding; E103: a passage offset; E210: a document name (LINNAEUS)
OFFSET_CODES = {"E101", "E102", "E103", "E201", "E202", "E204", "E206", "E208", "E209", "E210"}
ANNOTATION_FILES = {"pubtator": None, "brat": ".ann", "bc2": ".eval", "cblue": None, "jsonl": None, "bioc-xml": None, "linnaeus": "tags.tsv"}


@pytest.mark.parametrize("name", sorted(ANNOTATION_FILES))
@fuzz_settings(45)
@given(data=st.data())
def test_a_changed_offset_digit_is_an_offset_error_or_still_matches(name: str, tmp_path: Path, data: st.DataObject) -> None:
    spec = SPECS[name]
    files = dict(data.draw(spec.seeds, label="seed files"))
    suffix = ANNOTATION_FILES[name]
    targets = sorted(f for f in files if suffix is None or f.endswith(suffix))
    target = data.draw(st.sampled_from(targets), label="file")
    files[target] = m_digit(data.draw, files[target])
    put(tmp_path / "in", files)
    strict, lenient = check_properties(spec, tmp_path / "in")
    if strict.error is not None:
        assert strict.error.code in OFFSET_CODES, strict.error


# ---------------------------------------------------------------- real file heads


@functools.cache
def _head_lines(path: Path, n: int) -> bytes:
    lines = path.read_bytes().split(b"\n")[:n]
    return b"\n".join(lines) + b"\n"


@functools.cache
def _xml_head(path: Path, end_tag: bytes, n: int, close: bytes) -> bytes:
    """The file up to its n-th ``end_tag``, closed by ``close``: a small valid file."""
    data = path.read_bytes()[:100000]
    cut = 0
    for _ in range(n):
        cut = data.index(end_tag, cut) + len(end_tag)
    return data[:cut] + close


@fuzz_settings(80)
@given(data=st.data())
def test_fuzz_real_file_heads(data_dir: Path, tmp_path: Path, data: st.DataObject) -> None:
    """Mutated heads of real corpus files (GENIA XML and layered IOB are read-only: no writer makes their seeds)."""
    s800 = data_dir / "s800/standoff"
    heads = {
        "genia-xml": {"f.genia.xml": _xml_head(data_dir / "genia/original-xml/GENIAcorpus3.02.xml", b"</article>", 2, b"\n</set>\n")},
        "bioc-xml": {"f.bioc.xml": _xml_head(data_dir / "bc5cdr/original/CDR_DevelopmentSet.BioC.xml", b"</document>", 1, b"\n</collection>\n")},
        "brat": {"19667393.ann": (s800 / "19667393.ann").read_bytes(), "19667393.txt": (s800 / "19667393.txt").read_bytes()},
        "iob-layered": {"f.layered.iob2": _head_lines(data_dir / "genia/layered-iob2/genia.dev.iob2", 80)},
        "nested-jsonl": {"f.jsonlines": _head_lines(data_dir / "genia/nested-jsonlines/dev.jsonlines", 4)},
        "pubtator": {"f.pubtator": _head_lines(data_dir / "ncbi-disease/original/NCBIdevelopset_corpus.txt", 30)},
    }
    name = data.draw(st.sampled_from(sorted(heads)), label="format")
    put(tmp_path / "in", heads[name])
    assert run(SPECS[name], tmp_path / "in", skip=False).error is None
    files = data.draw(mutated(SPECS[name], heads[name]), label="mutated files")
    put(tmp_path / "in", files)
    check_properties(SPECS[name], tmp_path / "in")
