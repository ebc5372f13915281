"""Nested NER JSON lines: grouping, checks, writing, round trips, the GENIA files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bioner.doc import Corpus, Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import nested_jsonl as nj


def _line(tokens: list[str], doc_id: str | None, sent_id: Any, mentions: list[tuple[int, int, str]], **extra: Any) -> str:
    d: dict[str, Any] = {"tokens": tokens}
    if doc_id is not None:
        d["doc_id"] = doc_id
    if sent_id is not None:
        d["sent_id"] = sent_id
    d["entity_mentions"] = [{"start": s, "end": e, "entity_type": t, "text": " ".join(tokens[s:e])} for s, e, t in mentions]
    d.update(extra)
    return json.dumps(d)


def _file(tmp_path: Path, lines: list[str], name: str = "n.jsonlines") -> Path:
    p = tmp_path / name
    p.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return p


SAMPLE = [
    _line(["IL-2", "gene", "expression"], "M:1", "M:1-0", [(0, 2, "DNA"), (0, 1, "protein")]),
    _line(["NF-kappa", "B"], "M:1", "M:1-1", [(0, 2, "protein")]),
    _line(["CD28", "signals"], "M:2", "M:2-0", []),
]


def test_group_by_doc_builds_documents_with_nested_entities(tmp_path: Path) -> None:
    docs = list(nj.read(_file(tmp_path, SAMPLE)))
    assert [d.id for d in docs] == ["M:1", "M:2"]
    d = docs[0]
    assert d.text == "IL-2 gene expression\nNF-kappa B"
    assert d.sentences == [(0, 20), (21, 31)]
    assert [(d.text[e.start:e.end], e.label) for e in d.entities] == [("IL-2 gene", "DNA"), ("IL-2", "protein"), ("NF-kappa B", "protein")]
    assert d.metadata == {}  # default sentence ids are not stored
    assert Corpus(docs).stats().nested == 1


def test_one_document_per_sentence(tmp_path: Path) -> None:
    docs = list(nj.read(_file(tmp_path, SAMPLE), group_by_doc=False))
    assert [d.id for d in docs] == ["M:1-0", "M:1-1", "M:2-0"]
    assert docs[1].metadata == {"doc_id": "M:1"} and docs[1].text == "NF-kappa B"


@pytest.mark.parametrize("group", [True, False])
def test_round_trip_is_byte_identical(tmp_path: Path, group: bool) -> None:
    lines = [*SAMPLE, _line(["x"], "M:3", "odd-id", [], pos=["NN"])]
    src = _file(tmp_path, lines)
    docs = list(nj.read(src, group_by_doc=group))
    assert docs[-1].metadata["extra"] == [{"pos": ["NN"]}]
    out = tmp_path / "out.jsonlines"
    report = Report()
    nj.write(docs, out, report=report)
    assert out.read_text() == src.read_text() and not report
    assert list(nj.read(out, group_by_doc=group)) == docs


def test_tokens_holding_spaces_are_kept_whole(tmp_path: Path) -> None:
    src = _file(tmp_path, [_line(["ER- cells", "grow"], "M:9", "M:9-0", [(0, 1, "cell_line")])])
    (doc,) = nj.read(src)
    assert doc.tokens == [(0, 9), (10, 14)] and doc.text[doc.entities[0].start:doc.entities[0].end] == "ER- cells"
    out = tmp_path / "out.jsonlines"
    nj.write([doc], out)
    assert out.read_text() == src.read_text()


def test_text_mismatch_is_e202_naming_the_line(tmp_path: Path) -> None:
    bad = json.dumps({"tokens": ["a", "b"], "doc_id": "D", "sent_id": "D-1", "entity_mentions": [{"start": 0, "end": 2, "entity_type": "X", "text": "a c"}]})
    p = _file(tmp_path, [SAMPLE[0], bad])
    with pytest.raises(BionerError) as exc:
        list(nj.read(p))
    assert exc.value.code == "E202" and exc.value.line == 2 and "'a b'" in exc.value.message


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 2, "entity_type": "X"}]}, "E202"),
        ({"tokens": ["a", ""], "entity_mentions": []}, "E201"),
        ({"tokens": "a b", "entity_mentions": []}, "E201"),
        ({"tokens": ["a"], "entity_mentions": [{"start": "0", "end": 1, "entity_type": "X"}]}, "E201"),
    ],
)
def test_malformed_records(tmp_path: Path, record: dict[str, Any], code: str) -> None:
    p = _file(tmp_path, [json.dumps(record)])
    with pytest.raises(BionerError) as exc:
        list(nj.read(p))
    assert exc.value.code == code and exc.value.line == 1


def test_invalid_json_and_skip_invalid(tmp_path: Path) -> None:
    p = _file(tmp_path, [SAMPLE[0], "{not json", SAMPLE[2]])
    with pytest.raises(BionerError) as exc:
        list(nj.read(p))
    assert exc.value.code == "E208" and exc.value.line == 2
    report = Report(skip_invalid=True)
    assert [d.id for d in nj.read(p, report=report)] == ["M:1", "M:2"]
    assert report.counts == {"E208": 1}


def test_document_split_over_the_file_is_e209(tmp_path: Path) -> None:
    p = _file(tmp_path, [SAMPLE[0], SAMPLE[2], SAMPLE[1]])
    with pytest.raises(BionerError) as exc:
        list(nj.read(p))
    assert exc.value.code == "E209" and exc.value.line == 3
    assert len(list(nj.read(p, group_by_doc=False))) == 3


def test_lines_without_ids(tmp_path: Path) -> None:
    p = _file(tmp_path, [_line(["a"], None, None, []), _line(["b"], None, None, [(0, 1, "X")])], name="bare.jsonlines")
    docs = list(nj.read(p))
    assert [d.id for d in docs] == ["bare:1", "bare:2"] and all(d.metadata == {} for d in docs)
    out = tmp_path / "out.jsonlines"
    nj.write(docs, out)
    assert list(nj.read(out)) == docs


def test_write_untokenized_document_forces_entity_boundaries(tmp_path: Path) -> None:
    text = "IL-2-induced T cells respond. CD28 binds."
    doc = Document("P1", text, [Entity(0, 4, "protein"), Entity(13, 20, "cell_type"), Entity(13, 14, "protein"), Entity(30, 34, "protein")])
    report = Report()
    out = tmp_path / "out.jsonlines"
    nj.write([doc], out, report=report)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["sent_id"] for r in recs] == ["P1-0", "P1-1"]
    got = [(m["text"], m["entity_type"]) for r in recs for m in r["entity_mentions"]]
    assert got == [("IL - 2", "protein"), ("T cells", "cell_type"), ("T", "protein"), ("CD28", "protein")]
    assert report.counts == {"W306": 1}  # the text layout: "IL-2-induced" is written as tokens
    (back,) = nj.read(out)
    assert len(back.entities) == 4 and Corpus([back]).stats().nested == 1


def test_write_reports_what_it_changes(tmp_path: Path) -> None:
    text = "breast and ovarian cancer"
    doc = Document("x", text, [Entity.from_fragments([(0, 6), (19, 25)], "Disease"), Entity(11, 16, "Y")], tokens=[(0, 6), (7, 10), (11, 18), (19, 25)], sentences=[(0, 25)])
    report = Report()
    nj.write([doc], tmp_path / "o.jsonlines", report=report)
    (back,) = nj.read(tmp_path / "o.jsonlines")
    assert [(back.text[e.start:e.end], e.label) for e in back.entities] == [("breast and ovari an cancer", "Disease"), ("ovari", "Y")]
    assert report.counts == {"W302": 1, "W303": 1, "W306": 1}


@pytest.mark.parametrize(("split", "sentences", "mentions", "nested"), [("dev", 1765, 4714, 444), ("test", 1732, 5119, 603)])
def test_genia_counts_and_byte_identical_round_trip(data_dir: Path, tmp_path: Path, split: str, sentences: int, mentions: int, nested: int) -> None:
    src = data_dir / "genia" / "nested-jsonlines" / f"{split}.jsonlines"
    docs = list(nj.read(src))
    stats = Corpus(docs).stats()
    assert (stats.documents, stats.sentences, stats.mentions, stats.nested) == (199, sentences, mentions, nested)
    out = tmp_path / f"{split}.jsonlines"
    report = Report()
    nj.write(docs, out, report=report)
    assert not report
    assert out.read_bytes() == src.read_bytes()
    assert list(nj.read(out)) == docs
