"""Training the selector: binary cross-entropy plus a contrastive term, then a threshold chosen on dev.

Each gold candidate and its negatives (perturbations, and engine false positives that
overlap it) form a *group*; batches are made of whole groups. The loss is the mean
binary cross-entropy over candidates plus ``contrastive`` x the mean, over groups
with a gold candidate and at least one negative, of ``-log softmax(group logits)[gold]``:
the gold span's score is pushed above those of its own near-misses, which plain
cross-entropy on independent candidates does not ask for.

The acceptance rule of each engine is chosen on that engine's dev predictions, one
prediction set per dev corpus or file (a *part*). The default objective, ``no-loss``,
keeps only rules that lower no part's strict micro F1 and among them takes the one with
the largest mean F1 gain over parts: pooled micro F1 (``pooled``, ``choose_threshold``)
lets the largest corpus decide for all, and one cut that suits it can cost a smaller
corpus with other annotation conventions more than the pool gains. Keeping everything
(the engine's own F1) is always among the choices, so on dev the selector lowers no
part's F1. For an engine that scores its entities, a guard on that score and a weight
mixing it into the decision are chosen with the threshold (``choose_rule``), and so is
deciding a document's repeated mentions together (``discourse``); the best cut on the
engine's score alone is recorded as the control a selector has to beat (``engine_alone``).
When asked (``repair``), boundary repair is tried as well: a candidate replaced by its span
one token wider or narrower at either end when the selector prefers that by a margin,
chosen on dev like the rest and measured against the engine's predictions as it gave them.
Without engine predictions on dev, the threshold maximises the F1 of accepting gold
candidates among the dev candidates.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from bioner.doc import Document, Entity
from bioner.engines import training
from bioner.errors import BionerError

from .candidates import Candidate, document_variants, engine_candidates, gold_candidates, kind_counts
from .discourse import group_max, mention_groups
from .model import Selector, fused, passes_guard, repair_spans

CHECKPOINT = "checkpoint"
MODEL_DIR = "selector"


@dataclass
class Part:
    """A corpus or file: gold documents, the types to verify, and engine predictions on the same documents."""

    name: str
    gold: list[Document]
    types: list[str]
    predictions: dict[str, list[Document]] = field(default_factory=dict)  # engine name -> its Documents, in gold order


@dataclass
class SelectorTrainConfig:
    epochs: int = 1
    batch_size: int = 32  # candidates per optimizer step (whole groups; a larger group is a batch of its own)
    lr: float = 3e-5  # encoder
    head_lr: float = 1e-3  # the new classification head
    weight_decay: float = 0.01
    warmup: float = 0.1
    contrastive: float = 1.0  # weight of the contrastive term (0: plain cross-entropy)
    per_gold: int | None = 4  # perturbations drawn per gold entity (None: all)
    max_grad_norm: float = 1.0
    save_every: int = 100  # steps between checkpoints
    max_steps: int | None = None  # stop this call after N steps in total (run again to continue)
    save_half: bool = True  # store float16 weights (half the size); the threshold is chosen with exactly those weights
    seed: int = 0
    guard: bool = True  # also try a guard on engine scores when choosing each engine's threshold (``choose_guard``)
    fuse: bool = True  # also try mixing the engine's score into the decision (``choose_rule``, ``model.fused``)
    consistent: bool = True  # also try deciding a document's mentions of one type and text together (``discourse``)
    objective: str = "no-loss"  # how the rule is chosen on dev parts: "no-loss" or "pooled" (``OBJECTIVES``)
    # keep the base's token embeddings fixed: in a large-vocabulary causal LM (Gemma: 170M of 268M weights) they are
    # most of the model, a few thousand candidates touch a sliver of their rows, and Adam's state for them costs 1.4 GB
    freeze_embeddings: bool = False
    repair: bool = False  # also try boundary repair when choosing each engine's rule (``model.repair_spans``; ~8x the dev scoring)


@dataclass
class SelectorTrainResult:
    output: Path  # where the selector is (or will be, once ``finished``) saved
    steps: int
    finished: bool
    threshold: float
    candidates: dict[str, int]  # kind -> count, training candidates
    dev: dict[str, dict[str, dict[str, float]]]  # "part/engine" -> {"without": P/R/F1, "with": P/R/F1}
    seconds: float
    thresholds: dict[str, float] = field(default_factory=dict)  # per engine, chosen on its dev predictions
    guards: dict[str, float] = field(default_factory=dict)  # per engine that scores its entities, when a guard helped on dev
    weights: dict[str, float] = field(default_factory=dict)  # per engine that scores its entities, when mixing its score in helped on dev
    consistent: dict[str, bool] = field(default_factory=dict)  # per engine, when deciding mentions by group helped on dev
    repairs: dict[str, float] = field(default_factory=dict)  # per engine, the boundary-repair margin when repair helped on dev

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output"] = str(self.output)
        return d


def build_candidates(parts: Sequence[Part], *, per_gold: int | None, seed: int) -> tuple[list[tuple[str, Entity]], list[Candidate]]:
    """The candidates of ``parts`` in one list, and the (text, entity) item each refers to."""
    texts: list[str] = []
    cands: list[Candidate] = []
    for part in parts:
        start, base = len(texts), len(cands)
        gold = gold_candidates(part.gold, part.types, per_gold=per_gold, seed=seed, start=start, base=base)
        cands.extend(gold)
        for engine, pred in sorted(part.predictions.items()):
            cands.extend(engine_candidates(part.gold, pred, engine, gold, start=start, base=base, types=part.types))
        texts.extend(d.text for d in part.gold)
    return [(texts[c.doc], c.entity) for c in cands], cands


def groups_of(cands: Sequence[Candidate]) -> list[list[int]]:
    """Candidate indices grouped: each gold candidate first, then its negatives; ungrouped negatives alone."""
    members: dict[int, list[int]] = {}
    alone: list[list[int]] = []
    for k, c in enumerate(cands):
        if c.kind == "gold":
            members.setdefault(k, []).insert(0, k)
        elif c.group >= 0:
            members.setdefault(c.group, []).append(k)
        else:
            alone.append([k])
    return list(members.values()) + alone


def epoch_batches(groups: Sequence[Sequence[int]], batch_size: int, seed: int, epoch: int) -> list[list[list[int]]]:
    """Shuffled groups packed into batches of about ``batch_size`` candidates; a function of seed and epoch only (resume replays it)."""
    order = list(range(len(groups)))
    random.Random(f"selector:{seed}:epoch:{epoch}").shuffle(order)
    batches: list[list[list[int]]] = []
    cur: list[list[int]] = []
    size = 0
    for g in order:
        if cur and size + len(groups[g]) > batch_size:
            batches.append(cur)
            cur, size = [], 0
        cur.append(list(groups[g]))
        size += len(groups[g])
    if cur:
        batches.append(cur)
    return batches


def loss_of(logits: Any, targets: Any, groups: Sequence[Sequence[int]], contrastive: float) -> Any:
    """Mean BCE over the batch plus ``contrastive`` x mean group softmax loss; ``groups`` index into ``logits``, gold first."""
    import torch
    import torch.nn.functional as F

    loss = F.binary_cross_entropy_with_logits(logits, targets)
    terms = [-torch.log_softmax(logits[list(g)], dim=0)[0] for g in groups if len(g) > 1 and targets[g[0]] > 0.5]
    if contrastive > 0 and terms:
        loss = loss + contrastive * torch.stack(terms).mean()
    return loss


def _fingerprint(cands: Sequence[Candidate], config: SelectorTrainConfig, base: str) -> str:
    h = hashlib.sha256()
    for c in cands:
        h.update(f"{c.doc}:{c.entity.start}:{c.entity.end}:{c.entity.label}:{c.target}:{c.group}\n".encode())
    keep = {k: v for k, v in asdict(config).items() if k not in ("max_steps", "save_every", "guard", "fuse", "consistent", "objective", "repair")}  # calibration only
    if not config.freeze_embeddings:
        del keep["freeze_embeddings"]  # added later: checkpoints made before it still resume
    h.update(json.dumps({"config": keep, "base": base}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _optimizer(selector: Selector, config: SelectorTrainConfig) -> Any:
    import torch

    prefix = getattr(selector.model, "base_model_prefix", "")
    body: list[Any] = []
    head: list[Any] = []
    for name, p in selector.model.named_parameters():
        if not p.requires_grad:
            continue
        if selector.settings.lora:  # adapters at lr, the (fully trained) head at head_lr
            (body if "lora_" in name else head).append(p)
        else:
            (body if prefix and name.startswith(prefix + ".") else head).append(p)
    return torch.optim.AdamW([{"params": body, "lr": config.lr}, {"params": head, "lr": config.head_lr}],
                             weight_decay=config.weight_decay)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2), "f1": round(100 * (2 * p * r / (p + r) if p + r else 0.0), 2)}


@dataclass
class _RepairDoc:
    text: str
    gold: set[tuple[int, int, str]]
    entities: list[Entity]
    variants: list[list[Entity]]
    variant_probs: list[list[float]]


@dataclass
class _Scored:
    """Dev predictions of one engine on one part, with selector probabilities, against gold keys."""

    name: str
    gold: int  # gold entities of the part's types
    hits: list[tuple[float, bool]]  # (probability, matches gold) per distinct prediction
    scores: list[float | None] = field(default_factory=list)  # the engine's own score per prediction (None: it gives none)
    groups: list[int] = field(default_factory=list)  # per prediction, its mention group in the part (``discourse``; empty: none)
    # what boundary repair needs (``repaired``; None: the variants were not scored): per document, its text, gold keys,
    # predictions, and each prediction's boundary variants with their probabilities
    docs: list[_RepairDoc] | None = None
    baseline: float | None = None  # after a repair: the strict F1 (points) of the engine's predictions as it gave them

    def own_f1(self) -> float:
        """Strict F1 (points) of keeping every prediction: the engine's own, or ``baseline`` after a repair."""
        if self.baseline is not None:
            return self.baseline
        return 200 * sum(h for _, h in self.hits) / max(len(self.hits) + self.gold, 1)

    def repaired(self, margin: float | None) -> _Scored:
        """The predictions after boundary repair at ``margin`` (``model.repair_spans``), hits and groups counted anew."""
        if margin is None or self.docs is None:
            return self
        hits: list[tuple[float, bool]] = []
        scores: list[float | None] = []
        groups: list[int] = []
        k = 0
        for doc in self.docs:
            probs: list[float | None] = [p for p, _ in self.hits[k:k + len(doc.entities)]]
            k += len(doc.entities)
            ents, ps, _ = repair_spans(doc.entities, probs, doc.variants, doc.variant_probs, margin)
            groups.extend(len(hits) + g for g in mention_groups(doc.text, ents))
            hits.extend((cast(float, p), e.key() in doc.gold) for e, p in zip(ents, ps, strict=True))  # every prediction is scored here
            scores.extend(e.score for e in ents)
        return _Scored(self.name, self.gold, hits, scores, groups, baseline=self.own_f1())

    def _with(self, values: list[float]) -> _Scored:
        return _Scored(self.name, self.gold, [(v, h) for v, (_, h) in zip(values, self.hits, strict=True)], self.scores, self.groups,
                       baseline=self.baseline)

    def guarded(self, guard: float | None) -> _Scored:
        """The same predictions with those the ``guard`` lets through unscored counted as accepted (probability 1)."""
        if guard is None:
            return self
        return self._with([1.0 if passes_guard(e, guard) else p for (p, _), e in zip(self.hits, self.scores or [None] * len(self.hits), strict=True)])

    def fused(self, weight: float) -> _Scored:
        """The same predictions with each probability mixed with the engine's score at ``weight`` (``model.fused``)."""
        if weight <= 0.0:
            return self
        return self._with([fused(p, e, weight) for (p, _), e in zip(self.hits, self.scores or [None] * len(self.hits), strict=True)])

    def grouped(self, consistent: bool = True) -> _Scored:
        """The same predictions, each with the highest probability of its mention group (``model.decide``'s ``consistent``)."""
        if not consistent or not self.groups:
            return self
        return self._with(group_max([p for p, _ in self.hits], self.groups))

    def decided(self, rule: Rule) -> _Scored:
        """The values ``rule``'s threshold is compared with: repaired, fused, guarded, then grouped, as ``Selector.select`` does."""
        return self.repaired(rule.repair).fused(rule.weight).guarded(rule.guard).grouped(rule.consistent)


def _scored(selector: Selector, parts: Sequence[Part], batch_size: int, repair: bool = False) -> list[_Scored]:
    """Each part's dev predictions per engine with their probabilities; ``repair``: their boundary variants' too."""
    out = []
    for part in parts:
        keep = set(part.types)
        gold_keys = [{e.key() for e in d.entities if e.label in keep} for d in part.gold]
        for engine, pred in sorted(part.predictions.items()):
            items: list[tuple[str, Entity]] = []
            hit: list[bool] = []
            own: list[float | None] = []
            groups: list[int] = []
            docs: list[_RepairDoc] = []
            for d, keys in zip(pred, gold_keys, strict=True):
                best: dict[tuple[int, int, str], float | None] = {}
                for e in d.entities:
                    if e.label in keep:  # a key predicted twice keeps its higher engine score
                        k = e.key()
                        best[k] = e.score if k not in best else max((x for x in (best[k], e.score) if x is not None), default=None)
                ents = [Entity(*key, score=best[key]) for key in sorted(best)]
                groups.extend(len(items) + g for g in mention_groups(d.text, ents))  # numbered across the part
                for e in ents:
                    items.append((d.text, e))
                    hit.append(e.key() in keys)
                    own.append(e.score)
                if repair:
                    docs.append(_RepairDoc(d.text, keys, ents, document_variants(d, ents), []))
            n = len(items)
            for doc in docs:  # the variants are scored after the predictions, in one pass
                items.extend((doc.text, v) for vs in doc.variants for v in vs)
            probs = selector.score(items, batch_size=batch_size)
            rest = iter(probs[n:])
            for doc in docs:
                doc.variant_probs = [[next(rest) for _ in vs] for vs in doc.variants]
            out.append(_Scored(f"{part.name}/{engine}", sum(map(len, gold_keys)), list(zip(probs[:n], hit, strict=True)), own, groups,
                               docs if repair else None))
    return out


def choose_threshold(scored: Sequence[_Scored]) -> tuple[float, float]:
    """(threshold, pooled strict F1): the cut on selector probability that maximises micro F1 over every engine and part.

    Candidate cuts are 0 (keep everything: the engines' own F1) and each midpoint between
    consecutive distinct probabilities; ties go to the lower cut (more recall).
    """
    pooled = sorted(((p, h) for s in scored for p, h in s.hits), reverse=True)
    gold = sum(s.gold for s in scored)
    if not pooled:
        raise BionerError("E622", "no dev predictions to choose the selector threshold on")
    tp_all = sum(h for _, h in pooled)
    best = (2 * tp_all / (len(pooled) + gold) if pooled or gold else 0.0, 0.0)
    tp = 0
    for k, (p, h) in enumerate(pooled):
        tp += h
        nxt = pooled[k + 1][0] if k + 1 < len(pooled) else 0.0
        if nxt == p:
            continue  # a cut cannot fall between equal probabilities
        f1 = 2 * tp / (k + 1 + gold) if k + 1 + gold else 0.0
        cut = (p + nxt) / 2
        if f1 > best[0] or (f1 == best[0] and cut < best[1]):
            best = (f1, cut)
    return best[1], 100 * best[0]


OBJECTIVES = ("no-loss", "pooled")  # how a rule is chosen on dev parts (see the module doc)


def choose_cut(scored: Sequence[_Scored], objective: str = "no-loss") -> tuple[float, float]:
    """(threshold, value) that is best for ``objective`` over the parts in ``scored``.

    ``pooled``: ``choose_threshold`` (value: pooled micro F1). ``no-loss``: among the cuts
    that lower no part's strict F1, the one with the largest mean F1 gain over parts
    (value: that gain, in points; cut 0, keeping everything, gains 0). The cuts tried and
    the ties are as in ``choose_threshold``.
    """
    if objective == "pooled":
        return choose_threshold(scored)
    if objective != "no-loss":
        raise ValueError(f"unknown objective {objective!r}; one of {OBJECTIVES}")
    import numpy as np

    if not any(s.hits for s in scored):
        raise BionerError("E622", "no dev predictions to choose the selector threshold on")
    values = np.unique(np.concatenate([np.array([p for p, _ in s.hits], dtype=float) for s in scored]))[::-1]
    cuts = np.concatenate([[0.0], ((values[:-1] + values[1:]) / 2)[::-1], [values[0]]])  # ascending; the last keeps the top value only
    gains = []
    for s in scored:
        probs = np.array([p for p, _ in s.hits], dtype=float)
        right = np.sort(probs[[h for _, h in s.hits]]) if s.hits else probs
        tp = len(right) - np.searchsorted(right, cuts, side="left")
        kept = len(probs) - np.searchsorted(np.sort(probs), cuts, side="left")
        f1 = 200 * tp / np.maximum(kept + s.gold, 1)
        gains.append(f1 - s.own_f1())  # against keeping every prediction as the engine gave them (cut 0, unrepaired)
    gain = np.array(gains)
    value = np.where(gain.min(axis=0) >= -1e-9, gain.mean(axis=0), -np.inf)
    k = int(np.argmax(value))  # the first (lowest) of equal best cuts
    return float(cuts[k]), float(value[k])


GUARD_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # of the dev predictions' engine scores: the guards tried


def choose_guard(scored: Sequence[_Scored], *, consistent: bool = False, objective: str = "pooled") -> tuple[float | None, float, float]:
    """(guard, threshold, value): the pair best for ``objective`` over ``scored`` (``consistent``: mentions decided by group).

    Guards tried: none and the ``GUARD_QUANTILES`` of the engine scores; a guard is kept only when it does better than none.
    """
    cut, value = choose_cut([s.grouped(consistent) for s in scored], objective)
    best: tuple[float, float | None, float] = (value, None, cut)
    own = sorted(e for s in scored for e in s.scores if e is not None)
    guards = sorted({round(own[min(len(own) - 1, int(q * len(own)))], 6) for q in GUARD_QUANTILES}) if own else []
    for guard in guards:
        c, v = choose_cut([s.guarded(guard).grouped(consistent) for s in scored], objective)
        if v > best[0] + 1e-9:
            best = (v, guard, c)
    return best[1], best[2], best[0]


FUSE_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # engine-score weights tried besides 0 (1 would drop the selector)
REPAIR_MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)  # boundary-repair margins tried besides none, when the variants were scored


@dataclass(frozen=True)
class Rule:
    """How one engine's candidates are decided (``model.decide``), and the dev value it reached (``choose_cut``'s)."""

    threshold: float
    guard: float | None = None
    weight: float = 0.0
    value: float = 0.0  # pooled micro F1 ("pooled") or mean F1 gain over parts ("no-loss") on dev
    consistent: bool = False
    repair: float | None = None  # the boundary-repair margin (``model.repair_spans``); None: no repair


def choose_rule(scored: Sequence[_Scored], *, guard: bool = True, fuse: bool = True, consistent: bool = True,
                objective: str = "no-loss") -> Rule:
    """The (repair, weight, guard, threshold, consistent) best for ``objective`` over ``scored`` (``choose_cut``).

    Repair margins tried: none and, when the parts' boundary variants were scored (``_scored(...,
    repair=True)``), ``REPAIR_MARGINS``, without a guard (a guarded candidate is never scored,
    so it could not be repaired). Weights tried: 0 (the selector alone) and, when the engine
    gives scores and ``fuse``, ``FUSE_WEIGHTS``; for each, the best guard (``choose_guard``;
    none when not ``guard``) and threshold; each with mentions decided alone and, when
    ``consistent``, by group. The simpler rule wins ties (no repair, weight 0, each mention
    alone), so repair, the engine's score and the groups are used only when they help on dev;
    a choice may still not carry over to test, which bench/selector.py measures.
    """
    best: Rule | None = None
    margins = (None, *REPAIR_MARGINS) if any(s.docs is not None for s in scored) else (None,)
    for margin in margins:  # no repair first: a margin is kept only when it does better on dev
        fixed = [s.repaired(margin) for s in scored]
        has_scores = any(e is not None for s in fixed for e in s.scores)
        has_groups = any(len(set(s.groups)) < len(s.groups) for s in fixed)
        for together in (False, True) if consistent and has_groups else (False,):
            for weight in (0.0, *(FUSE_WEIGHTS if fuse and has_scores else ())):
                mixed = [s.fused(weight) for s in fixed]
                if guard and margin is None:  # a guarded candidate is never scored, so it cannot be repaired: one or the other
                    g, cut, value = choose_guard(mixed, consistent=together, objective=objective)
                else:
                    g, (cut, value) = None, choose_cut([s.grouped(together) for s in mixed], objective)
                if best is None or value > best.value + 1e-9:
                    best = Rule(round(cut, 6), g, weight, value, together, margin)
    assert best is not None
    return best


def engine_alone(scored: Sequence[_Scored], objective: str = "no-loss") -> dict[str, float]:
    """Per engine that scores its entities: the cut on its own score alone that is best for ``objective`` on dev.

    Not used to select; it is the control a selector must beat, since part of what a dev-chosen
    rule gains may be no more than a better threshold for the engine (bench/selector.py reports both).
    """
    out = {}
    for kind in sorted({engine_of(s.name) for s in scored}):
        part = [s for s in scored if engine_of(s.name) == kind]
        if all(e is not None for s in part for e in s.scores) and any(s.scores for s in part):
            own = [_Scored(s.name, s.gold, [(cast(float, e), h) for (_, h), e in zip(s.hits, s.scores, strict=True)], s.scores) for s in part]  # none is None (checked)
            out[kind] = round(choose_cut(own, objective)[0], 6)
    return out


def engine_of(name: str) -> str:
    """The engine kind of a prediction set's name: "span@0.3" and "span" -> "span"; "llm:ncbi-tags" -> "llm"."""
    return name.split("/")[-1].split("@")[0].split(":")[0]


def calibrate(scored: Sequence[_Scored], *, guard: bool = True, fuse: bool = True, consistent: bool = True,
              objective: str = "no-loss") -> dict[str, Rule]:
    """A ``Rule`` per engine kind, each chosen on that engine's dev predictions (one ``_Scored`` per part).

    ``guard`` / ``fuse`` / ``consistent`` False: no guard / no engine-score weight / no mention groups is tried.
    """
    return {kind: choose_rule([s for s in scored if engine_of(s.name) == kind], guard=guard, fuse=fuse, consistent=consistent,
                              objective=objective)
            for kind in sorted({engine_of(s.name) for s in scored})}


def apply_rules(selector: Selector, rules: Mapping[str, Rule]) -> None:
    """Store ``rules`` in the selector's settings; engines not in ``rules`` keep theirs."""
    st = selector.settings
    st.thresholds = {**st.thresholds, **{k: r.threshold for k, r in rules.items()}}
    st.guards = {k: v for k, v in st.guards.items() if k not in rules} | {k: r.guard for k, r in rules.items() if r.guard is not None}
    st.weights = {k: v for k, v in st.weights.items() if k not in rules} | {k: r.weight for k, r in rules.items() if r.weight > 0}
    st.consistent = {k: v for k, v in st.consistent.items() if k not in rules} | {k: True for k, r in rules.items() if r.consistent}
    st.repairs = {k: v for k, v in st.repairs.items() if k not in rules} | {k: r.repair for k, r in rules.items() if r.repair is not None}


def note_rule(selector: Selector, engine: str, provenance: Mapping[str, Any]) -> None:
    """Record where ``engine``'s rule was chosen after training (``trained_on["rules"]``), beside the training's own record."""
    selector.settings.trained_on.setdefault("rules", {})[engine] = dict(provenance)


def rule_of(selector: Selector, engine: str) -> Rule:
    """The rule the selector applies to ``engine``'s candidates."""
    return Rule(selector.threshold_for(engine), selector.guard_for(engine), selector.weight_for(engine), consistent=selector.consistent_for(engine),
                repair=selector.repair_for(engine))


def _dev_tables(selector: Selector, scored: Sequence[_Scored]) -> dict[str, dict[str, dict[str, float]]]:
    """Each dev prediction set's P/R/F1 without and with the selector at its engine's rule."""
    out = {}
    for s in scored:
        rule = rule_of(selector, engine_of(s.name))
        out[s.name] = _dev_table([s.decided(rule)], rule.threshold, without=s)[s.name]
    return out


def calibrate_selector(selector: Selector, dev: Sequence[Part], *, batch_size: int = 64, guard: bool = True, fuse: bool = True,
                       consistent: bool = True, objective: str = "no-loss", repair: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Choose (or re-choose) the selector's per-engine rules on ``dev`` parts' engine predictions; the dev table before and after.

    ``repair``: boundary repair (``model.repair_spans``) is tried too, at ``REPAIR_MARGINS``; it scores every prediction's
    boundary variants as well (about eight per prediction), so it costs that many times more.
    """
    scored = _scored(selector, dev, batch_size, repair=repair)
    if not scored:
        raise BionerError("E622", "no dev predictions to calibrate the selector on")
    # the engines in ``scored`` get new settings; other engines' stay
    apply_rules(selector, calibrate(scored, guard=guard, fuse=fuse, consistent=consistent, objective=objective))
    # and the control beside each new rule (its engine's score re-cut on the same dev data; bench/selector.py reports it)
    selector.settings.trained_on.setdefault("engine_alone", {}).update(engine_alone(scored, objective))
    return _dev_tables(selector, scored)


def dev_part(name: str, gold: Sequence[Document], pred: Sequence[Document], engine: str) -> Part:
    """A calibration part: dev documents ``gold`` with ``engine``'s predictions ``pred`` of them, paired as the evaluator pairs
    them (``bioner.evaluate.pair_documents``); the types to verify are the gold ones."""
    from bioner.evaluate import pair_documents

    pairs = pair_documents(gold, pred)
    types = sorted({e.label for d in gold for e in d.entities})
    if not types:
        raise BionerError("E622", f"the dev documents of {name!r} have no gold entities to choose a rule on", hint="give annotated dev documents")
    predicted = sorted({e.label for _, d in pairs for e in d.entities})
    if predicted and not set(predicted) & set(types):  # otherwise every prediction is left out and nothing is left to choose on
        raise BionerError("E622", f"none of the predicted types {predicted} is a gold type of {name!r} {types}",
                          hint="predict with the gold documents' own type names (or convert the gold file so its types match)")
    return Part(name, [g for g, _ in pairs], types, {engine: [p for _, p in pairs]})


def _candidate_threshold(selector: Selector, items: Sequence[tuple[str, Entity]], cands: Sequence[Candidate], batch_size: int) -> float:
    """Without engine predictions: the cut that best separates gold from perturbed dev candidates (F1 of accepting gold)."""
    probs = selector.score(items, batch_size=batch_size)
    gold = sum(c.target for c in cands)
    s = _Scored("candidates", gold, [(p, bool(c.target)) for p, c in zip(probs, cands, strict=True)])
    return choose_threshold([s])[0]


def _dev_table(scored: Sequence[_Scored], cut: float, without: _Scored | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """P/R/F1 of each part's predictions kept at ``cut`` ("with") and of all of them ("without": those of ``without`` when
    given, the engine's own predictions before a repair)."""
    table = {}
    for s in scored:
        engine = without or s
        tp0 = sum(h for _, h in engine.hits)
        kept = [(p, h) for p, h in s.hits if p >= cut]
        tp1 = sum(h for _, h in kept)
        table[s.name] = {"without": _prf(tp0, len(engine.hits) - tp0, s.gold - tp0), "with": _prf(tp1, len(kept) - tp1, s.gold - tp1)}
    return table


def train_selector(
    selector: Selector,
    train: Sequence[Part],
    dev: Sequence[Part] = (),
    *,
    output_dir: str | os.PathLike[str],
    config: SelectorTrainConfig | None = None,
    resume: bool = True,
    progress: bool = True,
    log_every: int = 0,
    score_batch_size: int = 64,
) -> SelectorTrainResult:
    """Train ``selector`` in place on the candidates of ``train``; choose its threshold on ``dev``; save it.

    ``selector``: a new one (``Selector.create``), or a trained one loaded with ``Selector.load(path,
    trainable=True)`` to adapt it, e.g. to another engine's errors; its rules are then chosen anew on ``dev``.

    Checkpoints go to ``output_dir/checkpoint`` every ``save_every`` steps (an interrupted
    run continues when called again with the same data and settings; other data or
    settings raise E623 unless ``resume=False``); the trained selector to
    ``output_dir/selector``. ``progress``: a progress bar; ``log_every``: a line on stderr
    every that many steps instead (for logs of background runs).
    """
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    config = config or SelectorTrainConfig()
    out = Path(output_dir)
    t0 = time.perf_counter()
    items, cands = build_candidates(train, per_gold=config.per_gold, seed=config.seed)
    if not cands or not any(c.target for c in cands):
        raise BionerError("E622", "no gold entities of the given types in the training data", hint="check --corpus/--train-file and the types")
    groups = groups_of(cands)
    per_epoch = len(epoch_batches(groups, config.batch_size, config.seed, 0))
    total = per_epoch * config.epochs
    lora = selector.settings.lora
    # a loaded selector trains further from its weights (``Selector.load(trainable=True)``): where it came from is
    # part of the checkpoint's identity, and its own training record is kept under trained_on["init"]
    init = {"selector": str(selector.source), **selector.settings.trained_on} if selector.source is not None else None
    fp = _fingerprint(cands, config, selector.settings.base + (f"+lora{json.dumps(lora, sort_keys=True)}" if lora else "")
                      + (f"+init:{selector.source}" if init else ""))
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    model = selector.model
    if config.freeze_embeddings and not lora:  # under LoRA every base weight is frozen already
        model.get_input_embeddings().weight.requires_grad_(False)
    opt = _optimizer(selector, config)
    sched = training.scheduler(opt, total, config.warmup)
    step = 0
    ckpt = out / CHECKPOINT / "state.pt"
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["fingerprint"] != fp:
            raise BionerError("E623", "the checkpoint in this folder was made from other candidates or settings", file=ckpt,
                              hint="use another --output, or --no-resume to start over")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        training.set_rng_state(state["rng"])
        step = state["step"]

    def save() -> None:
        training.save_state(out / CHECKPOINT, {"fingerprint": fp, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                               "scheduler": sched.state_dict(), "rng": training.rng_state(), "step": step}, "state.pt")

    stop = total if config.max_steps is None else min(total, config.max_steps)
    model.train()
    bar = Progress(TextColumn("selector training"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                   disable=not progress)
    losses: list[float] = []
    first_step, started = step, time.perf_counter()
    batches: dict[int, list[list[list[int]]]] = {}
    with bar:
        task = bar.add_task("train", total=total, completed=step, info="")
        try:
            while step < stop:
                epoch, k = divmod(step, per_epoch)
                if epoch not in batches:
                    batches = {epoch: epoch_batches(groups, config.batch_size, config.seed, epoch)}
                batch = batches[epoch][k]
                idx = [i for g in batch for i in g]
                local, pos = [], 0
                for g in batch:  # each group's positions in this batch, gold first
                    local.append(list(range(pos, pos + len(g))))
                    pos += len(g)
                logits = selector.logits([items[i] for i in idx])
                targets = torch.tensor([float(cands[i].target) for i in idx], device=logits.device)
                loss = loss_of(logits, targets, local, config.contrastive)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                opt.step()
                sched.step()
                step += 1
                losses.append(loss.item())
                bar.update(task, advance=1, info=f"loss {sum(losses[-50:]) / len(losses[-50:]):.4f}")
                if log_every and step % log_every == 0:
                    recent = losses[-log_every:]
                    print(f"selector step {step}/{total} loss {sum(recent) / len(recent):.4f} "
                          f"{(time.perf_counter() - started) / (step - first_step):.2f} s/step", file=sys.stderr, flush=True)
                if step % config.save_every == 0 or step == stop:
                    save()
        except KeyboardInterrupt:
            save()  # keep the position: the same call continues from here
            raise
    finished = step >= total
    result = SelectorTrainResult(out / MODEL_DIR, step, finished, selector.settings.threshold, dict(kind_counts(cands)), {},
                                 time.perf_counter() - t0)
    if not finished:
        return result
    model.eval()
    if config.save_half and not selector.settings.lora:  # a LoRA selector is saved in float32, on a base loaded as it is now
        model.to(torch.float16).to(torch.float32)  # calibrate with the weights that will be shipped
    scored = _scored(selector, [p for p in dev if p.predictions], score_batch_size, repair=config.repair)
    if scored:
        cut, _ = choose_threshold(scored)
        st = selector.settings
        st.thresholds, st.guards, st.weights, st.consistent, st.repairs = {}, {}, {}, {}, {}
        apply_rules(selector, calibrate(scored, guard=config.guard, fuse=config.fuse, consistent=config.consistent, objective=config.objective))
    else:
        dev_items, dev_cands = build_candidates(dev, per_gold=config.per_gold, seed=config.seed)
        if not dev_cands:
            raise BionerError("E622", "no dev data to choose the selector threshold on", hint="give dev documents (a corpus's dev split or --dev-file)")
        cut = _candidate_threshold(selector, dev_items, dev_cands, score_batch_size)
    selector.settings.threshold = round(cut, 6)
    result.threshold = selector.settings.threshold
    result.thresholds, result.guards = dict(selector.settings.thresholds), dict(selector.settings.guards)
    result.weights = dict(selector.settings.weights)
    result.consistent = dict(selector.settings.consistent)
    result.repairs = dict(selector.settings.repairs)
    result.dev = _dev_tables(selector, scored)
    selector.settings.trained_on = {
        "parts": [p.name for p in train], "candidates": result.candidates, "steps": step, "config": asdict(config),
        "dev": result.dev, "dev_parts": [p.name for p in dev], "engine_alone": engine_alone(scored, config.objective),
        **({"init": init} if init else {}),
    }
    selector.save(out / MODEL_DIR, half=config.save_half)
    result.seconds = time.perf_counter() - t0
    return result


def summary(result: SelectorTrainResult) -> Mapping[str, Any]:
    """A short JSON-able summary of a run (what the CLI prints)."""
    return {"selector": str(result.output), "finished": result.finished, "steps": result.steps, "threshold": result.threshold,
            "thresholds": result.thresholds, "guards": result.guards, "weights": result.weights,
            "consistent": result.consistent, "repairs": result.repairs, "candidates": result.candidates, "dev": result.dev, "seconds": round(result.seconds, 1)}
