"""CBLUE/CMeEE JSON: unit tests on tiny files, then the CMeEE dev and test files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import cblue


def write_json(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def ent(s: int, e: int, t: str, text: str) -> dict[str, Any]:
    return {"start_idx": s, "end_idx": e, "type": t, "entity": text}


def test_inclusive_end_ids_sentences_and_nesting(tmp_path: Path) -> None:
    path = write_json(tmp_path / "tiny.json", [
        {"text": "肺部感染导致发热。", "entities": [ent(0, 3, "dis", "肺部感染"), ent(0, 1, "bod", "肺部"), ent(6, 7, "sym", "发热")]},
        {"text": "无实体", "entities": []},
        {"text": "未标注"},
    ])
    docs = list(cblue.read(path))
    assert [d.id for d in docs] == ["tiny:1", "tiny:2", "tiny:3"]
    assert docs[0].entities == [Entity(0, 4, "dis"), Entity(0, 2, "bod"), Entity(6, 8, "sym")]
    assert docs[0].sentences == [(0, 9)]
    assert docs[1].metadata == {} and docs[2].metadata == {"unlabelled": True}


def test_entity_text_mismatch_names_file_item_and_line(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", [
        {"text": "发热", "entities": [ent(0, 1, "sym", "发热")]},
        {"text": "肺部感染", "entities": [ent(0, 1, "bod", "肺部"), ent(0, 2, "dis", "肺部感染")]},
    ])
    with pytest.raises(BionerError) as exc:
        list(cblue.read(path))
    err = exc.value
    # the second item opens on line 13 of the indent=2 layout
    assert (err.code, err.file, err.line) == ("E202", str(path), 13)
    assert "item 2" in err.message and "entities[1]" in err.message and "肺部感" in err.message
    report = Report(skip_invalid=True)
    docs = list(cblue.read(path, report=report))
    assert [len(d.entities) for d in docs] == [1, 1] and report.counts == {"E202": 1}


@pytest.mark.parametrize("items, code", [
    ([{"text": "ab", "entities": [ent(1, 2, "x", "b")]}], "E202"),  # past the end
    ([{"text": "ab", "entities": [{"start_idx": "0", "end_idx": 1, "type": "x"}]}], "E201"),
    ([{"entities": []}], "E201"),
    ([["not an object"]], "E201"),
])
def test_invalid_items(tmp_path: Path, items: list[Any], code: str) -> None:
    path = write_json(tmp_path / "bad.json", items)
    with pytest.raises(BionerError) as exc:
        list(cblue.read(path))
    assert exc.value.code == code and exc.value.line == 2


def test_broken_json_is_e208_with_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"text": "ab"},\n  {"text": "cd",,}\n]')
    report = Report(skip_invalid=True)
    assert [d.text for d in cblue.read(path, report=report)] == ["ab"]
    assert report.issues[0].code == "E208" and report.issues[0].line == 3
    path.write_text('{"text": "ab"}')
    with pytest.raises(BionerError, match="JSON array"):
        list(cblue.read(path))


def test_writer_round_trip_extras_and_losses(tmp_path: Path) -> None:
    path = write_json(tmp_path / "x.json", [
        {"text": "发热", "entities": [{**ent(0, 1, "sym", "发热"), "note": "n"}], "id": 7},
        {"text": "未标注"},
    ])
    docs = list(cblue.read(path))
    assert docs[0].entities[0].attrs == {"note": "n"} and docs[0].metadata == {"cblue_extra": {"id": 7}}
    out = tmp_path / "x2.json"
    report = Report()
    cblue.write(docs, out, report=report)
    assert out.read_bytes() == path.read_bytes()
    assert report.counts["W306"] == 2  # ids x:1, x:2 are not positional in x2.json
    out = tmp_path / "x.json"
    cblue.write(docs, out)
    assert list(cblue.read(out)) == docs
    lossy = Document("a", "abcd", [Entity.from_fragments([(0, 1), (2, 4)], "dis", score=0.5)])
    report = Report()
    cblue.write([lossy], tmp_path / "l.json", report=report)
    (back,) = cblue.read(tmp_path / "l.json")
    assert back.entities == [Entity(0, 4, "dis")]
    assert report.counts == {"W302": 1, "W306": 1} and "entity score" in report.issues[1].message


# ---------------------------------------------------------------- CMeEE


def test_cmeee_dev_counts_round_trip_and_bytes(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "cmeee/CMeEE_dev.json"
    report = Report()
    docs = list(cblue.read(src, report=report))
    assert not report
    assert len(docs) == 5000 and sum(len(d.entities) for d in docs) == 20300
    assert Counter(e.label for d in docs for e in d.entities) == {
        "bod": 5883, "dis": 4935, "sym": 4130, "pro": 2057, "dru": 1440, "ite": 923, "mic": 584, "equ": 238, "dep": 110,
    }
    out = tmp_path / src.name
    cblue.write(docs, out, report=report)
    assert not report
    assert out.read_bytes() == src.read_bytes()
    assert list(cblue.read(out)) == docs


def test_cmeee_test_is_unlabelled_and_rewritten_exactly(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "cmeee/CMeEE_test.json"
    docs = list(cblue.read(src))
    assert len(docs) == 3000 and all(d.metadata == {"unlabelled": True} and not d.entities for d in docs)
    out = tmp_path / src.name
    cblue.write(docs, out)
    assert out.read_bytes() == src.read_bytes()
