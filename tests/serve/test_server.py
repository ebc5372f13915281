"""The service under real uvicorn on a free loopback port, over real HTTP: answers, body limits, graceful shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bioner.engines.span import SpanModel
from bioner.serve import FunctionPredictor, ServeSettings, create_app, is_loopback, running
from tests.serve.conftest import SENTENCES, Gate


def test_real_http_round_trip_and_body_limits(span_model: SpanModel) -> None:
    app = create_app(span_model, ServeSettings(max_body_bytes=2000))
    with running(app) as base:
        assert base.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=base, timeout=60) as client:
            r = client.post("/extract", json={"texts": SENTENCES[:2], "labels": ["disease", "chemical"]})
            assert r.status_code == 200, r.text
            ents = r.json()["results"][1]["entities"]
            assert {(e["text"], e["label"]) for e in ents} >= {("Cisplatin", "chemical"), ("nephrotoxicity", "disease")}
            # declared too large: refused from the Content-Length header alone
            r = client.post("/extract", content=b'{"text": "' + b"x" * 3000 + b'"}', headers={"content-type": "application/json"})
            assert r.status_code == 413 and r.json()["error"]["code"] == "E801"

            # chunked upload declares no length: counted as it arrives
            def chunks() -> Iterator[bytes]:
                yield b'{"text": "'
                for _ in range(30):
                    yield b"y" * 100
                yield b'"}'

            r = client.post("/extract", content=chunks(), headers={"content-type": "application/json"})
            assert r.status_code == 413 and r.json()["error"]["code"] == "E801"
            # the refused bodies were read and dropped, so the connection is still good for the next request
            assert client.get("/health").json()["status"] == "ok"


def test_shutdown_lets_running_and_queued_requests_finish(gated: tuple[Gate, FunctionPredictor]) -> None:
    """Uses the slow test double: one request is held in the model and one queued when shutdown starts."""
    gate, predictor = gated
    app = create_app(predictor, ServeSettings(max_batch=1, drain_timeout=20))
    results: dict[str, httpx.Response] = {}

    def post(name: str, base: str) -> None:
        results[name] = httpx.post(f"{base}/extract", json={"text": f"{name} text"}, timeout=30)

    server = running(app)
    base = server.__enter__()
    first = threading.Thread(target=post, args=("first", base))
    first.start()
    assert gate.started.wait(10)
    second = threading.Thread(target=post, args=("second", base))
    second.start()
    deadline = time.monotonic() + 10
    while app.state.batcher.queued_texts < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    stopper = threading.Thread(target=server.__exit__, args=(None, None, None))  # as SIGTERM: should_exit, then drain
    stopper.start()
    time.sleep(0.5)
    with pytest.raises(httpx.TransportError):  # no new connections once shutdown has begun
        httpx.get(f"{base}/health", timeout=2)
    gate.release.set()
    for t in (first, second, stopper):
        t.join(30)
        assert not t.is_alive()
    assert results["first"].status_code == 200 and results["second"].status_code == 200
    assert results["second"].json()["results"][0]["entities"][0]["text"] == "seco"
    assert app.state.batcher.closing


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.org")
