"""Leave-one-corpus-out: which corpora go together, the guard on training sets and run folders, a tiny run end to end."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bioner.cli import app
from bioner.cli.train import SpanTrainOptions
from bioner.errors import BionerError
from bioner.leave_out import RECORD, check_training, leave_out_model, recipe_options, training_corpora

runner = CliRunner()


def test_corpora_sharing_texts_leave_together() -> None:
    assert training_corpora("genia") == ["ncbi-disease", "bc5cdr", "bc2gm", "linnaeus", "s800"]
    assert training_corpora("bc5cdr-chem") == ["ncbi-disease", "bc2gm", "jnlpba", "linnaeus", "s800"]
    assert training_corpora("s800") == ["ncbi-disease", "bc5cdr", "bc2gm", "jnlpba", "linnaeus"]
    with pytest.raises(BionerError) as info:
        check_training("bc5cdr-disease", ["ncbi-disease", "bc5cdr"])
    assert info.value.code == "E608" and "bc5cdr" in str(info.value)
    with pytest.raises(BionerError, match="E201|unknown"):
        training_corpora("no-such-corpus")
    recipe = recipe_options()  # the default of evaluate --leave-out: a valid, bounded recipe with no corpora of its own
    assert recipe.corpus == [] and recipe.schedule_steps == 2000 and recipe.train_samples["bc2gm"] == 6000
    assert recipe.labels == {"linnaeus": {"Species": "species"}}  # pinned: the registry's LINNAEUS prompt changed after units were measured


def test_leave_out_trains_once_scores_the_left_out_corpus_and_guards_its_folder(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"corpus": ["ncbi-disease"], "train_sample": 4, "dev_sample": 2, "hidden_size": 32, "max_len": 64,
                               "batch_size": 2, "steps": 2, "root": str(data_dir),
                               "labels": {"ncbi-disease": {"Disease": "disorder"}, "bc5cdr-chem": {"Chemical": "drug"}}}).replace('"steps"', '"schedule_steps"'), encoding="utf-8")
    run = tmp_path / "loo"
    args = ["evaluate", "--leave-out", "bc5cdr-chem", "--run-dir", str(run), "--train-config", str(cfg), "--limit", "2", "--threads", "1", "--json"]
    env = {"BIONER_DATA": str(data_dir)}
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0, r.output
    assert "Trained" in r.stderr and "trained on ncbi-disease; never on bc5cdr-chem" in r.stderr
    scores = json.loads(r.stdout)
    assert set(scores["strict"]["micro"]) >= {"precision", "recall", "f1"} and list(scores["strict"]["by_type"]) == ["Chemical"]
    record = json.loads((run / RECORD).read_text(encoding="utf-8"))
    assert record["corpus"] == "bc5cdr-chem" and record["trained_on"] == ["ncbi-disease"] and record["finished"] is True
    assert record["options"]["labels"] == {"ncbi-disease": {"Disease": "disorder"}}  # the left-out corpus's prompts are dropped, not an error
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0 and "Loaded" in r.stderr and json.loads(r.stdout) == scores  # not trained again, same scores
    # a record written before an option existed holds its default; another value is another model
    record = json.loads((run / RECORD).read_text(encoding="utf-8"))
    del record["options"]["silver_negative_types"]
    (run / RECORD).write_text(json.dumps(record), encoding="utf-8")
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 0 and "Loaded" in r.stderr, r.output
    record["options"]["silver_negative_types"] = 0.5
    (run / RECORD).write_text(json.dumps(record), encoding="utf-8")
    r = runner.invoke(app, args, env=env)
    assert r.exit_code == 2 and "[E608]" in r.stderr and "other options" in r.stderr
    record["options"]["silver_negative_types"] = None
    (run / RECORD).write_text(json.dumps(record), encoding="utf-8")
    r = runner.invoke(app, ["evaluate", "--leave-out", "ncbi-disease", "--run-dir", str(run), "--train-config", str(cfg)], env=env)
    assert r.exit_code == 2 and "[E608]" in r.stderr  # the config trains on ncbi-disease itself
    opts = SpanTrainOptions(output=str(run), corpus=["s800"], root=str(data_dir))
    with pytest.raises(BionerError, match="not 'linnaeus'"):
        leave_out_model("linnaeus", opts)  # a folder made for bc5cdr-chem
    r = runner.invoke(app, ["evaluate", "--leave-out", "s800", "--model", "x"])
    assert r.exit_code == 2 and "--leave-out trains" in r.output
