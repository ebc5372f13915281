"""Model engines: each takes Documents and entity types and returns Documents.

Engines import heavy libraries (torch, gliner) only when used, so ``import bioner``
stays light:

* ``bioner.engines.span``: GLiNER span models (uni- and bi-encoder), ``SpanModel``.
* ``bioner.engines.span_train``: fine-tuning a ``SpanModel``, ``train_span``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bioner.engines.span import SpanModel
    from bioner.engines.span_train import TrainResult, train_span

__all__ = ["SpanModel", "TrainResult", "train_span"]

_LAZY = {"SpanModel": "bioner.engines.span", "TrainResult": "bioner.engines.span_train", "train_span": "bioner.engines.span_train"}


def __getattr__(name: str) -> Any:
    # lazy: importing torch takes seconds, and most of bioner never needs it
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bioner.engines' has no attribute {name!r}")
