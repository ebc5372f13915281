"""brat standoff: unit tests on tiny pairs, then S800 and JNLPBA."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import brat

TEXT = "Human IL-2 and mouse\nIL-4 genes.\n"


def pair(tmp: Path, ann: str, text: str = TEXT, name: str = "doc1") -> Path:
    (tmp / f"{name}.txt").write_bytes(text.encode("utf-8"))
    (tmp / f"{name}.ann").write_bytes(ann.encode("utf-8"))
    return tmp / f"{name}.ann"


def read_one(path: Path, **kw: object) -> Document:
    docs = list(brat.read(path, **kw))  # type: ignore[arg-type]
    assert len(docs) == 1
    return docs[0]


# ---------------------------------------------------------------- reading


def test_t_lines_n_lines_and_other_lines(tmp_path: Path) -> None:
    ann = pair(tmp_path, "T1\tProtein 6 10\tIL-2\nN1\tReference T1 UniProt:P60568\tIL2\nT2\tSpecies 0 5\tHuman\n"
                         "A1\tNegated T1\nR1\tIn Arg1:T1 Arg2:T2\n#1\tAnnotatorNotes T2\tcheck\n*\tEquiv T1 T2\n")
    doc = read_one(ann)
    assert doc.id == "doc1" and doc.text == TEXT
    assert doc.entities == [
        Entity(6, 10, "Protein", ids=("UniProt:P60568",), attrs={"id": "T1"}),
        Entity(0, 5, "Species", attrs={"id": "T2"}),
    ]
    assert doc.metadata["brat_lines"] == [
        "N1\tReference T1 UniProt:P60568\tIL2", "A1\tNegated T1", "R1\tIn Arg1:T1 Arg2:T2", "#1\tAnnotatorNotes T2\tcheck", "*\tEquiv T1 T2",
    ]


def test_discontinuous_entity_text_joined_by_one_space(tmp_path: Path) -> None:
    # "mouse IL-4" across the line break: brat shows the newline as a space
    ann = pair(tmp_path, "T1\tProtein 6 8;21 25\tIL IL-4\nT2\tProtein 15 25\tmouse IL-4\n")
    e1, e2 = read_one(ann).entities
    assert e1.fragments == ((6, 8), (21, 25)) and (e1.start, e1.end) == (6, 25)
    assert TEXT[e2.start:e2.end] == "mouse\nIL-4"


def test_text_column_mismatch_is_e202_with_file_and_line(tmp_path: Path) -> None:
    ann = pair(tmp_path, "T1\tProtein 6 10\tIL-2\nT2\tProtein 6 10\tIL-3\n")
    with pytest.raises(BionerError) as exc:
        read_one(ann)
    assert exc.value.code == "E202" and exc.value.line == 2 and exc.value.file == str(ann)
    assert "IL-3" in exc.value.message


def test_offsets_past_the_text_and_empty_spans(tmp_path: Path) -> None:
    for line, code in (("T1\tProtein 30 40\tx", "E202"), ("T1\tProtein 6 6\t", "E101"), ("T1\tProtein 6 10;8 12\tIL-2 -2 a", "E102")):
        ann = pair(tmp_path, line + "\n")
        with pytest.raises(BionerError) as exc:
            read_one(ann)
        assert (exc.value.code, exc.value.line, exc.value.file) == (code, 1, str(ann))


@pytest.mark.parametrize("line", [
    "T1\tProtein 6\tIL-2", "T1\tProtein 6 x\tIL-2", "T1 Protein 6 10 IL-2", "T1\tProtein 6 10",
    "N1\tReference T1", "R1\tIn T1 T2", "X1\tfoo T1", "*\tEquiv T1",
])
def test_malformed_lines_are_e201(tmp_path: Path, line: str) -> None:
    ann = pair(tmp_path, "T2\tSpecies 0 5\tHuman\n" + line + "\n")
    with pytest.raises(BionerError) as exc:
        read_one(ann)
    assert (exc.value.code, exc.value.line) == ("E201", 2)


@pytest.mark.parametrize("line", ["N1\tReference T9 Taxonomy:9606", "A1\tNegated T9", "R1\tIn Arg1:T1 Arg2:T9", "E1\tBind:T1 Theme:E7", "*\tEquiv T1 T9"])
def test_dangling_reference_is_e206(tmp_path: Path, line: str) -> None:
    ann = pair(tmp_path, "T1\tProtein 6 10\tIL-2\n" + line + "\n")
    with pytest.raises(BionerError) as exc:
        read_one(ann)
    assert (exc.value.code, exc.value.line, exc.value.file) == ("E206", 2, str(ann))
    assert "dangling id" in exc.value.message


def test_skip_invalid_records_and_cascades(tmp_path: Path) -> None:
    # T2 is bad, so N2 and R1 (which need it) are dangling; the rest stays
    ann = pair(tmp_path, "T1\tProtein 6 10\tIL-2\nT2\tProtein 6 10\tnope\nN2\tReference T2 X:1\nR1\tIn Arg1:T1 Arg2:T2\nT1\tSpecies 0 5\tHuman\n")
    report = Report(skip_invalid=True)
    doc = read_one(ann, report=report)
    assert [e.attrs["id"] for e in doc.entities] == ["T1"]
    assert report.counts == Counter({"E202": 1, "E206": 2, "E201": 1})  # E201: T1 defined twice
    assert "brat_lines" not in doc.metadata


def test_text_is_kept_exactly(tmp_path: Path) -> None:
    text = "\ufeffCRLF\r\nline  two\r\n"
    ann = pair(tmp_path, "T1\tX 7 16\tline  two\n", text=text)
    doc = read_one(ann)
    assert doc.text == text and doc.entities[0].text_in(text) == "line  two"


def test_path_forms_and_missing_files(tmp_path: Path) -> None:
    pair(tmp_path, "T1\tProtein 6 10\tIL-2\n", name="b")
    pair(tmp_path, "", name="a")
    assert [d.id for d in brat.read(tmp_path)] == ["a", "b"]
    assert read_one(tmp_path / "b.txt").entities[0].label == "Protein"
    (tmp_path / "c.ann").write_text("")
    with pytest.raises(BionerError) as exc:
        list(brat.read(tmp_path))
    assert exc.value.code == "E210" and exc.value.file == str(tmp_path / "c.txt")
    report = Report(skip_invalid=True)
    assert [d.id for d in brat.read(tmp_path, report=report)] == ["a", "b"] and report.counts["E210"] == 1
    with pytest.raises(BionerError) as exc:
        list(brat.read(tmp_path / "empty"))
    assert exc.value.code == "E210"


def test_invalid_utf8_text_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_bytes(b"ok\nbad \xff\n")
    (tmp_path / "d.ann").write_text("")
    with pytest.raises(BionerError) as exc:
        list(brat.read(tmp_path / "d.ann"))
    assert (exc.value.code, exc.value.line) == ("E204", 2)


# ---------------------------------------------------------------- writing


def test_round_trip_keeps_ids_and_lines_byte_for_byte(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    body = ("T3\tProtein 6 10\tIL-2\nN1\tReference T3 UniProt:P60568\tIL2\nT1\tProtein 6 8;21 25\tIL IL-4\n"
            "T2\tProtein 15 25\tmouse IL-4\nR1\tIn Arg1:T3 Arg2:T2\n#1\tAnnotatorNotes T2\tnewline inside\n")
    pair(src, body)
    docs = list(brat.read(src))
    out = tmp_path / "out"
    brat.write(docs, out)
    assert (out / "doc1.ann").read_text() == body
    assert (out / "doc1.txt").read_bytes() == TEXT.encode()
    assert list(brat.read(out)) == docs


def test_writer_fresh_ids_new_norms_and_dropped_lines(tmp_path: Path) -> None:
    doc = read_one(pair(tmp_path, "T1\tProtein 6 10\tIL-2\nT4\tSpecies 0 5\tHuman\nR1\tIn Arg1:T1 Arg2:T4\nA1\tNegated T4\n"))
    edited = doc.copy(entities=[
        doc.entities[0].with_(ids=("UniProt:P60568",)),  # keeps T1, gains an N line
        Entity(15, 20, "Species", score=0.9),  # no id: a fresh one above T4
    ])  # T4 removed: R1 and A1 now point at nothing
    report = Report()
    brat.write([edited], tmp_path / "out", report=report)
    assert (tmp_path / "out/doc1.ann").read_text() == "T1\tProtein 6 10\tIL-2\nN1\tReference T1 UniProt:P60568\nT5\tSpecies 15 20\tmouse\n"
    assert report.counts == Counter({"W320": 1, "W306": 1})
    assert "2 annotation line(s) dropped" in report.issues[0].message and "entity score" in report.issues[1].message
    back = read_one(tmp_path / "out/doc1.ann")
    assert [(e.attrs["id"], e.ids) for e in back.entities] == [("T1", ("UniProt:P60568",)), ("T5", ())]


def test_writer_rejects_what_brat_cannot_hold(tmp_path: Path) -> None:
    docs = [Document("ok", "a b", [Entity(0, 1, "two words"), Entity(2, 3, "X")]), Document("../up", "x"), Document("ok", "again")]
    with pytest.raises(BionerError) as exc:
        brat.write(docs, tmp_path / "out")
    assert exc.value.code == "E304"
    report = Report(skip_invalid=True)
    brat.write(docs, tmp_path / "out2", report=report)
    assert report.counts == Counter({"E304": 1, "E305": 1, "E209": 1})
    assert (tmp_path / "out2/ok.ann").read_text() == "T2\tX 2 3\tb\n"  # ids follow entity positions
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["ok.ann", "ok.txt"]


# ---------------------------------------------------------------- corpora


def test_s800_counts_round_trip_and_bytes(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "s800/standoff"
    report = Report()
    docs = list(brat.read(src, report=report))
    assert not report
    assert len(docs) == 800 and sum(len(d.entities) for d in docs) == 3708
    assert all(len(e.ids) == 1 and e.ids[0].startswith("Taxonomy:") for d in docs for e in d.entities)
    per_split = {}
    for split in ("train", "devel", "test"):
        ids = set((data_dir / f"s800/split/{split}.txt").read_text().split())
        chosen = [d for d in docs if d.id in ids]
        per_split[split] = (len(chosen), sum(len(d.entities) for d in chosen))
    assert per_split == {"train": (560, 2557), "devel": (80, 384), "test": (160, 767)}
    brat.write(docs, tmp_path, report=report)
    assert not report
    assert list(brat.read(tmp_path)) == docs
    changed = [p.name for p in tmp_path.iterdir() if p.read_bytes() != (src / p.name).read_bytes()]
    assert changed == []


def test_jnlpba_counts_and_subset_round_trip(data_dir: Path, tmp_path: Path) -> None:
    counts = {}
    for split in ("train", "test"):
        docs = list(brat.read(data_dir / "jnlpba/standoff" / split))
        counts[split] = (len(docs), sum(len(d.entities) for d in docs), Counter(e.label for d in docs for e in d.entities))
    assert counts["train"][:2] == (2000, 51301) and counts["test"][:2] == (404, 8662)
    assert counts["train"][2] == {"protein": 30269, "DNA": 9533, "RNA": 951, "cell_line": 3830, "cell_type": 6718}
    assert counts["test"][2] == {"protein": 5067, "DNA": 1056, "RNA": 118, "cell_line": 500, "cell_type": 1921}
    src = data_dir / "jnlpba/standoff/train"
    subset = [d for ann in sorted(src.glob("*.ann"))[:150] for d in brat.read(ann)]
    brat.write(subset, tmp_path)
    assert list(brat.read(tmp_path)) == subset
    assert all(p.read_bytes() == (src / p.name).read_bytes() for p in tmp_path.iterdir())
