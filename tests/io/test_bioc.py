"""BioC XML/JSON reader and writer: tiny collections first, then the BC5CDR BioC release."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import bioc as biocpkg
import pytest

import bioner.io
from bioner.doc import Document, Entity, Passage
from bioner.errors import BionerError, Report
from bioner.io import bioc, pubtator

HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<!DOCTYPE collection SYSTEM 'BioC.dtd'>
<collection>
<source>test</source>
<date>20240101</date>
<key>k</key>
<infon key="c">v</infon>
"""

ABSTRACT_DOC = """<document>
<id>1</id>
<infon key="journal">J</infon>
<passage>
<infon key="type">title</infon>
<infon key="section">TITLE</infon>
<offset>0</offset>
<text>Breast and ovarian cancer.</text>
<annotation id="A1">
<infon key="type">Disease</infon>
<infon key="MESH">D001943</infon>
<location offset="0" length="6"/>
<location offset="19" length="6"/>
<text>Breast cancer</text>
</annotation>
<annotation id="A2">
<infon key="type">Disease</infon>
<infon key="identifier">D010051|-1</infon>
<location offset="11" length="14"/>
<text>ovarian cancer</text>
</annotation>
</passage>
<passage>
<infon key="type">abstract</infon>
<offset>28</offset>
<text>Tamoxifen helps.</text>
<annotation id="A3">
<infon key="type">Chemical</infon>
<location offset="28" length="9"/>
<text>Tamoxifen</text>
</annotation>
<relation id="R1">
<infon key="type">treats</infon>
<node refid="A3" role="chemical"/>
<node refid="A1" role="disease"/>
</relation>
</passage>
<annotation id="D1">
<infon key="type">Chemical</infon>
<location offset="28" length="9"/>
<text>Tamoxifen</text>
</annotation>
<relation id="R0">
<infon key="relation">CID</infon>
</relation>
</document>
"""

SENTENCE_DOC = """<document>
<id>2</id>
<passage>
<infon key="type">abstract</infon>
<offset>0</offset>
<sentence>
<infon key="n">1</infon>
<offset>0</offset>
<text>IL-2 binds.</text>
<annotation id="1">
<infon key="type">Gene</infon>
<location offset="0" length="4"/>
<text>IL-2</text>
</annotation>
<relation id="r1">
<node refid="1" role="x"/>
</relation>
</sentence>
<sentence>
<offset>12</offset>
<text>It works.</text>
</sentence>
</passage>
</document>
"""


def collection(*docs: str) -> str:
    return HEAD + "".join(docs) + "</collection>\n"


def write_file(tmp_path: Path, content: str, name: str = "c.bioc.xml") -> Path:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    return p


def read_all(path: Path, **kw: object) -> list[Document]:
    return list(bioc.read(path, **kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------- reading


def test_passages_are_placed_at_their_offsets_with_spaces_between(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, collection(ABSTRACT_DOC)))
    assert doc.id == "1"
    assert doc.text == "Breast and ovarian cancer.  Tamoxifen helps."  # 2 spaces: the abstract is at 28
    assert doc.passages == [Passage(0, 26, "title", {"section": "TITLE"}), Passage(28, 44, "abstract")]
    assert doc.sentences is None


def test_annotations_become_entities_with_ids_and_attrs(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, collection(ABSTRACT_DOC)))
    a1, a2, a3, d1 = doc.entities
    assert a1 == Entity.from_fragments([(0, 6), (19, 25)], "Disease", ids=("D001943",), attrs={"id": "A1", "infon:MESH": "D001943"})
    assert a2.ids == ("D010051",) and a2.attrs == {"id": "A2", "infon:identifier": "D010051|-1"}
    assert (a3.key(), a3.ids, a3.attrs) == ((28, 37, "Chemical"), (), {"id": "A3"})
    assert d1.attrs == {"id": "D1", "bioc_level": "document"}


def test_relations_infons_and_collection_header_go_to_metadata(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, collection(ABSTRACT_DOC)))
    assert doc.metadata["relations"] == [
        {"id": "R0", "infons": {"relation": "CID"}, "nodes": []},
        {"id": "R1", "infons": {"type": "treats"}, "nodes": [{"refid": "A3", "role": "chemical"}, {"refid": "A1", "role": "disease"}], "passage": 1},
    ]
    assert doc.metadata["infons"] == {"journal": "J"}
    assert doc.metadata["bioc_collection"] == {"source": "test", "date": "20240101", "key": "k", "infons": {"c": "v"}}


def test_sentence_level_bioc_text_comes_from_the_sentences(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, collection(SENTENCE_DOC)))
    assert doc.text == "IL-2 binds. It works."
    assert doc.sentences == [(0, 11), (12, 21)] and doc.passages == [Passage(0, 21, "abstract")]
    [gene] = doc.entities
    assert gene.key() == (0, 4, "Gene") and gene.attrs["bioc_level"] == "sentence"
    assert doc.metadata["relations"] == [{"id": "r1", "infons": {}, "nodes": [{"refid": "1", "role": "x"}], "sentence": 0}]
    assert doc.metadata["bioc_sentence_infons"] == [{"n": "1"}, {}]


def test_annotation_text_must_match_its_locations(tmp_path: Path) -> None:
    bad = ABSTRACT_DOC.replace("<text>ovarian cancer</text>", "<text>ovarian cancers</text>")
    path = write_file(tmp_path, collection(bad))
    with pytest.raises(BionerError) as exc:
        read_all(path)
    err = exc.value
    assert err.code == "E202" and err.file == str(path) and err.line == 23  # the <annotation id="A2"> line
    assert "document '1'" in err.message and "annotation 'A2'" in err.message
    report = Report(skip_invalid=True)
    [doc] = read_all(path, report=report)
    assert [e.attrs["id"] for e in doc.entities] == ["A1", "A3", "D1"] and report.counts == Counter({"E202": 1})


def test_text_sep_joins_fragments(tmp_path: Path) -> None:
    path = write_file(tmp_path, collection(ABSTRACT_DOC.replace("<text>Breast cancer</text>", "<text>Breast|cancer</text>")))
    with pytest.raises(BionerError, match="E202"):
        read_all(path)
    assert read_all(path, text_sep="|")[0].entities[0].fragments == ((0, 6), (19, 25))


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("<offset>28</offset>", "<offset>20</offset>", "E201"),  # passage overlaps the previous one
        ("<offset>28</offset>", "<offset>x</offset>", "E201"),  # not an integer
        ('<infon key="type">Chemical</infon>\n<location offset="28"', '<location offset="28"', "E201"),  # no type
        ('<location offset="11" length="14"/>', '<location offset="11" length="0"/>', "E201"),  # empty location
        ('<location offset="28" length="9"/>\n<text>Tamoxifen</text>\n</annotation>\n<relation', '<location offset="40" length="9"/>\n<text>Tamoxifen</text>\n</annotation>\n<relation', "E202"),
        ('<node refid="A1" role="disease"/>', '<node refid="A9" role="disease"/>', "E206"),  # dangling
    ],
)
def test_invalid_documents_raise_with_code(tmp_path: Path, old: str, new: str, code: str) -> None:
    assert old in ABSTRACT_DOC
    with pytest.raises(BionerError) as exc:
        read_all(write_file(tmp_path, collection(ABSTRACT_DOC.replace(old, new, 1))))
    assert exc.value.code == code and exc.value.line is not None


def test_xml_errors_keep_the_documents_before_them(tmp_path: Path) -> None:
    path = write_file(tmp_path, HEAD + SENTENCE_DOC + "<document><id>3</id><passage>\n</collection>\n")
    docs = bioc.read(path)
    assert next(docs).id == "2"  # streamed: the first document comes before the error is seen
    with pytest.raises(BionerError) as exc:
        next(docs)
    assert exc.value.code == "E208" and exc.value.line is not None
    report = Report(skip_invalid=True)
    assert [d.id for d in bioc.read(path, report=report)] == ["2"] and report.counts == Counter({"E208": 1})


def test_xml_errors_keep_every_document_before_them_across_read_chunks(tmp_path: Path) -> None:
    # the reader feeds the parser 64 KiB at a time: documents in earlier chunks and in the failing one all come out
    body = "".join(SENTENCE_DOC.replace("<id>2</id>", f"<id>d{i}</id>", 1) for i in range(400))
    path = write_file(tmp_path, HEAD + body + "<document><id>x</id><passage>\n</collection>\n")
    assert path.stat().st_size > 2 * (1 << 16)
    report = Report(skip_invalid=True)
    assert [d.id for d in bioc.read(path, report=report)] == [f"d{i}" for i in range(400)]
    assert report.counts == Counter({"E208": 1})


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "E205"), (HEAD.encode() + b"<document><id>\xff</id></document></collection>", "E204")],
)
def test_empty_and_undecodable_files(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "c.xml"
    path.write_bytes(content)
    with pytest.raises(BionerError) as exc:
        read_all(path)
    assert exc.value.code == code


def test_missing_file_and_unknown_flavour(tmp_path: Path) -> None:
    with pytest.raises(BionerError, match="E210"):
        read_all(tmp_path / "none.xml")
    with pytest.raises(BionerError, match="E207"):
        bioc.read(tmp_path / "none.xml", fmt="yaml")


def test_duplicate_document_ids_are_renamed_and_counted(tmp_path: Path) -> None:
    report = Report()
    docs = read_all(write_file(tmp_path, collection(SENTENCE_DOC, SENTENCE_DOC)), report=report)
    assert [d.id for d in docs] == ["2", "2#2"] and report.counts == Counter({"W213": 1})


def test_json_errors(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        read_all(write_file(tmp_path, '{"documents": [\n}', "c.json"), fmt="json")
    assert exc.value.code == "E208" and exc.value.line == 2
    broken = {"source": "", "date": "", "key": "", "infons": {}, "documents": [{"id": "1", "infons": {}}]}
    report = Report(skip_invalid=True)
    assert read_all(write_file(tmp_path, json.dumps(broken), "c.json"), fmt="json", report=report) == []
    assert report.counts == Counter({"E201": 1})


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_round_trip_gives_equal_documents(tmp_path: Path, fmt: str) -> None:
    docs = read_all(write_file(tmp_path, collection(ABSTRACT_DOC, SENTENCE_DOC)))
    out = tmp_path / f"out.{fmt}"
    report = Report()
    bioc.write(docs, out, fmt=fmt, report=report)
    assert not report
    assert read_all(out, fmt=fmt) == docs
    loaded = biocpkg.biocxml.load(out.open("rb")) if fmt == "xml" else biocpkg.biocjson.load(out.open(encoding="utf-8"))
    assert [d.id for d in loaded.documents] == ["1", "2"]  # the bioc package reads what we write
    assert loaded.documents[1].passages[0].text in (None, "")  # sentence-level stays sentence-level


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_collection_without_header_round_trips(tmp_path: Path, fmt: str) -> None:
    docs = read_all(write_file(tmp_path, "<collection>" + SENTENCE_DOC + "</collection>"))
    assert docs[0].metadata["bioc_collection"] == {}
    bioc.write(docs, tmp_path / "o", fmt=fmt)
    assert read_all(tmp_path / "o", fmt=fmt) == docs


def test_documents_from_other_formats_are_written(tmp_path: Path) -> None:
    text = "Aspirin causes\nulcers."
    doc = Document("9", text, [Entity(0, 7, "Chemical", ids=("D001241",), score=0.5), Entity(15, 21, "Disease")])
    report = Report()
    bioc.write([doc], tmp_path / "o.xml", report=report)
    [back] = read_all(tmp_path / "o.xml")
    assert back.text == text and back.passages == [Passage(0, len(text))]
    assert [(e.key(), e.ids) for e in back.entities] == [((0, 7, "Chemical"), ("D001241",)), ((15, 21, "Disease"), ())]
    assert back.entities[0].attrs == {"id": "T1", "infon:identifier": "D001241"}
    assert back.metadata == {"bioc_collection": {"source": "bioner", "date": "", "key": ""}}
    assert report.counts == Counter({"W306": 1}) and "entity score" in report.issues[0].message


def test_changed_ids_replace_the_identifier_infons(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, collection(ABSTRACT_DOC)))
    doc.entities[0] = doc.entities[0].with_(ids=("D1", "D2"))
    bioc.write([doc], tmp_path / "o.xml")
    first = read_all(tmp_path / "o.xml")[0].entities[0]
    assert first.ids == ("D1", "D2") and first.attrs == {"id": "A1", "infon:identifier": "D1|D2"}


@pytest.mark.parametrize(
    "doc",
    [
        Document("1", "title:abstract", passages=[Passage(0, 5, "title"), Passage(6, 14, "abstract")]),  # gap is not whitespace
        Document("1", "title abstract  ", passages=[Passage(0, 5, "title"), Passage(6, 14, "abstract")]),  # trailing text
        Document("1", "bell \x07 char"),  # XML 1.0 cannot hold it
    ],
)
def test_text_bioc_cannot_keep_is_e305(tmp_path: Path, doc: Document) -> None:
    with pytest.raises(BionerError, match="E305"):
        bioc.write([doc], tmp_path / "o.xml")
    report = Report(skip_invalid=True)
    bioc.write([doc, Document("2", "fine")], tmp_path / "o.xml", report=report)
    assert report.counts == Counter({"E305": 1}) and [d.id for d in read_all(tmp_path / "o.xml")] == ["2"]


def test_line_break_between_passages_keeps_offsets_and_is_reported(tmp_path: Path) -> None:
    doc = Document("1", "title\nabstract", [Entity(6, 14, "X")], passages=[Passage(0, 5, "title"), Passage(6, 14, "abstract")])
    report = Report()
    bioc.write([doc], tmp_path / "o.xml", report=report)
    assert report.counts == Counter({"W306": 1}) and "line breaks" in report.issues[0].message
    [back] = read_all(tmp_path / "o.xml")
    assert back.text == "title abstract" and back.entity_text(back.entities[0]) == "abstract"


def test_registry_dispatches_both_flavours(tmp_path: Path) -> None:
    docs = list(bioner.io.read(write_file(tmp_path, collection(ABSTRACT_DOC)), "bioc-xml"))
    bioner.io.write(docs, tmp_path / "o.bioc.json")
    assert list(bioner.io.read(tmp_path / "o.bioc.json", "bioc-json")) == docs


# ---------------------------------------------------------------- BC5CDR


def cdr(data_dir: Path, split: str, kind: str) -> Path:
    return data_dir / "bc5cdr" / "original" / f"CDR_{split}Set.{kind}"


@pytest.fixture(scope="module")
def cdr_test(data_dir: Path) -> list[Document]:
    return list(bioc.read(cdr(data_dir, "Test", "BioC.xml")))


def test_bc5cdr_test_counts(cdr_test: list[Document]) -> None:
    assert len(cdr_test) == 500
    assert sum(len(d.entities) for d in cdr_test) == 9928  # README: 9,928 <annotation> elements
    assert sum(len(d.metadata["relations"]) for d in cdr_test) == 1066
    roles = Counter(e.attrs.get("infon:CompositeRole") for d in cdr_test for e in d.entities)
    assert roles == {None: 9752, "CompositeMention": 57, "IndividualMention": 119}
    assert sum(e.discontinuous for d in cdr_test for e in d.entities) == 37


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bc5cdr_test_round_trip(cdr_test: list[Document], data_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"cdr.{fmt}"
    report = Report()
    bioc.write(cdr_test, out, fmt=fmt, report=report)
    assert not report
    assert list(bioc.read(out, fmt=fmt)) == cdr_test
    if fmt == "xml":  # same BioC content as the release, as the bioc package sees it
        original = biocpkg.biocxml.load(cdr(data_dir, "Test", "BioC.xml").open("rb"))
        assert biocpkg.biocxml.dumps(biocpkg.biocxml.load(out.open("rb"))) == biocpkg.biocxml.dumps(original)


def test_bc5cdr_test_bioc_and_pubtator_agree(cdr_test: list[Document], data_dir: Path) -> None:
    pub = {d.id: d for d in pubtator.read(cdr(data_dir, "Test", "PubTator.txt"))}
    assert all(d.text == pub[d.id].text and d.passages == pub[d.id].passages for d in cdr_test)
    # BioC adds the parts of composite mentions (IndividualMention); without them both give the same entities
    def strict(docs: list[Document], individual: bool) -> Counter[tuple[object, ...]]:
        return Counter((d.id, *e.key(), e.ids) for d in docs for e in d.entities if individual or e.attrs.get("infon:CompositeRole") != "IndividualMention")

    assert strict(cdr_test, individual=False) == strict(list(pub.values()), individual=True)
    bioc_keys = {(d.id, *e.key()) for d in cdr_test for e in d.entities}
    pub_keys = {(d.id, *e.key()) for d in pub.values() for e in d.entities}
    assert pub_keys < bioc_keys and len(bioc_keys - pub_keys) == 82


@pytest.mark.parametrize(("split", "lines"), [("Training", [11425, 18590, 53449]), ("Development", [9919])])
def test_bc5cdr_train_dev_bioc_known_offset_errors(data_dir: Path, split: str, lines: list[int]) -> None:
    report = Report(skip_invalid=True)
    docs = list(bioc.read(cdr(data_dir, split, "BioC.xml"), report=report))
    assert len(docs) == 500 and report.counts == Counter({"E202": len(lines)})
    assert [i.line for i in report.issues] == lines
