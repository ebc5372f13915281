"""The cross-encoder: input pairs, scoring in input order, the selection stage, saving and loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.selector import load_selector
from bioner.selector.model import CLOSE, OPEN, SCORE_ATTR, SETTINGS, Selector, pair_text, type_text

TEXT = "Germline mutations in BRCA1 predispose to early-onset breast cancer."


def test_pair_text_marks_the_mention_and_cuts_context_at_spaces() -> None:
    first, second = pair_text(TEXT, Entity(54, 67, "Disease"), 20)
    assert first.startswith("breast cancer ; disease: A disease")
    assert f"{OPEN} breast cancer {CLOSE}" in second
    assert second == f"to early-onset {OPEN} breast cancer {CLOSE} ."  # 20 chars back reach into "predispose": cut at the next space
    multi = "A\n\nsevere   asthma attack"
    assert pair_text(multi, Entity(3, 18, "Disease"), 50)[1] == f"A {OPEN} severe asthma {CLOSE} attack"


def test_type_text_for_registered_aliases_and_own_types() -> None:
    assert type_text("Chemical").startswith("chemical compound or drug: A chemical substance")
    assert type_text("gene") == type_text("GENE")  # an alias reads as the registered type
    assert type_text("cell_organelle") == "cell organelle"


def test_scores_keep_input_order_and_select_filters(tiny_encoder: Path) -> None:
    sel = Selector.create(tiny_encoder, context=40)
    items = [(TEXT, Entity(54, 67, "Disease")), ("Aspirin.", Entity(0, 7, "Chemical")), (TEXT, Entity(22, 27, "GENE"))]
    batched = sel.score(items, batch_size=2)
    alone = [sel.score([it])[0] for it in items]
    assert batched == pytest.approx(alone, abs=1e-5) and all(0.0 < p < 1.0 for p in batched)
    doc = Document("d", TEXT, [Entity(22, 27, "GENE", score=0.9), Entity(54, 67, "Disease", score=0.8)])
    probs = sel.score([(TEXT, e) for e in doc.entities])
    cut = (probs[0] + probs[1]) / 2
    [kept] = sel.select([doc], threshold=cut)
    best = max(range(2), key=lambda k: probs[k])
    assert [e.key() for e in kept.entities] == [doc.entities[best].key()]
    assert kept.entities[0].score == doc.entities[best].score  # the engine's score is kept
    assert float(kept.entities[0].attrs[SCORE_ATTR]) == pytest.approx(probs[best], abs=1e-4)
    assert kept.metadata["selector"] == {"kept": 1, "rejected": 1, "threshold": cut}
    assert doc.entities and len(doc.entities) == 2  # input untouched
    assert len(sel.select([doc], threshold=0.0)[0].entities) == 2 and not sel.select([doc], threshold=1.0)[0].entities
    with pytest.raises(ValueError):
        sel.select([doc], threshold=1.5)


def test_save_load_round_trip_in_half_precision(tiny_encoder: Path, tmp_path: Path) -> None:
    sel = Selector.create(tiny_encoder)
    sel.settings.threshold = 0.37
    folder = sel.save(tmp_path / "sel", half=True)
    back = load_selector(folder)
    assert back is not None and back.threshold == 0.37 and back.settings.base == str(tiny_encoder)
    items = [(TEXT, Entity(54, 67, "Disease")), (TEXT, Entity(0, 8, "Disease"))]
    assert back.score(items) == pytest.approx(sel.score(items), abs=2e-3)  # float16 storage
    assert next(p for p in sel.model.parameters()).dtype == back.model.dtype  # loaded back as float32
    assert load_selector(None) is None and load_selector(back) is back


def test_load_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        Selector.load(tmp_path / "missing")
    assert exc.value.code == "E620" and "missing" in str(exc.value)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / SETTINGS).write_text(json.dumps({"base": "x", "colour": 1}), encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        Selector.load(bad)
    assert exc.value.code == "E621" and "colour" in str(exc.value)
    (bad / SETTINGS).write_text(json.dumps({"base": "x", "version": 99}), encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        Selector.load(bad)
    assert exc.value.code == "E621" and "newer" in str(exc.value)


def test_default_names_the_shipped_selector(tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bioner.selector
    from bioner.annotate import _selector_folder

    sel = Selector.create(tiny_encoder)
    sel.settings.threshold = 0.42
    shipped = sel.save(tmp_path / "models" / "shipped")
    monkeypatch.setattr(bioner.selector, "DEFAULT_SELECTOR_DIR", shipped)
    back = load_selector("default")
    assert back is not None and back.threshold == 0.42
    assert _selector_folder("default", None) == shipped.resolve()
    monkeypatch.setattr(bioner.selector, "DEFAULT_SELECTOR_DIR", tmp_path / "not-installed")
    for attempt in (lambda: load_selector("default"), lambda: _selector_folder("default", None)):
        with pytest.raises(BionerError) as exc:
            attempt()
        assert exc.value.code == "E620" and "not installed" in str(exc.value) and "not-installed" in str(exc.value)


def test_a_lora_selector_names_its_base_as_given_not_where_it_was_read(tiny_encoder: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import bioner.selector.model as model_mod

    real = model_mod._resolve_base
    monkeypatch.setattr(model_mod, "_resolve_base", lambda name: str(tiny_encoder) if name == "tiny-alias" else real(name))
    folder = Selector.create("tiny-alias", lora_r=2).save(tmp_path / "sel")  # as gemma3-270m, read from a cache folder
    assert json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"] == "tiny-alias"
    assert Selector.load(folder).settings.base == "tiny-alias"


def test_the_shipped_selector_is_whole_and_names_its_base() -> None:
    """What ``--selector default`` loads: an adapter on the packaged Gemma (named, not a local path) and rules for both engines."""
    import json

    from bioner.selector import DEFAULT_SELECTOR_DIR
    from bioner.selector.model import SETTINGS, SelectorSettings

    settings = SelectorSettings(**json.loads((DEFAULT_SELECTOR_DIR / SETTINGS).read_text(encoding="utf-8")))
    adapter = json.loads((DEFAULT_SELECTOR_DIR / "adapter_config.json").read_text(encoding="utf-8"))
    assert settings.base == adapter["base_model_name_or_path"] == "gemma3-270m"
    assert settings.lora == {"r": adapter["r"], "alpha": adapter["lora_alpha"]}
    assert (DEFAULT_SELECTOR_DIR / "adapter_model.safetensors").stat().st_size > 1_000_000
    assert set(settings.thresholds) == {"span", "llm"} and all(0 < t < 1 for t in settings.thresholds.values())
    # release 2 is release 1 (dev parts: the three corpora) trained further; its span rule chosen on all three corpora's dev
    history = settings.trained_on
    assert set(history["init"]["dev_parts"]) == {"ncbi-disease", "bc5cdr", "bc2gm"}
    assert [Path(g).name.split("-dev")[0] for g in history["rules"]["span"]["gold"]] == ["ncbi-disease", "bc5cdr", "bc2gm"]


def test_a_causal_lm_can_be_the_base(tiny_lm_dir: Path) -> None:
    sel = Selector.create(tiny_lm_dir)
    assert sel.tokenizer.pad_token_id is not None and sel.model.config.pad_token_id == sel.tokenizer.pad_token_id
    items = [(TEXT, Entity(54, 67, "Disease")), ("Aspirin is a drug used widely.", Entity(0, 7, "Chemical"))]
    batched = sel.score(items, batch_size=2)
    assert batched == pytest.approx([sel.score([it])[0] for it in items], abs=1e-4)  # padding does not change a score


def test_extract_passes_every_engine_entity_through_the_selector(tiny_encoder: Path) -> None:
    from bioner.models import extract

    sel = Selector.create(tiny_encoder)
    text = "Germline mutations in BRCA1 predispose to early-onset breast cancer."
    [plain] = extract(text, "disease,gene")
    assert plain.entities  # the shipped model finds something here
    [kept] = extract(text, "disease,gene", selector=sel, selector_threshold=0.0)
    assert [e.key() for e in kept.entities] == [e.key() for e in plain.entities]
    assert all(SCORE_ATTR in e.attrs for e in kept.entities)
    [none] = extract(text, "disease,gene", selector=sel, selector_threshold=1.0)
    assert not none.entities and none.metadata["selector"]["rejected"] == len(plain.entities)
    with pytest.raises(BionerError):
        extract(text, "disease", selector="no/such/selector")


def test_annotate_runs_the_selector_and_records_it(tiny_encoder: Path, tmp_path: Path) -> None:
    import bioner.io
    from bioner.annotate import annotate, folder_fingerprint, read_output

    sel = Selector.create(tiny_encoder).save(tmp_path / "sel")
    src = tmp_path / "in.jsonl"
    bioner.io.write([Document("a", "Crohn disease and ibuprofen."), Document("b", "Asthma was treated with salbutamol.")], src)
    plain = list(read_output(annotate([src], tmp_path / "plain", labels="disease").out_dir))
    assert sum(len(d.entities) for d in plain) > 0
    res = annotate([src], tmp_path / "all", labels="disease", selector=sel, selector_threshold=0.0)
    kept = list(read_output(res.out_dir))
    assert [[e.key() for e in d.entities] for d in kept] == [[e.key() for e in d.entities] for d in plain]
    manifest = json.loads((res.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["selector_fingerprint"] == folder_fingerprint(sel) and manifest["options"]["selector_threshold"] == 0.0
    with pytest.raises(BionerError) as exc:  # another threshold into the same folder: refused, not mixed
        annotate([src], tmp_path / "all", labels="disease", selector=sel, selector_threshold=1.0)
    assert exc.value.code == "E821" and "selector_threshold" in str(exc.value)
    none = annotate([src], tmp_path / "none", labels="disease", selector=sel, selector_threshold=1.0)
    assert none.entities == 0
    with pytest.raises(BionerError) as exc:
        annotate([src], tmp_path / "x", labels="disease", selector=tmp_path / "nope")
    assert exc.value.code == "E620"


def test_the_service_verifies_entities_with_a_selector(tiny_encoder: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from bioner.serve import ServeSettings
    from bioner.serve.app import create_app
    from bioner.serve.predictors import FunctionPredictor, Options, SelectedPredictor
    from bioner.serve.server import load_predictors

    def two(docs: list[Document], options: Options) -> list[Document]:
        return [d.copy(entities=[Entity(0, 7, "Chemical", score=0.9), Entity(18, 31, "Disease", score=0.8)]) for d in docs]

    sel = Selector.create(tiny_encoder)
    probs = sel.score([("Aspirin may cause Reye syndrome.", Entity(0, 7, "Chemical")), ("Aspirin may cause Reye syndrome.", Entity(18, 31, "Disease"))])
    sel.settings.threshold = (probs[0] + probs[1]) / 2  # accepts exactly one of the two
    served = SelectedPredictor(FunctionPredictor(two, name="fn", default_labels={"Chemical": "chemical", "Disease": "disease"}), sel)
    with TestClient(create_app([served], ServeSettings())) as client:
        r = client.post("/extract", json={"text": "Aspirin may cause Reye syndrome."})
        assert r.status_code == 200, r.text
        [res] = r.json()["results"]
        assert len(res["entities"]) == 1 and res["entities"][0]["start"] == (0 if probs[0] > probs[1] else 18)
        info = client.get("/models").json()
        assert info["models"][0]["selector"]["threshold"] == sel.threshold
    with pytest.raises(BionerError) as exc:
        load_predictors([None], selector=tmp_path / "nope")
    assert exc.value.code == "E620"
