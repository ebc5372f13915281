"""``engine: "llm"`` through the service, on the tiny random causal LM of tests/tiny_lm.py (what it writes is noise;
the checks are about routing, options and offsets, which do not depend on the model being any good)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bioner.engines.generative.engine import LLMEngine
from bioner.engines.span import SpanModel
from bioner.serve import ServeSettings, create_app
from tests.serve.conftest import SENTENCES


@pytest.fixture(scope="module")
def client(span_model: SpanModel, tiny_lm_dir: Path) -> Iterator[TestClient]:
    llm = LLMEngine.load(str(tiny_lm_dir), scheme="json", max_new_tokens=8, threads=1)
    with TestClient(create_app([span_model, llm], ServeSettings())) as c:
        yield c


def test_models_lists_both_engines(client: TestClient) -> None:
    models = {m["engine"]: m for m in client.get("/models").json()["models"]}
    assert set(models) == {"span", "llm"}
    assert models["llm"]["scheme"] == "json" and models["llm"]["default_threshold"] is None and models["llm"]["default"] is True


def test_llm_engine_answers_each_text_with_valid_offsets(client: TestClient) -> None:
    texts = SENTENCES[:3]
    r = client.post("/extract", json={"texts": texts, "engine": "llm", "labels": {"disease": "disease", "gene": "gene"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["engine"] == "llm" and body["model"].startswith("llm:") and body["threshold"] is None
    assert [x["index"] for x in body["results"]] == [0, 1, 2]
    for text, res in zip(texts, body["results"]):
        for e in res["entities"]:
            assert text[e["start"] : e["end"]] == e["text"] and e["label"] in ("disease", "gene")
    # naming the model selects its engine
    r = client.post("/extract", json={"text": texts[0], "model": body["model"]})
    assert r.status_code == 200 and r.json()["engine"] == "llm"


@pytest.mark.parametrize(("extra", "field"), [({"threshold": 0.3}, "threshold"), ({"flat": False}, "flat"), ({"scheme": "tags"}, "scheme"),
                                              ({"adapter": "other-adapter"}, "adapter"), ({"model": "bioner-span-minilm"}, "engine")])
def test_options_the_llm_does_not_take_are_refused(client: TestClient, extra: dict, field: str) -> None:
    r = client.post("/extract", json={"text": "IL-2 activates T cells.", "engine": "llm", **extra})
    assert r.status_code == 422 and r.json()["error"] == {**r.json()["error"], "code": "E808", "field": field}
