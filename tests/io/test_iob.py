"""IOB2/BIOES column files: reading rules, repairs, errors, writing, round trips, real corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

import bioner.io
from bioner.doc import Corpus, Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import iob


def _file(tmp_path: Path, text: str, name: str = "s.tsv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _spans(doc: Document) -> list[tuple[str, str]]:
    return [(doc.text[e.start:e.end], e.label) for e in doc.entities]


# ---------------------------------------------------------------- reading


def test_read_sentences_are_documents_with_rebuilt_text(tmp_path: Path) -> None:
    p = _file(tmp_path, "Mutations\tO\nin\tO\nBRCA1\tB-Gene\ncause\tO\nbreast\tB-Disease\ncancer\tI-Disease\n\nIL-2\tB-Gene\n.\tO\n\n")
    docs = list(iob.read(p))
    assert [d.id for d in docs] == ["s:1", "s:2"]
    assert docs[0].text == "Mutations in BRCA1 cause breast cancer"
    assert docs[0].sentences == [(0, len(docs[0].text))]
    assert docs[0].tokens is not None and docs[0].tokens[2] == (13, 18)
    assert _spans(docs[0]) == [("BRCA1", "Gene"), ("breast cancer", "Disease")]
    assert docs[0].entities[1] == Entity(25, 38, "Disease")
    assert _spans(docs[1]) == [("IL-2", "Gene")]


def test_docstart_groups_sentences_and_ids(tmp_path: Path) -> None:
    p = _file(tmp_path, "-DOCSTART-\tO\n\na\tO\nb\tB-X\n\nc\tB-Y\n\n-DOCSTART- PMID:7\tO\n\nd\tO\n\n")
    docs = list(iob.read(p))
    assert [d.id for d in docs] == ["s:doc1", "PMID:7"]
    assert docs[0].text == "a b\nc" and docs[0].sentences == [(0, 3), (4, 5)]
    assert _spans(docs[0]) == [("b", "X"), ("c", "Y")]
    assert docs[1].text == "d"


def test_hash_markers_and_sentences_before_the_first_marker(tmp_path: Path) -> None:
    p = _file(tmp_path, "x\tO\n\ny\tO\n\n###MEDLINE:1\n\nz\tB-protein\n\nw\tO\n\n###\n\nv\tO\n\n", name="g.iob2")
    docs = list(iob.read(p))
    assert [d.id for d in docs] == ["g:1", "g:2", "MEDLINE:1", "g:doc2"]
    assert docs[2].text == "z\nw"
    ignored = list(iob.read(p, doc_marker="ignore"))
    assert [d.id for d in ignored] == ["g:1", "g:2", "g:3", "g:4", "g:5"]


def test_conll2003_space_separated_columns(tmp_path: Path) -> None:
    p = _file(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n")
    (doc,) = iob.read(p)
    assert doc.id == "s:doc1"  # placeholder columns are not an id
    assert _spans(doc) == [("EU", "ORG"), ("German", "MISC")]
    (chunks,) = iob.read(p, column=2)
    assert _spans(chunks) == [("EU", "NP"), ("rejects", "VP"), ("German call", "NP")]


def test_iob1_and_i_after_other_type_are_w211(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tI-X\nb\tI-X\nc\tI-Y\nd\tO\ne\tI-X\n\n")
    report = Report()
    (doc,) = iob.read(p, report=report)
    assert _spans(doc) == [("a b", "X"), ("c", "Y"), ("e", "X")]
    assert report.counts["W211"] == 3
    assert [i.line for i in report.issues] == [1, 3, 5]


def test_bioes_with_bilou_aliases(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tB-X\nb\tI-X\nc\tE-X\nd\tS-Y\ne\tU-Y\nf\tB-X\ng\tL-X\nh\tO\n\n")
    report = Report()
    (doc,) = iob.read(p, scheme="bioes", report=report)
    assert _spans(doc) == [("a b c", "X"), ("d", "Y"), ("e", "Y"), ("f g", "X")]
    assert not report


def test_bioes_repairs_are_counted(tmp_path: Path) -> None:
    # E- without B-, B- not closed before O, I- after O, B- not closed at the sentence end
    p = _file(tmp_path, "a\tE-X\nb\tB-X\nc\tO\nd\tI-Y\ne\tE-Y\nf\tB-Z\n\n")
    report = Report()
    (doc,) = iob.read(p, scheme="bioes", report=report)
    assert _spans(doc) == [("a", "X"), ("b", "X"), ("d e", "Y"), ("f", "Z")]
    assert report.counts == {"W214": 3, "W211": 1}


@pytest.mark.parametrize("tag", ["X-Foo", "B-", "E-X", "b-X", "B- X"])
def test_unknown_tag_is_e203_with_file_and_line(tmp_path: Path, tag: str) -> None:
    p = _file(tmp_path, f"a\tO\n\nb\tO\nc\t{tag}\n\n")
    with pytest.raises(BionerError) as exc:
        list(iob.read(p))
    assert exc.value.code == "E203" and exc.value.line == 4 and exc.value.file == str(p)


def test_e_tag_is_fine_under_bioes(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tB-X\nb\tE-X\n\n")
    assert _spans(next(iob.read(p, scheme="bioes"))) == [("a b", "X")]


@pytest.mark.parametrize("bad", ["a b\tO", "a\tO\tO", "a", "\tO"])
def test_malformed_lines_are_e201(tmp_path: Path, bad: str) -> None:
    p = _file(tmp_path, f"x\tO\n\n{bad}\n\n")
    with pytest.raises(BionerError) as exc:
        list(iob.read(p))
    assert exc.value.code == "E201" and exc.value.line == 3


def test_empty_file_is_e205(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        list(iob.read(_file(tmp_path, "\n\n")))
    assert exc.value.code == "E205"


def test_skip_invalid_drops_the_sentence_and_keeps_numbering(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tO\n\nb\tB-X\nc\tQ-X\nd\tO\n\ne\tB-Y\n\n")
    report = Report(skip_invalid=True)
    docs = list(iob.read(p, report=report))
    assert [d.id for d in docs] == ["s:1", "s:3"]
    assert report.counts == {"E203": 1} and report.issues[0].line == 4


def test_repeated_marker_id_is_renamed_and_written_back(tmp_path: Path) -> None:
    text = "###M:1\n\na\tO\n\n###M:1\n\nb\tB-X\n\n"
    p = _file(tmp_path, text, name="d.iob2")
    report = Report()
    docs = list(iob.read(p, report=report))
    assert [d.id for d in docs] == ["M:1", "M:1#2"] and report.counts["W213"] == 1
    assert docs[1].metadata == {"iob_doc_id": "M:1"}
    out = tmp_path / "d2.iob2"
    iob.write(docs, out, marker_style="hash")
    assert out.read_text() == text
    assert list(iob.read(out)) == docs


def test_marker_without_sentences_is_an_empty_document(tmp_path: Path) -> None:
    p = _file(tmp_path, "-DOCSTART- A\tO\n\n-DOCSTART- B\tO\n\nx\tO\n\n", name="e.tsv")
    docs = list(iob.read(p))
    assert [(d.id, d.text, d.sentences) for d in docs] == [("A", "", []), ("B", "x", [(0, 1)])]
    out = tmp_path / "e2.tsv"
    iob.write(docs, out)
    assert out.read_text() == p.read_text() and list(iob.read(out)) == docs


def test_read_layered_keeps_nested_entities(tmp_path: Path) -> None:
    p = _file(tmp_path, "IL-2\tB-protein\tB-DNA\tO\ngene\tO\tI-DNA\tO\nx\tB-RNA\tO\tO\n\n")
    (doc,) = iob.read_layered(p)
    assert _spans(doc) == [("IL-2 gene", "DNA"), ("IL-2", "protein"), ("x", "RNA")]
    assert Corpus([doc]).stats().nested == 1


def test_registry_reads_bioes_by_name(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tS-X\n\n")
    assert _spans(next(bioner.io.read(p, format="bioes"))) == [("a", "X")]


# ---------------------------------------------------------------- writing


def _doc(doc_id: str, text: str, ents: list[Entity], tokens: list[tuple[int, int]] | None = None, sentences: list[tuple[int, int]] | None = None) -> Document:
    return Document(doc_id, text, ents, tokens=tokens, sentences=sentences)


def test_write_round_trip_without_markers(tmp_path: Path) -> None:
    p = _file(tmp_path, "a\tB-X\nb\tI-X\nc\tO\n\nd\tB-Y\n\n", name="r.tsv")
    docs = list(iob.read(p))
    out = tmp_path / "r.tsv.out"
    iob.write(docs, tmp_path / "r.tsv")  # same stem: ids r:1, r:2 need no markers
    assert "DOCSTART" not in (tmp_path / "r.tsv").read_text()
    iob.write(docs, out)  # stem "r.tsv" differs from the ids: markers keep them
    assert "-DOCSTART- r:1\tO" in out.read_text()
    assert list(iob.read(out)) == docs


@pytest.mark.parametrize("scheme", ["iob2", "bioes"])
def test_write_round_trip_with_markers(tmp_path: Path, scheme: str) -> None:
    src = "-DOCSTART- A\tO\n\na\tB-X\nb\tI-X\nc\tI-X\n\nd\tB-Y\ne\tB-Y\n\n-DOCSTART-\tO\n\nf\tO\n\n"
    p = _file(tmp_path, src, name="m.tsv")
    docs = list(iob.read(p))
    out = tmp_path / "m.tsv"
    iob.write(docs, out, scheme=scheme)  # type: ignore[arg-type]
    assert list(iob.read(out, scheme=scheme)) == docs  # type: ignore[arg-type]
    if scheme == "iob2":
        assert out.read_text() == src
    else:
        assert "c\tE-X\n\nd\tS-Y\ne\tS-Y" in out.read_text()


def test_write_flat_keeps_longest_and_counts_drops(tmp_path: Path) -> None:
    text = "breast cancer gene BRCA1"
    doc = _doc("x", text, [Entity(7, 13, "Disease"), Entity(0, 13, "Disease"), Entity(0, 18, "Gene"), Entity(19, 24, "Gene")])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    (back,) = iob.read(tmp_path / "o.tsv")
    assert _spans(back) == [("breast cancer gene", "Gene"), ("BRCA1", "Gene")]
    assert report.counts == {"W301": 2}


def test_write_discontinuous_as_covering_span(tmp_path: Path) -> None:
    text = "breast and ovarian cancer"
    doc = _doc("x", text, [Entity.from_fragments([(0, 6), (19, 25)], "Disease")])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    assert _spans(next(iob.read(tmp_path / "o.tsv"))) == [(text, "Disease")]
    assert report.counts == {"W302": 1}


def test_write_splits_tokens_at_entity_boundaries(tmp_path: Path) -> None:
    text = "IL-2-induced cells"
    doc = _doc("x", text, [Entity(0, 4, "protein")], tokens=[(0, 12), (13, 18)], sentences=[(0, 18)])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    assert (tmp_path / "o.tsv").read_text().splitlines()[2:5] == ["IL-2\tB-protein", "-induced\tO", "cells\tO"]
    assert report.counts == {"W303": 1, "W306": 1}  # W306: the text now reads "IL-2 -induced cells"


def test_write_snaps_or_drops_entities_off_token_boundaries(tmp_path: Path) -> None:
    text = "a  bc d"
    # ' bc' starts in whitespace: snapped to 'bc'; the gap entity covers no token: dropped
    doc = _doc("x", text, [Entity(2, 5, "X"), Entity(1, 3, "Y")], tokens=[(0, 1), (3, 5), (6, 7)], sentences=[(0, 7)])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    assert _spans(next(iob.read(tmp_path / "o.tsv"))) == [("bc", "X")]
    assert report.counts == {"W305": 1, "W301": 1, "W306": 1}  # W306: the double space is lost


def test_write_merges_sentences_an_entity_crosses(tmp_path: Path) -> None:
    text = "in St. Louis today"
    doc = _doc("x", text, [Entity(3, 12, "LOC")], tokens=[(0, 2), (3, 6), (7, 12), (13, 18)], sentences=[(0, 6), (7, 18)])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    (back,) = iob.read(tmp_path / "o.tsv")
    assert back.text == text and _spans(back) == [("St. Louis", "LOC")]
    assert report.counts == {"W307": 1}


def test_write_splits_tokens_holding_whitespace(tmp_path: Path) -> None:
    doc = _doc("x", "ER- cells", [], tokens=[(0, 9)], sentences=[(0, 9)])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    assert next(iob.read(tmp_path / "o.tsv")).tokens == [(0, 3), (4, 9)]
    assert report.counts == {"W304": 1}


def test_write_counts_what_iob_cannot_hold(tmp_path: Path) -> None:
    ent = Entity(0, 1, "X", score=0.9, ids=("MESH:D1",))
    docs = [Document("a", "x y", [ent], metadata={"k": 1}), Document("b", "z", []), Document("c", "It binds. It grows.", [])]
    report = Report()
    iob.write(docs, tmp_path / "o.tsv", report=report, doc_markers=False)
    assert report.counts == {"W306": 3}
    messages = [i.message for i in report.issues]
    assert "entity ids" in messages[0] and "entity score" in messages[0] and "metadata 'k'" in messages[0]
    assert "id and sentence grouping" in messages[2]
    assert [d.id for d in iob.read(tmp_path / "o.tsv")] == ["o:1", "o:2", "o:3", "o:4"]


def test_unwritable_label_and_id(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        iob.write([_doc("x", "a", [Entity(0, 1, "bad\tlabel")])], tmp_path / "o.tsv")
    assert exc.value.code == "E304"
    with pytest.raises(BionerError) as exc:
        iob.write([_doc("two\tparts", "a b", [])], tmp_path / "o.tsv")
    assert exc.value.code == "E305"
    report = Report(skip_invalid=True)
    iob.write([_doc("two\tparts", "a b", [Entity(0, 1, "bad\tlabel")])], tmp_path / "o.tsv", report=report)
    assert report.counts == {"E304": 1, "E305": 1}
    assert [d.id for d in iob.read(tmp_path / "o.tsv")] == ["o:doc1"]


def test_write_untokenized_document_uses_the_tokenizer(tmp_path: Path) -> None:
    text = "Mutations in BRCA1 cause cancer. The IL-2 gene is expressed."
    doc = _doc("d", text, [Entity(13, 18, "Gene"), Entity(37, 41, "DNA")])
    report = Report()
    iob.write([doc], tmp_path / "o.tsv", report=report)
    (back,) = iob.read(tmp_path / "o.tsv")
    # the tokenizer cuts IL-2 into IL - 2; the entity still covers exactly its tokens
    assert [(t.replace(" ", ""), lab) for t, lab in _spans(back)] == [("BRCA1", "Gene"), ("IL-2", "DNA")]
    assert back.sentences is not None and len(back.sentences) == 2
    assert back.text.replace(" ", "").replace("\n", "") == text.replace(" ", "")
    assert report.counts == {"W306": 1}  # the text layout


# ---------------------------------------------------------------- real corpora


@pytest.mark.parametrize(("split", "sentences", "mentions"), [("train", 5424, 5134), ("devel", 923, 787), ("test", 940, 960)])
def test_ncbi_disease_counts_and_byte_identical_round_trip(data_dir: Path, tmp_path: Path, split: str, sentences: int, mentions: int) -> None:
    src = data_dir / "ncbi-disease" / "iob" / f"{split}.tsv"
    docs = list(iob.read(src))
    stats = Corpus(docs).stats()
    assert (stats.sentences, stats.mentions) == (sentences, mentions)
    out = tmp_path / f"{split}.tsv"
    report = Report()
    iob.write(docs, out, report=report)
    assert not report
    assert out.read_bytes() == src.read_bytes()
    assert list(iob.read(out)) == docs


def test_bc5cdr_combined_test_counts(data_dir: Path) -> None:
    stats = Corpus(iob.read(data_dir / "bc5cdr" / "iob-combined" / "test.tsv")).stats()
    assert (stats.sentences, stats.mentions) == (4797, 9809)
    assert stats.by_type == {"Chemical": 5385, "Disease": 4424}


def test_jnlpba_train_task2_markers_round_trip(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "jnlpba" / "original" / "train" / "Genia4ERtask2.iob2"
    report = Report()
    docs = list(iob.read(src, report=report))
    stats = Corpus(docs).stats()
    assert (stats.documents, stats.sentences, stats.mentions) == (2000, 18546, 51301)
    assert docs[0].id == "MEDLINE:95369245" and report.counts == {"W213": 1}  # MEDLINE:97218353 occurs twice
    out = tmp_path / "Genia4ERtask2.iob2"
    iob.write(docs, out, marker_style="hash")
    assert out.read_bytes() == src.read_bytes()
    assert list(iob.read(out)) == docs


@pytest.mark.parametrize(("split", "sentences", "mentions"), [("dev", 1669, 4337), ("test", 1854, 5474)])
def test_genia_layered_counts(data_dir: Path, split: str, sentences: int, mentions: int) -> None:
    stats = Corpus(iob.read_layered(data_dir / "genia" / "layered-iob2" / f"genia.{split}.iob2")).stats()
    assert (stats.sentences, stats.mentions) == (sentences, mentions)
    assert stats.nested > 0
