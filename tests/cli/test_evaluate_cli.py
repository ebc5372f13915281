"""``bioner evaluate`` and ``bioner demo`` (with the perturbation it scores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bioner.io
from bioner import corpora
from bioner.cli import app
from bioner.cli._common import parse_labels, track
from bioner.cli.demo import perturb, run_demo
from bioner.cli.evaluate import evaluate_sources
from bioner.doc import Document, Entity

runner = CliRunner()

TEXT = "Lung cancer and cisplatin and flu with aspirin."
#       0    5    10   15   20   25   30   35   40   45
GOLD = [(0, 11, "Disease"), (16, 25, "Chemical"), (30, 33, "Disease")]
# exact Disease; Chemical missed; flu predicted one char short; an extra Chemical
PRED = [(0, 11, "Disease"), (30, 32, "Disease"), (39, 46, "Chemical")]


def _write(path: Path, ents: list[tuple[int, int, str]], text: str = TEXT, doc_id: str = "d1") -> Path:
    doc = {"id": doc_id, "text": text, "entities": [{"start": s, "end": e, "label": lab} for s, e, lab in ents]}
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "gold.jsonl", GOLD), _write(tmp_path / "pred.jsonl", PRED)


def test_evaluate_json_exact_numbers(files: tuple[Path, Path]) -> None:
    gold, pred = files
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(pred), "--json"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert (ev["documents"], ev["gold_entities"], ev["pred_entities"]) == (1, 3, 3)
    s = ev["strict"]
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 2, 2)
    assert s["micro"]["precision"] == pytest.approx(1 / 3) and s["micro"]["f1"] == pytest.approx(1 / 3)
    assert s["by_type"]["Disease"] == pytest.approx({"tp": 1, "fp": 1, "fn": 1, "support": 2, "predicted": 2, "precision": 0.5, "recall": 0.5, "f1": 0.5})
    assert (s["by_type"]["Chemical"]["tp"], s["by_type"]["Chemical"]["fp"], s["by_type"]["Chemical"]["fn"]) == (0, 1, 1)
    assert s["macro"]["f1"] == pytest.approx(0.25) and s["macro"]["types"] == 2
    rel = ev["relaxed"]
    assert (rel["micro"]["tp"], rel["micro"]["fp"], rel["micro"]["fn"]) == (2, 1, 1)
    assert rel["micro"]["f1"] == pytest.approx(2 / 3)
    assert rel["by_type"]["Disease"]["f1"] == pytest.approx(1.0)


def test_evaluate_labels_filter(files: tuple[Path, Path]) -> None:
    gold, pred = files
    r = runner.invoke(app, ["evaluate", "-g", str(gold), "-p", str(pred), "--json", "--labels", "Disease, "])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert ev["labels"] == ["Disease"] and (ev["excluded_gold"], ev["excluded_pred"]) == (1, 1)
    assert list(ev["strict"]["by_type"]) == ["Disease"]
    assert ev["strict"]["micro"]["f1"] == pytest.approx(0.5)


def test_evaluate_table(files: tuple[Path, Path]) -> None:
    gold, pred = files
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(pred), "--by-type"])
    assert r.exit_code == 0, r.output
    assert "0.3333" in r.stdout and "0.6667" in r.stdout and "Chemical" in r.stdout and "relaxed" in r.stdout
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(pred), "--no-relaxed"])
    assert r.exit_code == 0, r.output
    assert "strict" in r.stdout and "relaxed" not in r.stdout and "Chemical" not in r.stdout


def test_evaluate_mismatched_documents_exit_2(tmp_path: Path, files: tuple[Path, Path]) -> None:
    gold, _ = files
    other = _write(tmp_path / "other.jsonl", [], doc_id="d9")
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(other)])
    assert r.exit_code == 2 and r.stderr.startswith("[E401]")
    shifted = _write(tmp_path / "shifted.jsonl", [], text=TEXT + " ")
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pred", str(shifted)])
    assert r.exit_code == 2 and r.stderr.startswith("[E402]")


def test_evaluate_formats_given_explicitly(tmp_path: Path, files: tuple[Path, Path]) -> None:
    gold, pred = files
    g2, p2 = tmp_path / "gold.data", tmp_path / "pred.data"
    g2.write_bytes(gold.read_bytes())
    p2.write_bytes(pred.read_bytes())
    r = runner.invoke(app, ["evaluate", "--gold", str(g2), "--pred", str(p2), "--gold-format", "jsonl", "--pred-format", "jsonl", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["strict"]["micro"]["tp"] == 1


def test_gold_from_registered_corpus(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIONER_DATA", str(data_dir))
    pred = tmp_path / "pred.jsonl"
    bioner.io.write(corpora.load("ncbi-disease", "test"), pred)
    r = runner.invoke(app, ["evaluate", "--gold", "ncbi-disease:test", "--pred", str(pred), "--json"])
    assert r.exit_code == 0, r.output
    ev = json.loads(r.stdout)
    assert ev["documents"] == 100 and ev["strict"]["micro"]["tp"] == 960 and ev["strict"]["micro"]["f1"] == 1.0


def test_perturb_is_deterministic_and_counted() -> None:
    text = "Acute lung cancer and severe flu were seen in old mice ."
    ents = [Entity(6, 17, "Disease"), Entity(29, 32, "Disease"), Entity(50, 54, "Species")] * 1
    docs = [Document(f"d{i}", text, list(ents)) for i in range(40)]
    a, ca = perturb(docs, seed=3)
    b, cb = perturb(docs, seed=3)
    assert a == b and ca == cb
    assert ca.kept + ca.dropped + ca.shifted == 120
    assert ca.dropped > 0 and ca.shifted > 0
    assert sum(len(d.entities) for d in a) == ca.kept + ca.shifted
    assert docs[0].entities == ents  # the input is not modified
    for d in a:
        for e in d.entities:
            if e not in ents:
                # one boundary moved to a token edge, the other kept
                assert any((e.start == g.start) != (e.end == g.end) and e.label == g.label for g in ents)
                assert text[e.start:e.end] == text[e.start:e.end].strip()


def test_perturb_keeps_discontinuous_fragments_valid() -> None:
    text = "breast and ovarian cancer"
    ent = Entity.from_fragments([(0, 6), (19, 25)], "Disease")
    # one-token fragments at the text's edges: no shift is possible, the entity is kept
    assert perturb([Document("d", text, [ent])], drop=0.0, shift=1.0)[1].kept == 1
    text = "the breast and ovarian cancer risk"
    ent = Entity.from_fragments([(4, 10), (23, 29)], "Disease")
    docs = [Document(f"d{i}", text, [ent]) for i in range(50)]
    out, counts = perturb(docs, drop=0.0, shift=1.0, seed=1)
    assert counts.shifted == 50
    for d in out:
        [e] = d.entities
        assert e.discontinuous and e != ent


def test_demo_numbers(data_dir: Path) -> None:
    result = run_demo(root=data_dir)
    assert [r.split for r in result.stats] == ["train", "dev", "test"]
    ev, c = result.evaluation, result.counts
    assert ev.gold_entities == 960 and c.kept + c.dropped + c.shifted == 960
    assert 60 <= c.dropped <= 140 and 60 <= c.shifted <= 140  # about 10% each
    assert ev.strict.micro.tp == c.kept and ev.pred_entities == c.kept + c.shifted
    assert ev.relaxed.micro.tp == c.kept + c.shifted  # a one-token shift still overlaps
    assert run_demo(root=data_dir).counts == c  # deterministic


def test_demo_command(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIONER_DATA", str(data_dir))
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0, r.output
    assert "documents" in r.stdout and "960" in r.stdout and "strict" in r.stdout and "relaxed" in r.stdout


def test_evaluate_sources_library(files: tuple[Path, Path]) -> None:
    gold, pred = files
    ev = evaluate_sources(gold, pred, labels=["Chemical"])
    assert (ev.strict.micro.tp, ev.strict.micro.fp, ev.strict.micro.fn) == (0, 1, 1)


def test_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_labels(None) is None and parse_labels(" , ") is None
    assert parse_labels("Disease, Chemical") == ["Disease", "Chemical"]
    assert list(track(iter(range(5)), "x")) == [0, 1, 2, 3, 4]
    # on a terminal the progress display starts after PROGRESS_AFTER and still yields everything
    monkeypatch.setattr("bioner.cli._common._interactive", lambda: True)
    monkeypatch.setattr("bioner.cli._common.PROGRESS_AFTER", 0.0)
    assert list(track(iter(range(5)), "x")) == [0, 1, 2, 3, 4]


def test_corpora_and_download_commands(tmp_path: Path, data_dir: Path) -> None:
    r = runner.invoke(app, ["corpora", "--root", str(data_dir), "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["ncbi-disease"]["present"] is True and rows["genia"]["nested"] is True and rows["cmeee"]["language"] == "zh"
    r = runner.invoke(app, ["corpora", "--root", str(tmp_path), "--json"])
    assert not any(row["present"] for row in json.loads(r.stdout))
    r = runner.invoke(app, ["download", "no-such-corpus", "--root", str(tmp_path)])
    assert r.exit_code == 2 and r.stderr.startswith("[E501]")


def test_model_options_reach_the_scoring_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from bioner.evaluate import evaluate

    seen: dict[str, object] = {}

    def fake(gold, model=None, **kw):  # type: ignore[no-untyped-def]
        seen.update(gold=gold, **kw)
        doc = Document("d", TEXT, [Entity(0, 11, "Disease")])
        return evaluate([doc], [doc])

    monkeypatch.setattr("bioner.cli.evaluate.evaluate_model_source", fake)
    r = runner.invoke(app, ["evaluate", "--corpus", "bc5cdr-disease", "--json"])
    assert r.exit_code == 0, r.output
    assert (seen["gold"], seen["abbreviations"], seen["context_types"]) == ("bc5cdr-disease:test", True, True)
    r = runner.invoke(app, ["evaluate", "--corpus", "bc5cdr-disease", "--own-types", "--no-abbreviations", "--json"])
    assert r.exit_code == 0, r.output
    assert (seen["abbreviations"], seen["context_types"]) == (False, False)
