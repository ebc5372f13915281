"""``bioner train llm``, ``extract --engine llm`` and ``evaluate --engine llm`` end to end on a tiny random LM."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bioner.io
from bioner.cli import app
from bioner.cli.train_llm import LLMTrainOptions, load_parts
from bioner.doc import Document, Entity
from bioner.engines.generative.train import read_settings
from bioner.errors import BionerError, Report

runner = CliRunner()
TEXT = "Aspirin may cause Reye syndrome. Mice were given cisplatin."


def _docs() -> list[Document]:
    return [
        Document("t1", "Cystic fibrosis is common.", [Entity(0, 15, "Disease")]),
        Document("t2", "Aspirin may cause Reye syndrome.", [Entity(0, 7, "Chemical"), Entity(18, 31, "Disease")]),
        Document("t3", "Mice were given cisplatin. Nothing else.", [Entity(16, 25, "Chemical")]),
    ]


@pytest.fixture(scope="module")
def adapter(tiny_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter tuned for 4 steps by the command itself."""
    tmp = tmp_path_factory.mktemp("llm-cli")
    train = tmp / "train.jsonl"
    bioner.io.write(_docs(), train)
    r = runner.invoke(app, ["train", "llm", "--train-file", str(train), "--model", str(tiny_lm_dir), "--scheme", "tags", "--steps", "4",
                            "--batch-size", "2", "--grad-accum", "1", "--lora-r", "4", "--output", str(tmp / "run"), "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "Tuned 4 steps" in r.output and "adapter:" in r.output
    return tmp / "run" / "adapter"


def test_train_llm_writes_an_adapter_that_knows_its_recipe(adapter: Path, tiny_lm_dir: Path) -> None:
    settings = read_settings(adapter)
    assert settings["scheme"] == "tags" and settings["base_model"] == str(tiny_lm_dir) and settings["steps"] == 4
    [types] = settings["types"].values()
    assert [t["name"] for t in types] == ["Chemical", "Disease"] and types[0]["label"] == "chemical compound or drug"
    assert (adapter / "adapter_config.json").is_file()


def test_extract_with_the_adapter_prints_valid_json_lines(adapter: Path) -> None:
    # no --model: the base model comes from the adapter's settings; no --labels: the types it was tuned on
    r = runner.invoke(app, ["extract", TEXT, "--engine", "llm", "--adapter", str(adapter), "--format", "json", "--max-new-tokens", "24",
                            "--threads", "1"])
    assert r.exit_code == 0, r.output
    [doc] = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert doc["text"] == TEXT
    for e in doc["entities"]:  # a random model finds little, but what it finds must sit on the text
        assert e["label"] in ("Chemical", "Disease") and 0 <= e["start"] < e["end"] <= len(TEXT)


def test_evaluate_with_the_llm_engine_scores_the_gold(adapter: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    bioner.io.write(_docs(), gold)
    r = runner.invoke(app, ["evaluate", "--gold", str(gold), "--engine", "llm", "--adapter", str(adapter), "--max-new-tokens", "16",
                            "--threads", "1", "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.stdout[r.stdout.index("{"):])
    assert scores["strict"]["micro"]["support"] == 4


def test_wrong_options_exit_2_with_a_message(adapter: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["extract", TEXT, "--engine", "llm", "--adapter", str(adapter), "--scheme", "json"])
    assert r.exit_code == 2 and "E734" in r.output  # the adapter writes tags
    r = runner.invoke(app, ["extract", TEXT, "--scheme", "tags"])
    assert r.exit_code == 2 and "apply to --engine" in r.output
    r = runner.invoke(app, ["extract", TEXT, "--engine", "llm", "--adapter", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "E714" in r.output
    r = runner.invoke(app, ["train", "llm", "--corpus", "cmeee", "--model", "x"])
    assert r.exit_code == 2 and "cmeee-carved" in r.output


def test_load_parts_takes_file_types_and_refuses_files_without_entities(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    bioner.io.write(_docs(), f)
    [part] = load_parts(LLMTrainOptions(train_file=[str(f)]), Report(skip_invalid=True))
    assert [t.name for t in part.types] == ["Chemical", "Disease"] and len(part.docs) == 3
    empty = tmp_path / "e.jsonl"
    bioner.io.write([Document("x", "No entities here.")], empty)
    with pytest.raises(BionerError, match="E605"):
        load_parts(LLMTrainOptions(train_file=[str(empty)]), Report(skip_invalid=True))
