"""LLM task formats (JSON, symbolic tags) against gold on every corpus.

Run: nice -n 10 .venv/bin/python bench/llm_formats.py [--corpus NAME ...] [--out bench/results/llm_formats.md]

For every registered corpus, all labelled splits pooled (CMeEE: dev; its official test
has no labels), documents are cut into generation units (``samples.units``) and each
unit's gold entities go through ``decode(encode(gold))``. Tables:

1. Round trip per corpus and format (JSON with the default policy): units, gold
   entities, units given back exactly, strict P/R/F1 (``bioner.evaluate``, one
   Document per unit), what ``unrepresentable`` reports, decoder failure counts
   (must be 0 on gold), and target length (characters per entity and per unit).
2. JSON name -> offset policies, on targets that list every mention and on
   de-duplicated targets (each (type, name) once): units exact %, strict P/R/F1.

Model tokens per entity need the model's tokenizer: ``cost_rows(data, count)`` takes
any ``str -> int`` counter (e.g. ``lambda s: len(tok(s, add_special_tokens=False).input_ids)``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))

from bioner import corpora  # noqa: E402
from bioner.doc import Document, Entity  # noqa: E402
from bioner.engines.generative.formats import DEFAULT_POLICY, POLICIES, JsonFormat, TagsFormat, TaskFormat, assign_names, target_cost  # noqa: E402
from bioner.engines.generative.samples import units  # noqa: E402
from bioner.evaluate import evaluate  # noqa: E402

CORPORA = ("ncbi-disease", "bc5cdr", "bc2gm", "jnlpba", "linnaeus", "s800", "genia", "cmeee")
UNLABELLED = {("cmeee", "test")}

Sample = tuple[str, str, tuple[Entity, ...]]  # unit id, text, gold entities (relative offsets)


def load_samples(name: str) -> tuple[list[Sample], list[str]]:
    info = corpora.get(name)
    samples: list[Sample] = []
    splits = []
    for split in info.splits:
        if (name, split) in UNLABELLED:
            continue
        splits.append(split)
        for doc in corpora.load(name, split):
            for u in units(doc):
                samples.append((f"{split}/{doc.id}@{u.start}", u.text, u.entities))
    return samples, splits


def _keys(ents: Sequence[Entity]) -> Counter[tuple[int, int, str]]:
    return Counter(e.key() for e in ents)


@dataclass
class Tally:
    """Units given back exactly and strict tp/fp/fn (multisets of (start, end, type), as bioner.evaluate counts)."""

    units: int = 0
    exact: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: Sequence[Entity], pred: Sequence[Entity]) -> None:
        g, p = _keys(gold), _keys(pred)
        hit = sum((g & p).values())
        self.units += 1
        self.exact += g == p
        self.tp += hit
        self.fp += sum(p.values()) - hit
        self.fn += sum(g.values()) - hit

    def __iadd__(self, other: Tally) -> Tally:
        for f in ("units", "exact", "tp", "fp", "fn"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def cells(self) -> list[str]:
        """exact units %, P, R, F1 (%)."""
        return [_pct(self.exact / self.units if self.units else 1.0)] + [_pct(x) for x in self.prf()]


def round_trip(fmt: TaskFormat, samples: Sequence[Sample], labels: dict[str, str], targets: Sequence[str]) -> tuple[Tally, Counter[str]]:
    """decode(target) vs gold per unit, and the decoder's failure counts; checked against bioner.evaluate."""
    tally = Tally()
    fails: Counter[str] = Counter()
    gold_docs, pred_docs = [], []
    for (uid, text, gold), target in zip(samples, targets):
        got = fmt.decode(text, target, labels)
        fails["parse"] += got.parse_failures
        fails["align"] += got.align_failures
        fails["unknown"] += got.unknown_types
        fails["truncated"] += got.truncated
        tally.add(gold, got.entities)
        gold_docs.append(Document(uid, text, list(gold)))
        pred_docs.append(Document(uid, text, got.entities))
    m = evaluate(gold_docs, pred_docs).strict.micro
    assert (m.tp, m.fp, m.fn) == (tally.tp, tally.fp, tally.fn), "counting differs from bioner.evaluate"
    return tally, +fails


def place(samples: Sequence[Sample], reads: Sequence[list[tuple[str, str]]], policy: str, whole_word: bool) -> Tally:
    """Score ``assign_names`` under one policy on JSON targets read once (decode = read + assign_names)."""
    tally = Tally()
    for (_, text, gold), pairs in zip(samples, reads):
        tally.add(gold, assign_names(text, pairs, policy, whole_word=whole_word)[0])
    return tally


def unrepresentable(fmt: TaskFormat, samples: Sequence[Sample], labels: dict[str, str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for _, text, gold in samples:
        total += fmt.unrepresentable(text, gold, labels)
    return total


def cost_rows(data: dict[str, tuple[list[Sample], dict[str, str]]], count: Callable[[str], int] = len) -> list[list[str]]:
    """Per corpus and format: target ``count`` per gold entity and per unit (len = characters)."""
    rows = []
    for name, (samples, labels) in data.items():
        for fmt in (TagsFormat(), JsonFormat()):
            total, ents = target_cost(fmt, ((t, g) for _, t, g in samples), labels, count)
            rows.append([name, fmt.name, f"{total / max(ents, 1):.1f}", f"{total / max(len(samples), 1):.1f}"])
    return rows


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", nargs="*", default=list(CORPORA))
    ap.add_argument("--out", default=str(ROOT / "bench/results/llm_formats.md"))
    ap.add_argument("--tokenizer", help="a local Hugging Face tokenizer folder: adds model tokens per entity")
    args = ap.parse_args()
    t0 = time.time()
    data: dict[str, tuple[list[Sample], dict[str, str]]] = {}
    split_names: dict[str, list[str]] = {}
    for name in args.corpus:
        samples, splits = load_samples(name)
        data[name] = (samples, corpora.get(name).natural_labels)
        split_names[name] = splits
    t_load = time.time() - t0

    rt_rows, pol_rows = [], []
    pooled: dict[tuple[str, str], Tally] = {}
    totals: dict[str, Tally] = {}
    variants = [(p, True) for p in POLICIES] + [(DEFAULT_POLICY, False)]
    for name, (samples, labels) in data.items():
        n_ents = sum(len(g) for _, _, g in samples)
        for fmt in (TagsFormat(), JsonFormat()):
            targets = [fmt.encode(t, g, labels) for _, t, g in samples]
            tally, fails = round_trip(fmt, samples, labels, targets)
            totals.setdefault(fmt.name, Tally())
            totals[fmt.name] += tally
            lost = unrepresentable(fmt, samples, labels)
            chars = sum(len(t) for t in targets)
            rt_rows.append([
                name, "+".join(split_names[name]), fmt.name, f"{len(samples):,}", f"{n_ents:,}", *tally.cells(),
                ", ".join(f"{k} {v}" for k, v in sorted(lost.items())) or "-",
                ", ".join(f"{k} {v}" for k, v in sorted(fails.items())) or "-",
                f"{chars / max(n_ents, 1):.1f}", f"{chars / max(len(samples), 1):.1f}",
            ])
        for dedup in (False, True):
            fmt = JsonFormat(dedup=dedup)
            reads = [fmt.read(fmt.encode(t, g, labels), labels).pairs for _, t, g in samples]
            style = "dedup" if dedup else "every mention"
            for policy, ww in variants:
                tally = place(samples, reads, policy, ww)
                label = policy + ("" if ww else " (no whole-word)")
                pooled.setdefault((label, style), Tally())
                pooled[(label, style)] += tally
                pol_rows.append([name, label, style, *tally.cells()])
        print(f"{name}: {len(samples):,} units, {n_ents:,} entities ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    for fmt_name, tally in totals.items():
        rt_rows.append(["**all**", "", fmt_name, f"{tally.units:,}", f"{tally.tp + tally.fn:,}", *tally.cells(), "", "", "", ""])

    pooled_rows = [[label, style, *t.cells(), f"{t.fn:,}", f"{t.fp:,}"] for (label, style), t in pooled.items()]
    pooled_rows.sort(key=lambda row: (row[1] != "every mention", -float(row[5])))
    elapsed = time.time() - t0

    parts = [
        "# LLM task formats: round trip against gold",
        "",
        f"Command: `nice -n 10 .venv/bin/python bench/llm_formats.py` — {datetime.date.today().isoformat()}, "
        f"{elapsed:.0f} s in all (loading and units {t_load:.0f} s). Units from `samples.units`; labels = the corpus's natural labels; "
        "all labelled splits pooled (CMeEE: dev only, its test has no labels).",
        "",
        f"## 1. Round trip decode(encode(gold)) vs gold (JSON: default policy `{DEFAULT_POLICY}`, every mention listed)",
        "",
        "exact = units whose decoded entities equal gold exactly; P/R/F1 strict, %. unrepresentable = what `unrepresentable()` reports; "
        "decoder failures on gold targets; target chars per gold entity and per unit (every unit counted, `[]`/`none` included).",
        "",
        _table(["corpus", "splits", "format", "units", "gold", "exact %", "P", "R", "F1", "unrepresentable", "decoder failures",
                "chars/entity", "chars/unit"], rt_rows),
        "",
        "## 2. JSON name -> offsets policies, all corpora pooled (micro)",
        "",
        "`every mention` = the target lists each mention (what `encode` writes); `dedup` = each (type, name) once (what untuned models often write).",
        "",
        _table(["policy", "target", "exact units %", "P", "R", "F1", "FN", "FP"], pooled_rows),
        "",
        "## 3. JSON policies per corpus",
        "",
        _table(["corpus", "policy", "target", "exact units %", "P", "R", "F1"], pol_rows),
        "",
    ]
    if args.tokenizer:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(args.tokenizer)
        rows = cost_rows(data, lambda s: len(tok(s, add_special_tokens=False).input_ids))
        parts += ["## 4. Model tokens per gold target (all units' targets over the gold entities; EOS not counted)", "",
                  f"Tokenizer: {args.tokenizer}", "", _table(["corpus", "format", "tokens/entity", "tokens/unit"], rows), ""]
    report = "\n".join(parts)
    print(report)
    Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
