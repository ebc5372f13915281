"""Silver data for distillation (bioner.silver, ``bioner silver``): raw text, near-duplicates, merging teachers,
noun-phrase candidates and the prompt option that offers them. Tiny documents made here; no model runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bioner.io
from bioner import corpora
from bioner.annotate import MANIFEST, Manifest, make_options, open_job, plan_inputs
from bioner.cli import app
from bioner.doc import Document, Entity
from bioner.engines.generative import prompts
from bioner.engines.generative.engine import LLMEngine
from bioner.errors import BionerError
from bioner.models import LLMOptions
from bioner.silver import (
    DedupStats,
    MergeStats,
    candidate_phrases,
    dedup,
    merge_teachers,
    normalize_text,
    noun_phrases,
    raw_documents,
    read_teacher,
)
from tests.engines.generative.test_engine import Scripted

runner = CliRunner()

TEXT = "Aspirin caused renal failure and gastric bleeding in rats."  # 0..7 Aspirin, 14..28 renal failure, 33..48 gastric bleeding


def _doc(doc_id: str, ents: list[tuple[int, int, str, float | None]], source: str, text: str = TEXT) -> Document:
    return Document(doc_id, text, [Entity(s, e, lab, score=sc, source=source) for s, e, lab, sc in ents])


# ---------------------------------------------------------------------------
# Near-duplicates


def test_normalized_form_follows_the_documented_definition() -> None:
    # NFKC (full-width A, the fi ligature), casefold, digits -> 0, punctuation dropped (not spaced), whitespace collapsed
    assert normalize_text("  Ｔhe  IL-6 ﬁbre:\n 25 mg/kg (n=3)  ") == "the il0 fibre 00 mgkg n=0"
    assert normalize_text("IL-6") == normalize_text("il6") != normalize_text("IL 6")
    assert normalize_text("α-Synuclein +5% <2") == "αsynuclein +0 <0"  # symbols (+ <) and Greek letters stay; % is punctuation


def test_dedup_keeps_first_occurrence_and_order_and_counts() -> None:
    docs = [
        Document("a", "Aspirin reduced fever in 12 patients."),
        Document("b", "Tamoxifen and breast cancer."),
        Document("c", "ASPIRIN  reduced fever in 35 patients"),  # case, digits, punctuation, spaces
        Document("d", "Ｔａｍｏｘｉｆｅｎ and breast cancer!"),  # full-width letters, other punctuation
        Document("e", "Tamoxifen and breast-cancer."),  # a dropped hyphen joins the words: another text
        Document("f", "Aspirin reduced fever in 12 patients.", [Entity(0, 7, "Chemical")]),  # entities do not count
    ]
    stats = DedupStats()
    kept = list(dedup(docs, stats))
    assert [d.id for d in kept] == ["a", "b", "e"]
    assert (stats.kept, stats.dropped) == (3, 3)
    assert stats.examples == [("c", "a"), ("d", "b"), ("f", "a")]
    assert kept[0] is docs[0]  # passed through unchanged


# ---------------------------------------------------------------------------
# Raw text of registered corpora


def test_raw_documents_strip_entities_and_prefix_ids(data_dir: Path) -> None:
    gold = corpora.load("s800", "dev", root=data_dir)
    raw = list(raw_documents(["s800", "s800"], "dev", data_dir))  # named twice: read once
    assert len(raw) == len(gold) == 80
    assert all(r.id == f"s800:{g.id}" and r.text == g.text and not r.entities and not r.metadata for r, g in zip(raw, gold))
    assert sum(len(g.entities) for g in gold) > 0
    with pytest.raises(BionerError) as e1:
        raw_documents(["s800", "no-such-corpus"], "dev", data_dir)  # checked before anything is read
    with pytest.raises(BionerError) as e2:
        raw_documents(["s800"], "validation", data_dir)
    with pytest.raises(BionerError) as e3:
        raw_documents([], "train", data_dir)
    assert (e1.value.code, e2.value.code, e3.value.code) == ("E501", "E502", "E900")


def test_raw_cli_dedups_corpora_that_share_texts(data_dir: Path, tmp_path: Path) -> None:
    """BC5CDR and its chemical-only variant hold the same 500 dev abstracts: the copies are dropped."""
    out = tmp_path / "raw.jsonl"
    r = runner.invoke(app, ["silver", "raw", "-c", "bc5cdr,bc5cdr-chem", "--split", "dev", "-o", str(out), "--root", str(data_dir)])
    assert r.exit_code == 0, r.output
    assert "Near-duplicates: kept 500, dropped 500" in r.stdout
    assert "bc5cdr-chem:" in r.stdout  # an example names the dropped copy
    docs = list(bioner.io.read(out, "jsonl"))
    assert len(docs) == 500 and all(d.id.startswith("bc5cdr:") and not d.entities for d in docs)
    r2 = runner.invoke(app, ["silver", "raw", "-c", "bc5cdr", "-c", "bc5cdr-chem", "--split", "dev", "--no-dedup", "-o", str(out),
                             "--root", str(data_dir)])
    assert r2.exit_code == 0, r2.output
    assert "Wrote 1000 documents" in r2.stdout and "Near-duplicates" not in r2.stdout
    assert sum(1 for _ in bioner.io.read(out, "jsonl")) == 1000


# ---------------------------------------------------------------------------
# Merging teachers


def test_strict_agreement_keeps_what_enough_teachers_give_with_provenance() -> None:
    a = [_doc("1", [(0, 7, "Chemical", 0.9), (14, 28, "Disease", 0.8), (33, 48, "Disease", 0.4)], "span-a")]
    b = [_doc("1", [(0, 7, "Chemical", None), (14, 28, "Disease", None), (41, 48, "Disease", None)], "llm:teacher")]
    c = [_doc("1", [(0, 7, "Chemical", 0.7), (14, 28, "Chemical", 0.6)], "span-c")]
    stats = MergeStats(["A", "B", "C"])
    out = list(merge_teachers([a, b, c], ["A", "B", "C"], agree=2, stats=stats))
    assert len(out) == 1 and out[0].text == TEXT
    got = {(e.start, e.end, e.label): e for e in out[0].entities}
    assert set(got) == {(0, 7, "Chemical"), (14, 28, "Disease")}
    asp = got[(0, 7, "Chemical")]
    assert asp.source == "span-a+llm:teacher+span-c"
    assert asp.attrs == {"teachers": "3/3", "sources": "A+B+C"}
    assert asp.score == pytest.approx(0.8)  # mean of 0.9 and 0.7: B gave no score
    rf = got[(14, 28, "Disease")]
    assert (rf.source, rf.score, dict(rf.attrs)) == ("span-a+llm:teacher", 0.8, {"teachers": "2/3", "sources": "A+B"})
    # dropped by agreement: A's 33..48, B's 41..48 (strict: other spans) and C's 14..28 Chemical (other label)
    assert (stats.documents, stats.kept, stats.dropped_agreement, stats.dropped_score) == (1, 2, 3, 0)
    assert stats.entities == [3, 3, 2]
    assert stats.by_label["Disease"] == {"kept": 1, "agreement": 2}
    # agree=1 keeps every distinct (start, end, label) once
    union = list(merge_teachers([a, b, c], ["A", "B", "C"], agree=1))[0]
    assert len(union.entities) == 5
    assert next(e for e in union.entities if e.start == 41).attrs == {"teachers": "1/3", "sources": "B"}


def test_overlap_agreement_keeps_the_span_most_teachers_gave() -> None:
    a = [_doc("1", [(33, 48, "Disease", 0.6), (14, 19, "Disease", 0.5)], "A")]  # "gastric bleeding", "renal"
    b = [_doc("1", [(41, 48, "Disease", 0.8), (14, 28, "Disease", 0.9)], "B")]  # "bleeding", "renal failure"
    c = [_doc("1", [(41, 48, "Disease", 0.7), (0, 7, "Chemical", 0.9)], "C")]
    out = list(merge_teachers([a, b, c], ["a", "b", "c"], agree=2, match="overlap"))[0]
    got = {(e.start, e.end): e for e in out.entities}
    assert set(got) == {(41, 48), (14, 19)}  # 41..48 given by B and C; 14..19 vs 14..28 tie -> the first input's
    assert got[(41, 48)].attrs["teachers"] == "3/3" and got[(41, 48)].source == "A+B+C"
    assert got[(41, 48)].score == pytest.approx((0.6 + 0.8 + 0.7) / 3)
    assert got[(14, 19)].attrs == {"teachers": "2/3", "sources": "a+b"}
    strict = list(merge_teachers([a, b, c], ["a", "b", "c"], agree=2, match="strict"))[0]
    assert [(e.start, e.end) for e in strict.entities] == [(41, 48)]  # only B and C agree exactly


def test_score_filter_uses_scored_teachers_and_lets_unscored_entities_pass() -> None:
    span = [_doc("1", [(0, 7, "Chemical", 0.3), (14, 28, "Disease", 0.9)], "span")]
    llm = [_doc("1", [(0, 7, "Chemical", None), (14, 28, "Disease", None), (33, 48, "Disease", None)], "llm")]
    stats = MergeStats(["span", "llm"])
    out = list(merge_teachers([span, llm], ["span", "llm"], agree=1, min_score=0.5, stats=stats))[0]
    assert [(e.start, e.score) for e in out.entities] == [(14, 0.9), (33, None)]  # 0.3 < 0.5 dropped; None passes
    assert (stats.kept, stats.dropped_score, stats.by_label["Chemical"]["score"]) == (2, 1, 1)


def test_documents_are_matched_by_id_and_empty_ones_can_be_dropped() -> None:
    a = [_doc("1", [(0, 7, "Chemical", None)], "A"), _doc("2", [], "A", "Nothing here.")]
    b = [_doc("1", [(0, 7, "Chemical", None)], "B"), _doc("2", [], "B", "Nothing here.")]
    stats = MergeStats(["a", "b"])
    assert [d.id for d in merge_teachers([a, b], ["a", "b"], agree=2)] == ["1", "2"]
    assert [d.id for d in merge_teachers([a, b], ["a", "b"], agree=2, keep_empty=False, stats=stats)] == ["1"]
    assert (stats.documents, stats.written, stats.empty_dropped) == (2, 1, 1)


def test_missing_reordered_or_changed_documents_are_errors_naming_both_inputs() -> None:
    one, two, three = (_doc(i, [], "t") for i in ("1", "2", "3"))
    cases = [
        ([one, two, three], [one, three], "E901", "document '2' is in first.jsonl but not in second.jsonl"),
        ([one, three], [one, two, three], "E901", "document '2' is in second.jsonl but not in first.jsonl"),
        ([one, two], [one], "E901", "document '2' is in first.jsonl but not in second.jsonl"),  # second input ends early
        ([one, two, three], [one, three, two], "E903", "different orders"),
        ([one, two], [one, _doc("2", [], "t", TEXT + " More.")], "E902", "document '2' has another text in second.jsonl than in first.jsonl"),
    ]
    for a, b, code, message in cases:
        with pytest.raises(BionerError) as exc:
            list(merge_teachers([a, b], ["first.jsonl", "second.jsonl"]))
        assert exc.value.code == code and message in str(exc.value), str(exc.value)
    with pytest.raises(BionerError) as exc:
        list(merge_teachers([[one, two, three], [one, three, two]], ["x", "y"]))
    assert "sort both by document id" in str(exc.value)
    for kw in ({"agree": 3}, {"match": "fuzzy"}):
        with pytest.raises(BionerError) as exc:
            merge_teachers([[one], [one]], ["x", "y"], **kw)  # type: ignore[arg-type]  # raised at the call, before reading
        assert exc.value.code == "E904"


def _annotate_folder(path: Path, shards: list[list[Document]], complete: bool = True) -> Path:
    """An output folder as ``bioner annotate`` leaves it: shard files and a manifest (no model run)."""
    path.mkdir()
    recs = {}
    for k, docs in enumerate(shards):
        name = f"shard-{k:06d}.jsonl"
        bioner.io.write(docs, path / name, "jsonl")
        recs[k] = {"index": k, "file": name, "documents": len(docs)}
    Manifest([], {"format": "jsonl", "engine": "span"}, recs, complete=complete, documents=sum(map(len, shards))).save(path)
    return path


def test_merge_cli_reads_annotate_folders_and_files(tmp_path: Path) -> None:
    other = "Tamoxifen lowers the risk of breast cancer."  # 0..9 Tamoxifen, 29..42 breast cancer
    span = _annotate_folder(tmp_path / "span-out", [
        [_doc("1", [(0, 7, "Chemical", 0.95), (14, 28, "Disease", 0.4)], "bioner-span-minilm")],
        [_doc("2", [(0, 9, "Chemical", 0.9), (29, 42, "Disease", 0.85)], "bioner-span-minilm", other)],
    ])
    llm_file = tmp_path / "llm.jsonl"
    bioner.io.write([_doc("1", [(0, 7, "Chemical", None), (14, 28, "Disease", None)], "llm:qwen"),
                     _doc("2", [(36, 42, "Disease", None)], "llm:qwen", other)], llm_file)
    out = tmp_path / "silver.jsonl"
    r = runner.invoke(app, ["silver", "merge", str(span), str(llm_file), "-o", str(out), "--agree", "2", "--match", "overlap",
                            "--min-score", "0.5"])
    assert r.exit_code == 0, r.output
    assert "Merged 2 documents from 2 input(s); wrote 2" in r.stdout
    assert "span-out: 4 entities" in r.stdout and "llm.jsonl: 3 entities" in r.stdout
    assert "Kept 2 entities; dropped 1 by agreement (< 2 of 2), 1 by score (score < 0.5)" in r.stdout
    assert "Disease: kept 1, dropped by agreement 0, by score 1" in r.stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["entities"] == [{"start": 0, "end": 7, "label": "Chemical", "text": "Aspirin", "score": 0.95,
                                    "source": "bioner-span-minilm+llm:qwen", "attrs": {"teachers": "2/2", "sources": "span-out+llm.jsonl"}}]
    assert [(e["start"], e["end"], e["score"]) for e in rows[1]["entities"]] == [(29, 42, 0.85)]  # overlap: span model's span kept
    # a mismatch through the CLI: exit 2, both inputs and the id named, no output written
    bad = tmp_path / "bad.jsonl"
    bioner.io.write([_doc("1", [], "x")], bad)
    out2 = tmp_path / "silver2.jsonl"
    r2 = runner.invoke(app, ["silver", "merge", str(span), str(bad), "-o", str(out2)])
    assert r2.exit_code == 2
    assert "[E901]" in r2.stderr and "document '2' is in span-out but not in bad.jsonl" in r2.stderr
    assert not out2.exists()


def test_unfinished_annotate_folder_is_refused(tmp_path: Path) -> None:
    folder = _annotate_folder(tmp_path / "half", [[_doc("1", [], "x")]], complete=False)
    with pytest.raises(BionerError) as exc:
        read_teacher(folder)
    assert exc.value.code == "E905" and "rerun the same bioner annotate command" in str(exc.value)
    r = runner.invoke(app, ["silver", "merge", str(folder), "-o", str(tmp_path / "s.jsonl")])
    assert r.exit_code == 2 and "[E905]" in r.stderr
    assert (folder / MANIFEST).is_file()


# ---------------------------------------------------------------------------
# Noun-phrase candidates and the prompt option


@pytest.mark.parametrize(("text", "phrases"), [
    ("Cisplatin-induced nephrotoxicity was observed in IL-6 knockout mice.",
     ["Cisplatin-induced nephrotoxicity", "IL-6 knockout mice"]),  # glued compounds stay whole; "observed" is a verb
    ("Patients with Alzheimer's disease and type 2 diabetes mellitus received 5 mg of donepezil.",
     ["Patients", "Alzheimer's disease", "type 2 diabetes mellitus", "mg", "donepezil"]),  # inner number kept, leading one dropped
    ("IL - 6 levels were increased in chronic kidney disease , and tumor necrosis factor alpha receptor 2 expression was reduced",
     ["IL - 6 levels", "chronic kidney disease", "necrosis factor alpha receptor 2 expression"]),  # spaced hyphen joins; last 6 of 7 words
])
def test_noun_phrases_on_biomedical_sentences(text: str, phrases: list[str]) -> None:
    spans = noun_phrases(text)
    assert [text[s:e] for s, e in spans] == phrases
    assert spans == sorted(spans) and all(text[s:e] == text[s:e].strip() for s, e in spans)


def test_noun_phrases_take_given_tokens_and_candidates_are_distinct() -> None:
    text = "breast cancer; breast cancer"
    assert noun_phrases(text, [(0, 6), (7, 13), (13, 14), (15, 21), (22, 28)]) == [(0, 13), (15, 28)]
    assert candidate_phrases(text) == ["breast cancer"]
    assert noun_phrases("") == [] and noun_phrases("The 5 of them.") == []


def test_prompt_lists_candidates_only_when_asked() -> None:
    specs = prompts.type_specs({"Disease": "disease"})
    plain = prompts.build("json", "Lung cancer in mice.", specs, definitions=False).text
    assert plain == (prompts.INSTRUCTIONS["json"] + "\n\nEntity types:\n- disease\n\nText: Lung cancer in mice.\nAnswer:\n")
    assert prompts.build("json", "Lung cancer in mice.", specs, definitions=False, candidates=[]).text == plain
    with_c = prompts.build("json", "Lung cancer in mice.", specs, definitions=False, candidates=["Lung cancer", "mice"]).text
    assert with_c == plain.replace("\n\nText:", "\n\nCandidate phrases (may be incomplete or wrong): Lung cancer; mice\n\nText:")


def test_engine_offers_candidates_and_keeps_prompts_unchanged_by_default() -> None:
    text = "Germline mutations in BRCA1 predispose to breast cancer."
    answers = {text: '[{"entity": "disease", "name": "breast cancer"}]'}
    off, on = Scripted(answers), Scripted(answers)
    found_off = LLMEngine(off, "json").predict([Document("d", text)], {"Disease": "disease"})
    found_on = LLMEngine(on, "json", candidates=True).predict([Document("d", text)], {"Disease": "disease"})
    assert "Candidate phrases" not in off.seen[0].text
    assert "Candidate phrases (may be incomplete or wrong): Germline mutations; BRCA1; breast cancer\n" in on.seen[0].text
    assert off.seen[0].text == on.seen[0].text.replace("\nCandidate phrases (may be incomplete or wrong): Germline mutations; BRCA1; breast cancer\n", "")
    assert found_off[0].entities == found_on[0].entities == [Entity(42, 55, "Disease", source="llm")]


def test_np_candidates_is_recorded_and_a_resume_with_another_setting_is_refused(tmp_path: Path) -> None:
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text("{}", encoding="utf-8")
    src = tmp_path / "in.txt"
    src.write_text("Aspirin and fever.\n", encoding="utf-8")
    files = plan_inputs([src])
    off = make_options(engine="llm", model=lm, labels="disease", llm=LLMOptions(scheme="json"))
    on = make_options(engine="llm", model=lm, labels="disease", llm=LLMOptions(scheme="json", candidates=True))
    assert "candidates" not in off.record()["llm"]  # off: the record is what it was before the option existed
    assert on.record()["llm"]["candidates"] is True
    out = tmp_path / "job"
    open_job(out, files, on)
    with pytest.raises(BionerError) as exc:
        open_job(out, files, off)
    assert exc.value.code == "E821" and "option llm" in str(exc.value)
    assert open_job(out, files, on).options["llm"]["candidates"] is True  # the same setting resumes
    r = runner.invoke(app, ["annotate", "-i", str(src), "-o", str(tmp_path / "span-job"), "--np-candidates"])
    assert r.exit_code == 2 and "[E829]" in r.stderr and "--np-candidates" in r.stderr
