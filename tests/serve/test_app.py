"""POST /extract, GET /health, GET /models and the error contract, on the shipped span model (FastAPI TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bioner.engines.span import SpanModel
from bioner.errors import CODES
from bioner.models import DEFAULT_LABELS, span_labels
from bioner.serve import ServeSettings, create_app
from tests.serve.conftest import SENTENCES, direct, same, served

SETTINGS = ServeSettings(max_texts=4, max_chars=300, max_body_bytes=4000, max_labels=5, max_queue=64)
TWO = {"Disease": "disease", "Chemical": "chemical compound or drug"}


@pytest.fixture(scope="module")
def client(span_model: SpanModel) -> Iterator[TestClient]:
    with TestClient(create_app(span_model, SETTINGS)) as c:
        yield c


def test_one_text_gives_exact_offsets_and_the_model_defaults(client: TestClient, span_model: SpanModel) -> None:
    text = SENTENCES[0]
    r = client.post("/extract", json={"text": text})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "bioner-span-minilm" and body["engine"] == "span"
    assert body["labels"] == DEFAULT_LABELS and body["threshold"] == span_model.threshold and body["flat"] is True
    (result,) = body["results"]
    assert result["index"] == 0 and result["id"] is None
    for e in result["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    assert ("breast cancer", "disease") in {(e["text"], e["label"]) for e in result["entities"]}
    # the default labels go one prompt each, as in `bioner extract`
    assert same(served(result), direct(span_model, [text], DEFAULT_LABELS, per_label=True)[0])


def test_texts_and_documents_come_back_in_input_order_with_ids(client: TestClient, span_model: SpanModel) -> None:
    texts = SENTENCES[1:5]
    want = direct(span_model, texts, TWO)
    r = client.post("/extract", json={"texts": texts, "labels": TWO})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3]
    for res, w in zip(results, want):
        assert same(served(res), w)
    assert any(served(res) for res in results)  # the sentences do have diseases and chemicals
    docs = [{"id": f"PMID:{i}", "text": t} for i, t in enumerate(texts)]
    r = client.post("/extract", json={"documents": docs, "labels": TWO})
    assert [x["id"] for x in r.json()["results"]] == [d["id"] for d in docs]
    assert [served(x) for x in r.json()["results"]] == [served(x) for x in results]


def test_offsets_count_characters_not_bytes(client: TestClient) -> None:
    text = SENTENCES[2]  # "Crohn’s": a 3-byte apostrophe before the mention's end
    r = client.post("/extract", json={"text": text, "labels": ["disease", "drug"]})
    ents = r.json()["results"][0]["entities"]
    assert ents and all(text[e["start"] : e["end"]] == e["text"] for e in ents)
    assert "Crohn\u2019s disease" in {e["text"] for e in ents}


def test_labels_as_a_list_threshold_and_nesting_change_the_answer(client: TestClient, span_model: SpanModel) -> None:
    text = "Germline mutations in the BRCA1 gene predispose to early-onset breast cancer."
    low = client.post("/extract", json={"text": text, "labels": ["gene", "disease"], "threshold": 0.2}).json()
    high = client.post("/extract", json={"text": text, "labels": ["gene", "disease"], "threshold": 0.95}).json()
    assert low["threshold"] == 0.2 and high["threshold"] == 0.95
    n_low, n_high = len(low["results"][0]["entities"]), len(high["results"][0]["entities"])
    assert n_low > n_high
    assert {e["label"] for e in low["results"][0]["entities"]} <= {"gene", "disease"}
    nested = client.post("/extract", json={"text": text, "labels": ["gene", "disease"], "threshold": 0.2, "flat": False}).json()
    assert nested["flat"] is False
    # the labels reach the model as `bioner extract` sends them: "gene" prompted as the registered type, one prompt each
    label_set, per_label = span_labels(["gene", "disease"])
    assert per_label and label_set["gene"] != "gene"
    assert same(served(nested["results"][0]), direct(span_model, [text], label_set, threshold=0.2, flat=False, per_label=per_label)[0])
    assert len(nested["results"][0]["entities"]) >= n_low


def test_blank_texts_in_a_batch_get_no_entities(client: TestClient) -> None:
    r = client.post("/extract", json={"texts": ["", SENTENCES[1], "   "], "labels": TWO})
    assert r.status_code == 200
    assert [len(x["entities"]) for x in r.json()["results"]][::2] == [0, 0]


BAD: list[tuple[str, bytes | str | dict, int, str, str | None]] = [
    ("malformed JSON", b'{"text": ', 400, "E800", None),
    ("empty body", b"", 422, "E803", None),
    ("not an object", b"[1, 2]", 422, "E802", None),
    ("no text field", {"labels": ["disease"]}, 422, "E803", None),
    ("empty list", {"texts": []}, 422, "E803", "texts"),
    ("only blank", {"texts": [" ", ""]}, 422, "E803", "texts"),
    ("two inputs", {"text": "a", "texts": ["b"]}, 422, "E802", "texts"),
    ("wrong item type", {"texts": ["a", 3]}, 422, "E802", "texts[1]"),
    ("misspelt option", {"text": "a", "treshold": 0.3}, 422, "E802", "treshold"),
    ("misspelt document field", {"documents": [{"id": "a", "txt": "b"}]}, 422, "E802", "documents[0].txt"),
    ("threshold as a string", {"text": "a", "threshold": "0.5"}, 422, "E802", "threshold"),
    ("threshold above 1", {"text": "a", "threshold": 1.5}, 422, "E802", "threshold"),
    ("labels as a string", {"text": "a", "labels": "disease"}, 422, "E806", "labels"),
    ("labels as numbers", {"text": "a", "labels": [1]}, 422, "E806", "labels"),
    ("empty labels", {"text": "a", "labels": []}, 422, "E806", "labels"),
    ("repeated label", {"text": "a", "labels": ["gene", "gene"]}, 422, "E806", "labels"),
    ("blank prompt", {"text": "a", "labels": {"Gene": " "}}, 422, "E806", "labels"),
    ("too many labels", {"text": "a", "labels": list("abcdef")}, 422, "E806", "labels"),
    ("unknown model", {"text": "a", "model": "gliner-huge"}, 422, "E807", "model"),
    ("unknown engine", {"text": "a", "engine": "crf"}, 422, "E808", "engine"),
    ("engine not loaded", {"text": "a", "engine": "llm"}, 422, "E808", "engine"),
    ("llm option on span", {"text": "a", "scheme": "json"}, 422, "E808", "scheme"),
    ("too many texts", {"texts": ["a"] * 5}, 413, "E804", "texts"),
    ("text too long", {"documents": [{"id": "a", "text": "x" * 301}]}, 413, "E805", "documents[0].text"),
    ("body too large", {"text": "x" * 5000}, 413, "E801", None),
]


@pytest.mark.parametrize(("body", "status", "code", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_requests_get_a_clear_json_error(client: TestClient, body: bytes | dict, status: int, code: str, field: str | None) -> None:
    if isinstance(body, dict):
        r = client.post("/extract", json=body)
    else:
        r = client.post("/extract", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["code"], err["field"]) == (code, field)
    assert code in CODES and err["message"]


def test_limits_are_named_in_the_message(client: TestClient) -> None:
    msg = client.post("/extract", json={"texts": ["a"] * 5}).json()["error"]["message"]
    assert "5 texts" in msg and "at most 4" in msg
    msg = client.post("/extract", json={"text": "y" * 301}).json()["error"]["message"]
    assert "301 characters" in msg and "300" in msg


def test_content_type_other_than_json_is_415_and_none_is_read_as_json(client: TestClient) -> None:
    r = client.post("/extract", data={"text": "aspirin"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "E813"
    r = client.post("/extract", content=b'{"text": "Aspirin-induced asthma.", "labels": ["disease"]}')
    assert r.status_code == 200 and r.json()["results"][0]["entities"]


def test_unknown_paths_and_methods_answer_in_the_same_error_format(client: TestClient) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "E812"
    r = client.get("/extract")
    assert r.status_code == 405 and r.json()["error"]["code"] == "E812" and r.headers["allow"] == "POST"


def test_health_models_and_openapi(client: TestClient, span_model: SpanModel) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    h = health.json()
    assert h["status"] == "ok" and h["models"] == ["bioner-span-minilm"] and h["queue"]["capacity"] == 64
    assert h["batches"]["calls"] >= 1 and h["batches"]["texts"] >= h["batches"]["calls"]
    (m,) = client.get("/models").json()["models"]
    assert m["name"] == "bioner-span-minilm" and m["engine"] == "span" and m["default"] is True
    assert m["default_labels"] == DEFAULT_LABELS and m["default_threshold"] == span_model.threshold
    spec = client.get("/openapi.json").json()
    assert {"/extract", "/health", "/models"} <= set(spec["paths"])
    assert {"413", "422", "503"} <= set(spec["paths"]["/extract"]["post"]["responses"])
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
