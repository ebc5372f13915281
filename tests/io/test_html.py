"""The HTML writer: displaCy-style marks, escaping, nesting, overlaps, colors, registry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bioner.io
from bioner.cli.extract import destination
from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.io.html import PALETTE, displacy_colors, label_color, render_document, render_page, to_displacy


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def marks(self) -> list[Node]:
        """Every <mark> below this node, depth first."""
        found: list[Node] = []
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == "mark":
                    found.append(c)
                found.extend(c.marks())
        return found

    def text(self, labels: bool = False) -> str:
        """Text content; label spans (the <span> children of marks) left out unless ``labels``."""
        out = []
        for c in self.children:
            if isinstance(c, str):
                out.append(c)
            elif c.tag == "br":
                out.append("\n")
            elif labels or not (self.tag == "mark" and c.tag == "span"):
                out.append(c.text(labels))
        return "".join(out)

    def label(self) -> str | None:
        spans = [c for c in self.children if isinstance(c, Node) and c.tag == "span"]
        return spans[0].text(True).strip() if spans else None


class TreeParser(HTMLParser):
    VOID = {"br", "meta"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    p = TreeParser()
    p.feed(markup)
    p.close()
    assert p.stack == [p.root], "unclosed elements"
    return p.root


def squash(s: str) -> str:
    # the markup adds indentation around mark contents, as displaCy's does
    return "".join(s.split())


def doc_div(markup: str) -> Node:
    divs = [n for n in _walk(parse(markup)) if n.tag == "div" and n.attrs.get("class") == "entities"]
    assert len(divs) == 1
    return divs[0]


def _walk(node: Node) -> list[Node]:
    out = [node]
    for c in node.children:
        if isinstance(c, Node):
            out.extend(_walk(c))
    return out


def pieces_by_entity(div: Node) -> dict[int, list[Node]]:
    by: dict[int, list[Node]] = {}
    for m in div.marks():
        by.setdefault(int(m.attrs["data-entity"]), []).append(m)
    return by


def test_escaping_text_labels_ids_and_attributes() -> None:
    text = 'a < b & "c" \'d\' <script>alert(1)</script> x'
    start = text.index("<script>")
    doc = Document('id "<1>"', text, [Entity(start, start + 8, "tag<&>", score=0.5), Entity(0, 1, 'q"uote')])
    page = render_page([doc])
    assert "<script>" not in page and "</script>" not in page
    assert "&lt;script&gt;" in page and "alert(1)&lt;/script&gt;" in page
    assert "&amp;" in page and "&quot;c&quot;" in page and "&#x27;d&#x27;" in page
    assert "<h2" in page and "id &quot;&lt;1&gt;&quot;" in page
    div = doc_div(page)
    assert squash(div.text()) == squash(text)  # parsing undoes the escaping exactly
    labels = sorted(m.label() or "" for m in div.marks())
    assert labels == sorted(["tag<&>", 'q"uote'])
    script = [m for m in div.marks() if m.label() == "tag<&>"][0]
    assert squash(script.text()) == "<script>"
    assert "0.500" in script.attrs["title"]  # the tooltip carries the score


def test_nested_marks_inner_inside_outer() -> None:
    text = "IL-2 gene expression requires CD28."
    doc = Document("d", text, [Entity(0, 4, "protein"), Entity(0, 9, "DNA"), Entity(30, 34, "protein")])
    div = doc_div(render_document(doc))
    outer = [m for m in div.marks() if m.label() == "DNA"]
    assert len(outer) == 1
    inner = outer[0].marks()
    assert [squash(m.text()) for m in inner] == ["IL-2"] and inner[0].label() == "protein"
    assert squash(outer[0].text()) == "IL-2gene"
    # the outer mark's padding is larger, so its rim shows around the inner one
    pad = [float(re.search(r"padding: ([\d.]+)em", m.attrs["style"]).group(1)) for m in (outer[0], inner[0])]  # type: ignore[union-attr]
    assert pad[0] > pad[1]
    # a mark for each entity; the top-level marks are DNA and the second protein
    assert len(div.marks()) == 3
    assert [m.label() for m in div.children if isinstance(m, Node)] == ["DNA", "protein"]


def test_same_span_two_labels_both_visible() -> None:
    doc = Document("d", "BRCA1 is here", [Entity(0, 5, "gene"), Entity(0, 5, "protein")])
    div = doc_div(render_document(doc))
    marks = div.marks()
    assert sorted(m.label() or "" for m in marks) == ["gene", "protein"]
    assert marks[1] in marks[0].marks()  # one inside the other, not side by side


def test_overlapping_entities_are_cut_into_nesting_pieces() -> None:
    text = "alpha beta gamma delta"
    a = Entity(0, 10, "A")  # "alpha beta"
    b = Entity(6, 16, "B")  # "beta gamma": crosses A
    doc = Document("d", text, [b, a])
    div = doc_div(render_document(doc))
    by = pieces_by_entity(div)
    assert len(by) == 2
    whole, cut = sorted(by.values(), key=len)
    assert len(whole) == 1 and whole[0].label() == "A" and squash(whole[0].text()) == "alphabeta"
    assert [squash(p.text()) for p in cut] == ["beta", "gamma"]
    assert cut[0] in whole[0].marks()  # the first piece of B nests inside A
    assert [p.label() for p in cut] == [None, "B"]  # the label once, on the last piece
    assert "dashed" in cut[0].attrs["style"] and "border-right" in cut[0].attrs["style"]
    assert "border-left" in cut[1].attrs["style"]
    assert squash(div.text()) == squash(text)  # no text lost or doubled


def test_discontinuous_entity_pieces() -> None:
    text = "breast and ovarian cancer"
    ent = Entity.from_fragments([(0, 6), (19, 25)], "disease")
    div = doc_div(render_document(Document("d", text, [ent])))
    pieces = pieces_by_entity(div)[0]
    assert [squash(p.text()) for p in pieces] == ["breast", "cancer"]
    assert [p.label() for p in pieces] == [None, "disease"]


def test_non_ascii_offsets() -> None:
    text = "Das α-Synuclein 🧬 und 乳腺癌 bei BRCA1\nzweite Zeile: naïve T-Zellen"
    spans = [("α-Synuclein", "protein"), ("乳腺癌", "disease"), ("BRCA1", "gene"), ("naïve T-Zellen", "cell type")]
    ents = [Entity(text.index(s), text.index(s) + len(s), lab) for s, lab in spans]
    doc = Document("ü", text, ents)
    page = render_page([doc])
    assert '<meta charset="utf-8">' in page
    div = doc_div(page)
    got = {(m.label(), squash(m.text())) for m in div.marks()}
    assert got == {(lab, squash(s)) for s, lab in spans}
    assert "<br>" in page and squash(div.text()) == squash(text)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    text = draw(st.text(alphabet=st.sampled_from(list("ab <&\"'é🧬\n")), min_size=1, max_size=40))
    ents = []
    for _ in range(draw(st.integers(0, 6))):
        s = draw(st.integers(0, len(text) - 1))
        e = draw(st.integers(s + 1, len(text)))
        ents.append(Entity(s, e, draw(st.sampled_from(["gene", "DNA", "x<y"]))))
    return Document("d", text, ents)


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_entity_text_is_inside_its_marks(doc: Document) -> None:
    div = doc_div(render_document(doc))
    ents = sorted(doc.entities, key=Entity.sort_key)
    by = pieces_by_entity(div)
    assert sorted(by) == list(range(len(ents)))
    for i, ent in enumerate(ents):
        pieces = by[i]
        assert squash("".join(p.text() for p in pieces)) == squash(ent.text_in(doc.text, sep=""))
        assert sum(p.label() is not None for p in pieces) == 1 and pieces[-1].label() == ent.label
    assert squash(div.text()) == squash(doc.text)


def test_colors_fixed_hashed_and_overridden() -> None:
    assert label_color("gene") == label_color("GENE") == label_color("gene or gene product") == PALETTE["GENE"]
    assert label_color("Disease") == label_color("disease") == PALETTE["Disease"]
    assert label_color("DNA") != label_color("protein")
    odd = label_color("my own type")
    assert re.fullmatch(r"hsl\(\d+, 70%, 82%\)", odd) and odd == label_color("my own type")
    assert len({label_color(f"type {i}") for i in range(20)}) > 10
    assert label_color("gene", {"gene": "#123456"}) == "#123456"
    page = render_page([Document("d", "BRCA1", [Entity(0, 5, "gene")])], colors={"gene": "red"})
    assert "background: red" in page


def test_page_legend_and_headings() -> None:
    docs = [Document("PMID:1", "BRCA1 and TP53", [Entity(0, 5, "gene"), Entity(10, 14, "gene")]),
            Document("PMID:2", "breast cancer", [Entity(0, 13, "disease")]),
            Document("PMID:3", "nothing here")]
    root = parse(render_page(docs, title="t<1>"))
    heads = [n.text(True) for n in _walk(root) if n.tag == "h2"]
    assert heads == ["PMID:1", "PMID:2", "PMID:3"]
    assert [n.text(True) for n in _walk(root) if n.tag == "title"] == ["t<1>"]
    legend = [n for n in _walk(root) if n.tag == "div" and n.attrs.get("class") == "legend"][0]
    assert {(squash(m.text()), m.label()) for m in legend.marks()} == {("disease", "1"), ("gene", "2")}


def test_registered_write_only_and_written_through_registry(tmp_path: Path) -> None:
    fmt = bioner.io.get_format("html")
    assert fmt.can_write and not fmt.can_read
    out = tmp_path / "page.html"
    bioner.io.write([Document("d", "a <b>", [Entity(2, 5, "x")])], out)  # format from the extension
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "&lt;b&gt;" in page
    with pytest.raises(BionerError) as exc:
        list(bioner.io.read(out))
    assert exc.value.code == "E207"


def test_cli_destination_resolves_html() -> None:
    assert destination(Path("out.html"), None).format == "html"
    assert destination(Path("out.txt"), "html").format == "html"
    with pytest.raises(BionerError) as exc:
        destination(None, "html")  # a page goes to a file, not the terminal
    assert exc.value.code == "E207"


def test_to_displacy_renders_with_spacy() -> None:
    displacy = pytest.importorskip("spacy.displacy")
    doc = Document("d", "IL-2 gene & CD28", [Entity(0, 4, "protein"), Entity(0, 9, "DNA"), Entity(12, 16, "protein")])
    data = to_displacy(doc)
    assert data["ents"] == [{"start": 0, "end": 9, "label": "DNA"}, {"start": 12, "end": 16, "label": "protein"}]
    assert data["dropped"] == 1
    markup = displacy.render(data, style="ent", manual=True, page=False)
    assert 'class="entity"' in markup and "&amp;" in markup


def test_displacy_colors_match_the_page() -> None:
    colors = displacy_colors()
    assert colors["GENE"] == colors["GENE OR GENE PRODUCT"] == label_color("gene")
    assert colors["CELL TYPE"] == label_color("cell_type") and colors["DISEASE"] == PALETTE["Disease"]
    assert all(k == k.upper() for k in colors)  # displaCy upper-cases labels before the lookup
