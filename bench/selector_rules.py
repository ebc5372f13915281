"""How the selector's decision rule is chosen, measured: each objective with and without mention groups, one trained selector.

Run (after bench/selector.py span has cached the span engine's test predictions and the
selector's probabilities for them):
    .venv/bin/python bench/selector_rules.py runs/selector/g1c

For the selector of a training run (``RUN/selector``), the span engine's dev predictions
the run calibrated on (``RUN/predictions/CORPUS-dev-span-*.jsonl``, against the corpus's dev
gold, matched by document id) are scored once (cached in runs/selector/bench/); then for
each way of choosing a rule (``--objective`` pooled or no-loss, mention groups tried or
not; guard and engine-score weight tried in all) the rule is chosen on those dev
predictions exactly as ``bioner train selector`` does (``bioner.selector.train.calibrate``)
and applied to the full test splits (``model.decide``). Strict micro P/R/F1 per corpus,
with the paired-bootstrap 95% interval of the F1 change, as in bench/selector.py.

The control rows (selector "none: span score (RUN's dev)") choose a rule the same four ways,
on the same run's dev predictions, with no selector at all: the span engine's own score is the only judge (re-cut, and with mention
groups tried, each mention decided on the best score of its group). Whatever a selector
row gains beyond its control row is the selector's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import selector as sb  # noqa: E402  (bench/selector.py: caches, scores, intervals)

from bioner import corpora  # noqa: E402
from bioner.doc import Document  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "selector_rules.json"
TABLE = ROOT / "bench" / "results" / "selector_rules.md"
CONTROL = "none: span score"  # the control rows' selector column
VARIANTS = [("pooled", False), ("pooled", True), ("no-loss", False), ("no-loss", True)]  # (objective, mention groups tried)


def _dev_parts(run: Path) -> list[Any]:
    """The run's dev parts: its span predictions on each corpus's dev sample, with that sample's gold."""
    import bioner.io
    from bioner.selector.train import Part

    parts = []
    for corpus in sb.SPAN_CORPORA:
        files = sorted((run / "predictions").glob(f"{corpus}-dev-span-*.jsonl"))
        if len(files) != 1:
            raise SystemExit(f"{run}/predictions: expected one {corpus}-dev-span-*.jsonl, found {len(files)}")
        pred = list(bioner.io.read(files[0], "jsonl"))
        gold_by_id = {d.id: d for d in corpora.load(corpus, "dev")}
        gold = [gold_by_id[d.id] for d in pred]
        if any(g.text != d.text for g, d in zip(gold, pred, strict=True)):
            raise SystemExit(f"{files[0]}: a document's text differs from the {corpus} dev split")
        parts.append(Part(corpus, gold, list(corpora.get(corpus).types), {"span": pred}))
    return parts


def _dev_scored(selector: Any, parts: list[Any]) -> list[Any]:
    """``train._scored`` of the dev parts, cached per (selector weights, dev predictions)."""
    from bioner.selector.train import _Scored, _scored

    preds = hashlib.sha256(json.dumps([[d.id, [list(e.key()) for e in d.entities]] for p in parts for d in p.predictions["span"]]).encode())
    path = sb.CACHE / f"dev-scored-{preds.hexdigest()[:8]}-{sb._selector_weights_id(sb.SELECTOR)}.json"
    if path.is_file():
        return [_Scored(s["name"], s["gold"], [tuple(h) for h in s["hits"]], s["scores"], s["groups"])
                for s in json.loads(path.read_text(encoding="utf-8"))]
    scored = _scored(selector, parts, 64)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"name": s.name, "gold": s.gold, "hits": s.hits, "scores": s.scores, "groups": s.groups} for s in scored]),
                   encoding="utf-8")
    os.replace(tmp, path)
    return scored


def _test(selector: Any, corpus: str) -> tuple[list[Document], list[Document], list[list[float]]]:
    """Gold, span predictions and the selector's probabilities on a full test split, from bench/selector.py's caches (scored if missing)."""
    import bioner.io

    gold = list(corpora.load(corpus, "test"))
    model_id = sb._span_model_id()
    cached = sb.CACHE / f"{corpus}-test-span-{model_id}.jsonl"
    if not cached.is_file():
        raise SystemExit(f"no cached span predictions {cached}; run bench/selector.py span first")
    pred = list(bioner.io.read(cached, "jsonl"))
    probs, _ = sb._probabilities(selector, f"span (shipped bioner-span-minilm @{model_id})|{corpus}|test, all {len(gold)}", pred)
    return gold, pred, probs


def run_variants(run: Path) -> None:
    from bioner.models import corpus_labels
    from bioner.selector.train import _Scored, calibrate

    sb.SELECTOR = (run / "selector").resolve()
    selector = sb._load_selector()
    scored = _dev_scored(selector, _dev_parts(run))
    tests = {c: _test(selector, c) for c in sb.SPAN_CORPORA}
    # the control: the engine's score in the selector's place (every span prediction has one)
    own = [_Scored(s.name, s.gold, [(e, h) for (_, h), e in zip(s.hits, s.scores, strict=True)], s.scores, s.groups) for s in scored]
    # a control belongs to its run: runs calibrate on different dev samples
    for name, dev, judged in ((os.path.relpath(sb.SELECTOR, ROOT), scored, True), (f"{CONTROL} ({run.name}'s dev)", own, False)):
        for objective, together in VARIANTS:
            rule = calibrate(dev, consistent=together, objective=objective, guard=judged, fuse=judged)["span"]
            row: dict[str, Any] = {"selector": name, "objective": objective, "groups_tried": together,
                                   "rule": {"threshold": rule.threshold, "guard": rule.guard, "weight": rule.weight, "consistent": rule.consistent},
                                   "corpora": {}}
            for corpus, (gold, pred, probs) in tests.items():
                judge = probs if judged else [[e.score for e in d.entities] for d in pred]
                kept = sb.kept_by(pred, judge, threshold=rule.threshold, guard=rule.guard, weight=rule.weight, consistent=rule.consistent)
                types = list(corpus_labels(corpus))
                row["corpora"][corpus] = {"without": sb._scores(gold, pred, types), "with": sb._scores(gold, kept, types),
                                          "delta_f1_95": sb._delta_f1_interval(gold, pred, kept, types)}
            sb.add_result(RESULTS, f"{name}|{objective}|{together}", row, sb.CACHE)
            print(name, objective, together, rule, {c: r["with"]["f1"] for c, r in row["corpora"].items()}, flush=True)


def table() -> str:
    results = sb.load_results(RESULTS)
    head = "| selector | rule chosen by | mention groups tried | rule (threshold, guard, weight, groups) | " + " | ".join(
        f"{c}: P | R | F1 | change [95%]" for c in sb.SPAN_CORPORA) + " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key in sorted(results, key=lambda k: (k.startswith(CONTROL), k)):
        r = results[key]
        u = r["rule"]
        cells = [r["selector"].split("/")[-2] if "/" in r["selector"] else r["selector"], r["objective"], "yes" if r["groups_tried"] else "no",
                 f"{u['threshold']:.3g}, {'-' if u['guard'] is None else format(u['guard'], '.3g')}, {u['weight'] or '-'}, {'yes' if u['consistent'] else 'no'}"]
        for c in sb.SPAN_CORPORA:
            a, b = r["corpora"][c]["without"], r["corpora"][c]["with"]
            lo, hi = r["corpora"][c]["delta_f1_95"]
            cells += [f"{a['precision']} → {b['precision']}", f"{a['recall']} → {b['recall']}", f"{a['f1']} → **{b['f1']}**", f"{b['f1'] - a['f1']:+.2f} [{lo:+.2f}, {hi:+.2f}]"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, nargs="?", help="a selector training run folder (RUN/selector, RUN/predictions); none: print the table")
    args = ap.parse_args()
    if args.run is not None:
        run_variants(args.run)
    text = table()
    print(text)
    TABLE.write_text(
        "The span engine (shipped bioner-span-minilm) on the full NCBI-disease, BC5CDR and BC2GM test splits, strict micro "
        "P/R/F1 without → with one trained selector, its decision rule chosen on the run's dev predictions four ways "
        "(`bioner train selector --objective pooled|no-loss`, `--consistent/--no-consistent`; guard and engine-score weight "
        "tried in all). pooled: the rule with the best micro F1 over all dev predictions together; no-loss: among rules that "
        "lower no dev corpus's F1, the one with the largest mean gain. Control rows (`none: span score (RUN's dev)`): the same "
        "four ways, on that run's dev predictions, with the span engine's own score in the selector's place (re-cut; with groups, each mention on its group's best "
        "score), no selector at all. Change: paired bootstrap over test documents (2,000 "
        "resamples, seed 0). Rows: `.venv/bin/python bench/selector_rules.py runs/selector/NAME` (bench/selector.py span "
        "first, for the cached test predictions and probabilities).\n\n" + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
