"""From a parsed request to a job: which model, which options, which Documents; every refusal an ApiError.

Checks run before anything is queued, cheapest first, and each names the field and
the limit it broke, so a client can fix the request without guessing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from bioner.doc import Document
from bioner.engines.span import label_pairs
from bioner.models import span_labels

from .api_errors import ApiError
from .predictors import Options, Predictor
from .schemas import ExtractRequest
from .settings import ServeSettings

ENGINES = ("span", "llm")
SPAN_ONLY = ("threshold", "flat", "multi_label", "per_label")  # options an LLM does not take
LLM_ONLY = ("scheme", "adapter")


@dataclass(frozen=True)
class Job:
    """One request, ready for the batcher: ``docs`` in request order, ``ids`` as given (None for plain texts)."""

    predictor: Predictor
    options: Options
    docs: list[Document]
    ids: list[str | None]

    @property
    def key(self) -> tuple[str, Options]:
        """Requests with the same key share a model call."""
        return (self.predictor.name, self.options)


class Registry:
    """The loaded models by name; the first of each engine answers requests that name none."""

    def __init__(self, predictors: Sequence[Predictor]) -> None:
        if not predictors:
            raise ValueError("the service needs at least one model")
        self.by_name: dict[str, Predictor] = {}
        self.default: dict[str, Predictor] = {}
        for p in predictors:
            if p.name in self.by_name:
                raise ValueError(f"two models are named {p.name!r}; give them distinct names")
            self.by_name[p.name] = p
            self.default.setdefault(p.engine, p)

    def __iter__(self) -> Iterator[Predictor]:
        return iter(self.by_name.values())

    def names(self) -> list[str]:
        return list(self.by_name)

    def choose(self, model: str | None, engine: str | None) -> Predictor:
        if engine is not None and engine not in ENGINES:
            raise ApiError(422, "E808", f"unknown engine {engine!r}; one of: {', '.join(ENGINES)}", field="engine")
        if model is not None:
            found = self.by_name.get(model)
            if found is None:
                raise ApiError(422, "E807", f"model {model!r} is not loaded; loaded: {', '.join(self.by_name)} (GET /models)", field="model")
            if engine is not None and found.engine != engine:
                raise ApiError(422, "E808", f"model {model!r} runs engine {found.engine!r}, not {engine!r}", field="engine")
            return found
        engine = engine or ("span" if "span" in self.default else next(iter(self.default)))
        if engine not in self.default:
            hint = " (start the server with --llm)" if engine == "llm" else ""
            raise ApiError(422, "E808", f"this server has no {engine} model loaded{hint}; loaded engines: {', '.join(self.default)}", field="engine")
        return self.default[engine]


def _texts(req: ExtractRequest) -> tuple[str, list[str], list[str | None]]:
    """(field name, texts, ids) from whichever of text / texts / documents was given."""
    given = [name for name in ("text", "texts", "documents") if getattr(req, name) is not None]
    if not given:
        raise ApiError(422, "E803", 'nothing to annotate: give "text", "texts" or "documents"')
    if len(given) > 1:
        raise ApiError(422, "E802", f"give one of text, texts or documents, not {' and '.join(given)}", field=given[1])
    if req.text is not None:
        return "text", [req.text], [None]
    if req.texts is not None:
        return "texts", list(req.texts), [None] * len(req.texts)
    assert req.documents is not None
    return "documents", [d.text for d in req.documents], [d.id for d in req.documents]


def _check_sizes(name: str, texts: list[str], settings: ServeSettings) -> None:
    if name != "text" and not texts:
        raise ApiError(422, "E803", f"nothing to annotate: {name} is an empty list", field=name)
    if len(texts) > settings.max_texts:
        raise ApiError(413, "E804", f"{len(texts)} texts in one request; this server takes at most {settings.max_texts} (send several requests)",
                       field=name)
    for i, text in enumerate(texts):
        if len(text) > settings.max_chars:
            where = "text" if name == "text" else f"{name}[{i}]" + (".text" if name == "documents" else "")
            raise ApiError(413, "E805", f"{where} has {len(text)} characters; this server takes at most {settings.max_chars} per text "
                           "(cut it into passages)", field=where)
    if not any(t.strip() for t in texts):
        raise ApiError(422, "E803", "nothing to annotate: every text is empty or blank", field=name)


def parse_labels(labels: Sequence[str] | Mapping[str, str], settings: ServeSettings) -> tuple[tuple[str, str], ...]:
    """(label, prompt) pairs; E806 for an empty, blank, repeated or oversized label set."""
    if len(labels) > settings.max_labels:
        raise ApiError(422, "E806", f"{len(labels)} labels; this server takes at most {settings.max_labels}", field="labels")
    try:
        pairs = label_pairs(labels)
    except ValueError as exc:
        msg = "labels is empty: name at least one type, or leave labels out for the model's defaults" if not labels else str(exc)
        raise ApiError(422, "E806", msg, field="labels") from None
    return tuple(pairs)


def build_job(req: ExtractRequest, registry: Registry, settings: ServeSettings) -> Job:
    """Check ``req`` against the loaded models and the limits; raise ApiError naming the field at fault."""
    name, texts, ids = _texts(req)
    _check_sizes(name, texts, settings)
    predictor = registry.choose(req.model, req.engine)
    given = req.model_fields_set
    if predictor.engine == "llm":
        wrong = [f for f in SPAN_ONLY if f in given and getattr(req, f) is not None]
        if wrong:
            raise ApiError(422, "E808", f"{wrong[0]} applies to the span engine, not llm", field=wrong[0])
        scheme = getattr(predictor, "scheme", None)
        if req.scheme is not None and req.scheme != scheme:
            raise ApiError(422, "E808", f"the loaded LLM writes scheme {scheme!r}, not {req.scheme!r} (a scheme is fixed when the server starts)",
                           field="scheme")
        adapter = getattr(predictor, "adapter", None)
        if req.adapter is not None and (adapter is None or req.adapter not in (adapter, adapter.rstrip("/").rsplit("/", 1)[-1])):
            raise ApiError(422, "E808", f"the loaded LLM's adapter is {adapter!r}, not {req.adapter!r} (adapters are loaded when the server starts)",
                           field="adapter")
    else:
        wrong = [f for f in LLM_ONLY if getattr(req, f) is not None]
        if wrong:
            raise ApiError(422, "E808", f"{wrong[0]} applies to engine llm, not {predictor.engine}", field=wrong[0])
    pairs = parse_labels(req.labels, settings) if req.labels is not None else tuple(predictor.default_labels.items())
    if predictor.engine == "llm":
        options = Options(pairs, threshold=None, abbreviations=req.abbreviations is not False)
    else:
        # the label rule of `bioner extract`: registered types prompted as the model learned them, one prompt per label
        # unless the set is one corpus's own (bioner.models.span_labels)
        label_set, per_label = span_labels(req.labels if req.labels is not None else predictor.default_labels, req.per_label)
        options = Options(
            tuple(label_set.items()) if isinstance(label_set, Mapping) else tuple((x, x) for x in label_set),
            threshold=req.threshold if req.threshold is not None else predictor.default_threshold,
            flat=True if req.flat is None else req.flat,
            multi_label=bool(req.multi_label),
            per_label=per_label,
            abbreviations=req.abbreviations is not False,
        )
    docs = [Document(doc_id if doc_id is not None else str(i), text) for i, (text, doc_id) in enumerate(zip(texts, ids))]
    return Job(predictor, options, docs, ids)
