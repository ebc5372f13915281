"""Micro-batching: requests queue on the event loop, one worker runs the model on batches of them.

Each request is an item (its texts, a grouping key, the function that predicts
them). The worker takes the oldest item, waits up to ``max_wait_ms`` from that
item's arrival (or until ``max_batch`` texts are queued) for others to join, splits
what it took into groups of equal key, and runs one model call per group in a
single dedicated thread, so the event loop keeps accepting requests while torch
works and model calls never overlap (a CPU model gains nothing from running twice
at once, and a GPU one would only contend). Each request's future gets its own
slice of the output.

The queue is bounded in texts: ``submit`` raises ``QueueFull`` (carrying a
Retry-After estimate) instead of letting latency grow without limit. ``close``
stops new submissions and waits until everything queued and running is done.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bioner.doc import Document

log = logging.getLogger("bioner.serve")

PredictCall = Callable[[list[Document]], list[Document]]


class QueueFull(Exception):
    """The queue holds ``max_queue`` texts already; retry after ``retry_after`` seconds."""

    def __init__(self, queued: int, limit: int, retry_after: int) -> None:
        super().__init__(f"{queued} texts are queued (limit {limit})")
        self.queued = queued
        self.limit = limit
        self.retry_after = retry_after


class Closed(Exception):
    """The batcher is shutting down and takes no new work."""


class PredictionError(Exception):
    """The model call for a request failed (the original exception is its cause)."""


@dataclass
class _Item:
    key: Hashable
    docs: list[Document]
    predict: PredictCall
    future: asyncio.Future[list[Document]]
    arrived: float  # loop.time() at submission


@dataclass
class BatchStats:
    """Counters shown by ``GET /health`` (and read by tests and the bench)."""

    calls: int = 0  # model calls
    requests: int = 0  # requests answered (with entities or an error)
    texts: int = 0  # texts predicted
    failed_calls: int = 0
    largest_call: int = 0  # most texts in one model call
    seconds_per_text: float = 0.0  # running average of model time per text: the Retry-After estimate

    def as_dict(self) -> dict[str, int | float]:
        return dict(self.__dict__)


@dataclass
class MicroBatcher:
    """Queue + one worker task + one model thread; see the module doc."""

    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._queue: deque[_Item] = deque()
        self._queued_texts = 0
        self._running_texts = 0
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start the worker on the running event loop (idempotent)."""
        if self._worker is not None and not self._worker.done():
            return
        self._closing = False
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bioner-model")
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="bioner-batcher")

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def queued_texts(self) -> int:
        return self._queued_texts

    @property
    def busy_texts(self) -> int:
        """Texts queued or inside the running model call."""
        return self._queued_texts + self._running_texts

    async def close(self, timeout: float | None = None) -> None:
        """Refuse new work, finish what is queued and running, then stop the worker and its thread.

        After ``timeout`` seconds whatever is still queued fails with ``Closed``; a
        model call already running cannot be interrupted and is left to finish.
        """
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), timeout)
            except asyncio.TimeoutError:
                log.error("shutdown: %d queued texts not annotated within %.0f s", self._queued_texts, timeout or 0)
                self._fail_queued(Closed("the server shut down before this request was annotated"))
                self._worker.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        self._worker = None

    # -- submitting ----------------------------------------------------------

    async def submit(self, key: Hashable, docs: list[Document], predict: PredictCall) -> list[Document]:
        """Queue ``docs`` and wait for their predictions (in order). Raises QueueFull, Closed or PredictionError."""
        if self._closing:
            raise Closed("the server is shutting down")
        if self._worker is None:
            self.start()  # an app driven without its lifespan (some ASGI test transports)
        if self._queued_texts and self._queued_texts + len(docs) > self.max_queue:
            raise QueueFull(self._queued_texts, self.max_queue, self.retry_after(len(docs)))
        loop = asyncio.get_running_loop()
        item = _Item(key, docs, predict, loop.create_future(), loop.time())
        self._queue.append(item)
        self._queued_texts += len(docs)
        assert self._wake is not None
        self._wake.set()
        return await item.future

    def retry_after(self, extra: int = 0) -> int:
        """Seconds until the queue has room, by the model's recent speed (at least 1)."""
        per_text = self.stats.seconds_per_text or 0.05  # before any call: a guess for a small CPU model
        return max(1, math.ceil((self.busy_texts + extra) * per_text / 2))  # half the backlog gone frees enough room

    # -- the worker ----------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # anchored at the oldest arrival: under load items already waited, so no extra wait
            deadline = self._queue[0].arrived + self.max_wait_ms / 1000
            while self._queued_texts < self.max_batch and not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            for items in self._groups(self._take()):
                await self._call(loop, items)

    def _take(self) -> list[_Item]:
        """Pop queued items up to ``max_batch`` texts (always at least one), skipping abandoned ones."""
        taken: list[_Item] = []
        n = 0
        while self._queue:
            item = self._queue[0]
            if item.future.done():  # the client went away (request cancelled): nothing to compute
                self._queue.popleft()
                self._queued_texts -= len(item.docs)
                continue
            if taken and n + len(item.docs) > self.max_batch:
                break
            self._queue.popleft()
            self._queued_texts -= len(item.docs)
            taken.append(item)
            n += len(item.docs)
        return taken

    @staticmethod
    def _groups(items: list[_Item]) -> list[list[_Item]]:
        groups: dict[Hashable, list[_Item]] = {}
        for item in items:
            groups.setdefault(item.key, []).append(item)
        return list(groups.values())

    async def _call(self, loop: asyncio.AbstractEventLoop, items: list[_Item]) -> None:
        docs = [d for it in items for d in it.docs]
        self._running_texts = len(docs)
        started = time.perf_counter()
        try:
            out = await loop.run_in_executor(self._executor, _checked, items[0].predict, docs)
        except Exception as exc:
            self.stats.failed_calls += 1
            if len(items) > 1:
                # one bad request must not fail the others that happened to share its call
                for item in items:
                    await self._call(loop, [item])
                return
            self._resolve(items[0], exc=exc)
            return
        finally:
            self._running_texts = 0
        self._record(len(docs), time.perf_counter() - started)
        at = 0
        for item in items:
            self._resolve(item, out[at : at + len(item.docs)])
            at += len(item.docs)

    def _resolve(self, item: _Item, result: list[Document] | None = None, exc: BaseException | None = None) -> None:
        self.stats.requests += 1
        if item.future.done():
            return
        if exc is not None:
            err = PredictionError(f"{type(exc).__name__}: {exc}")
            err.__cause__ = exc
            item.future.set_exception(err)
        else:
            item.future.set_result(result or [])

    def _record(self, texts: int, seconds: float) -> None:
        s = self.stats
        s.calls += 1
        s.texts += texts
        s.largest_call = max(s.largest_call, texts)
        per_text = seconds / max(texts, 1)
        s.seconds_per_text = per_text if s.seconds_per_text == 0 else 0.8 * s.seconds_per_text + 0.2 * per_text

    def _fail_queued(self, exc: BaseException) -> None:
        while self._queue:
            item = self._queue.popleft()
            self._queued_texts -= len(item.docs)
            if not item.future.done():
                item.future.set_exception(exc)


def _checked(predict: PredictCall, docs: list[Document]) -> list[Document]:
    """Run ``predict`` and check it returned one document per input, in order."""
    out = predict(docs)
    if len(out) != len(docs) or any(a.text != b.text for a, b in zip(out, docs)):
        raise RuntimeError(f"the model returned {len(out)} documents for {len(docs)} inputs, or changed their order or text")
    return out
