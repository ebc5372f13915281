"""The ``bioner`` spaCy pipeline component: bioner's extraction inside a spaCy ``Language``.

    import spacy, bioner.spacy_component  # the import registers the factory (an installed bioner also has an entry point)
    nlp = spacy.blank("en")
    nlp.add_pipe("bioner", config={"labels": {"disease": "disease", "gene": "gene or gene product"}})
    doc = nlp("Germline mutations in BRCA1 predispose to early-onset breast cancer.")
    doc.ents                    # flat: no two entities overlap
    doc.spans["bioner"]         # everything the model kept, nested entities included
    doc.spans["bioner"].attrs["scores"]  # one score per span, as spaCy's spancat stores them
    doc.ents[0]._.bioner_score  # the same score, looked up for any Span with that start, end and label

Config (``nlp.add_pipe("bioner", config={...})``): ``model`` (folder or Hub name; None:
the default model, see ``bioner.models``), ``labels`` (types, a mapping label -> prompt,
a ``"disease,gene"`` string, or None for ``DEFAULT_LABELS``), ``threshold`` (None: the
model's own), ``nested`` (keep nested entities in the span group), ``engine`` (``span``
or ``llm``), ``span_key``, ``per_label`` (None: bioner's default, see
``bioner.models.iter_extract``) and ``batch_size`` (windows per forward pass).

The model runs on ``doc.text`` with bioner's own tokenization, so it predicts exactly
what ``bioner extract`` predicts; its character offsets are then mapped to spaCy tokens.
An entity whose edges fall inside a spaCy token (bioner splits "BRCA1/2" into words,
spaCy keeps one token) is widened to the tokens that cover it (``alignment_mode="expand"``)
and counted as ``expanded``; the model's own offsets stay in the span group's
``char_offsets``. An entity that covers no token at all (only whitespace) cannot be a
Span: it is kept in the group's ``unaligned`` list and counted. Nothing is dropped
silently; ``component.counts`` totals these over every document seen.

``doc.ents`` is replaced by the flat selection of the group: greedily by score, highest
first, ties by position (``bioner.engines.span.decode``), so it does not depend on the
order spans were found. Discontinuous entities (LLM engine) become their covering span.
"""

# No ``from __future__ import annotations``: spaCy validates the factory's config against
# the signature's types at runtime, and needs them as real objects, not strings.

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import minibatch

from bioner.doc import Document, Entity
from bioner.errors import BionerError

FACTORY = "bioner"
DEFAULT_SPAN_KEY = "bioner"
SCORE_ATTR = "bioner_score"  # Span._.bioner_score
ANNOTATOR = "bioner"  # SpanGroup.attrs["annotator"]: marks the groups this component wrote
PIPE_BATCH = 128  # documents per model call in nlp.pipe when spaCy passes no batch_size

LabelConfig = list[str] | dict[str, str] | str | None


def _span_score(span: Span) -> float | None:
    """The score bioner gave ``span``: found in a bioner span group by start, end and label."""
    for group in span.doc.spans.values():
        if group.attrs.get("annotator") != ANNOTATOR:
            continue
        scores = group.attrs.get("scores", [])
        for i, other in enumerate(group):
            if other.start == span.start and other.end == span.end and other.label == span.label:
                return scores[i]  # type: ignore[no-any-return]
    return None


# a getter, not a stored value: stored Span extensions are keyed by character offsets only,
# so two labels on one span (multi-label) would share one score
if not Span.has_extension(SCORE_ATTR):
    Span.set_extension(SCORE_ATTR, getter=_span_score)


def set_annotations(doc: Doc, entities: Iterable[Entity], span_key: str = DEFAULT_SPAN_KEY) -> Counter[str]:
    """Write bioner ``entities`` (character offsets into ``doc.text``) onto ``doc``.

    Sets ``doc.spans[span_key]`` (all entities, with ``scores``, ``char_offsets`` and
    ``unaligned`` in its attrs) and ``doc.ents`` (the flat selection). Returns counts:
    ``entities``, ``expanded`` (widened to token edges), ``unaligned`` (no token covered).
    """
    from bioner.engines.span import decode  # pure Python; the module imports torch only for type checking

    counts: Counter[str] = Counter()
    spans: list[Span] = []
    scores: list[float | None] = []
    offsets: list[list[int]] = []
    unaligned: list[dict[str, Any]] = []
    for ent in sorted(entities, key=Entity.sort_key):
        counts["entities"] += 1
        span = doc.char_span(ent.start, ent.end, label=ent.label)
        if span is None:
            # edges inside a token: widen rather than drop, and say so
            span = doc.char_span(ent.start, ent.end, label=ent.label, alignment_mode="expand")
            if span is None or len(span) == 0:
                counts["unaligned"] += 1
                unaligned.append({"start": ent.start, "end": ent.end, "label": ent.label, "score": ent.score})
                continue
            counts["expanded"] += 1
        spans.append(span)
        scores.append(ent.score)
        offsets.append([ent.start, ent.end])
    attrs = {"annotator": ANNOTATOR, "scores": scores, "char_offsets": offsets, "unaligned": unaligned}
    doc.spans[span_key] = SpanGroup(doc, name=span_key, attrs=attrs, spans=spans)
    # flat view: the same greedy-by-score decoding the span engine uses, on token-aligned offsets
    aligned = [Entity(s.start_char, s.end_char, s.label_, score=sc) for s, sc in zip(spans, scores)]
    flat = decode(aligned, flat=True)
    doc.ents = [span for e in flat if (span := doc.char_span(e.start, e.end, label=e.label)) is not None]
    return counts


class BionerComponent:
    """Finds entities with a bioner engine; see the module doc for what it sets on each Doc."""

    def __init__(
        self,
        nlp: Language,
        name: str = FACTORY,
        *,
        model: str | None = None,
        labels: LabelConfig = None,
        threshold: float | None = None,
        nested: bool = False,
        engine: str = "span",
        span_key: str = DEFAULT_SPAN_KEY,
        per_label: bool | None = None,
        batch_size: int = 8,
    ) -> None:
        from bioner.engines.span import label_pairs
        from bioner.models import ENGINES, parse_label_spec, resolve_model

        if engine not in ENGINES:
            raise BionerError("E602", f"unknown engine {engine!r}", hint=f"one of: {', '.join(ENGINES)}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not span_key:
            raise ValueError("span_key must be a non-empty string")
        self.name = name
        self.labels: Sequence[str] | dict[str, str] | None = parse_label_spec(labels) if isinstance(labels, str) else labels
        if self.labels is not None:
            label_pairs(self.labels)  # a bad label set fails at add_pipe, not on the first document
        self.engine = engine
        # resolve now (E601 for a missing folder at add_pipe); load the weights on first use
        self.model: str | None = resolve_model(model) if engine == "span" else model
        self.threshold = threshold
        self.nested = nested
        self.span_key = span_key
        self.per_label = per_label
        self.batch_size = batch_size
        self.counts: Counter[str] = Counter()
        self._loaded: Any = None

    def _model_ref(self) -> Any:
        if self.engine != "span":
            return self.model  # load_llm caches the LLM itself
        if self._loaded is None:
            from bioner.models import load_model

            self._loaded = load_model(self.model)
        return self._loaded

    def _annotate(self, docs: Sequence[Doc]) -> list[Doc]:
        """One extraction call for all ``docs``: the engine batches their windows together."""
        from bioner.models import extract

        if not docs:
            return []
        inputs = [Document(str(i), doc.text) for i, doc in enumerate(docs)]
        predicted = extract(inputs, self.labels, model=self._model_ref(), threshold=self.threshold, flat=not self.nested,
                            per_label=self.per_label, batch_size=self.batch_size, engine=self.engine)
        for doc, pred in zip(docs, predicted, strict=True):
            self.counts.update(set_annotations(doc, pred.entities, self.span_key))
        return list(docs)

    def __call__(self, doc: Doc) -> Doc:
        return self._annotate([doc])[0]

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = PIPE_BATCH) -> Iterator[Doc]:
        """``nlp.pipe``: ``batch_size`` documents per model call, yielded in input order."""
        for batch in minibatch(stream, size=batch_size):
            yield from self._annotate(list(batch))


@Language.factory(
    FACTORY,
    default_config={"model": None, "labels": None, "threshold": None, "nested": False, "engine": "span", "span_key": DEFAULT_SPAN_KEY,
                    "per_label": None, "batch_size": 8},
    assigns=["doc.ents", "doc.spans"],
)
def make_bioner(
    nlp: Language,
    name: str,
    model: str | None,
    labels: LabelConfig,
    threshold: float | None,
    nested: bool,
    engine: str,
    span_key: str,
    per_label: bool | None,
    batch_size: int,
) -> BionerComponent:
    return BionerComponent(nlp, name, model=model, labels=labels, threshold=threshold, nested=nested, engine=engine, span_key=span_key,
                           per_label=per_label, batch_size=batch_size)


__all__ = ["FACTORY", "BionerComponent", "make_bioner", "set_annotations"]
