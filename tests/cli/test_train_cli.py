"""``bioner train span``: options from a config file and flags, file data, a tiny 3-step run (no network)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import bioner.io
from bioner.cli import app
from bioner.cli.train import SpanTrainOptions, load_config, load_data, parse_prompt_flag
from bioner.doc import Document, Entity
from bioner.engines.span import SpanModel
from bioner.errors import BionerError, Report

runner = CliRunner()


def _train_docs() -> list[Document]:
    return [
        Document("t1", "Cystic fibrosis is common.", [Entity(0, 15, "Disease")]),
        Document("t2", "Aspirin may cause Reye syndrome.", [Entity(0, 7, "Chemical"), Entity(18, 31, "Disease")]),
        Document("t3", "Mice were given cisplatin.", [Entity(16, 25, "Chemical")]),
        Document("t4", "Lung cancer and asthma.", [Entity(0, 11, "Disease"), Entity(16, 22, "Disease")]),
    ]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    bioner.io.write(_train_docs(), train)
    bioner.io.write([Document("d1", "Wilson disease and aspirin.", [Entity(0, 14, "Disease"), Entity(19, 26, "Chemical")])], dev)
    return train, dev


def test_train_span_three_steps_writes_a_loadable_model(files: tuple[Path, Path], tmp_path: Path) -> None:
    train, dev = files
    config = tmp_path / "tiny.json"
    # the config sets a tiny model and 10 steps; the --max-steps flag overrides it
    config.write_text(json.dumps({"train-file": [str(train)], "hidden_size": 32, "max_len": 64, "epochs": 2, "batch_size": 2,
                                  "max_steps": 10, "threads": 1, "kind": "uni"}), encoding="utf-8")
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "span", "--config", str(config), "--dev-file", str(dev), "--max-steps", "3", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "Trained 3 steps" in r.stdout and "stopped at --max-steps" in r.stdout and "best dev F1" in r.stdout
    model = SpanModel.load(out / "model")
    assert model.kind == "uni" and model.max_words == 64 and model.gliner.config.hidden_size == 32
    [pred] = model.predict([Document("x", "Crohn's disease and aspirin.")], {"Disease": "disease"}, threshold=0.0)
    assert pred.entities and all(pred.text[e.start:e.end] for e in pred.entities)
    assert (out / "checkpoint" / "state.pt").is_file() and (out / "best").is_dir()


def test_config_keys_types_and_precedence(tmp_path: Path) -> None:
    base = SpanTrainOptions.from_mapping({"corpus": "ncbi-disease", "batch-size": 4, "lr": 1, "model_config": {"dropout": 0.1}})
    assert base.corpus == ["ncbi-disease"] and base.batch_size == 4 and base.lr == 1.0 and base.model_config == {"dropout": 0.1}
    merged = base.merged({"batch_size": 16, "corpus": [], "lr": None, "output": "x"})
    assert (merged.batch_size, merged.corpus, merged.lr, merged.output) == (16, ["ncbi-disease"], 1.0, "x")
    with pytest.raises(ValueError, match="unknown option 'batchsize'.*batch_size"):
        SpanTrainOptions.from_mapping({"batchsize": 4})
    for bad in ({"epochs": "3"}, {"epochs": True}, {"resume": "yes"}, {"corpus": [1]}, {"kind": None}):
        with pytest.raises(ValueError, match="must be"):
            SpanTrainOptions.from_mapping(bad)
    yml = tmp_path / "c.yaml"
    yml.write_text("corpus: [ncbi-disease, bc5cdr]\nepochs: 1\nlr: 5.0e-5\n", encoding="utf-8")
    assert load_config(yml) == {"corpus": ["ncbi-disease", "bc5cdr"], "epochs": 1, "lr": 5e-5}
    broken = tmp_path / "c.json"
    broken.write_text('{\n  "epochs": 1,\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(BionerError) as info:
        load_config(broken)
    assert info.value.code == "E208" and info.value.line == 3
    bad_yaml = tmp_path / "b.yml"
    bad_yaml.write_text("epochs: [1\n", encoding="utf-8")
    with pytest.raises(BionerError, match="E208"):
        load_config(bad_yaml)


def test_cli_option_errors_exit_2(files: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"epoch": 1}', encoding="utf-8")
    r = runner.invoke(app, ["train", "span", "--config", str(cfg)])
    assert r.exit_code == 2 and "unknown option 'epoch'" in r.output
    r = runner.invoke(app, ["train", "span", "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.startswith("[E605]")  # no data
    empty = tmp_path / "empty.jsonl"
    bioner.io.write([Document("e", "Nothing here.")], empty)
    r = runner.invoke(app, ["train", "span", "--train-file", str(empty), "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.startswith("[E605]") and "empty.jsonl" in r.stderr
    r = runner.invoke(app, ["train", "span", "--train-file", str(files[0]), "--kind", "tri", "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.startswith("[E602]")


def test_load_data_from_corpora_and_files(files: tuple[Path, Path], data_dir: Path) -> None:
    train, dev = files
    opts = SpanTrainOptions(corpus=["ncbi-disease"], train_file=[str(train)], dev_file=[str(dev)], train_sample=10, dev_sample=3, root=str(data_dir))
    data = load_data(opts, Report(skip_invalid=True))
    assert list(data.train) == ["ncbi-disease", str(train)] and list(data.dev) == ["ncbi-disease", str(dev)]
    assert len(data.train["ncbi-disease"]) == 10 and len(data.dev["ncbi-disease"]) == 3 and len(data.train[str(train)]) == 4  # fewer than the sample size: all kept
    assert data.labels["ncbi-disease"] == {"Disease": "disease"}
    assert data.labels[str(train)] == {"Chemical": "chemical compound or drug", "Disease": "disease"}
    assert data.labels[str(dev)] == data.labels[str(train)]
    again = load_data(opts, Report(skip_invalid=True))
    assert [d.id for d in again.train["ncbi-disease"]] == [d.id for d in data.train["ncbi-disease"]]  # a fixed sample
    # per-corpus sizes override the general ones; --no-dev drops the corpora's dev splits but not --dev-file
    per = load_data(opts.merged({"train_samples": {"ncbi-disease": 4}, "dev_samples": {str(dev): 1}, "use_dev": False}), Report(skip_invalid=True))
    assert len(per.train["ncbi-disease"]) == 4 and list(per.dev) == [str(dev)] and len(per.dev[str(dev)]) == 1
    with pytest.raises(ValueError, match="positive integers"):
        SpanTrainOptions.from_mapping({"train_samples": {"bc2gm": 0}})


def test_label_prompts_replace_the_registered_ones(files: tuple[Path, Path], data_dir: Path) -> None:
    train, _ = files
    opts = SpanTrainOptions.from_mapping({"corpus": ["ncbi-disease"], "train_file": [str(train)], "train_sample": 2, "root": str(data_dir),
                                          "labels": {"ncbi-disease": {"Disease": "disorder"}, str(train): {"Chemical": "drug"}}})
    data = load_data(opts, Report(skip_invalid=True))
    assert data.labels["ncbi-disease"] == {"Disease": "disorder"}
    assert data.labels[str(train)] == {"Chemical": "drug", "Disease": "disease"}  # the other type keeps its registered prompt
    with pytest.raises(BionerError, match="not a training corpus or file") as err:
        load_data(opts.merged({"labels": {"bc2gm": {"GENE": "gene"}}}), Report(skip_invalid=True))
    assert err.value.code == "E605"
    with pytest.raises(BionerError, match="'ncbi-disease' has no type 'Chemical'"):
        load_data(opts.merged({"labels": {"ncbi-disease": {"Chemical": "drug"}}}), Report(skip_invalid=True))
    with pytest.raises(ValueError, match="non-empty prompts"):
        SpanTrainOptions.from_mapping({"labels": {"ncbi-disease": {"Disease": " "}}})
    assert parse_prompt_flag(r"C:\data\x.jsonl:Disease=a disorder") == (r"C:\data\x.jsonl", "Disease", "a disorder")
    for bad in ("ncbi-disease=disorder", "ncbi-disease:Disease=", ":Disease=x"):
        with pytest.raises(typer.BadParameter, match="NAME:TYPE=PROMPT"):
            parse_prompt_flag(bad)
    r = runner.invoke(app, ["train", "span", "--train-file", str(train), "--label", "oops"])
    assert r.exit_code == 2 and "NAME:TYPE=PROMPT" in r.output


def _tiny_config(tmp_path: Path, **extra: object) -> Path:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"hidden_size": 32, "max_len": 64, "batch_size": 2, "threads": 1, **extra}), encoding="utf-8")
    return config


def test_two_stage_silver_then_gold_resumes_and_guards_the_run_folder(files: tuple[Path, Path], tmp_path: Path) -> None:
    train, dev = files
    silver = tmp_path / "silver.jsonl"
    # teacher output: lower-case types, a score and provenance, as bioner annotate writes them
    bioner.io.write([Document(f"s{i}", "Asthma was treated with ibuprofen.", [Entity(0, 6, "disease", score=0.9, source="teacher"),
                                                                              Entity(24, 33, "chemical", score=0.8, source="teacher")])
                     for i in range(6)], silver)
    out = tmp_path / "run"
    args = ["train", "span", "--config", str(_tiny_config(tmp_path)), "--train-file", str(train), "--dev-file", str(dev), "--output", str(out),
            "--silver", str(silver), "--silver-steps", "2", "--steps", "2"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "Silver stage: 2 steps" in r.stdout and "Trained 2 steps" in r.stdout and "finished" in r.stdout
    assert (out / "silver" / "model").is_dir() and (out / "silver" / "checkpoint").is_dir() and (out / "model").is_dir()
    # the gold stage starts from the silver stage's weights, not from a fresh model
    import torch

    stage1 = SpanModel.load(out / "silver" / "model").gliner.model.state_dict()
    fresh_gold = tmp_path / "plain"
    r = runner.invoke(app, ["train", "span", "--config", str(_tiny_config(tmp_path)), "--train-file", str(train), "--output", str(fresh_gold), "--steps", "1"])
    assert r.exit_code == 0, r.output
    plain = SpanModel.load(fresh_gold / "model").gliner.model.state_dict()
    key = next(k for k in stage1 if "span_rep" in k and k.endswith("weight"))
    assert not torch.equal(stage1[key], plain[key])
    # again: the finished silver stage is loaded, not trained again
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "Silver stage" not in r.stdout and "Trained 2 steps" in r.stdout
    # the same folder without the silver stage is refused, not silently resumed
    r = runner.invoke(app, args[: args.index("--silver")] + ["--steps", "2"])
    assert r.exit_code == 2 and r.stderr.startswith("[E607]") and "with a silver stage" in r.stderr


def test_mixed_silver_and_few_shot_sentences(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = files
    silver = tmp_path / "silver.jsonl"
    bioner.io.write([Document("s1", "Asthma was treated with ibuprofen.", [Entity(0, 6, "disease", score=0.9)])], silver)
    from bioner.cli.train import load_silver, train_span_model

    opts = SpanTrainOptions(train_file=[str(train)], silver=[str(silver)], silver_mode="mixed", train_sentences=2, seed=3,
                            hidden_size=32, max_len=64, batch_size=2, threads=1, schedule_steps=2, output=str(tmp_path / "mixed"))
    data = load_data(opts, Report())
    assert len(data.train[str(train)]) == 2 and all(":s" in d.id for d in data.train[str(train)])  # 2 sentences, not 2 documents
    assert load_silver(opts).labels == {f"silver:{silver}": {"disease": "disease"}}
    run = train_span_model(opts, log_every=1)
    assert run.result.steps == 2 and run.silver is None and not (tmp_path / "mixed" / "silver").exists()
    logged = capsys.readouterr().err
    assert "span step 1/2 loss" in logged and "span step 2/2 loss" in logged and "s/step" in logged  # progress lines for logs
    r = runner.invoke(app, ["train", "span", "--train-file", str(train), "--silver", str(silver), "--silver-mode", "both", "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.startswith("[E607]") and "two-stage, mixed" in r.stderr
    r = runner.invoke(app, ["train", "span", "--train-file", str(train), "--silver", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.startswith("[E607]") and "nope.jsonl" in r.stderr
    r = runner.invoke(app, ["train", "span", "--train-file", str(train), "--silver", str(silver), "--silver-negative-types", "1.5", "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--silver-negative-types" in r.output
    with pytest.raises(BionerError, match="E607"):
        train_span_model(SpanTrainOptions(train_file=[str(train)], silver=[str(silver)], silver_negative_types=-0.1))


def test_silver_negative_types_reach_the_silver_examples_only(files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bioner.engines.span_train as span_train
    from bioner.cli.train import train_span_model

    train, _ = files
    silver = tmp_path / "silver.jsonl"
    bioner.io.write([Document("s1", "Asthma was treated with ibuprofen.", [Entity(0, 6, "disease", score=0.9)])], silver)
    calls: list[dict[str, object]] = []
    real = span_train.train_span

    def spy(model: SpanModel, train_data: object, dev: object = None, **kw: object) -> span_train.TrainResult:
        calls.append({"groups": sorted(train_data), "negative_types": kw.get("negative_types"), "group_negative_types": kw.get("group_negative_types")})  # type: ignore[call-overload]
        return real(model, train_data, dev, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(span_train, "train_span", spy)
    common = dict(train_file=[str(train)], silver=[str(silver)], silver_negative_types=0.25, hidden_size=32, max_len=64, batch_size=2, threads=1,
                  schedule_steps=1, silver_steps=1, use_dev=False)
    train_span_model(SpanTrainOptions(**common, silver_mode="mixed", output=str(tmp_path / "mixed")))  # type: ignore[arg-type]
    assert calls == [{"groups": sorted([str(train), f"silver:{silver}"]), "negative_types": None, "group_negative_types": {f"silver:{silver}": 0.25}}]
    calls.clear()
    train_span_model(SpanTrainOptions(**common, silver_mode="two-stage", output=str(tmp_path / "two")))  # type: ignore[arg-type]
    assert calls == [{"groups": [f"silver:{silver}"], "negative_types": 0.25, "group_negative_types": None},
                     {"groups": [str(train)], "negative_types": None, "group_negative_types": None}]  # the gold stage keeps its own
