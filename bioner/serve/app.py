"""The FastAPI app: ``POST /extract``, ``GET /health``, ``GET /models`` (and FastAPI's ``/docs``, ``/openapi.json``).

``create_app`` takes models that are already loaded (a ``SpanModel``, an
``LLMEngine``, a ``Predictor`` or a predict function, or several), so the same app
runs under uvicorn (``bioner serve``), inside another ASGI server, or in tests.
Every error is JSON ``{"error": {"code", "message", "field"}}`` with a stable code.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import bioner
from bioner.doc import Document

from .api_errors import ApiError
from .batcher import Closed, MicroBatcher, PredictionError, QueueFull
from .jobs import Job, Registry, build_job
from .predictors import Predictor, as_predictor
from .schemas import EntityOut, ErrorResponse, ExtractRequest, ExtractResponse, HealthResponse, ModelInfo, ModelsResponse, ResultOut
from .settings import ServeSettings

log = logging.getLogger("bioner.serve")

ENDPOINTS = "POST /extract, GET /health, GET /models, GET /docs"
DRAIN_LIMIT = 16_000_000  # bytes of a refused body read and dropped so the client sees the answer; past it the connection is closed
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": what}
    for status, what in [(400, "Malformed JSON (E800)"), (413, "Body, text count or text length over the limit (E801, E804, E805)"),
                         (415, "Not JSON (E813)"), (422, "Invalid field, empty input, labels, model or engine (E802, E803, E806-E808)"),
                         (500, "Prediction failed (E811)"), (503, "Queue full, with Retry-After (E809), or shutting down (E810)")]
}

ModelsArg = Any | Sequence[Any] | Mapping[str, Any]


def _predictors(models: ModelsArg, batch_size: int) -> list[Predictor]:
    if isinstance(models, Mapping):
        out = []
        for name, m in models.items():
            p = as_predictor(m, batch_size=batch_size)
            p.name = name
            out.append(p)
        return out
    if isinstance(models, Sequence) and not isinstance(models, str):
        return [as_predictor(m, batch_size=batch_size) for m in models]
    return [as_predictor(models, batch_size=batch_size)]


def create_app(models: ModelsArg, settings: ServeSettings | None = None) -> FastAPI:
    """The service over ``models``: one model or a list (each named by its own name), or a mapping name -> model.

    The first model of each engine answers requests that name none. Models are used
    as given; load them first (``bioner.models.load_model`` / ``load_llm``).
    """
    settings = settings or ServeSettings()
    registry = Registry(_predictors(models, settings.batch_size))
    batcher = MicroBatcher(max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            # uvicorn has already waited for open requests; this finishes anything still queued
            await batcher.close(timeout=settings.drain_timeout)

    app = FastAPI(
        title="bioner",
        version=bioner.__version__,
        description="Biomedical named entity recognition over HTTP: entities with exact character offsets (end-exclusive) "
                    "for any entity types named in natural language. Concurrent requests are micro-batched into model calls.",
        lifespan=lifespan,
        strict_content_type=False,  # a body without Content-Type is read as JSON; other types get 415 from RequestGuard
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.batcher = batcher
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    _add_error_handlers(app)

    @app.post("/extract", response_model=ExtractResponse, responses=_ERRORS,
              summary="Find entities in one or many texts")
    async def extract(req: ExtractRequest) -> ExtractResponse:
        """Entities per text, in input order, with character offsets into the text as sent (``text[start:end]`` is the mention)."""
        job = build_job(req, registry, settings)
        docs = await _run(batcher, job)
        return _response(job, docs)

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse, "description": "Shutting down"}})
    async def health() -> JSONResponse:
        """Liveness and load: 200 while serving, 503 once shutdown has begun (so a balancer stops sending work)."""
        body = HealthResponse(
            status="draining" if batcher.closing else "ok",
            models=registry.names(),
            queue={"texts": batcher.queued_texts, "capacity": settings.max_queue, "max_batch": settings.max_batch},
            batches=batcher.stats.as_dict(),
        )
        return JSONResponse(body.model_dump(), status_code=503 if batcher.closing else 200)

    @app.get("/models", response_model=ModelsResponse)
    async def models_() -> ModelsResponse:
        """The loaded models, their engine, default labels (label -> prompt) and default threshold."""
        return ModelsResponse(models=[ModelInfo(**p.info(), default=registry.default.get(p.engine) is p) for p in registry])

    return app


async def _run(batcher: MicroBatcher, job: Job) -> list[Document]:
    try:
        return await batcher.submit(job.key, job.docs, functools.partial(job.predictor.run, options=job.options))
    except QueueFull as exc:
        raise ApiError(503, "E809", f"server busy: {exc.queued} texts are waiting (limit {exc.limit}); retry in {exc.retry_after} s",
                       headers={"Retry-After": str(exc.retry_after)}) from None
    except Closed:
        raise ApiError(503, "E810", "the server is shutting down; send the request again to another instance or after the restart") from None
    except PredictionError as exc:
        log.error("prediction failed for model %s", job.predictor.name, exc_info=exc.__cause__)
        raise ApiError(500, "E811", f"prediction failed in model {job.predictor.name!r}: {exc}") from None


def _response(job: Job, docs: list[Document]) -> ExtractResponse:
    results = []
    for i, (doc, doc_id) in enumerate(zip(docs, job.ids)):
        ents = [EntityOut(start=e.start, end=e.end, text=e.text_in(doc.text), label=e.label, score=e.score,
                          fragments=[(s, t) for s, t in e.fragments] or None)
                for e in sorted(doc.entities, key=lambda e: e.sort_key())]
        results.append(ResultOut(index=i, id=doc_id, entities=ents))
    o = job.options
    return ExtractResponse(model=job.predictor.name, engine=job.predictor.engine, labels=o.label_map, threshold=o.threshold, flat=o.flat,
                           abbreviations=o.abbreviations, results=results)


# ---------------------------------------------------------------------------
# Errors


def _field(loc: Sequence[Any]) -> str:
    """``("documents", 1, "text")`` -> ``documents[1].text``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_error(exc: RequestValidationError) -> ApiError:
    """Pydantic's and FastAPI's body errors as one ApiError about the first problem."""
    errors = list(exc.errors())
    # an unknown field explains the others (a misspelt "txt" also makes "text" missing): report it first
    errors.sort(key=lambda e: e.get("type") != "extra_forbidden")
    first = errors[0]
    loc = list(first.get("loc", ()))
    kind = first.get("type", "")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    if kind == "json_invalid":
        pos = loc[1] if len(loc) > 1 else "?"
        reason = (first.get("ctx") or {}).get("error", "JSON decode error")
        return ApiError(400, "E800", f"the body is not valid JSON: {reason} at character {pos}")
    loc = loc[1:] if loc[:1] == ["body"] else loc
    if not loc:
        if kind == "missing":
            return ApiError(422, "E803", 'empty request body: send a JSON object such as {"text": "..."}')
        return ApiError(422, "E802", f'the body must be a JSON object such as {{"text": "..."}}, not {type(first.get("input")).__name__}')
    top = loc[0]
    if top == "labels":
        return ApiError(422, "E806", 'labels must be a list of types (["disease", "gene"]) or an object mapping label -> natural-language '
                                     'prompt ({"Disease": "disease"})', field="labels")
    # pydantic puts union member names (e.g. "list[str]") in the location; they mean nothing to a client
    field = _field([p for p in loc if isinstance(p, int) or "[" not in str(p)])
    if kind == "extra_forbidden":
        allowed = ", ".join(ExtractRequest.model_fields) if len(loc) == 1 else "id, text"
        return ApiError(422, "E802", f"unknown field {field!r}; allowed: {allowed}", field=field)
    return ApiError(422, "E802", f"{field}: {first.get('msg', 'invalid value')}{more}", field=field)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code in (404, 405):
            err = ApiError(exc.status_code, "E812", f"{request.method} {request.url.path}: {exc.detail}; endpoints: {ENDPOINTS}", headers=headers)
        elif exc.status_code == 413:
            err = ApiError(413, "E801", str(exc.detail), headers=headers)
        else:
            err = ApiError(exc.status_code if 400 <= exc.status_code < 500 else 400, "E800", f"bad request: {exc.detail}", headers=headers)
        return err.response()


# ---------------------------------------------------------------------------
# Request guard: size and content type before any parsing


class RequestGuard:
    """ASGI middleware: refuse a body over ``max_body_bytes`` (413, E801) or not JSON (415, E813).

    The declared Content-Length is checked first, then the bytes actually received
    (chunked uploads declare none), so an oversized body is never held in memory
    whole; a body within the limit is passed on unchanged.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            await self._refuse(scope, receive, send, ApiError(
                415, "E813", f"content type {ctype!r}: send JSON with Content-Type: application/json (curl: -H 'Content-Type: application/json')"))
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, receive, send, self._too_large(int(declared)), drain=int(declared) <= DRAIN_LIMIT)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, receive, send, self._too_large(None), unread=message.get("more_body", False))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: disconnect notices

        await self.app(scope, replay, send)

    def _too_large(self, declared: int | None) -> ApiError:
        size = f"{declared} bytes" if declared is not None else f"more than {self.max_body_bytes} bytes"
        return ApiError(413, "E801", f"request body of {size}; this server takes at most {self.max_body_bytes} bytes (send fewer or shorter texts)")

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, err: ApiError, *, unread: bool = True, drain: bool = True) -> None:
        """Send ``err``; first read and drop what is ``unread`` of the body (with ``drain``, up to ``DRAIN_LIMIT`` bytes).

        A server that answers and closes while the client is still sending makes the
        client's TCP stack see a reset before it reads the answer; draining lets it read
        the 413/415. A body left unread (too big to drain) closes the connection.
        """
        drained = 0
        while unread and drain and drained <= DRAIN_LIMIT:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            unread = message.get("more_body", False)
        response = err.response()
        if unread:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)
