"""The evaluator: hand-computed cases, error codes, agreement with seqeval, relaxed invariants."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.evaluate import Evaluation, evaluate, evaluate_files, render
from bioner.io import iob, jsonl
from bioner.text import join_tokens

TEXT = "Breast and ovarian cancer in BRCA1 carriers treated with tamoxifen."


def at(mention: str, label: str, nth: int = 0, **kw: object) -> Entity:
    """The entity covering the nth occurrence of ``mention`` in TEXT."""
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(mention, start + 1)
    return Entity(start, start + len(mention), label, **kw)  # type: ignore[arg-type]


def one(gold: list[Entity], pred: list[Entity], text: str = TEXT, **kw: object) -> Evaluation:
    return evaluate([Document("d", text, gold)], [Document("d", text, pred)], **kw)  # type: ignore[arg-type]


def counts(ev: Evaluation, mode: str = "strict", label: str | None = None) -> tuple[int, int, int]:
    sc = getattr(ev, mode)
    s = sc.micro if label is None else sc.by_type[label]
    return (s.tp, s.fp, s.fn)


# -- hand-built cases ------------------------------------------------------------


def test_exact_match_scores_one_in_both_modes() -> None:
    ents = [at("ovarian cancer", "Disease"), at("BRCA1", "Gene"), at("tamoxifen", "Chemical")]
    ev = one(ents, list(reversed(ents)))
    for mode in ("strict", "relaxed"):
        sc = getattr(ev, mode)
        assert (sc.micro.tp, sc.micro.fp, sc.micro.fn) == (3, 0, 0)
        assert sc.micro.precision == sc.micro.recall == sc.micro.f1 == 1.0
        assert sc.macro.f1 == 1.0 and sc.macro.types == 3
    assert (ev.documents, ev.gold_entities, ev.pred_entities, ev.duplicates) == (1, 3, 3, 0)


def test_boundary_error_is_fp_and_fn_strict_but_tp_relaxed() -> None:
    ev = one([at("ovarian cancer", "Disease")], [at("cancer", "Disease")])
    assert counts(ev) == (0, 1, 1)
    assert ev.strict.micro.f1 == 0.0
    assert counts(ev, "relaxed") == (1, 0, 0)
    assert ev.relaxed.micro.f1 == 1.0


def test_type_error_counts_against_both_types_in_both_modes() -> None:
    ev = one([at("tamoxifen", "Chemical")], [at("tamoxifen", "Disease")])
    for mode in ("strict", "relaxed"):
        assert counts(ev, mode, "Chemical") == (0, 0, 1)
        assert counts(ev, mode, "Disease") == (0, 1, 0)
        assert getattr(ev, mode).macro.types == 2
        assert getattr(ev, mode).macro.f1 == 0.0


def test_nested_gold_and_nested_pred() -> None:
    outer, inner = Entity(0, 25, "Disease"), at("ovarian cancer", "Disease")
    gene = at("BRCA1", "Gene")
    ev = one([outer, inner, gene], [inner, outer, gene])
    assert counts(ev) == (3, 0, 0)
    # inner found exactly, outer predicted one character short
    ev = one([outer, inner], [inner, Entity(0, 24, "Disease")])
    assert counts(ev) == (1, 1, 1)
    # exact matches are taken first, so the short outer pairs with the outer gold
    assert counts(ev, "relaxed") == (2, 0, 0)
    # only the inner predicted: the outer gold stays a FN even though the inner overlaps it
    ev = one([outer, inner], [inner])
    assert counts(ev) == counts(ev, "relaxed") == (1, 0, 1)


def test_relaxed_greedy_prefers_largest_overlap_then_earliest_start() -> None:
    g1, g2 = Entity(0, 10, "X"), Entity(8, 20, "X")
    # (5,19) shares 2 chars with g1 and 11 with g2: it goes to g2; (0,4) then takes g1
    ev = one([g1, g2], [Entity(5, 19, "X"), Entity(0, 4, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (2, 0, 0)
    # alone, (5,19) still goes to g2 (largest overlap), leaving g1 unmatched
    ev = one([g1, g2], [Entity(5, 19, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (1, 0, 1)
    # one gold, two preds with equal overlap: one-to-one, so one TP and one FP
    ev = one([g1], [Entity(4, 10, "X"), Entity(0, 6, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (1, 1, 0)
    # greedy, not maximum matching: (5,19) takes g2 (11 chars) before (18,20) can (2 chars)
    ev = one([g1, g2], [Entity(5, 19, "X"), Entity(18, 20, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (1, 1, 1)
    # equal overlap with g1: the earlier-starting (0,6) wins, so (4,12) is left for (10,14)
    ev = one([g1, Entity(10, 14, "X")], [Entity(4, 12, "X"), Entity(0, 6, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (2, 0, 0)
    # equal overlap with two golds: the earlier gold (0,10) wins, so (12,14) can take (4,14)
    ev = one([Entity(4, 14, "X"), g1], [Entity(2, 12, "X"), Entity(12, 14, "X")], text="x" * 30)
    assert counts(ev, "relaxed") == (2, 0, 0)


def test_duplicate_predictions_are_fp_after_the_first_in_both_modes() -> None:
    outer, inner = Entity(0, 25, "Disease"), at("ovarian cancer", "Disease")
    ev = one([outer, inner], [inner, inner.with_(score=0.4), inner])
    assert ev.duplicates == 2 and ev.pred_entities == 3
    assert counts(ev) == (1, 2, 1)
    # the repeated copies must not claim the overlapping outer gold in relaxed mode
    assert counts(ev, "relaxed") == (1, 2, 1)
    # a repeated prediction with no exact gold: one copy can overlap-match, the rest are FP
    ev = one([outer], [inner, inner])
    assert counts(ev, "relaxed") == (1, 1, 0)
    assert counts(ev) == (0, 2, 1)
    # multiset semantics: a repeated gold entity needs a repeated prediction
    ev = one([inner, inner], [inner, inner])
    assert counts(ev) == (2, 0, 0) and ev.gold_duplicates == 1 and ev.duplicates == 1
    ev = one([inner, inner], [inner])
    assert counts(ev) == counts(ev, "relaxed") == (1, 0, 1)


def test_discontinuous_entities_match_on_fragments() -> None:
    breast, cancer = at("Breast", "Disease"), at("cancer", "Disease")
    gold = Entity.from_fragments([breast.span, cancer.span], "Disease")  # "Breast ... cancer"
    ev = one([gold], [Entity.from_fragments([cancer.span, breast.span], "Disease")])
    assert counts(ev) == (1, 0, 0)
    # the covering span is a different entity in strict mode but overlaps in relaxed
    ev = one([gold], [Entity(gold.start, gold.end, "Disease")])
    assert counts(ev) == (0, 1, 1)
    assert counts(ev, "relaxed") == (1, 0, 0)
    # a prediction inside the gap overlaps the covering span but no fragment
    ev = one([gold], [at("ovarian", "Disease")])
    assert counts(ev, "relaxed") == (0, 1, 1)
    # sharing one fragment is an overlap
    ev = one([gold], [Entity.from_fragments([breast.span, at("ovarian", "Disease").span], "Disease")])
    assert counts(ev) == (0, 1, 1)
    assert counts(ev, "relaxed") == (1, 0, 0)


def test_empty_predictions_and_empty_everything_score_zero() -> None:
    ev = one([at("ovarian cancer", "Disease"), at("BRCA1", "Gene")], [])
    assert counts(ev) == counts(ev, "relaxed") == (0, 0, 2)
    assert (ev.strict.micro.precision, ev.strict.micro.recall, ev.strict.micro.f1) == (0.0, 0.0, 0.0)
    assert ev.strict.macro.types == 2 and ev.strict.macro.f1 == 0.0
    ev = one([], [])
    assert counts(ev) == (0, 0, 0)
    assert ev.strict.micro.f1 == 0.0 and ev.strict.macro.f1 == 0.0 and ev.strict.macro.types == 0
    assert ev.strict.by_type == {} and ev.relaxed.by_type == {}


def test_per_type_micro_and_macro_arithmetic_by_hand() -> None:
    text = " ".join(f"w{i}" for i in range(20))  # tokens w0..w19, "wN" at 3*N (N < 10)
    def w(i: int, lab: str) -> Entity:
        return Entity(3 * i, 3 * i + 2, lab)

    gold = [w(0, "Disease"), w(1, "Disease"), w(2, "Disease"), w(3, "Chemical"), w(4, "Chemical")]
    pred = [w(0, "Disease"), w(1, "Disease"), w(5, "Disease"), w(3, "Chemical"), w(6, "Chemical"), w(7, "Gene")]
    ev = one(gold, pred, text=text)
    d, c, g = (ev.strict.by_type[k] for k in ("Disease", "Chemical", "Gene"))
    assert (d.tp, d.fp, d.fn, d.support) == (2, 1, 1, 3)
    assert (d.precision, d.recall) == (2 / 3, 2 / 3) and d.f1 == pytest.approx(2 / 3, abs=1e-15)
    assert (c.tp, c.fp, c.fn, c.support, c.precision, c.recall, c.f1) == (1, 1, 1, 2, 0.5, 0.5, 0.5)
    assert (g.tp, g.fp, g.fn, g.support, g.precision, g.recall, g.f1) == (0, 1, 0, 0, 0.0, 0.0, 0.0)
    m = ev.strict.micro
    assert (m.tp, m.fp, m.fn) == (3, 3, 2)
    assert (m.precision, m.recall) == (0.5, 0.6) and m.f1 == pytest.approx(6 / 11, abs=1e-15)
    # macro over the three types present in gold or predictions, Gene included
    assert ev.strict.macro.types == 3
    assert ev.strict.macro.precision == pytest.approx((2 / 3 + 0.5 + 0) / 3, abs=1e-15)
    assert ev.strict.macro.recall == pytest.approx((2 / 3 + 0.5 + 0) / 3, abs=1e-15)
    assert ev.strict.macro.f1 == pytest.approx(7 / 18, abs=1e-15)
    # non-overlapping errors: relaxed equals strict here
    assert ev.relaxed.as_dict() == ev.strict.as_dict()


def test_labels_restrict_both_sides() -> None:
    gold = [at("ovarian cancer", "Disease"), at("BRCA1", "Gene")]
    pred = [at("ovarian cancer", "Disease"), at("tamoxifen", "Chemical"), at("carriers", "Gene")]
    ev = one(gold, pred, labels=["Disease"])
    assert list(ev.strict.by_type) == ["Disease"]
    assert counts(ev) == (1, 0, 0)
    assert (ev.gold_entities, ev.pred_entities, ev.excluded_gold, ev.excluded_pred) == (1, 1, 1, 2)
    assert ev.labels == ("Disease",)
    # a single string is one label, not a set of characters
    assert counts(one(gold, pred, labels="Gene")) == (0, 1, 1)


def test_ignore_score_below_drops_low_scores_and_keeps_unscored() -> None:
    gold = [at("ovarian cancer", "Disease"), at("BRCA1", "Gene")]
    pred = [at("ovarian cancer", "Disease", score=0.9), at("BRCA1", "Gene"), at("tamoxifen", "Chemical", score=0.2)]
    ev = one(gold, pred, ignore_score_below=0.5)
    assert counts(ev) == (2, 0, 0) and ev.below_score == 1 and ev.pred_entities == 2
    assert counts(one(gold, pred)) == (2, 1, 0)


def test_documents_are_paired_by_id_not_order() -> None:
    a = Document("a", "alpha beta", [Entity(0, 5, "X")])
    b = Document("b", "gamma", [Entity(0, 5, "X")])
    ev = evaluate([a, b], [b.copy(entities=[]), a])
    assert counts(ev) == (1, 0, 1) and ev.documents == 2


# -- errors ----------------------------------------------------------------------


def test_mismatched_ids_raise_e401_with_counts_and_examples() -> None:
    gold = [Document(f"g{i}", "t") for i in range(8)] + [Document("shared", "t")]
    pred = [Document("shared", "t"), Document("extra", "t")]
    with pytest.raises(BionerError) as exc:
        evaluate(gold, pred)
    err = exc.value
    assert err.code == "E401"
    assert "gold has 9 documents, predictions have 2" in err.message
    assert "8 gold document(s) have no prediction: 'g0', 'g1', 'g2', 'g3', 'g4', ... (3 more)" in err.message
    assert "1 predicted document(s) are not in gold: 'extra'" in err.message
    assert err.hint and "same input documents" in err.hint


def test_mismatched_text_raises_e402_naming_doc_and_position() -> None:
    with pytest.raises(BionerError) as exc:
        evaluate([Document("p1", "BRCA1 carriers")], [Document("p1", "BRCA2 carriers")])
    assert exc.value.code == "E402"
    assert "'p1'" in exc.value.message and "at character 4" in exc.value.message
    # a truncated text differs where the shorter one ends
    with pytest.raises(BionerError, match=r"at character 5"):
        evaluate([Document("p1", "BRCA1 carriers")], [Document("p1", "BRCA1")])


def test_duplicate_document_id_in_one_collection_is_an_error() -> None:
    with pytest.raises(BionerError, match=r"\[E209\].*predicted collection has document id 'a' twice"):
        evaluate([Document("a", "x")], [Document("a", "x"), Document("a", "x")])


# -- output ----------------------------------------------------------------------


def test_as_dict_json_text_and_rich_table() -> None:
    ev = one([at("ovarian cancer", "Disease"), at("BRCA1", "Gene")], [at("cancer", "Disease"), at("BRCA1", "Gene"), at("BRCA1", "Gene")])
    d = json.loads(ev.to_json())
    assert d == ev.as_dict()
    assert d["strict"]["by_type"]["Disease"] == {"tp": 0, "fp": 1, "fn": 1, "support": 1, "predicted": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert d["relaxed"]["micro"]["tp"] == 2 and d["duplicates"] == 1
    assert (d["documents"], d["gold_entities"], d["pred_entities"]) == (1, 2, 3)
    text = ev.to_text()
    assert "1 documents, 2 gold and 3 predicted entities" in text
    assert any(line.split()[:5] == ["relaxed", "micro", "2", "1", "0"] for line in text.splitlines())
    assert "1 repeated predictions" in text
    assert len(ev.to_text(by_type=False, relaxed=False).splitlines()) == len(text.splitlines()) - 6
    table = render(ev)
    assert isinstance(table, Table)
    assert table.row_count == 8  # 2 types + micro + macro, for both modes
    assert render(ev, by_type=False, relaxed=False).row_count == 2


def test_evaluate_files_reads_both_formats(tmp_path: Path) -> None:
    gold = [Document("d1", TEXT, [at("ovarian cancer", "Disease")]), Document("d2", "BRCA1", [Entity(0, 5, "Gene")])]
    pred = [Document("d2", "BRCA1", [Entity(0, 5, "Gene")]), Document("d1", TEXT, [at("cancer", "Disease")])]
    jsonl.write(gold, tmp_path / "gold.jsonl")
    jsonl.write(pred, tmp_path / "pred.txt")
    ev = evaluate_files(tmp_path / "gold.jsonl", tmp_path / "pred.txt", pred_format="jsonl", labels=["Disease"])
    assert counts(ev) == (0, 1, 1) and counts(ev, "relaxed") == (1, 0, 0) and ev.documents == 2


# -- agreement with seqeval on flat IOB2 -----------------------------------------

def spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token spans (end-exclusive) of a valid IOB2 sequence."""
    out: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-"):
            out.append((i, i + 1, tag[2:]))
        elif tag.startswith("I-"):
            s, e, t = out[-1]
            assert e == i and t == tag[2:] and tags[i - 1] != "O", f"invalid IOB2 at token {i}: {tags}"
            out[-1] = (s, i + 1, t)
    return out


def tags_of(n: int, sp: list[tuple[int, int, str]]) -> list[str]:
    tags = ["O"] * n
    for s, e, t in sp:
        tags[s:e] = [f"B-{t}"] + [f"I-{t}"] * (e - s - 1)
    return tags


def to_docs(tokens: list[list[str]], tag_seqs: list[list[str]], per_doc: int = 10) -> list[Document]:
    """Group sentences into documents; entities from the tags, at character offsets."""
    docs = []
    for k in range(0, len(tokens), per_doc):
        text, _, tok_offsets = join_tokens(tokens[k:k + per_doc])
        ents = [
            Entity(offs[s][0], offs[e - 1][1], t)
            for tags, offs in zip(tag_seqs[k:k + per_doc], tok_offsets)
            for s, e, t in spans(tags)
        ]
        docs.append(Document(f"doc{k // per_doc}", text, ents))
    return docs


def perturb(tag_seqs: list[list[str]], types: list[str], seed: int, type_change: float) -> list[list[str]]:
    """Realistic predictions: drop 10%, shift one boundary by one token for 10%, change type, add spurious ones."""
    rng = random.Random(seed)
    out = []
    for tags in tag_seqs:
        n = len(tags)
        cand: list[tuple[int, int, str]] = []
        for s, e, t in spans(tags):
            r = rng.random()
            if r < 0.10:
                continue
            if r < 0.20:
                side, d = rng.choice(["start", "end"]), rng.choice([-1, 1])
                s, e = (s + d, e) if side == "start" else (s, e + d)
                if not (0 <= s < e <= n):
                    continue
            elif r < 0.20 + type_change:
                t = rng.choice([x for x in types if x != t])
            cand.append((s, e, t))
        if rng.random() < 0.15:
            i = rng.randrange(n)
            cand.append((i, i + 1, rng.choice(types)))
        # keep the predictions flat: skip any that would overlap one already placed
        taken = [False] * n
        placed = []
        for s, e, t in cand:
            if not any(taken[s:e]):
                taken[s:e] = [True] * (e - s)
                placed.append((s, e, t))
        out.append(tags_of(n, placed))
    return out


def seqeval_scores(y_true: list[list[str]], y_pred: list[list[str]]) -> tuple[float, float, float, dict[str, dict[str, float]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on 0/0 and answers 0, as we do
        return (
            precision_score(y_true, y_pred),
            recall_score(y_true, y_pred),
            f1_score(y_true, y_pred),
            classification_report(y_true, y_pred, output_dict=True),
        )


def assert_agrees(ev: Evaluation, y_true: list[list[str]], y_pred: list[list[str]]) -> None:
    p, r, f, report = seqeval_scores(y_true, y_pred)
    m = ev.strict.micro
    assert m.precision == pytest.approx(p, abs=1e-12)
    assert m.recall == pytest.approx(r, abs=1e-12)
    assert m.f1 == pytest.approx(f, abs=1e-12)
    types = {k for k in report if not k.endswith(" avg")}
    assert types == set(ev.strict.by_type)
    for t in types:
        s = ev.strict.by_type[t]
        assert (s.precision, s.recall, s.f1) == pytest.approx((report[t]["precision"], report[t]["recall"], report[t]["f1-score"]), abs=1e-12)
        assert s.support == report[t]["support"]
    if types:
        a = ev.strict.macro
        mac = report["macro avg"]
        assert (a.precision, a.recall, a.f1) == pytest.approx((mac["precision"], mac["recall"], mac["f1-score"]), abs=1e-12)


def doc_tags(doc: Document) -> list[str]:
    """The IOB2 tags of a flat Document's tokens (``doc.tokens``, as the IOB reader sets them)."""
    assert doc.tokens is not None
    first = {s: i for i, (s, _) in enumerate(doc.tokens)}
    last = {e: i for i, (_, e) in enumerate(doc.tokens)}
    return tags_of(len(doc.tokens), [(first[e.start], last[e.end] + 1, e.label) for e in doc.entities])


def with_tags(doc: Document, tags: list[str]) -> Document:
    assert doc.tokens is not None
    return doc.copy(entities=[Entity(doc.tokens[s][0], doc.tokens[e - 1][1], t) for s, e, t in spans(tags)])


def corpus_agreement(path: Path, types: list[str], type_change: float) -> tuple[Evaluation, list[list[str]], list[list[str]]]:
    """Gold read with bioner's IOB reader (one Document per sentence), predictions made by perturbing it."""
    gold = list(iob.read(path))
    y_true = [doc_tags(d) for d in gold]
    y_pred = perturb(y_true, types, seed=13, type_change=type_change)
    ev = evaluate(gold, [with_tags(d, tags) for d, tags in zip(gold, y_pred)])
    return ev, y_true, y_pred


def test_seqeval_agreement_ncbi_disease_perturbed(data_dir: Path) -> None:
    ev, y_true, y_pred = corpus_agreement(data_dir / "ncbi-disease/iob/test.tsv", ["Disease"], 0.0)
    assert ev.gold_entities == 960  # the README's count: the data was read as intended
    assert 0.5 < ev.strict.micro.f1 < 0.95  # perturbed, not identical and not garbage
    assert_agrees(ev, y_true, y_pred)


def test_seqeval_agreement_bc5cdr_perturbed(data_dir: Path) -> None:
    ev, y_true, y_pred = corpus_agreement(data_dir / "bc5cdr/iob-combined/test.tsv", ["Chemical", "Disease"], 0.05)
    assert ev.gold_entities == 9809
    assert ev.strict.by_type["Chemical"].support == 5385 and ev.strict.by_type["Disease"].support == 4424
    assert 0.5 < ev.strict.micro.f1 < 0.95
    assert_agrees(ev, y_true, y_pred)


TAG_CHOICES = ["O", "O", "B-A", "B-B", "B-C", "I", "I"]


def valid_iob2(choices: list[str]) -> list[str]:
    """Turn "I" into a continuation of the previous entity, or O when there is none."""
    tags: list[str] = []
    for c in choices:
        if c == "I":
            c = "I-" + tags[-1][2:] if tags and tags[-1] != "O" else "O"
        tags.append(c)
    return tags


@st.composite
def gold_and_pred(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
    lengths = draw(st.lists(st.integers(0, 10), min_size=1, max_size=6))
    def seq(n: int) -> st.SearchStrategy[list[str]]:
        return st.lists(st.sampled_from(TAG_CHOICES), min_size=n, max_size=n).map(valid_iob2)

    return [draw(seq(n)) for n in lengths], [draw(seq(n)) for n in lengths]


@settings(max_examples=300, deadline=None)
@given(gold_and_pred(), st.integers(1, 3))
def test_seqeval_agreement_random_iob2(data: tuple[list[list[str]], list[list[str]]], per_doc: int) -> None:
    y_true, y_pred = data
    tokens = [[f"w{i}" for i in range(len(s))] for s in y_true]
    ev = evaluate(to_docs(tokens, y_true, per_doc), to_docs(tokens, y_pred, per_doc))
    assert_agrees(ev, y_true, y_pred)


# -- relaxed invariants ----------------------------------------------------------


@st.composite
def entity(draw: st.DrawFn) -> Entity:
    label = draw(st.sampled_from(["A", "B"]))
    if draw(st.booleans()):
        s = draw(st.integers(0, 28))
        return Entity(s, draw(st.integers(s + 1, 30)), label)
    cuts = sorted(draw(st.sets(st.integers(0, 30), min_size=4, max_size=4)))
    return Entity.from_fragments([(cuts[0], cuts[1]), (cuts[2], cuts[3])], label)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(entity(), max_size=8), st.lists(entity(), max_size=8)), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_relaxed_invariants_on_random_entities(docs: list[tuple[list[Entity], list[Entity]]], rnd: random.Random) -> None:
    text = "x" * 30
    # duplicates on purpose: copy some predictions and gold entities
    docs = [(g + g[:1], p + p[:2]) for g, p in docs]
    gold = [Document(str(i), text, g) for i, (g, _) in enumerate(docs)]
    pred = [Document(str(i), text, p) for i, (_, p) in enumerate(docs)]
    ev = evaluate(gold, pred)
    n_gold = {lab: sum(e.label == lab for g, _ in docs for e in g) for lab in "AB"}
    n_pred = {lab: sum(e.label == lab for _, p in docs for e in p) for lab in "AB"}
    assert set(ev.strict.by_type) == set(ev.relaxed.by_type) == {lab for lab in "AB" if n_gold[lab] or n_pred[lab]}
    for lab, r in ev.relaxed.by_type.items():
        s = ev.strict.by_type[lab]
        for sc in (s, r):
            assert sc.tp + sc.fp == n_pred[lab]
            assert sc.tp + sc.fn == n_gold[lab]
        assert s.tp <= r.tp <= min(n_gold[lab], n_pred[lab])
    assert ev.strict.micro.tp <= ev.relaxed.micro.tp
    # the result does not depend on the order of entities within documents
    shuffled = [d.copy(entities=rnd.sample(d.entities, len(d.entities))) for d in pred]
    assert evaluate(gold, shuffled).as_dict() == ev.as_dict()
