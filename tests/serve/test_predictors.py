"""Predictors: the abbreviation step the service runs after a model (and before a selector), per request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bioner.doc import Document, Entity
from bioner.serve import FunctionPredictor, Options, create_app
from bioner.serve.predictors import SelectedPredictor

TEXT = "Acute myocardial infarction (MI) was seen. MI recurred."


def _long_form_only(docs: list[Document], options: Options) -> list[Document]:
    """A stand-in model that finds the long form and nothing else."""
    return [d.copy(entities=[Entity(6, 27, "disease", score=0.9)]) for d in docs]


def test_run_propagates_types_across_abbreviations_unless_the_request_turns_it_off() -> None:
    predictor = FunctionPredictor(_long_form_only, name="fn")
    with TestClient(create_app(predictor)) as client:  # the context runs the app's lifespan (its batcher)
        on = client.post("/extract", json={"text": TEXT, "labels": ["disease"]}).json()
        off = client.post("/extract", json={"text": TEXT, "labels": ["disease"], "abbreviations": False}).json()
    assert on["abbreviations"] is True
    assert [(e["text"], e["label"]) for e in on["results"][0]["entities"]] == [("myocardial infarction", "disease"), ("MI", "disease"), ("MI", "disease")]
    assert off["abbreviations"] is False
    assert [e["text"] for e in off["results"][0]["entities"]] == ["myocardial infarction"]


def test_a_selector_sees_the_propagated_entities() -> None:
    seen: list[list[str]] = []

    class Recorder:
        def select(self, docs: list[Document], engine: str | None = None) -> list[Document]:
            seen.append([d.text[e.start:e.end] for d in docs for e in d.entities])
            return [d.copy(entities=[e for e in d.entities if e.source != "abbreviation"]) for d in docs]

    selected = SelectedPredictor(FunctionPredictor(_long_form_only), Recorder())  # type: ignore[arg-type]
    [doc] = selected.run([Document("d", TEXT)], Options((("disease", "disease"),)))
    assert seen == [["myocardial infarction", "MI", "MI"]]
    assert [TEXT[e.start:e.end] for e in doc.entities] == ["myocardial infarction"]  # what the selector kept
