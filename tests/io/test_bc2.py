"""BioCreative II GM: unit tests on tiny files, then train/dev/test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report
from bioner.io import bc2

SENT = "The  p53 gene and Bcl-2 protein."  # two spaces: offsets skip them


def files(tmp: Path, gene: str, alt: str = "", sents: str = f"S1 {SENT}\nS2 No genes here.\n") -> Path:
    (tmp / "x.in").write_text(sents)
    (tmp / "GENE.eval").write_text(gene)
    (tmp / "ALTGENE.eval").write_text(alt)
    return tmp / "x.in"


def test_nonwhitespace_offsets_become_character_offsets(tmp_path: Path) -> None:
    # "The" = 0..2, "p53" = 3..5, "gene" = 6..9, "Bcl-2" = 13..17, "protein" = 18..24
    path = files(tmp_path, "S1|3 9|p53 gene\nS1|13 17|Bcl-2\n", "S1|3 5|p53\nS1|13 24|Bcl-2 protein\nS1|0 2|The\n")
    d1, d2 = bc2.read(path)
    assert (d1.id, d1.text, d1.sentences) == ("S1", SENT, [(0, len(SENT))])
    assert [(SENT[e.start:e.end], e.label) for e in d1.entities] == [("p53 gene", "GENE"), ("Bcl-2", "GENE")]
    assert d1.metadata["altgene"] == [[5, 8], [18, 31], [0, 3]]
    assert bc2.alternatives(d1, d1.entities[0]) == [(5, 8)]
    assert bc2.alternatives(d1, d1.entities[1]) == [(18, 31)]  # "The" overlaps no GENE: never used
    assert d2.entities == [] and d2.metadata == {}


@pytest.mark.parametrize("line, code", [("S1|3 9|p53", "E202"), ("S1|3 99|x", "E202"), ("S1|9 3|x", "E202"), ("S1|3-9|p53 gene", "E201"), ("S1 3 9 p53", "E201"), ("S9|0 2|The", "E206")])
def test_bad_eval_lines_name_file_and_line(tmp_path: Path, line: str, code: str) -> None:
    path = files(tmp_path, "S1|13 17|Bcl-2\n" + line + "\n")
    with pytest.raises(BionerError) as exc:
        list(bc2.read(path))
    assert (exc.value.code, exc.value.file, exc.value.line) == (code, str(tmp_path / "GENE.eval"), 2)
    report = Report(skip_invalid=True)
    docs = list(bc2.read(path, report=report))
    assert [len(d.entities) for d in docs] == [1, 0] and report.counts == {code: 1}


def test_eval_files_paths(tmp_path: Path) -> None:
    (tmp_path / "x.in").write_text(f"S1 {SENT}\n")
    (doc,) = bc2.read(tmp_path / "x.in")  # no .eval beside it: unlabelled
    assert doc.entities == []
    (tmp_path / "mine.eval").write_text("S1|3 5|p53\n")
    (doc,) = bc2.read(tmp_path / "x.in", gene_eval=tmp_path / "mine.eval")
    assert doc.entities == [Entity(5, 8, "GENE")]
    with pytest.raises(BionerError) as exc:
        list(bc2.read(tmp_path / "x.in", altgene_eval=tmp_path / "missing.eval"))
    assert exc.value.code == "E210"


def test_bad_in_lines(tmp_path: Path) -> None:
    path = files(tmp_path, "", sents=f"S1 {SENT}\nS1 again\nlonely\n")
    report = Report(skip_invalid=True)
    assert [d.id for d in bc2.read(path, report=report)] == ["S1"]
    assert report.counts == {"E209": 1, "E201": 1}


def test_write_round_trip_and_what_cannot_be_written(tmp_path: Path) -> None:
    path = files(tmp_path, "S1|3 9|p53 gene\nS1|13 17|Bcl-2\n", "S1|13 24|Bcl-2 protein\n")
    docs = list(bc2.read(path))
    out = tmp_path / "out" / "x.in"
    bc2.write(docs, out)
    for name in ("x.in", "GENE.eval", "ALTGENE.eval"):
        assert (out.parent / name).read_text() == (tmp_path / name).read_text()
    assert list(bc2.read(out)) == docs
    bad = [
        Document("A", "a  b", [Entity(0, 2, "GENE"), Entity(3, 4, "Protein", score=0.4)]),  # "a " ends on a space
        Document("B C", "x"),
        Document("D", "two\nlines"),
    ]
    report = Report(skip_invalid=True)
    bc2.write(bad, tmp_path / "bad" / "b.in", report=report)
    assert report.counts == {"E305": 3, "W306": 1}
    assert (tmp_path / "bad/GENE.eval").read_text() == "A|1 1|b\n"
    with pytest.raises(BionerError):
        bc2.write(bad, tmp_path / "bad2" / "b.in")


# ---------------------------------------------------------------- the corpus


def test_train_has_four_mismatched_lines(data_dir: Path) -> None:
    path = data_dir / "bc2gm/original/devel-split/train/train.in"
    with pytest.raises(BionerError) as exc:
        list(bc2.read(path))
    assert (exc.value.code, Path(exc.value.file or "").name, exc.value.line) == ("E202", "ALTGENE.eval", 694)
    report = Report(skip_invalid=True)
    docs = list(bc2.read(path, report=report))
    assert report.counts == {"E202": 4}
    assert sorted((Path(i.file or "").name, i.line) for i in report.issues) == [
        ("ALTGENE.eval", 694), ("ALTGENE.eval", 1899), ("ALTGENE.eval", 6602), ("GENE.eval", 1517),
    ]
    # README: 12,500 sentences / 15,204 GENE / 12,162 ALTGENE lines, minus the bad ones
    assert len(docs) == 12500
    assert sum(len(d.entities) for d in docs) == 15204 - 1
    assert sum(len(d.metadata.get("altgene", ())) for d in docs) == 12162 - 3


def test_dev_and_test_counts_and_round_trip(data_dir: Path, tmp_path: Path) -> None:
    counts = {}
    for split, rel in (("dev", "devel-split/devel/devel.in"), ("test", "test/test.in")):
        src = data_dir / "bc2gm/original" / rel
        report = Report()
        docs = list(bc2.read(src, report=report))
        assert not report
        counts[split] = (len(docs), sum(len(d.entities) for d in docs), sum(len(d.metadata.get("altgene", ())) for d in docs))
        out = tmp_path / split / src.name
        bc2.write(docs, out, report=report)
        assert not report and list(bc2.read(out)) == docs
        same = [(out.parent / n).read_bytes() == (src.parent / n).read_bytes() for n in (src.name, "GENE.eval", "ALTGENE.eval")]
        # test's .eval files list sentences in another order (that of test.idmap), with the same lines
        assert same == ([True, True, True] if split == "dev" else [True, False, False])
        assert Counter((out.parent / "GENE.eval").read_text().splitlines()) == Counter((src.parent / "GENE.eval").read_text().splitlines())
    assert counts == {"dev": (2500, 3061, 2337), "test": (5000, 6331, 5068)}
