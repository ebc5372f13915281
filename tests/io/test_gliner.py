"""GLiNER training JSON: layout, labels, offsets back to the document, reading it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import gliner

TEXT = "Mutations in BRCA1 cause breast cancer.  No finding here."


def _doc() -> Document:
    return Document("PMID:1", TEXT, [Entity(13, 18, "Gene"), Entity(25, 38, "Disease"), Entity(32, 38, "Disease")])


def _write(tmp_path: Path, docs: list[Document], **kw: Any) -> tuple[list[dict[str, Any]], Report]:
    report = Report()
    out = tmp_path / "train.gliner.json"
    gliner.write(docs, out, report=report, **kw)
    return json.loads(out.read_text()), report


def test_layout_inclusive_word_spans_and_negative_sentences(tmp_path: Path) -> None:
    data, report = _write(tmp_path, [_doc()])
    # "cancer." is written as two words: the file cannot say there was no space (reported)
    assert report.counts == {"W306": 1} and "text layout" in report.issues[0].message
    assert len(data) == 2  # the sentence without entities is an example too
    ex = data[0]
    assert ex["tokenized_text"] == ["Mutations", "in", "BRCA1", "cause", "breast", "cancer", "."]
    assert ex["ner"] == [[2, 2, "Gene"], [4, 5, "Disease"], [5, 5, "Disease"]]  # nested kept
    assert data[1]["ner"] == [] and "label" not in data[1]


def test_token_spans_and_char_offset_map_back_to_the_document(tmp_path: Path) -> None:
    data, _ = _write(tmp_path, [_doc()])
    for ex in data:
        assert ex["doc_id"] == "PMID:1"
        base = ex["char_offset"]
        assert [TEXT[base + s:base + e] for s, e in ex["token_spans"]] == ex["tokenized_text"]
    ex = data[1]
    assert ex["char_offset"] == TEXT.index("No") and ex["token_spans"][0] == [0, 2]
    # a predicted word span [i, j] maps to document offsets
    i, j, _ = data[0]["ner"][1]
    base, spans = data[0]["char_offset"], data[0]["token_spans"]
    assert TEXT[base + spans[i][0]:base + spans[j][1]] == "breast cancer"


def test_label_map_and_per_example_labels(tmp_path: Path) -> None:
    data, _ = _write(tmp_path, [_doc()], labels=["Disease", "Chemical"], label_map={"Disease": "disease", "Gene": "gene or gene product"})
    assert data[0]["ner"][0] == [2, 2, "gene or gene product"]
    # given labels first (mapped), then the example's own types so no gold entity is ignored
    assert data[0]["label"] == ["disease", "Chemical", "gene or gene product"]
    assert data[1]["label"] == ["disease", "Chemical"]


def test_entities_not_on_words_are_aligned_and_reported(tmp_path: Path) -> None:
    text = "IL-2-induced cells"
    # "IL-2" ends inside a word (split, W303); " cells" starts in whitespace (snapped, W305)
    doc = Document("d", text, [Entity(0, 4, "protein"), Entity(12, 18, "X")], tokens=[(0, 12), (13, 18)], sentences=[(0, 18)])
    data, report = _write(tmp_path, [doc])
    assert data[0]["tokenized_text"] == ["IL-2", "-induced", "cells"]
    assert data[0]["ner"] == [[0, 0, "protein"], [2, 2, "X"]]
    assert report.counts == {"W303": 1, "W305": 1, "W306": 1}  # W306: the text's spacing is not in the file


def test_what_gliner_cannot_hold_is_counted(tmp_path: Path) -> None:
    doc = Document("d", "CD28 binds", [Entity(0, 4, "Gene", score=0.5)], metadata={"journal": "J"})
    _, report = _write(tmp_path, [doc])
    assert report.counts == {"W306": 1} and "entity score" in report.issues[0].message


def test_read_back_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "train.gliner.json"
    gliner.write([_doc(), Document("PMID:2", "CD28 binds", [Entity(0, 4, "Gene")])], out)
    docs = list(gliner.read(out))
    assert [d.id for d in docs] == ["PMID:1", "PMID:2"]
    assert docs[0].text == "Mutations in BRCA1 cause breast cancer .\nNo finding here ."
    assert [(docs[0].text[e.start:e.end], e.label) for e in docs[0].entities] == [("BRCA1", "Gene"), ("breast cancer", "Disease"), ("cancer", "Disease")]
    again = tmp_path / "again.gliner.json"
    gliner.write(docs, again)
    assert list(gliner.read(again)) == docs


def test_read_plain_gliner_data_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "plain.json"
    p.write_text(json.dumps([{"tokenized_text": ["a", "b"], "ner": [[0, 1, "X"]]}, {"tokenized_text": ["c"], "ner": []}]))
    docs = list(gliner.read(p))
    assert [d.id for d in docs] == ["plain:1", "plain:2"] and docs[0].entities == [Entity(0, 3, "X")]
    p.write_text(json.dumps([{"tokenized_text": ["a"], "ner": [[0, 1, "X"]]}, {"tokenized_text": ["c"], "ner": []}]))
    with pytest.raises(BionerError) as exc:
        list(gliner.read(p))
    assert exc.value.code == "E202" and "example 1" in exc.value.message
    report = Report(skip_invalid=True)
    assert len(list(gliner.read(p, report=report))) == 1 and report.counts == {"E202": 1}
    p.write_text("[{")
    with pytest.raises(BionerError) as exc:
        list(gliner.read(p))
    assert exc.value.code == "E208"
