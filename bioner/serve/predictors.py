"""What the service runs: a loaded model behind one ``predict(docs, options)`` call.

A ``Predictor`` wraps a span model (``SpanPredictor``), an LLM engine
(``LLMPredictor``) or any function with the same signature (``FunctionPredictor``,
for embedding bioner's service around another model). ``Options`` holds everything
besides the texts that decides a call's output, so requests with equal options (and
the same predictor) can share one model call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioner.doc import Document
from bioner.models import DEFAULT_LABELS

if TYPE_CHECKING:
    from bioner.engines.generative.engine import LLMEngine
    from bioner.engines.span import SpanModel
    from bioner.selector.model import Selector

Pairs = tuple[tuple[str, str], ...]  # (label, prompt) in prompt order: hashable, unlike a dict


@dataclass(frozen=True)
class Options:
    """Per-call settings; equal options on the same predictor -> one shared model call."""

    labels: Pairs
    threshold: float | None = None
    flat: bool = True
    multi_label: bool = False
    per_label: bool = False
    abbreviations: bool = True  # propagate types across each text's abbreviations (bioner.abbreviations)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


class Predictor(ABC):
    """A loaded model the service can call: a name, an engine kind, defaults, and ``predict``."""

    name: str
    engine: str  # "span" or "llm": what a request's ``engine`` selects
    default_labels: dict[str, str]
    default_threshold: float | None  # None: the engine takes no threshold

    @abstractmethod
    def predict(self, docs: list[Document], options: Options) -> list[Document]:
        """New Documents (same order, ids and texts) holding the predicted entities."""

    def run(self, docs: list[Document], options: Options) -> list[Document]:
        """``predict``, then the abbreviation step of ``options`` (what the service calls)."""
        found = self.predict(docs, options)
        if not options.abbreviations:
            return found
        from bioner.abbreviations import propagate_all

        return propagate_all(found)

    def info(self) -> dict[str, Any]:
        """What ``GET /models`` shows about this model."""
        return {"name": self.name, "engine": self.engine, "default_labels": dict(self.default_labels),
                "default_threshold": self.default_threshold}


class SpanPredictor(Predictor):
    """A GLiNER ``SpanModel``; ``batch_size`` windows per forward pass."""

    engine = "span"

    def __init__(self, model: SpanModel, *, name: str | None = None, batch_size: int = 8,
                 default_labels: Mapping[str, str] | None = None) -> None:
        self.model = model
        # a model loaded from a folder is named by its full path: the folder name reads better in responses
        self.name = name or (Path(model.name).name if Path(model.name).is_dir() else model.name)
        self.batch_size = batch_size
        self.default_labels = dict(default_labels or DEFAULT_LABELS)
        self.default_threshold = model.threshold

    def predict(self, docs: list[Document], options: Options) -> list[Document]:
        return self.model.predict(docs, options.label_map, threshold=options.threshold, flat=options.flat, multi_label=options.multi_label,
                                  per_label=options.per_label, batch_size=self.batch_size)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "quantized": self.model.quantized}


class LLMPredictor(Predictor):
    """An ``LLMEngine`` (local causal LM with its LoRA adapter, or a served model)."""

    engine = "llm"

    def __init__(self, llm: LLMEngine, *, name: str | None = None, default_labels: Mapping[str, str] | None = None) -> None:
        from bioner.models import llm_types

        self.llm = llm
        self.name = name or llm.name
        types = default_labels if default_labels is not None else llm_types(None, llm.adapter)
        self.default_labels = dict(types) if isinstance(types, Mapping) else {t: t for t in types}
        self.default_threshold = None
        self.scheme = llm.scheme
        self.adapter = llm.adapter

    def predict(self, docs: list[Document], options: Options) -> list[Document]:
        return self.llm.predict(docs, options.label_map)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "scheme": self.scheme, "adapter": Path(self.adapter).name if self.adapter else None}


PredictFn = Callable[[list[Document], Options], list[Document]]


class FunctionPredictor(Predictor):
    """Any function ``(docs, options) -> docs`` served as a model (another library's NER, a rule system)."""

    def __init__(self, fn: PredictFn, *, name: str = "function", engine: str = "span",
                 default_labels: Mapping[str, str] | None = None, default_threshold: float | None = 0.5) -> None:
        self.fn = fn
        self.name = name
        self.engine = engine
        self.default_labels = dict(default_labels or DEFAULT_LABELS)
        self.default_threshold = default_threshold

    def predict(self, docs: list[Document], options: Options) -> list[Document]:
        return self.fn(docs, options)


class SelectedPredictor(Predictor):
    """Another predictor whose every entity is then verified by a selector (``bioner.selector``)."""

    def __init__(self, inner: Predictor, selector: Selector) -> None:
        self.inner = inner
        self.selector = selector
        self.name = inner.name
        self.engine = inner.engine
        self.default_labels = inner.default_labels
        self.default_threshold = inner.default_threshold

    def predict(self, docs: list[Document], options: Options) -> list[Document]:
        return self.selector.select(self.inner.predict(docs, options), engine=self.engine)

    def run(self, docs: list[Document], options: Options) -> list[Document]:
        return self.selector.select(self.inner.run(docs, options), engine=self.engine)  # abbreviations before the selector, as extract

    def info(self) -> dict[str, Any]:
        return {**self.inner.info(), "selector": {"base": self.selector.settings.base, "threshold": self.selector.threshold_for(self.engine)}}


def as_predictor(obj: Any, *, batch_size: int = 8) -> Predictor:
    """A ``Predictor`` for a Predictor, a loaded ``SpanModel`` or ``LLMEngine``, or a predict function."""
    from bioner.engines.generative.engine import LLMEngine
    from bioner.engines.span import SpanModel

    if isinstance(obj, Predictor):
        return obj
    if isinstance(obj, SpanModel):
        return SpanPredictor(obj, batch_size=batch_size)
    if isinstance(obj, LLMEngine):
        return LLMPredictor(obj)
    if callable(obj):
        return FunctionPredictor(obj)
    raise TypeError(f"cannot serve a {type(obj).__name__}: give a SpanModel, an LLMEngine, a Predictor or a function (docs, options) -> docs")
