"""bioner over HTTP: ``bioner serve`` (FastAPI + uvicorn) with micro-batched model calls.

- ``create_app(models, settings)``: the ASGI app over already-loaded models (``app``).
- ``MicroBatcher``: the queue and the single model worker (``batcher``).
- ``Predictor`` and friends: a model behind one ``predict(docs, options)`` call (``predictors``).
- ``serve(...)``: load models and run uvicorn; ``running(app)``: the same in a thread (``server``).
- ``ServeSettings``: request limits and batching knobs (``settings``).

Needs the ``llm`` extra (fastapi, uvicorn); importing this package imports FastAPI.
"""

from __future__ import annotations

from .app import create_app
from .batcher import MicroBatcher
from .predictors import FunctionPredictor, LLMPredictor, Options, Predictor, SpanPredictor
from .server import is_loopback, load_predictors, running, serve
from .settings import ServeSettings

__all__ = [
    "FunctionPredictor", "LLMPredictor", "MicroBatcher", "Options", "Predictor", "ServeSettings", "SpanPredictor", "create_app", "is_loopback",
    "load_predictors", "running", "serve",
]
