"""Strict and relaxed precision, recall and F1 for two collections of Documents.

The gold and predicted collections are paired by document id; both must hold the
same ids (E401) and, for each id, the same text (E402), because offsets are only
comparable over the same text.

Entity identity is ``(start, end, label, fragments)``: score, source, ids and attrs
never take part. Nested and overlapping entities need no special case: matching is
done on multisets of entities, nothing is flattened.

**Strict.** A predicted entity is a true positive iff an identical entity exists in
gold. Both sides are multisets: for each identity, ``TP = min(#gold, #pred)``, the
rest are FP (pred) or FN (gold). So a prediction repeated in the same document is a
false positive after its first copy (unless gold repeats it too); every repeated
copy is counted in ``Evaluation.duplicates``.

**Relaxed (overlap).** Same label and overlapping characters, matched one-to-one so
that for every type ``TP + FP = #pred`` and ``TP + FN = #gold``. Per document and type:

1. exact matches are taken first (exactly the strict TPs);
2. surplus copies of a repeated prediction are FP outright — a repetition earns no
   more credit than its first copy, in either mode;
3. the remaining gold and predicted entities are paired greedily: candidate pairs
   are those whose characters overlap (for discontinuous entities, the overlap of
   their fragments, not of their covering spans), taken in order of largest overlap
   (characters), then earliest gold start, earliest predicted start, earliest gold
   end, earliest predicted end; a pair is taken when neither side is matched yet.

So strict TP <= relaxed TP always.

**Averages.** Micro pools the counts over types. Macro is the unweighted mean of the
per-type precision, recall and F1 over the types present in gold or predictions
(after ``labels`` filtering) — as seqeval and scikit-learn do. Undefined ratios are
0: precision is 0 with no predictions, recall is 0 with no gold, F1 is 0 when
precision + recall is 0 (so an empty gold with empty predictions scores 0, not 1).
With flat IOB2 data the strict scores equal seqeval's default mode.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bioner.doc import Document, Entity
from bioner.errors import BionerError, Report

if TYPE_CHECKING:
    from rich.table import Table

    from bioner.io._common import PathLike

# what identifies an entity for matching: start, end, label, fragments
Key = tuple[int, int, str, tuple[tuple[int, int], ...]]
# label -> [tp, fp, fn], mutable while counting
_Tally = dict[str, list[int]]


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    # same operation order as seqeval, so results agree to the last bit
    return 2.0 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class TypeScores:
    """Counts for one type (or pooled over types, for micro) and the ratios they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Number of gold entities."""
        return self.tp + self.fn

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "support": self.support, "predicted": self.predicted,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
        }


@dataclass(frozen=True)
class MacroScores:
    """Unweighted means of per-type precision, recall and F1 over ``types`` types."""

    precision: float
    recall: float
    f1: float
    types: int

    def as_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "types": self.types}


@dataclass(frozen=True)
class Scores:
    """One matching mode: pooled (micro), averaged (macro) and per-type scores."""

    micro: TypeScores
    macro: MacroScores
    by_type: dict[str, TypeScores]

    @classmethod
    def from_tally(cls, tally: Mapping[str, list[int]]) -> Scores:
        by_type = {lab: TypeScores(*tally[lab]) for lab in sorted(tally)}
        micro = TypeScores(*(sum(t[i] for t in tally.values()) for i in range(3)))
        n = len(by_type)
        macro = MacroScores(
            precision=sum(s.precision for s in by_type.values()) / n if n else 0.0,
            recall=sum(s.recall for s in by_type.values()) / n if n else 0.0,
            f1=sum(s.f1 for s in by_type.values()) / n if n else 0.0,
            types=n,
        )
        return cls(micro, macro, by_type)

    def as_dict(self) -> dict[str, Any]:
        return {
            "micro": self.micro.as_dict(),
            "macro": self.macro.as_dict(),
            "by_type": {lab: s.as_dict() for lab, s in self.by_type.items()},
        }


@dataclass(frozen=True)
class Evaluation:
    """Strict and relaxed scores plus what was compared.

    ``gold_entities``/``pred_entities`` count what was scored (after ``labels`` and
    ``ignore_score_below``); ``duplicates`` counts repeated identical predictions
    (copies after the first, per document), ``gold_duplicates`` the same in gold;
    ``below_score`` counts predictions ignored for a low score; ``excluded_gold`` /
    ``excluded_pred`` count entities whose label is outside ``labels``.
    """

    strict: Scores
    relaxed: Scores
    documents: int
    gold_entities: int
    pred_entities: int
    duplicates: int = 0
    gold_duplicates: int = 0
    below_score: int = 0
    excluded_gold: int = 0
    excluded_pred: int = 0
    labels: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain JSON types."""
        return {
            "documents": self.documents,
            "gold_entities": self.gold_entities,
            "pred_entities": self.pred_entities,
            "duplicates": self.duplicates,
            "gold_duplicates": self.gold_duplicates,
            "below_score": self.below_score,
            "excluded_gold": self.excluded_gold,
            "excluded_pred": self.excluded_pred,
            "labels": list(self.labels) if self.labels is not None else None,
            "strict": self.strict.as_dict(),
            "relaxed": self.relaxed.as_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent)

    def to_text(self, *, by_type: bool = True, relaxed: bool = True) -> str:
        """A plain-text table, for logs and terminals without rich."""
        rows = [list(_HEADER)] + _rows(self, by_type, relaxed)
        widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]

        def fmt(r: list[str]) -> str:
            # mode and type left-aligned, numbers right-aligned
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

        lines = [_title(self), fmt(rows[0]), "  ".join("-" * w for w in widths)]
        lines += [fmt(r) for r in rows[1:]]
        note = _note(self)
        return "\n".join(lines + ([note] if note else [])) + "\n"

    def __str__(self) -> str:
        return self.to_text()


# -- matching --------------------------------------------------------------------


def _key(e: Entity) -> Key:
    return (e.start, e.end, e.label, e.fragments)


def _parts(k: Key) -> tuple[tuple[int, int], ...]:
    return k[3] or ((k[0], k[1]),)


def _overlap(g: Key, p: Key) -> int:
    """Characters shared by two entities; fragments count, gaps between them do not."""
    if not g[3] and not p[3]:
        return max(0, min(g[1], p[1]) - max(g[0], p[0]))
    return sum(max(0, min(ge, pe) - max(gs, ps)) for gs, ge in _parts(g) for ps, pe in _parts(p))


def _match_overlaps(gold: list[Key], pred: list[Key]) -> int:
    """Greedy one-to-one pairing of same-label entities by overlap; returns the pairs made."""
    gold.sort()
    pred.sort()
    pairs: list[tuple[int, int, int, int, int]] = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if p[0] >= g[1]:
                break  # pred sorted by start: nothing later can overlap g
            if g[0] < p[1]:
                ov = _overlap(g, p)
                if ov:
                    # ties: earliest gold start, then earliest pred start; the sorted
                    # indices then order by end (and fragments), deterministically
                    pairs.append((-ov, g[0], p[0], gi, pi))
    pairs.sort()
    used_g: set[int] = set()
    used_p: set[int] = set()
    for _, _, _, gi, pi in pairs:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
    return len(used_g)


def _add(tally: _Tally, label: str, tp: int = 0, fp: int = 0, fn: int = 0) -> None:
    t = tally.get(label)
    if t is None:
        t = tally[label] = [0, 0, 0]
    t[0] += tp
    t[1] += fp
    t[2] += fn


def _score_doc(gold: list[Entity], pred: list[Entity], strict: _Tally, relaxed: _Tally) -> tuple[int, int]:
    """Add one document's counts to both tallies; return (pred duplicates, gold duplicates)."""
    gc = Counter(map(_key, gold))
    pc = Counter(map(_key, pred))
    left: dict[str, tuple[list[Key], list[Key]]] = {}  # label -> unmatched (gold, pred) for relaxed
    dups = 0
    for k, n in pc.items():
        m = gc.get(k, 0)
        tp = min(n, m)
        _add(strict, k[2], tp=tp, fp=n - tp)
        dups += n - 1
        if m:
            _add(relaxed, k[2], tp=tp, fp=n - tp)  # surplus copies repeat a credited prediction
        else:
            _add(relaxed, k[2], fp=n - 1)  # one copy may still overlap gold; the rest are FP
            left.setdefault(k[2], ([], []))[1].append(k)
    gdups = 0
    for k, m in gc.items():
        gdups += m - 1
        fn = m - min(m, pc.get(k, 0))
        if fn:
            _add(strict, k[2], fn=fn)
            left.setdefault(k[2], ([], []))[0].extend([k] * fn)
    for label, (lg, lp) in left.items():
        tp = _match_overlaps(lg, lp) if lg and lp else 0
        _add(relaxed, label, tp=tp, fp=len(lp) - tp, fn=len(lg) - tp)
    return dups, gdups


# -- collections -----------------------------------------------------------------


def _by_id(docs: Iterable[Document], side: str) -> dict[str, Document]:
    out: dict[str, Document] = {}
    for d in docs:
        if d.id in out:
            raise BionerError("E209", f"{side} collection has document id {d.id!r} twice", hint="document ids must be unique to pair gold and predictions")
        out[d.id] = d
    return out


def pair_documents(gold: Iterable[Document], pred: Iterable[Document]) -> list[tuple[Document, Document]]:
    """Each gold document with its prediction, in gold order: ids unique (E209) and the same on both sides (E401), texts equal (E402)."""
    gold_docs = _by_id(gold, "gold")
    pred_docs = _by_id(pred, "predicted")
    _check_ids(gold_docs, pred_docs)
    for doc_id, g in gold_docs.items():
        _check_text(doc_id, g.text, pred_docs[doc_id].text)
    return [(g, pred_docs[doc_id]) for doc_id, g in gold_docs.items()]


def _check_ids(gold: dict[str, Document], pred: dict[str, Document]) -> None:
    missing = [i for i in gold if i not in pred]
    extra = [i for i in pred if i not in gold]
    if not missing and not extra:
        return

    def some(ids: list[str]) -> str:
        shown = ", ".join(repr(i) for i in ids[:5])
        return shown + (f", ... ({len(ids) - 5} more)" if len(ids) > 5 else "")

    parts = [f"gold has {len(gold)} documents, predictions have {len(pred)}"]
    if missing:
        parts.append(f"{len(missing)} gold document(s) have no prediction: {some(missing)}")
    if extra:
        parts.append(f"{len(extra)} predicted document(s) are not in gold: {some(extra)}")
    raise BionerError("E401", "; ".join(parts), hint="run the model on the same input documents as the gold collection")


def _check_text(doc_id: str, gold: str, pred: str) -> None:
    if gold == pred:
        return
    pos = next((i for i, (a, b) in enumerate(zip(gold, pred)) if a != b), min(len(gold), len(pred)))
    raise BionerError(
        "E402",
        f"document {doc_id!r}: gold and predicted texts differ at character {pos} "
        f"(gold {gold[pos:pos + 20]!r}, predicted {pred[pos:pos + 20]!r}; lengths {len(gold)} and {len(pred)})",
        hint="predictions must keep the original text; offsets are only comparable over the same text",
    )


def evaluate(
    gold: Iterable[Document],
    pred: Iterable[Document],
    *,
    labels: Iterable[str] | None = None,
    ignore_score_below: float | None = None,
) -> Evaluation:
    """Score predicted Documents against gold Documents with the same ids and texts.

    ``labels`` restricts scoring to those types (entities of other types are ignored
    on both sides). ``ignore_score_below`` drops predictions whose score is below it;
    predictions without a score are kept.
    """
    pairs = pair_documents(gold, pred)
    keep = None if labels is None else frozenset([labels] if isinstance(labels, str) else labels)
    strict: _Tally = {}
    relaxed: _Tally = {}
    n_gold = n_pred = dups = gdups = low = ex_gold = ex_pred = 0
    for g, p in pairs:
        ge, pe = g.entities, p.entities
        if keep is not None:
            ge = [e for e in ge if e.label in keep]
            kept = [e for e in pe if e.label in keep]
            ex_gold += len(g.entities) - len(ge)
            ex_pred += len(pe) - len(kept)
            pe = kept
        if ignore_score_below is not None:
            kept = [e for e in pe if e.score is None or e.score >= ignore_score_below]
            low += len(pe) - len(kept)
            pe = kept
        n_gold += len(ge)
        n_pred += len(pe)
        if ge or pe:
            d, gd = _score_doc(ge, pe, strict, relaxed)
            dups += d
            gdups += gd
    return Evaluation(
        strict=Scores.from_tally(strict),
        relaxed=Scores.from_tally(relaxed),
        documents=len(pairs),
        gold_entities=n_gold,
        pred_entities=n_pred,
        duplicates=dups,
        gold_duplicates=gdups,
        below_score=low,
        excluded_gold=ex_gold,
        excluded_pred=ex_pred,
        labels=tuple(sorted(keep)) if keep is not None else None,
    )


def evaluate_files(
    gold_path: PathLike,
    pred_path: PathLike,
    *,
    gold_format: str | None = None,
    pred_format: str | None = None,
    report: Report | None = None,
    **kw: Any,
) -> Evaluation:
    """Read both files with ``bioner.io.read`` (format detected unless given) and evaluate.

    ``kw`` goes to :func:`evaluate` (``labels``, ``ignore_score_below``); ``report``
    collects reader warnings from both files.
    """
    from bioner.io import read  # local: io imports formats lazily, keep evaluate light

    return evaluate(read(gold_path, gold_format, report=report), read(pred_path, pred_format, report=report), **kw)


# -- rendering -------------------------------------------------------------------

_HEADER = ("Mode", "Type", "TP", "FP", "FN", "Support", "P", "R", "F1")


def _num(x: float) -> str:
    return f"{x:.4f}"


def _rows(ev: Evaluation, by_type: bool, relaxed: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    modes = [("strict", ev.strict)] + ([("relaxed", ev.relaxed)] if relaxed else [])
    for name, sc in modes:
        if by_type:
            for lab, s in sc.by_type.items():
                rows.append([name, lab, str(s.tp), str(s.fp), str(s.fn), str(s.support), _num(s.precision), _num(s.recall), _num(s.f1)])
        m = sc.micro
        rows.append([name, "micro", str(m.tp), str(m.fp), str(m.fn), str(m.support), _num(m.precision), _num(m.recall), _num(m.f1)])
        a = sc.macro
        rows.append([name, "macro", "", "", "", "", _num(a.precision), _num(a.recall), _num(a.f1)])
    return rows


def _title(ev: Evaluation) -> str:
    return f"{ev.documents} documents, {ev.gold_entities} gold and {ev.pred_entities} predicted entities"


def _note(ev: Evaluation) -> str:
    notes = []
    if ev.duplicates:
        notes.append(f"{ev.duplicates} repeated predictions (counted FP after the first)")
    if ev.gold_duplicates:
        notes.append(f"{ev.gold_duplicates} repeated gold entities")
    if ev.below_score:
        notes.append(f"{ev.below_score} predictions ignored below the score threshold")
    if ev.labels is not None:
        notes.append(f"types: {', '.join(ev.labels)} ({ev.excluded_gold} gold / {ev.excluded_pred} predicted of other types ignored)")
    return "; ".join(notes)


def render(evaluation: Evaluation, *, by_type: bool = True, relaxed: bool = True) -> Table:
    """A rich table: per type (optional), micro and macro rows for strict and relaxed."""
    from rich.table import Table

    table = Table(title=_title(evaluation), caption=_note(evaluation) or None)
    for i, col in enumerate(_HEADER):
        table.add_column(col, justify="left" if i < 2 else "right", no_wrap=True)
    rows = _rows(evaluation, by_type, relaxed)
    for i, row in enumerate(rows):
        # a rule between the strict and relaxed blocks
        last_of_mode = i + 1 < len(rows) and rows[i + 1][0] != row[0]
        style = "bold" if row[1] == "micro" else None
        table.add_row(*row, style=style, end_section=last_of_mode)
    return table


__all__ = ["Evaluation", "MacroScores", "Scores", "TypeScores", "evaluate", "evaluate_files", "render"]
