"""Selector training: groups and batches, the loss, the dev threshold, resume, and the CLI around it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

import bioner.io
from bioner.cli import app
from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.selector.candidates import Candidate
from bioner.selector.model import Selector
from bioner.selector.train import (
    Part,
    Rule,
    SelectorTrainConfig,
    _Scored,
    build_candidates,
    choose_threshold,
    epoch_batches,
    groups_of,
    loss_of,
    train_selector,
)

runner = CliRunner()


def _docs() -> list[Document]:
    return [
        Document("t1", "Cystic fibrosis is common in children.", [Entity(0, 15, "Disease")]),
        Document("t2", "Aspirin may cause Reye syndrome in young patients.", [Entity(0, 7, "Chemical"), Entity(18, 31, "Disease")]),
        Document("t3", "Mice were given cisplatin for ten days.", [Entity(16, 25, "Chemical")]),
        Document("t4", "Lung cancer and asthma were seen.", [Entity(0, 11, "Disease"), Entity(16, 22, "Disease")]),
    ]


def _pred(docs: list[Document]) -> list[Document]:
    """An engine's output: one gold hit, one boundary error and one spurious span per document."""
    out = []
    for d in docs:
        first = d.entities[0]
        out.append(d.copy(entities=[first, Entity(first.start, first.end - 2, first.label), Entity(len(d.text) - 5, len(d.text) - 1, "Disease")]))
    return out


def test_groups_and_batches_keep_each_gold_with_its_negatives() -> None:
    e = Entity(0, 1, "X")
    cands = [Candidate(0, e, 1, "gold"), Candidate(0, e, 0, "shift", 0), Candidate(0, e, 0, "engine:span"), Candidate(0, e, 1, "gold"),
             Candidate(0, e, 0, "type", 3), Candidate(0, e, 0, "sub", 0)]
    groups = groups_of(cands)
    assert groups == [[0, 1, 5], [3, 4], [2]]
    batches = epoch_batches(groups, 3, seed=0, epoch=0)
    assert sorted(g for b in batches for g in map(tuple, b)) == sorted(map(tuple, groups))
    assert all(sum(map(len, b)) <= 3 for b in batches)
    assert epoch_batches(groups, 3, 0, 0) == batches and epoch_batches(groups, 3, 0, 1) != batches or len(groups) < 3


def test_loss_adds_a_group_softmax_term() -> None:
    logits = torch.tensor([1.0, 3.0, -1.0, 0.5])
    targets = torch.tensor([1.0, 0.0, 0.0, 1.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert loss_of(logits, targets, [[0, 1, 2], [3]], 0.0) == pytest.approx(float(bce))
    group = -torch.log_softmax(logits[[0, 1, 2]], 0)[0]
    assert loss_of(logits, targets, [[0, 1, 2], [3]], 0.5) == pytest.approx(float(bce + 0.5 * group))
    # a group led by a negative (an ungrouped false positive) adds nothing
    assert loss_of(logits, targets, [[1, 2]], 1.0) == pytest.approx(float(bce))


def test_choose_threshold_maximises_pooled_f1() -> None:
    # 4 gold; predictions: three right ones score high, two wrong ones in between and low
    a = _Scored("a/span", 3, [(0.9, True), (0.8, True), (0.6, False), (0.5, True), (0.2, False)])
    b = _Scored("b/span", 1, [(0.7, False)])
    cut, f1 = choose_threshold([a, b])
    # keep >= 0.5 minus wrong ones above it: 3 TP, 2 FP, 1 FN -> 66.67; keep top two: 2 TP, 0 FP, 2 FN -> 66.67 (tie: lower cut)
    # keep all: 3 TP, 3 FP -> 60; so the best is the lower of the tied cuts, between 0.5 and 0.2
    assert cut == pytest.approx(0.35) and f1 == pytest.approx(200 * 3 / (5 + 4))
    assert choose_threshold([_Scored("c", 2, [(0.9, True), (0.1, True)])])[0] == 0.0  # all right: keep everything
    with pytest.raises(BionerError) as exc:
        choose_threshold([_Scored("e", 3, [])])
    assert exc.value.code == "E622"


def test_build_candidates_offsets_parts() -> None:
    docs = _docs()
    p1 = Part("one", docs[:2], ["Disease", "Chemical"], {"span": _pred(docs[:2])})
    p2 = Part("two", docs[2:], ["Disease", "Chemical"], {"span": _pred(docs[2:])})
    items, cands = build_candidates([p1, p2], per_gold=2, seed=0)
    assert len(items) == len(cands)
    for (text, ent), c in zip(items, cands, strict=True):
        assert text == docs[c.doc].text and ent == c.entity
        if c.group >= 0:
            assert cands[c.group].kind == "gold" and cands[c.group].doc == c.doc
    assert {c.doc for c in cands} == {0, 1, 2, 3}
    assert any(c.kind == "engine:span" and c.group >= 0 for c in cands) and any(c.kind == "engine:span" and c.group < 0 for c in cands)


def _train(tiny: Path, out: Path, lora_r: int | None = None, **kw: object) -> tuple[Selector, object]:
    torch.manual_seed(0)
    docs = _docs()
    sel = Selector.create(tiny, context=40, max_length=64, lora_r=lora_r)
    train = [Part("toy", docs, ["Disease", "Chemical"], {"span": _pred(docs)})]
    dev = [Part("toy-dev", docs[:2], ["Disease", "Chemical"], {"span": _pred(docs[:2])})]
    config = SelectorTrainConfig(batch_size=8, epochs=2, save_every=2, lr=1e-3, **kw)  # type: ignore[arg-type]
    return sel, train_selector(sel, train, dev, output_dir=out, config=config, progress=False)


def test_train_resumes_bit_exactly_and_calibrates_on_dev(tiny_encoder: Path, tmp_path: Path) -> None:
    sel, full = _train(tiny_encoder, tmp_path / "full")
    assert full.finished and (tmp_path / "full" / "selector" / "bioner_selector.json").is_file()
    _, part = _train(tiny_encoder, tmp_path / "cut", max_steps=3)
    assert not part.finished and part.steps == 3 and not (tmp_path / "cut" / "selector").exists()
    resumed, done = _train(tiny_encoder, tmp_path / "cut")
    assert done.finished and done.steps == full.steps and done.threshold == full.threshold
    for a, b in zip(sel.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    row = full.dev["toy-dev/span"]
    assert row["with"]["f1"] >= row["without"]["f1"]  # the threshold is chosen on this very data
    saved = Selector.load(tmp_path / "full" / "selector")
    assert saved.threshold == full.threshold and saved.settings.trained_on["parts"] == ["toy"]
    # other settings into the same folder: refused, not mixed
    with pytest.raises(BionerError) as exc:
        _train(tiny_encoder, tmp_path / "full", contrastive=0.0)
    assert exc.value.code == "E623"


def test_frozen_embeddings_stay_put_while_the_rest_learns(tiny_encoder: Path, tmp_path: Path) -> None:
    before = Selector.create(tiny_encoder, context=40, max_length=64).model.state_dict()
    sel, result = _train(tiny_encoder, tmp_path / "frozen", freeze_embeddings=True)
    assert result.finished
    after = sel.model.state_dict()
    emb = next(k for k in after if k.endswith("word_embeddings.weight"))
    assert torch.equal(before[emb].half().float(), after[emb])  # the saved selector is calibrated with float16 weights
    assert any(not torch.equal(before[k].half().float(), after[k]) for k in after if ".encoder.layer." in k)  # the encoder learned
    # a frozen run is another run: its checkpoint does not resume an unfrozen one
    with pytest.raises(BionerError) as exc:
        _train(tiny_encoder, tmp_path / "frozen")
    assert exc.value.code == "E623"


def test_a_lora_selector_trains_adapters_only_resumes_and_saves_just_them(tiny_encoder: Path, tmp_path: Path) -> None:
    base = Selector.create(tiny_encoder, context=40, max_length=64).model.state_dict()
    _, part = _train(tiny_encoder, tmp_path / "lora", lora_r=4, max_steps=3)
    assert not part.finished
    sel, result = _train(tiny_encoder, tmp_path / "lora", lora_r=4)  # resumes from the LoRA checkpoint
    assert result.finished
    learned = sel.model.state_dict()
    as_base = {k.removeprefix("base_model.model.").replace(".base_layer.", "."): v for k, v in learned.items()}
    # the base's weights are untouched (not even rounded to float16); adapters and head moved
    for name, weight in base.items():
        if name.startswith("bert."):
            assert torch.equal(as_base[name], weight), name
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in learned.items())  # lora_B starts at zero
    folder = tmp_path / "lora" / "selector"
    files = {p.name for p in folder.iterdir()}
    assert files == {"adapter_config.json", "adapter_model.safetensors", "bioner_selector.json"}  # no base, tokenizer or peft card
    back = Selector.load(folder)
    assert back.settings.lora == {"r": 4, "alpha": 8} and back.threshold == result.threshold
    items = [(d.text, e) for d in _docs() for e in d.entities]
    assert back.score(items) == pytest.approx(sel.score(items), abs=1e-5)  # with the adapter merged into the base for speed
    again = back.save(tmp_path / "again")  # a loaded (merged) selector still saves its adapter, not merged weights
    assert {p.name for p in again.iterdir()} == files
    assert Selector.load(again).score(items) == pytest.approx(sel.score(items), abs=1e-5)
    with pytest.raises(BionerError) as exc:  # a full run's checkpoint is not a LoRA run's
        _train(tiny_encoder, tmp_path / "lora")
    assert exc.value.code == "E623"


def test_a_lora_selector_trains_further_from_its_own_weights_and_keeps_its_history(tiny_encoder: Path, tmp_path: Path) -> None:
    _, first = _train(tiny_encoder, tmp_path / "first", lora_r=4)
    source = first.output
    before = (source / "adapter_model.safetensors").read_bytes()
    items = [(d.text, e) for d in _docs() for e in d.entities]
    loaded = Selector.load(source)
    start = Selector.load(source, trainable=True)
    assert start.score(items) == pytest.approx(loaded.score(items), abs=1e-5)  # unmerged, the same function
    assert any(p.requires_grad and "lora_" in n for n, p in start.model.named_parameters())
    docs = _docs()
    train = [Part("more", docs[2:], ["Disease", "Chemical"], {"llm": _pred(docs[2:])})]
    dev = [Part("more-dev", docs[:2], ["Disease", "Chemical"], {"llm": _pred(docs[:2])})]
    result = train_selector(start, train, dev, output_dir=tmp_path / "second", config=SelectorTrainConfig(batch_size=8, lr=1e-2, head_lr=1e-2),
                            progress=False)
    assert result.finished and (source / "adapter_model.safetensors").read_bytes() == before  # the source is not written to
    again = Selector.load(result.output)
    assert again.score(items) != pytest.approx(loaded.score(items), abs=1e-4)  # it learned on from there
    history = again.settings.trained_on
    assert history["parts"] == ["more"] and history["init"]["selector"] == str(source) and history["init"]["parts"] == ["toy"]
    assert set(again.settings.thresholds) == {"llm"}  # rules chosen anew for the new weights; the old span rule is gone
    with pytest.raises(BionerError) as exc:  # a checkpoint of a new selector does not resume one trained further
        train_selector(Selector.create(tiny_encoder, context=40, max_length=64, lora_r=4), train, dev, output_dir=tmp_path / "second",
                       config=SelectorTrainConfig(batch_size=8, lr=1e-2, head_lr=1e-2, max_steps=1), progress=False)
    assert exc.value.code == "E623"


def test_cli_init_trains_a_selector_further_and_refuses_settings_it_keeps(tiny_encoder: Path, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    bioner.io.write(_docs(), data)
    args = ["train", "selector", "--train-file", str(data), "--dev-file", str(data), "--batch-size", "8", "--threads", "1"]
    r = runner.invoke(app, [*args, "--base", str(tiny_encoder), "--context", "40", "--max-length", "64", "-o", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    first = tmp_path / "a" / "selector"
    r = runner.invoke(app, [*args, "--init", str(first), "--head-lr", "3e-5", "-o", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    second = Selector.load(tmp_path / "b" / "selector")
    assert second.settings.context == 40 and second.settings.max_length == 64  # the source's settings, not the defaults
    assert second.settings.trained_on["init"]["selector"] == str(first) and second.settings.trained_on["config"]["head_lr"] == 3e-5
    r = runner.invoke(app, [*args, "--init", str(first), "--context", "80", "-o", str(tmp_path / "c")])
    assert r.exit_code == 2 and "--context" in r.output and not (tmp_path / "c").exists()


def test_cli_train_then_extract_and_evaluate_with_the_selector(tiny_encoder: Path, tmp_path: Path) -> None:
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    bioner.io.write(_docs(), train)
    bioner.io.write(_docs()[:2], dev)
    out = tmp_path / "run"
    args = ["train", "selector", "--train-file", str(train), "--dev-file", str(dev), "--base", str(tiny_encoder), "-o", str(out),
            "--batch-size", "8", "--threads", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert '"finished": true' in r.stdout and '"gold": 6' in r.stdout
    preds = sorted((out / "predictions").iterdir())
    assert [p.name.rsplit("-", 1)[0] for p in preds] == [f"{dev}-dev-span".replace("/", "_"), f"{train}-train-span".replace("/", "_")]
    stamp = [p.stat().st_mtime_ns for p in preds]
    r = runner.invoke(app, args)  # a second run reuses the saved predictions and the finished checkpoint
    assert r.exit_code == 0, r.output
    assert [p.stat().st_mtime_ns for p in preds] == stamp
    selector = out / "selector"
    r = runner.invoke(app, ["evaluate", "--gold", str(dev), "--pred", str(preds[0]), "--selector", str(selector), "--selector-threshold", "1.0"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["extract", "Aspirin may cause Reye syndrome.", "--labels", "disease,chemical", "--selector", str(selector),
                            "--selector-threshold", "0", "-f", "json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["extract", "Aspirin.", "--selector-threshold", "0.5"])
    assert r.exit_code != 0 and "--selector" in r.output
    r = runner.invoke(app, ["extract", "Aspirin.", "--selector", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "E620" in r.output


def test_cli_freeze_embeddings_and_lora_reach_the_training(tiny_encoder: Path, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    bioner.io.write(_docs(), data)
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "selector", "--train-file", str(data), "--dev-file", str(data), "--base", str(tiny_encoder),
                            "-o", str(out), "--batch-size", "8", "--threads", "1", "--freeze-embeddings"])
    assert r.exit_code == 0, r.output
    assert Selector.load(out / "selector").settings.trained_on["config"]["freeze_embeddings"] is True
    assert "lora" not in (out / "selector" / "bioner_selector.json").read_text(encoding="utf-8")  # older readers still read it
    r = runner.invoke(app, ["train", "selector", "--train-file", str(data), "--dev-file", str(data), "--base", str(tiny_encoder),
                            "-o", str(tmp_path / "lora"), "--batch-size", "8", "--threads", "1", "--lora-r", "2", "--lr", "2e-4"])
    assert r.exit_code == 0, r.output
    assert Selector.load(tmp_path / "lora" / "selector").settings.lora == {"r": 2, "alpha": 4}


def test_sample_sizes_per_part() -> None:
    from bioner.cli.train_selector import parse_samples

    assert parse_samples(["150", "bc2gm=1500", "data/x=y.jsonl=3"], "--train-sample") == {"": 150, "bc2gm": 1500, "data/x=y.jsonl": 3}
    for bad in ("0", "bc2gm=", "bc2gm=many"):
        with pytest.raises(Exception, match="NAME=N"):
            parse_samples([bad], "--train-sample")


def test_per_engine_thresholds_are_chosen_on_each_engines_dev_predictions(tiny_encoder: Path) -> None:
    from bioner.selector.train import calibrate, calibrate_selector, engine_of

    assert [engine_of(n) for n in ("ncbi/span", "ncbi/span@0.3", "bc5cdr/llm:joint-tags", "llm")] == ["span", "span", "llm", "llm"]
    span = _Scored("a/span", 2, [(0.9, True), (0.8, True), (0.1, False)])
    llm = _Scored("a/llm", 2, [(0.9, True), (0.6, False), (0.5, False), (0.4, True)])
    rules = calibrate([span, llm])
    assert all(r.guard is None and r.weight == 0.0 for r in rules.values())  # no engine scores: no guard, no weight
    assert rules["span"].threshold == pytest.approx(0.45) and rules["llm"].threshold == pytest.approx(0.0)  # llm: keeping all (F1 .667) beats any cut
    sel = Selector.create(tiny_encoder)
    sel.settings.threshold, sel.settings.thresholds = 0.3, {"llm": 0.9}
    assert sel.threshold_for("llm") == 0.9 and sel.threshold_for("span") == 0.3 and sel.threshold_for(None) == 0.3
    docs = _docs()[:2]
    table = calibrate_selector(sel, [Part("toy", docs, ["Disease", "Chemical"], {"span": _pred(docs)})])
    assert set(sel.settings.thresholds) == {"llm", "span"} and sel.settings.thresholds["llm"] == 0.9
    assert table["toy/span"]["with"]["f1"] >= table["toy/span"]["without"]["f1"]
    scored_pred = [d.copy(entities=[e.with_(score=0.9 if i == 0 else 0.3) for i, e in enumerate(d.entities)]) for d in _pred(docs)]
    calibrate_selector(sel, [Part("toy", docs, ["Disease", "Chemical"], {"span": scored_pred})])
    assert sel.settings.trained_on["engine_alone"] == {"span": pytest.approx(0.6)}  # the control beside the new rule: the engine's score re-cut
    [doc] = sel.select([_pred(docs)[0]], engine="llm")
    assert doc.metadata["selector"]["threshold"] == 0.9


def test_engine_on_dev_half_learns_from_false_positives_on_text_the_engine_never_trained_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bioner.cli import train_selector as cli
    from bioner.errors import Report

    calls: list[tuple[list[str], float | None]] = []

    def fake_engine(docs, labels, engine, opts, cache, threshold=None):  # type: ignore[no-untyped-def]
        assert labels == {"Chemical": "chemical compound or drug", "Disease": "disease"}
        calls.append(([d.id for d in docs], threshold))
        return _pred(list(docs))

    monkeypatch.setattr(cli, "engine_predictions", fake_engine)
    train_file, dev_file = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    bioner.io.write(_docs(), train_file)
    bioner.io.write([d.copy(id=f"d{k}") for k, d in enumerate(_docs())], dev_file)
    opts = cli.SelectorRunOptions(train_file=[str(train_file)], dev_file=[str(dev_file)], output=str(tmp_path / "run"),
                                  engine_on="dev-half", engine_threshold=0.3)
    train, dev = cli.load_selector_parts(opts, Report())
    assert [(p.name, [d.id for d in p.gold], sorted(p.predictions)) for p in train] == [
        (str(train_file), ["t1", "t2", "t3", "t4"], []),  # gold and perturbations only
        (f"{dev_file}#dev-a", ["d0", "d2"], ["span@0.3"]),  # the engine's errors on half of dev join training
    ]
    assert [(p.name, [d.id for d in p.gold], sorted(p.predictions)) for p in dev] == [(str(dev_file), ["d1", "d3"], ["span"])]
    assert calls == [(["d0", "d2"], 0.3), (["d1", "d3"], None)]  # the threshold half is scored at the model's own threshold
    _, cands = build_candidates(train, per_gold=None, seed=0)
    assert {c.kind for c in cands} >= {"gold", "engine:span@0.3"}

    bioner.io.write(_docs()[:1], dev_file)
    with pytest.raises(BionerError, match="at least 2"):
        cli.load_selector_parts(opts, Report())
    opts.engine_on = "test"
    with pytest.raises(BionerError, match="engine-on"):
        cli.load_selector_parts(opts, Report())


def test_engine_sample_per_part_runs_an_engine_only_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bioner.cli import train_selector as cli
    from bioner.errors import Report

    calls: list[list[str]] = []

    def fake_engine(docs, labels, engine, opts, cache, threshold=None):  # type: ignore[no-untyped-def]
        calls.append([d.id for d in docs])
        return _pred(list(docs))

    monkeypatch.setattr(cli, "engine_predictions", fake_engine)
    mine, other, dev_file = tmp_path / "mine.jsonl", tmp_path / "other.jsonl", tmp_path / "dev.jsonl"
    bioner.io.write(_docs(), mine)
    bioner.io.write([d.copy(id=f"o{k}") for k, d in enumerate(_docs())], other)
    bioner.io.write([d.copy(id=f"d{k}") for k, d in enumerate(_docs())], dev_file)
    opts = cli.SelectorRunOptions(train_file=[str(mine), str(other)], dev_file=[str(dev_file)], output=str(tmp_path / "run"), engines=["llm"],
                                  engine_sample=cli.parse_samples(["3", f"{other}=0"], "--engine-sample", minimum=0))
    train, dev = cli.load_selector_parts(opts, Report())
    assert [(p.name, [d.id for d in p.gold], sorted(p.predictions)) for p in train] == [
        (str(mine), ["t4"], []), (str(mine), ["t1", "t2", "t3"], ["llm"]),  # the engine on the first 3 only
        (str(other), ["o0", "o1", "o2", "o3"], []),  # gold and perturbations only: the engine never ran on it
    ]
    assert calls == [["t1", "t2", "t3"], ["d0", "d1", "d2", "d3"]]  # dev is always predicted whole: the rule is chosen there
    with pytest.raises(typer.BadParameter, match=">= 0"):
        cli.parse_samples(["x=-1"], "--engine-sample", minimum=0)


def test_a_guard_on_the_engine_score_is_kept_only_when_it_helps_on_dev() -> None:
    from bioner.selector.train import calibrate, choose_guard

    # the selector ranks badly among confident predictions (it would reject the 0.95 hit first); the engine knows better there
    span = _Scored("a/span", 4, [(0.2, True), (0.3, True), (0.9, True), (0.8, False), (0.1, False)], [0.95, 0.9, 0.5, 0.55, 0.45])
    guard, cut, f1 = choose_guard([span])
    plain_cut, plain_f1 = choose_threshold([span])
    assert guard is not None and 0.55 < guard <= 0.9 and f1 > plain_f1
    kept = [h for p, h in span.guarded(guard).hits if p >= cut]
    assert kept.count(True) == 3 and kept.count(False) == 0  # both guarded hits and the selector's own accept; both misses out
    assert choose_guard([_Scored("b/llm", 2, [(0.9, True), (0.1, False)], [None, None])]) == (None, choose_threshold([_Scored("x", 2, [(0.9, True), (0.1, False)])])[0], pytest.approx(100 * 2 / 3))
    # where the selector alone is best, no guard is set
    good = _Scored("c/span", 2, [(0.9, True), (0.8, True), (0.1, False)], [0.5, 0.6, 0.99])
    assert choose_guard([good])[0] is None
    rules = calibrate([span, _Scored("a/llm", 2, [(0.9, True), (0.1, False)])], fuse=False)
    assert set(rules) == {"span", "llm"} and rules["span"].guard == guard and rules["llm"].guard is None
    assert calibrate([span], guard=False, fuse=False, objective="pooled") == {"span": Rule(round(plain_cut, 6), None, 0.0, pytest.approx(plain_f1))}  # the threshold alone
    # one part: "no-loss" takes the same cut, its value the F1 gain over keeping everything
    keep_all = 200 * 3 / (5 + 4)
    assert calibrate([span], guard=False, fuse=False) == {"span": Rule(round(plain_cut, 6), None, 0.0, pytest.approx(plain_f1 - keep_all))}
    assert plain_cut >= 0.0


def test_mixing_the_engine_score_in_is_chosen_only_when_two_judges_beat_one() -> None:
    from bioner.selector.model import decide, fused

    def accepts(p: float, score: float, **rule: float) -> bool:
        return decide("x", [Entity(0, 1, "Disease", score=score)], [p], **rule)[0]  # type: ignore[arg-type]
    from bioner.selector.train import choose_rule

    assert fused(0.3, None, 0.5) == 0.3 and fused(0.3, 0.9, 0.0) == 0.3  # no score, or weight 0: the selector alone
    assert fused(0.2, 0.8, 0.5) == pytest.approx(0.5) and fused(0.9, 0.9, 0.7) == pytest.approx(0.9)  # log-odds mix
    assert fused(0.0, 1.0, 0.5) == pytest.approx(0.5)  # probabilities of exactly 0 and 1 are clipped, not infinite
    assert accepts(0.1, 0.95, threshold=0.5, guard=0.9) and not accepts(0.1, 0.8, threshold=0.5, guard=0.9)
    assert accepts(0.4, 0.8, threshold=0.5, weight=0.5) and not accepts(0.4, 0.8, threshold=0.5)
    # each judge alone ranks one miss above a hit; together they separate all four
    both = _Scored("a/span", 2, [(0.9, True), (0.6, False), (0.55, True), (0.2, False)], [0.6, 0.55, 0.9, 0.8])
    plain = choose_rule([both], guard=False, fuse=False, objective="pooled")
    rule = choose_rule([both], guard=False, objective="pooled")
    assert plain.weight == 0.0 and plain.value < 100.0
    assert 0.0 < rule.weight < 1.0 and rule.value == pytest.approx(100.0)
    assert choose_rule([both], guard=False) == Rule(rule.threshold, None, rule.weight, pytest.approx(100.0 - 200 * 2 / 6))  # the gain
    kept = [h for p, h in both.fused(rule.weight).hits if p >= rule.threshold]
    assert kept == [True, True]
    # where the selector alone already separates them, the score is not mixed in
    good = _Scored("b/span", 2, [(0.9, True), (0.8, True), (0.1, False)], [0.5, 0.6, 0.99])
    assert choose_rule([good]).weight == 0.0 and choose_rule([good]).guard is None


def test_the_engine_alone_control_is_the_best_cut_on_the_engines_own_score() -> None:
    from bioner.selector.train import engine_alone

    span = _Scored("a/span", 3, [(0.1, True), (0.9, False), (0.5, True), (0.5, False)], [0.9, 0.2, 0.7, 0.6])
    llm = _Scored("a/llm", 2, [(0.9, True)], [None])
    cuts = engine_alone([span, llm])
    assert set(cuts) == {"span"}  # an engine without scores has no such control
    assert cuts["span"] == pytest.approx(0.65)  # both misses out (F1 0.8), whatever the selector said of them


def test_select_mixes_in_the_engine_score_at_the_chosen_weight(tiny_encoder: Path) -> None:
    sel = Selector.create(tiny_encoder)
    doc = Document("d", "Aspirin may cause Reye syndrome.", [Entity(0, 7, "Chemical", score=0.999), Entity(18, 31, "Disease", score=0.001),
                                                             Entity(18, 22, "Disease")])
    [p_a, p_b, p_c] = sel.score([(doc.text, e) for e in doc.entities])
    sel.settings.thresholds, sel.settings.weights = {"span": 0.5}, {"span": 0.9}
    [kept] = sel.select([doc], engine="span")
    # at weight 0.9 the engine's near-certain scores decide; the unscored entity is judged by the selector alone
    expect = [(0, 7, "Chemical")] + ([(18, 22, "Disease")] if p_c >= 0.5 else [])
    assert [e.key() for e in kept.entities] == expect
    assert kept.metadata["selector"]["weight"] == 0.9 and kept.entities[0].attrs["selector_score"] == f"{p_a:.4f}"
    [alone] = sel.select([doc], engine="span", weight=0.0)
    assert len(alone.entities) == sum(p >= 0.5 for p in (p_a, p_b, p_c)) and "weight" not in alone.metadata["selector"]
    with pytest.raises(ValueError, match="weight"):
        sel.select([doc], engine="span", weight=1.0)


def test_select_lets_guarded_entities_through_unscored(tiny_encoder: Path) -> None:
    sel = Selector.create(tiny_encoder)
    sel.settings.thresholds, sel.settings.guards = {"span": 1.0}, {"span": 0.8}  # threshold 1: the selector itself accepts nothing
    doc = Document("d", "Aspirin may cause Reye syndrome.", [Entity(0, 7, "Chemical", score=0.95), Entity(18, 31, "Disease", score=0.7),
                                                             Entity(18, 22, "Disease")])
    [kept] = sel.select([doc], engine="span")
    assert [e.key() for e in kept.entities] == [(0, 7, "Chemical")] and "selector_score" not in kept.entities[0].attrs
    assert kept.metadata["selector"] == {"kept": 1, "rejected": 2, "threshold": 1.0, "guarded": 1, "guard": 0.8}
    [unguarded] = sel.select([doc], engine="llm", threshold=1.0)  # no guard for this engine: everything is scored
    assert not unguarded.entities and "guard" not in unguarded.metadata["selector"]
    [forced] = sel.select([doc], engine="llm", threshold=1.0, guard=0.6)
    assert [e.key() for e in forced.entities] == [(0, 7, "Chemical"), (18, 31, "Disease")]


def test_no_loss_objective_lets_no_dev_part_pay_for_the_pools_gain() -> None:
    from bioner.selector.train import choose_cut

    big = _Scored("big/span", 8, [(p, True) for p in (0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.58)] + [(p, False) for p in (0.5, 0.45, 0.4, 0.35)])
    small = _Scored("small/span", 2, [(0.3, True), (0.25, True), (0.1, False)])  # another corpus: its right ones score lower
    pooled_cut, _ = choose_cut([big, small], "pooled")
    assert 0.5 < pooled_cut < 0.58  # best for the pool, and every right prediction of the small corpus is lost
    cut, gain = choose_cut([big, small])
    assert cut == pytest.approx(0.175) and gain == pytest.approx(10.0)  # the small corpus gains 20 points, the big one loses none
    assert choose_cut([big]) == (pytest.approx(0.54), pytest.approx(200 * 8 / 16 - 200 * 8 / 20))  # alone, the big part takes its best cut
    nothing_helps = _Scored("c/span", 2, [(0.2, True), (0.9, False), (0.1, True)])
    assert choose_cut([nothing_helps]) == (0.0, 0.0)  # keeping everything is always allowed
    with pytest.raises(ValueError, match="objective"):
        choose_cut([big], "macro")


def test_deciding_mentions_together_is_chosen_only_when_it_helps_on_dev(tiny_encoder: Path) -> None:
    from bioner.selector.train import _scored, choose_rule

    # one mention of a group is recognisable, its repeats are not; one wrong prediction stands alone
    part = _Scored("a/llm", 3, [(0.9, True), (0.2, True), (0.2, True), (0.3, False)], [None] * 4, [0, 0, 0, 3])
    rule = choose_rule([part])
    assert rule.consistent and 0.3 < rule.threshold < 0.9 and rule.value == pytest.approx(100.0 - 200 * 3 / 7)
    assert [h for p, h in part.decided(rule).hits if p >= rule.threshold] == [True, True, True]
    assert not choose_rule([part], consistent=False).consistent
    singles = _Scored("b/llm", 2, [(0.9, True), (0.2, True), (0.3, False)], [None] * 3, [0, 1, 2])
    assert not choose_rule([singles]).consistent  # no group with two members: nothing to decide together
    # dev predictions are grouped per document as the selector groups them in use
    text = "Cowden disease (CD) is rare. CD causes hamartomas."
    docs = [Document("d", text, [Entity(0, 14, "Disease"), Entity(16, 18, "Disease"), Entity(29, 31, "Disease")])]
    pred = [docs[0].copy(entities=[*docs[0].entities, Entity(39, 49, "Disease")])]
    [scored] = _scored(Selector.create(tiny_encoder), [Part("p", docs, ["Disease"], {"span": pred})], 8)
    assert scored.groups == [0, 0, 0, 3] and [h for _, h in scored.hits] == [True, True, True, False]


def test_cli_consistency_and_objective_reach_the_calibration(tiny_encoder: Path, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    bioner.io.write(_docs(), data)
    args = ["train", "selector", "--train-file", str(data), "--dev-file", str(data), "--base", str(tiny_encoder), "--batch-size", "8", "--threads", "1"]
    r = runner.invoke(app, [*args, "-o", str(tmp_path / "run"), "--no-consistent", "--objective", "pooled"])
    assert r.exit_code == 0, r.output
    config = Selector.load(tmp_path / "run" / "selector").settings.trained_on["config"]
    assert config["consistent"] is False and config["objective"] == "pooled"
    r = runner.invoke(app, [*args, "-o", str(tmp_path / "bad"), "--objective", "macro"])
    assert r.exit_code != 0 and "no-loss" in r.output and not (tmp_path / "bad").exists()


def test_cli_selector_rule_chooses_one_engines_rule_and_keeps_the_rest(tiny_encoder: Path, tmp_path: Path) -> None:
    sel = Selector.create(tiny_encoder, context=40, max_length=64)
    sel.settings.thresholds, sel.settings.guards = {"span": 0.3}, {"span": 0.9}
    source = sel.save(tmp_path / "sel")
    before = (source / "bioner_selector.json").read_text(encoding="utf-8")
    gold, pred = tmp_path / "dev.jsonl", tmp_path / "dev.pred.jsonl"
    bioner.io.write(_docs(), gold)
    bioner.io.write(_pred(_docs())[::-1], pred)  # another order: paired by id
    target = tmp_path / "sel-llm"
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(pred),
                            "-o", str(target), "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert (source / "bioner_selector.json").read_text(encoding="utf-8") == before  # the source selector is untouched
    back = Selector.load(target)
    assert set(back.settings.thresholds) == {"span", "llm"} and back.settings.thresholds["span"] == 0.3
    assert back.guard_for("span") == 0.9 and back.guard_for("llm") is None  # LLM entities have no score to guard with
    rule = back.settings.trained_on["rules"]["llm"]
    assert rule["documents"] == 4 and rule["dev"]["dev.jsonl/llm"]["without"]["precision"] == pytest.approx(100 / 3, abs=0.01)
    items = [(d.text, e) for d in _docs() for e in d.entities]
    assert back.score(items) == pytest.approx(sel.score(items), abs=1e-6)  # weights copied as they were
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(pred), "-o", str(target)])
    assert r.exit_code == 2 and "E624" in r.output  # not over another folder's files
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(pred),
                            "-o", str(tmp_path / "sel-repair"), "--repair", "--threads", "1"])
    assert r.exit_code == 0, r.output
    repaired = Selector.load(tmp_path / "sel-repair")
    assert repaired.settings.trained_on["rules"]["llm"]["repair_tried"] is True
    assert '"repair":' in r.output and set(repaired.settings.repairs) <= {"llm"}  # a margin only if it helped on dev
    renamed = tmp_path / "renamed.jsonl"  # the predictions name their types otherwise than the gold file
    bioner.io.write([d.copy(entities=[e.with_(label=f"x{e.label}") for e in d.entities]) for d in _pred(_docs())], renamed)
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(renamed), "-o", str(tmp_path / "x")])
    assert r.exit_code == 2 and "E622" in r.output and "xDisease" in r.output and not (tmp_path / "x").exists()
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--gold", str(gold), "--pred", str(pred),
                            "-o", str(tmp_path / "y")])
    assert r.exit_code == 2 and "2 --gold file(s) but 1 --pred" in " ".join(r.output.split()) and not (tmp_path / "y").exists()
    other, other_pred = tmp_path / "dev2.jsonl", tmp_path / "dev2.pred.jsonl"  # a second corpus: both weighed (no-loss)
    bioner.io.write(_docs()[:2], other)
    bioner.io.write(_pred(_docs()[:2]), other_pred)
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(pred), "--gold", str(other),
                            "--pred", str(other_pred), "-o", str(tmp_path / "two"), "--threads", "1"])
    assert r.exit_code == 0, r.output
    two = Selector.load(tmp_path / "two").settings.trained_on["rules"]["llm"]
    assert two["documents"] == [4, 2] and set(two["dev"]) >= {"dev.jsonl/llm", "dev2.jsonl/llm"}
    short = tmp_path / "short.jsonl"
    bioner.io.write(_pred(_docs())[:3], short)
    r = runner.invoke(app, ["train", "selector-rule", "--selector", str(source), "--gold", str(gold), "--pred", str(short), "-o", str(source)])
    assert r.exit_code == 2 and "E401" in r.output and "'t4'" in r.output
    assert (source / "bioner_selector.json").read_text(encoding="utf-8") == before


def test_repair_spans_takes_a_variant_only_past_the_margin_and_merges_equal_spans() -> None:
    from bioner.selector.model import REPAIRED_ATTR, repair_spans

    a, b, c = Entity(0, 6, "Disease", score=0.4), Entity(10, 20, "Disease"), Entity(30, 35, "Disease")
    variants = [[Entity(0, 9, "Disease"), Entity(3, 6, "Disease")], [Entity(10, 25, "Disease")], [Entity(30, 40, "Disease")]]
    ents, probs, n = repair_spans([a, b, c], [0.3, 0.5, None], variants, [[0.6, 0.2], [0.55], []], 0.1)
    assert [e.key() for e in ents] == [(0, 9, "Disease"), (10, 20, "Disease"), (30, 35, "Disease")] and n == 1
    assert probs == [0.6, 0.5, None]  # b's variant wins by 0.05 only; c is guarded (no probability), never moved
    assert ents[0].attrs[REPAIRED_ATTR] == "0-6" and ents[0].score == 0.4 and REPAIRED_ATTR not in ents[1].attrs
    # a repair onto another candidate's span leaves one entity: the more probable one
    ents, probs, n = repair_spans([a, b], [0.3, 0.7], [[Entity(10, 20, "Disease")], []], [[0.9], []], 0.0)
    assert [e.key() for e in ents] == [(10, 20, "Disease")] and probs == [0.9] and n == 1
    ents, probs, n = repair_spans([a, b], [0.3, 0.95], [[Entity(10, 20, "Disease")], []], [[0.9], []], 0.0)
    assert [e.key() for e in ents] == [(10, 20, "Disease")] and probs == [0.95] and n == 0 and REPAIRED_ATTR not in ents[0].attrs


def test_boundary_repair_is_chosen_only_when_it_helps_on_dev(tiny_encoder: Path) -> None:
    from bioner.selector.train import _RepairDoc, _scored, choose_rule

    text = "Patients with breast cancer and asthma."
    gold = {(14, 27, "Disease"), (32, 38, "Disease")}
    # the engine cut "breast cancer" short; the selector prefers the whole mention among its variants
    ents = [Entity(14, 20, "Disease"), Entity(32, 38, "Disease")]
    variants = [[Entity(14, 27, "Disease"), Entity(9, 20, "Disease")], [Entity(32, 39, "Disease")]]
    doc = _RepairDoc(text, gold, ents, variants, [[0.8, 0.1], [0.2]])
    part = _Scored("a/llm", 2, [(0.4, False), (0.7, True)], [None, None], [0, 1], [doc])
    rule = choose_rule([part])
    assert rule.repair is not None and 0.0 <= rule.repair < 0.4 and rule.value == pytest.approx(100.0 - 50.0)
    assert [h for p, h in part.decided(rule).hits if p >= rule.threshold] == [True, True]
    assert choose_rule([_Scored("a/llm", 2, part.hits, part.scores, part.groups)]).repair is None  # variants not scored: no repair
    useless = _RepairDoc(text, gold, ents, variants, [[0.1, 0.1], [0.2]])
    assert choose_rule([_Scored("a/llm", 2, part.hits, part.scores, part.groups, [useless])]).repair is None
    # _scored with repair scores every prediction's variants and counts their hits against gold
    docs = [Document("d", text, [Entity(*k) for k in sorted(gold)])]
    pred = [docs[0].copy(entities=ents)]
    [scored] = _scored(Selector.create(tiny_encoder), [Part("p", docs, ["Disease"], {"llm": pred})], 8, repair=True)
    assert scored.docs is not None and [len(v) for v in scored.docs[0].variant_probs] == [5, 5]
    assert (14, 27, "Disease") in [v.key() for v in scored.docs[0].variants[0]]


def test_select_repairs_boundaries_at_the_engines_margin(tiny_encoder: Path) -> None:
    from bioner.selector.candidates import boundary_variants
    from bioner.selector.model import REPAIRED_ATTR

    sel = Selector.create(tiny_encoder)
    doc = Document("d", "Aspirin may cause Reye syndrome in young patients.", [Entity(18, 22, "Disease"), Entity(0, 7, "Chemical")])
    sel.settings.thresholds = {"llm": 0.0}
    expect = []
    for e in doc.entities:
        vs = boundary_variants(doc, e)
        p, *vps = sel.score([(doc.text, x) for x in (e, *vs)])
        best = max(range(len(vps)), key=vps.__getitem__)
        expect.append(vs[best].key() if vps[best] > p else e.key())
    sel.settings.repairs = {"llm": 0.0}
    [out] = sel.select([doc], engine="llm")
    assert sorted(e.key() for e in out.entities) == sorted(set(expect))
    moved = [e for e in out.entities if REPAIRED_ATTR in e.attrs]
    assert out.metadata["selector"]["repaired"] == len(moved) and out.metadata["selector"]["repair"] == 0.0
    [plain] = sel.select([doc], engine="llm", repair=False)
    assert [e.key() for e in plain.entities] == [e.key() for e in doc.entities] and "repair" not in plain.metadata["selector"]
    [other] = sel.select([doc], engine="span")  # the margin is the llm engine's: other engines' candidates stay as given
    assert sorted(e.key() for e in other.entities) <= sorted(e.key() for e in doc.entities)
