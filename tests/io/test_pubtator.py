"""PubTator reader and writer: unit tests on tiny files, then the NCBI-disease and BC5CDR releases."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import bioner.io
from bioner.doc import Document, Entity, Passage
from bioner.errors import BionerError, Report
from bioner.io import pubtator

TITLE = "Famotidine-associated delirium."
ABSTRACT = "Famotidine is a histamine H2-receptor antagonist."
TEXT = f"{TITLE} {ABSTRACT}"
DOC = (
    f"8701013|t|{TITLE}\n"
    f"8701013|a|{ABSTRACT}\n"
    "8701013\t0\t10\tFamotidine\tChemical\tD015738\n"
    "8701013\t22\t30\tdelirium\tDisease\tD003693|D001\tdelir|ium\n"
    "8701013\t32\t42\tFamotidine\tChemical\t-1\n"
    "8701013\t48\t57\thistamine\tChemical\tD006632+D0066\n"
    "8701013\tCID\tD015738\tD003693\n"
    "\n"
)


def write_file(tmp_path: Path, content: str, name: str = "doc.pubtator") -> Path:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8", newline="")
    return p


def read_all(path: Path, **kw: object) -> list[Document]:
    return list(pubtator.read(path, **kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------- reading


def test_reads_text_passages_entities_and_relations(tmp_path: Path) -> None:
    report = Report()
    [doc] = read_all(write_file(tmp_path, DOC), report=report)
    assert doc.id == "8701013"
    assert doc.text == TEXT
    assert doc.passages == [Passage(0, len(TITLE), "title"), Passage(len(TITLE) + 1, len(TEXT), "abstract")]
    assert [doc.entity_text(e) for e in doc.entities] == ["Famotidine", "delirium", "Famotidine", "histamine"]
    assert [e.label for e in doc.entities] == ["Chemical", "Disease", "Chemical", "Chemical"]
    assert doc.metadata["relations"] == [["CID", "D015738", "D003693"]]
    assert report.counts["W212"] == 1


def test_ids_split_and_raw_column_kept_only_when_lossy(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, DOC))
    plain, composite, none, plus = doc.entities
    assert plain.ids == ("D015738",) and plain.attrs == {}
    # "|" splits losslessly; the 7th column is kept for the writer
    assert composite.ids == ("D003693", "D001") and composite.attrs == {"extra": "delir|ium"}
    assert none.ids == () and none.attrs == {"pubtator_ids": "-1"}
    assert plus.ids == ("D006632", "D0066") and plus.attrs == {"pubtator_ids": "D006632+D0066"}


def test_title_only_document_has_title_text_and_one_passage(tmp_path: Path) -> None:
    content = "1|t|Only a title.\n1\t7\t12\ttitle\tX\tID1\n\n2|t|Next\n2|a|\n"
    one, two = read_all(write_file(tmp_path, content))
    assert one.text == "Only a title." and one.passages == [Passage(0, 13, "title")]
    assert one.entities == [Entity(7, 12, "X", ids=("ID1",))]
    # an empty abstract line still adds the separating space that offsets count
    assert two.text == "Next " and two.passages == [Passage(0, 4, "title"), Passage(5, 5, "abstract")]


def test_read_is_lazy_and_streams(tmp_path: Path) -> None:
    content = "1|t|Good\n\n2|t|Bad\n2\t0\t3\tBaX\tX\tI\n"
    docs = pubtator.read(write_file(tmp_path, content))
    assert next(docs).id == "1"  # the bad second document is not looked at yet
    with pytest.raises(BionerError) as exc:
        next(docs)
    assert exc.value.code == "E202" and exc.value.line == 4


def test_crlf_and_bom_are_not_content(tmp_path: Path) -> None:
    content = "\ufeff" + DOC.replace("\n", "\r\n")
    [doc] = read_all(write_file(tmp_path, content))
    assert doc.text == TEXT and len(doc.entities) == 4


def test_mention_text_mismatch_is_e202_with_file_and_line(tmp_path: Path) -> None:
    bad = DOC.replace("8701013\t0\t10\tFamotidine", "8701013\t0\t10\tFamotidin ")
    path = write_file(tmp_path, bad)
    with pytest.raises(BionerError) as exc:
        read_all(path)
    assert exc.value.code == "E202" and exc.value.line == 3 and exc.value.file == str(path)
    assert "'Famotidine'" in exc.value.message and "'Famotidin '" in exc.value.message
    report = Report(skip_invalid=True)
    [doc] = read_all(path, report=report)
    assert len(doc.entities) == 3 and report.counts == Counter({"E202": 1, "W212": 1})


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (DOC.replace("8701013\t0\t10", "8701014\t0\t10"), 3),  # another PMID
        (DOC.replace("\t0\t10\t", "\t0\tten\t"), 3),  # non-integer offset
        (DOC.replace("\t0\t10\t", "\t-1\t10\t"), 3),  # negative offset
        (DOC.replace("\tChemical\tD015738\n", "\tChemical\n"), 3),  # missing ids column
        ("1\t0\t1\ta\tX\tI\n\n", 1),  # mention outside a document
        (DOC.rstrip("\n") + "\n2|t|No blank line before me\n", 8),  # |t| before the document ended
        ("1|t|T\n1\t0\t1\tT\tX\tI\n1|a|late abstract\n", 3),  # |a| after mentions
        ("1|a|abstract without title\n", 1),
        ("1|t|T\n2|a|abstract of another PMID\n", 2),
        ("just some words\n", 1),
    ],
)
def test_malformed_lines_are_e201_with_line(tmp_path: Path, content: str, line: int) -> None:
    with pytest.raises(BionerError) as exc:
        read_all(write_file(tmp_path, content))
    assert exc.value.code == "E201" and exc.value.line == line


def test_offsets_outside_the_text_are_e202(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        read_all(write_file(tmp_path, "1|t|Short\n1\t2\t99\tort\tX\tI\n"))
    assert exc.value.code == "E202" and exc.value.line == 2


def test_skip_invalid_drops_a_document_with_a_bad_abstract_line_only(tmp_path: Path) -> None:
    content = "1|t|A\n2|a|wrong PMID\n1\t0\t1\tA\tX\tI\n\n3|t|B\n3\t0\t1\tB\tX\tI\n"
    report = Report(skip_invalid=True)
    docs = read_all(write_file(tmp_path, content), report=report)
    assert [d.id for d in docs] == ["3"] and report.counts == Counter({"E201": 1})


def test_missing_blank_line_keeps_both_documents_when_skipping(tmp_path: Path) -> None:
    report = Report(skip_invalid=True)
    docs = read_all(write_file(tmp_path, "1|t|A\n1\t0\t1\tA\tX\tI\n2|t|B\n"), report=report)
    assert [d.id for d in docs] == ["1", "2"] and len(docs[0].entities) == 1 and report.counts == Counter({"E201": 1})


def test_duplicate_pmid_is_kept_under_a_suffix_and_written_back(tmp_path: Path) -> None:
    report = Report()
    docs = read_all(write_file(tmp_path, DOC + DOC + DOC), report=report)
    assert [d.id for d in docs] == ["8701013", "8701013#2", "8701013#3"]
    assert report.counts["W213"] == 2 and docs[1].metadata["pubtator_pmid"] == "8701013"
    out = tmp_path / "out.pubtator"
    pubtator.write(docs, out)
    assert out.read_text(encoding="utf-8") == DOC * 3  # the real PMID is written
    assert read_all(out) == docs


def test_empty_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        read_all(write_file(tmp_path, "\n\n"))
    assert exc.value.code == "E205"
    with pytest.raises(BionerError) as exc:
        read_all(tmp_path / "nope.pubtator")
    assert exc.value.code == "E210"


# ---------------------------------------------------------------- writing


def test_write_reproduces_the_file_byte_for_byte(tmp_path: Path) -> None:
    content = DOC + "1|t|Only a title.\n1\t7\t12\ttitle\tX\t OMIM:1 \n\n"
    docs = read_all(write_file(tmp_path, content))
    out = tmp_path / "out.pubtator"
    report = Report()
    pubtator.write(docs, out, report=report)
    assert out.read_bytes() == content.encode("utf-8") and not report


def test_write_uses_changed_ids_not_a_stale_raw_column(tmp_path: Path) -> None:
    [doc] = read_all(write_file(tmp_path, DOC))
    doc.entities[2] = doc.entities[2].with_(ids=("D999",))  # was "-1", kept in attrs
    out = tmp_path / "out.pubtator"
    pubtator.write([doc], out)
    assert "8701013\t32\t42\tFamotidine\tChemical\tD999\n" in out.read_text(encoding="utf-8")
    assert read_all(out)[0].entities[2].ids == ("D999",)


def test_write_reports_what_pubtator_cannot_hold(tmp_path: Path) -> None:
    text = "Breast and ovarian cancer."
    doc = Document(
        "7",
        text,
        [Entity.from_fragments([(0, 6), (19, 25)], "Disease", score=0.9), Entity(11, 25, "Disease", attrs={"id": "T1"})],
        passages=[Passage(0, 6, "section"), Passage(7, 26, "section")],
        metadata={"source": "x"},
    )
    report = Report()
    out = tmp_path / "out.pubtator"
    pubtator.write([doc], out, report=report)
    # title = the first passage, abstract = the one starting a space after it; their types are lost
    assert out.read_text(encoding="utf-8") == "7|t|Breast\n7|a|and ovarian cancer.\n7\t0\t25\tBreast and ovarian cancer\tDisease\t\n7\t11\t25\tovarian cancer\tDisease\t\n\n"
    assert report.counts == Counter({"W302": 1, "W306": 1})
    assert all(part in report.issues[-1].message for part in ("entity score", "entity attr 'id'", "metadata 'source'", "passage layout"))
    [back] = read_all(out)
    assert back.text == text and [e.key() for e in back.entities] == [(0, 25, "Disease"), (11, 25, "Disease")]


@pytest.mark.parametrize(
    "doc",
    [
        Document("1", "two\nlines"),
        Document("1|2", "pipe in the PMID"),
        Document("1", "a\ttab", [Entity(0, 5, "X")]),
        Document("1", "bad ids", [Entity(0, 3, "X", ids=("A|B",))]),
    ],
)
def test_unwritable_documents_are_e305_or_skipped_and_counted(tmp_path: Path, doc: Document) -> None:
    good = Document("2", "fine")
    with pytest.raises(BionerError) as exc:
        pubtator.write([doc, good], tmp_path / "out.pubtator")
    assert exc.value.code == "E305"
    assert not (tmp_path / "out.pubtator").exists()  # atomic: nothing half-written
    report = Report(skip_invalid=True)
    pubtator.write([doc, good], tmp_path / "out.pubtator", report=report)
    assert report.counts["E305"] == 1 and [d.id for d in read_all(tmp_path / "out.pubtator")][-1] == "2"


def test_registry_reads_and_writes_pubtator(tmp_path: Path) -> None:
    docs = list(bioner.io.read(write_file(tmp_path, DOC), "pubtator"))
    bioner.io.write(docs, tmp_path / "x.pubtator")
    assert (tmp_path / "x.pubtator").read_text(encoding="utf-8") == DOC


# ---------------------------------------------------------------- the released corpora

NCBI = {"train": "NCBItrainset_corpus.txt", "dev": "NCBIdevelopset_corpus.txt", "test": "NCBItestset_corpus.txt"}
CDR = {"train": "CDR_TrainingSet.PubTator.txt", "dev": "CDR_DevelopmentSet.PubTator.txt", "test": "CDR_TestSet.PubTator.txt"}


def corpus_file(data_dir: Path, name: str) -> Path:
    return data_dir / ("ncbi-disease" if name.startswith("NCBI") else "bc5cdr") / "original" / name


@pytest.fixture(scope="module")
def cdr_test(data_dir: Path) -> tuple[list[Document], Report]:
    report = Report()
    return list(pubtator.read(corpus_file(data_dir, CDR["test"]), report=report)), report


def test_bc5cdr_test_counts(cdr_test: tuple[list[Document], Report]) -> None:
    docs, report = cdr_test
    assert len(docs) == 500
    assert Counter(e.label for d in docs for e in d.entities) == {"Chemical": 5385, "Disease": 4424}
    assert sum(len(d.metadata.get("relations", [])) for d in docs) == 1066 == report.counts["W212"]
    assert report.counts.keys() == {"W212"}
    composite = [e for d in docs for e in d.entities if "extra" in e.attrs]
    assert len(composite) == 57 and all(len(e.ids) == len(e.attrs["extra"].split("|")) for e in composite)


def test_bc5cdr_test_round_trip_is_byte_identical(cdr_test: tuple[list[Document], Report], data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cdr.pubtator"
    report = Report()
    pubtator.write(cdr_test[0], out, report=report)
    assert out.read_bytes() == corpus_file(data_dir, CDR["test"]).read_bytes() and not report


def test_ncbi_test_counts(data_dir: Path) -> None:
    docs = list(pubtator.read(corpus_file(data_dir, NCBI["test"])))
    assert len(docs) == 100 and sum(len(d.entities) for d in docs) == 960
    assert Counter(e.label for d in docs for e in d.entities) == {"SpecificDisease": 555, "DiseaseClass": 121, "Modifier": 264, "CompositeMention": 20}
    assert docs[0].text.endswith("positional candidate genes. ")  # the abstract's trailing space is text


def test_ncbi_train_known_mismatch_and_duplicate(data_dir: Path) -> None:
    path = corpus_file(data_dir, NCBI["train"])
    with pytest.raises(BionerError) as exc:
        list(pubtator.read(path))
    assert (exc.value.code, exc.value.line) == ("E202", 3249)
    report = Report(skip_invalid=True)
    docs = list(pubtator.read(path, report=report))
    assert report.counts == Counter({"E202": 1, "W213": 1})
    assert [i.line for i in report.issues] == [3249, 4557]
    assert len(docs) == 593 and sum(len(d.entities) for d in docs) == 5145 - 1
    by_id = {d.id: d for d in docs}
    assert by_id["8528200"].text == by_id["8528200#2"].text and by_id["8528200"].entities == by_id["8528200#2"].entities


@pytest.mark.parametrize("name", [*NCBI.values(), *CDR.values()])
def test_every_release_file_round_trips_to_equal_documents(data_dir: Path, tmp_path: Path, name: str) -> None:
    docs = list(pubtator.read(corpus_file(data_dir, name), skip_invalid=True))
    out = tmp_path / "out.pubtator"
    report = Report()
    pubtator.write(docs, out, report=report)
    assert not report
    assert list(pubtator.read(out)) == docs
