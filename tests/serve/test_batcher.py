"""Micro-batching: concurrent requests share model calls and each gets exactly its own answer; a full queue answers 503.

Concurrency runs through httpx's ASGI transport on one event loop, with the app's
lifespan entered by hand (the transport does not run it).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from bioner.doc import Document
from bioner.engines.span import SpanModel
from bioner.serve import FunctionPredictor, MicroBatcher, Options, ServeSettings, create_app
from tests.serve.conftest import SENTENCES, Gate, direct, same, served

DISEASE = {"Disease": "disease"}
CHEMICAL = {"Chemical": "chemical compound or drug"}


def run_with_client(app: FastAPI, fn: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
                return await fn(client)

    return asyncio.run(main())


def fire(bodies: list[dict]) -> Callable[[httpx.AsyncClient], Awaitable[list[httpx.Response]]]:
    async def go(client: httpx.AsyncClient) -> list[httpx.Response]:
        return list(await asyncio.gather(*(client.post("/extract", json=b) for b in bodies)))

    return go


def test_concurrent_requests_share_model_calls_and_get_their_own_answers(span_model: SpanModel) -> None:
    app = create_app(span_model, ServeSettings(max_batch=32, max_wait_ms=200))
    texts = SENTENCES * 2
    bodies = [{"text": t, "labels": DISEASE} for t in texts]
    responses = run_with_client(app, fire(bodies))
    want = direct(span_model, texts, DISEASE)
    assert [r.status_code for r in responses] == [200] * len(texts)
    for r, w in zip(responses, want):
        assert same(served(r.json()["results"][0]), w)
    stats = app.state.batcher.stats
    assert stats.requests == len(texts) and stats.texts == len(texts)
    assert stats.calls < len(texts) and stats.largest_call > 1  # batched, not one call per request


def test_requests_with_different_options_are_not_mixed(span_model: SpanModel) -> None:
    app = create_app(span_model, ServeSettings(max_batch=32, max_wait_ms=200))
    texts = SENTENCES[:4]
    bodies = [{"text": t, "labels": DISEASE if i % 2 == 0 else CHEMICAL} for i, t in enumerate(texts)]
    bodies.append({"texts": texts[:2], "labels": DISEASE, "threshold": 0.9})
    responses = run_with_client(app, fire(bodies))
    for i, r in enumerate(responses[:4]):
        labels = DISEASE if i % 2 == 0 else CHEMICAL
        assert r.json()["labels"] == labels
        assert same(served(r.json()["results"][0]), direct(span_model, [texts[i]], labels)[0])
    strict = responses[4].json()
    assert strict["threshold"] == 0.9
    want = [[e for e in d if e[3] > 0.9] for d in direct(span_model, texts[:2], DISEASE)]
    assert len(strict["results"]) == len(want) and all(same(served(x), w) for x, w in zip(strict["results"], want, strict=True))
    assert app.state.batcher.stats.calls >= 3  # three option groups: disease, chemical, disease at 0.9


def test_max_batch_1_turns_batching_off(span_model: SpanModel) -> None:
    app = create_app(span_model, ServeSettings(max_batch=1, max_wait_ms=200))
    responses = run_with_client(app, fire([{"text": t, "labels": DISEASE} for t in SENTENCES[:4]]))
    assert all(r.status_code == 200 for r in responses)
    stats = app.state.batcher.stats
    assert (stats.calls, stats.largest_call) == (4, 1)


def test_a_full_queue_answers_503_with_retry_after(gated: tuple[Gate, FunctionPredictor]) -> None:
    """Uses the slow test double: the worker must be held busy for the queue to fill deterministically."""
    gate, predictor = gated
    app = create_app(predictor, ServeSettings(max_batch=1, max_texts=2, max_queue=2))

    async def go(client: httpx.AsyncClient) -> tuple[list[httpx.Response], httpx.Response, httpx.Response]:
        running = asyncio.create_task(client.post("/extract", json={"text": "held in the model"}))
        await asyncio.to_thread(gate.started.wait, 10)
        queued = asyncio.create_task(client.post("/extract", json={"text": "waits in the queue"}))
        while app.state.batcher.queued_texts < 1:
            await asyncio.sleep(0.01)
        refused = await client.post("/extract", json={"texts": ["one", "too many"]})
        health = await client.get("/health")
        gate.release.set()
        return [await running, await queued], refused, health

    done, refused, health = run_with_client(app, go)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "E809"
    assert int(refused.headers["Retry-After"]) >= 1
    assert health.json()["queue"]["texts"] == 1
    assert [r.status_code for r in done] == [200, 200]  # what was accepted is still answered
    assert [r.json()["results"][0]["entities"][0]["text"] for r in done] == ["held", "wait"]


def test_closing_finishes_queued_work_and_refuses_new_work(gated: tuple[Gate, FunctionPredictor]) -> None:
    """Uses the slow test double, to have one call running and one queued when shutdown begins."""
    gate, predictor = gated
    batcher = MicroBatcher(max_batch=1, max_wait_ms=0, max_queue=8)
    predict = functools.partial(predictor.predict, options=Options((("x", "x"),)))

    async def go() -> tuple[list[list[str]], str]:
        batcher.start()
        first = asyncio.create_task(batcher.submit("k", [Document("a", "first")], predict))
        await asyncio.to_thread(gate.started.wait, 10)
        second = asyncio.create_task(batcher.submit("k", [Document("b", "second")], predict))
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(batcher.close(timeout=10))
        await asyncio.sleep(0.05)
        try:
            await batcher.submit("k", [Document("c", "late")], predict)
            refused = "accepted"
        except Exception as exc:
            refused = type(exc).__name__
        gate.release.set()
        out = [[d.text for d in await first], [d.text for d in await second]]
        await closing
        return out, refused

    out, refused = asyncio.run(go())
    assert out == [["first"], ["second"]] and refused == "Closed"
    assert gate.calls == [["first"], ["second"]]
