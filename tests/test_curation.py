"""Hybrid Superfiltering: IFD from token log-probabilities, the cache, the strategies, files, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import bioner.io
from bioner import curation
from bioner.cli import app
from bioner.curation import ScoreCache, ScoredSample, Selection, ifd_scores, quantiles, read_curated, select, write_curated
from bioner.doc import Document, Entity
from bioner.engines.generative.train import Sample
from bioner.errors import BionerError

runner = CliRunner()


def _load(path: Path):  # noqa: ANN202
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _samples() -> list[Sample]:
    return [Sample("Text: BRCA1 in mice\nAnswer:\n", '[{"entity": "gene", "name": "BRCA1"}]', "toy", "a", 0, 1),
            Sample("Text: nothing here\nAnswer:\n", "[]", "toy", "b", 0, 0),
            Sample("Text: breast cancer and BRCA1 mutations in a large family\nAnswer:\n",
                   '[{"entity": "disease", "name": "breast cancer"}, {"entity": "gene", "name": "BRCA1"}]', "toy", "c", 0, 2)]


def _by_hand(model, tok, prefix: list[int], answer: list[int]) -> float:  # noqa: ANN001
    """Mean NLL of ``answer`` after ``prefix``, from the full model's own logits, one sequence at a time."""
    ids = torch.tensor([prefix + answer])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), -1)
    return -sum(float(logp[len(prefix) - 1 + k, t]) for k, t in enumerate(answer)) / len(answer)


def test_ifd_equals_the_ratio_of_perplexities_from_token_log_probs(tiny_lm_dir: Path) -> None:
    from bioner.engines.generative.prompts import prompt_ids

    model, tok = _load(tiny_lm_dir)
    scored = ifd_scores(model, tok, _samples(), batch_size=2)  # batched, padded, sparse head
    for s in scored:
        answer = tok(s.sample.answer, add_special_tokens=False)["input_ids"]
        cond = _by_hand(model, tok, prompt_ids(tok, s.sample.prompt), answer)
        alone = _by_hand(model, tok, [tok.bos_token_id], answer)
        assert s.answer_tokens == len(answer)
        assert s.nll_conditional == pytest.approx(cond, abs=1e-4) and s.nll_answer == pytest.approx(alone, abs=1e-4)
        assert s.ifd == pytest.approx(math.exp(cond) / math.exp(alone), rel=1e-4)
    assert [s.positive for s in scored] == [True, False, True]


def test_scores_are_cached_and_a_torn_line_is_scored_again(tiny_lm_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_lm_dir)
    path = tmp_path / "cache.jsonl"
    first = ifd_scores(model, tok, _samples(), cache=ScoreCache(path), batch_size=2)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    path.write_text("\n".join(lines[:2]) + "\n" + lines[2][:20], encoding="utf-8")  # a crash mid-line
    cache = ScoreCache(path)
    assert len(cache.scores) == 2
    again = ifd_scores(model, tok, _samples(), cache=cache, batch_size=2)
    assert [s.ifd for s in again] == pytest.approx([s.ifd for s in first])
    assert len(ScoreCache(path).scores) == 3
    # from the cache alone: a model that would fail if called
    assert [s.ifd for s in ifd_scores(None, tok, _samples(), cache=ScoreCache(path))] == pytest.approx([s.ifd for s in first])
    with pytest.raises(BionerError) as exc:
        ifd_scores(model, tok, [Sample("Text: x\nAnswer:\n", "", "toy", "e", 7, 0)])
    assert exc.value.code == "E740" and "'e' at 7" in str(exc.value)


def test_positives_only_scoring_reads_cached_negatives_and_selection_refuses_unscored_positives(tiny_lm_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_lm_dir)
    everything = ifd_scores(model, tok, _samples(), batch_size=2)
    part = ifd_scores(model, tok, _samples(), batch_size=2, score="positives")
    assert [s.scored for s in part] == [True, False, True] and math.isnan(part[1].ifd)
    assert [s.ifd for s in part if s.scored] == pytest.approx([everything[0].ifd, everything[2].ifd])
    assert not any(s.scored for s in ifd_scores(model, tok, _samples(), score="none"))
    cache = ScoreCache(tmp_path / "c.jsonl")
    ifd_scores(model, tok, _samples()[1:2], cache=cache)  # a negative scored earlier is read, not dropped
    assert [s.scored for s in ifd_scores(None, tok, _samples()[1:2], cache=cache, score="positives")] == [True]
    with pytest.raises(BionerError) as exc:
        ifd_scores(model, tok, _samples(), score="some")
    assert exc.value.code == "E741"
    groups = select(part, strategy="hybrid", ratio=1.0).groups  # the tiny model may give a positive IFD >= 1
    assert groups["negative kept"] == 1 and groups.get("positive kept", 0) + groups.get("positive dropped (IFD >= 1)", 0) == 2
    unscored_positive = [ScoredSample.unscored(s.sample) if k == 2 else s for k, s in enumerate(part)]
    with pytest.raises(BionerError) as exc:
        select(unscored_positive, strategy="ifd-only")
    assert exc.value.code == "E741" and "1 are not scored" in str(exc.value) and "'c' at 0" in str(exc.value)
    assert len(select(unscored_positive, strategy="random", ratio=0.5).kept) == 2  # random reads no IFD


def _fake(ifds: list[float], positive: list[bool]) -> list[ScoredSample]:
    return [ScoredSample(Sample(f"p{k}", f"a{k}", "toy", str(k), 0, int(pos)), 3, math.log(x), 0.0) for k, (x, pos) in enumerate(zip(ifds, positive))]


def test_strategies_keep_the_same_number_of_positives() -> None:
    scored = _fake([0.9, 0.5, 1.2, 0.7, 0.2, 0.95, 0.4], [True, True, True, True, True, False, False])
    hybrid = select(scored, ratio=0.4, strategy="hybrid")
    assert [s.sample.doc_id for s in hybrid.kept] == ["0", "3", "5", "6"]  # top 2 of 5 positives below 1 (0.9, 0.7) + negatives
    assert hybrid.groups == {"negative kept": 2, "positive dropped (IFD >= 1)": 1, "positive kept": 2, "positive not selected": 2}
    assert hybrid.kept_groups == ["positive kept", "positive kept", "negative kept", "negative kept"]
    only = select(scored, ratio=0.4, strategy="ifd-only")
    assert [s.sample.doc_id for s in only.kept] == ["0", "3"] and only.groups["negative left out"] == 2
    rnd = select(scored, ratio=0.4, strategy="random", seed=3)
    assert sum(s.positive for s in rnd.kept) == 2 and sum(not s.positive for s in rnd.kept) == 2
    assert select(scored, ratio=0.4, strategy="random", seed=3).kept == rnd.kept
    assert len(select(scored, strategy="full").kept) == 7
    with pytest.raises(BionerError) as exc:
        select(scored, strategy="best")
    assert exc.value.code == "E741"
    with pytest.raises(BionerError):
        select(scored, ratio=0.0)


def test_quantiles_and_curated_files_round_trip(tmp_path: Path) -> None:
    assert quantiles([1.0, 2.0, 3.0, 4.0, 5.0]) == {"min": 1.0, "q05": 1.2, "q25": 2.0, "q50": 3.0, "q75": 4.0, "q95": 4.8, "max": 5.0}
    scored = _fake([0.9, 0.5, 0.3], [True, True, False])
    sel: Selection = select(scored, ratio=0.5)
    meta = curation.summary(sel, scored, scheme="json", types={"toy": []})
    path, side = write_curated(sel, tmp_path / "cur.jsonl", meta)
    rec = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["group"] for r in rec] == ["positive kept", "negative kept"] and rec[0]["ifd"] == pytest.approx(0.9)
    samples, back = read_curated(path)
    assert samples == [s.sample for s in sel.kept] and back["scheme"] == "json" and back["kept"] == 2
    png = curation.histogram_png(scored, tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x"}\n{"nope": 1}\n', encoding="utf-8")
    (tmp_path / "bad.jsonl.summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        read_curated(tmp_path / "bad.jsonl")
    assert exc.value.code == "E743" and exc.value.line == 1
    with pytest.raises(BionerError) as exc:
        read_curated(tmp_path / "h.png")
    assert exc.value.code == "E743"


def test_cli_curate_then_train_on_the_curated_file(tiny_lm_dir: Path, tmp_path: Path) -> None:
    docs = [Document("d1", "Germline mutations in BRCA1 predispose to breast cancer. Nothing to see here.",
                     [Entity(22, 27, "GENE"), Entity(42, 55, "Disease")]),
            Document("d2", "Aspirin may cause Reye syndrome. It was sunny.", [Entity(18, 31, "Disease")])]
    data = tmp_path / "train.jsonl"
    bioner.io.write(docs, data)
    out = tmp_path / "cur.jsonl"
    args = ["curate", "--train-file", str(data), "--weak-model", str(tiny_lm_dir), "--ratio", "0.5", "-o", str(out),
            "--cache", str(tmp_path / "c.jsonl"), "--threads", "1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "cur.jsonl.summary.json").read_text(encoding="utf-8"))
    # by default only the positives are scored: no strategy reads a negative's IFD
    assert meta["samples"] == 4 and meta["positives"] == 2 and meta["negatives"] == 2 and meta["scored_now"] == 2
    assert meta["scored"] == {"positives": 2, "negatives": 0} and meta["ifd_quantiles"]["negatives"] == {}
    assert meta["groups"]["negative kept"] == 2 and (tmp_path / "cur.jsonl.ifd.png").is_file()
    rec = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["ifd"] is None for r in rec] == [not r["positive"] for r in rec] and any(r["ifd"] is None for r in rec)
    r = runner.invoke(app, [*args, "--score", "all"])  # the positives come from the cache, the negatives are scored now
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "cur.jsonl.summary.json").read_text(encoding="utf-8"))
    assert (meta["from_cache"], meta["scored_now"], meta["scored"]) == (2, 2, {"positives": 2, "negatives": 2})
    r = runner.invoke(app, args)  # the third run reads every score from the cache
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "cur.jsonl.summary.json").read_text(encoding="utf-8"))["from_cache"] == 4
    r = runner.invoke(app, [*args[:-4], "--strategy", "random", "--score", "none", "-o", str(tmp_path / "rnd.jsonl")])
    assert r.exit_code == 0, r.output
    meta = json.loads((tmp_path / "rnd.jsonl.summary.json").read_text(encoding="utf-8"))
    assert meta["kept"] == 3 and meta["scored"] == {"positives": 0, "negatives": 0} and not (tmp_path / "rnd.jsonl.ifd.png").exists()
    r = runner.invoke(app, [*args, "--score", "none"])
    assert r.exit_code == 2 and "E741" in r.output and "ranks positives by IFD" in r.output
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", "llm", "--curated", str(out), "--model", str(tiny_lm_dir), "--steps", "2", "--batch-size", "2",
                            "--grad-accum", "1", "-o", str(run), "--threads", "1"])
    assert r.exit_code == 0, r.output
    settings = json.loads((run / "adapter" / "bioner_llm.json").read_text(encoding="utf-8"))
    assert settings["scheme"] == "json" and str(data) in settings["types"]
    r = runner.invoke(app, ["train", "llm", "--curated", str(out), "--model", str(tiny_lm_dir), "--scheme", "tags", "-o", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "E734" in r.output
    r = runner.invoke(app, ["curate", "--train-file", str(data), "--weak-model", str(tiny_lm_dir), "--strategy", "best", "-o", str(out)])
    assert r.exit_code == 2 and "E741" in r.output
