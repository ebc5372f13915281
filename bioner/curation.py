"""Hybrid Superfiltering (BioSelectTune): score LLM tuning samples by IFD with a weak model, keep the best.

IFD (instruction-following difficulty) of a (prompt, answer) sample, from a small "weak"
causal LM of the target's family:

    IFD = PPL(answer | prompt) / PPL(answer)

where each perplexity is exp of the mean negative log-likelihood over the answer's
tokens (EOS not counted): once after the prompt, once after BOS alone. IFD near 1 means
the prompt barely helps predict the answer (a hard, informative sample); IFD >= 1 means
it does not help at all, which BioSelectTune reads as a misaligned sample.

Selection (``select``) splits samples into positives (at least one entity) and
negatives (the empty answer, ``[]`` / ``none``):

* ``hybrid``: drop positives with IFD >= 1, keep the top ``ratio`` x (all positives) of
  the rest by IFD (highest first), keep every negative — BioSelectTune's recipe;
* ``random``: a seeded random ``ratio`` share of the positives, every negative;
* ``ifd-only``: the hybrid's positives without the negatives;
* ``full``: everything.

Only the positives' IFD is read by any strategy (hybrid and ifd-only rank them; random
and full read none), so scoring skips negatives unless asked (``SCORE_MODES``): on the
shared corpora negatives are 42-44% of the samples but only 18-21% of the scoring time
(their answer is one token; ``bench/curation.py time``).

The number of positives kept is the same for ``hybrid``, ``random`` and ``ifd-only``
(``round(ratio x positives)``, fewer only if not enough positives have IFD < 1), so
the strategies differ in which samples they keep, not how many.

Scores are cached on disk (``ScoreCache``), one JSON line per sample keyed by the weak
model's fingerprint and the sample's text, appended after every batch: re-running is
free and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioner.engines.generative.train import Sample, decoder_hidden, shared_prefix
from bioner.errors import BionerError

STRATEGIES = ("hybrid", "random", "ifd-only", "full")
RANKED = ("hybrid", "ifd-only")  # the strategies that read IFD (of positives only)
SCORE_MODES = ("positives", "all", "none")  # which samples ifd scoring computes (cached scores are always read)
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass(frozen=True)
class ScoredSample:
    """A sample with the weak model's mean answer NLLs (nats per token) with and without the prompt.

    A sample that was not scored (``unscored``) has NaN NLLs, so NaN perplexities and IFD.
    """

    sample: Sample
    answer_tokens: int
    nll_conditional: float
    nll_answer: float

    @classmethod
    def unscored(cls, sample: Sample) -> ScoredSample:
        return cls(sample, 0, math.nan, math.nan)

    @property
    def scored(self) -> bool:
        return not (math.isnan(self.nll_conditional) or math.isnan(self.nll_answer))

    @property
    def ppl_conditional(self) -> float:
        return math.exp(self.nll_conditional)

    @property
    def ppl_answer(self) -> float:
        return math.exp(self.nll_answer)

    @property
    def ifd(self) -> float:
        return math.exp(self.nll_conditional - self.nll_answer)

    @property
    def positive(self) -> bool:
        return self.sample.entities > 0

    def record(self, group: str) -> dict[str, Any]:
        """The JSON record of a curated file (scores null when the sample was not scored)."""
        scores: dict[str, float | None] = {"answer_tokens": self.answer_tokens, "ppl_conditional": round(self.ppl_conditional, 6),
                  "ppl_answer": round(self.ppl_answer, 6), "ifd": round(self.ifd, 6)} if self.scored else \
            {"answer_tokens": None, "ppl_conditional": None, "ppl_answer": None, "ifd": None}
        return {**asdict(self.sample), **scores, "positive": self.positive, "group": group}


# ---------------------------------------------------------------------------- scoring


def model_fingerprint(model: Any, name: str) -> str:
    """A short key for a weak model: its name, configuration and a checksum of its input embeddings."""
    import torch

    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        check = float(emb[:: max(1, emb.shape[0] // 997)].double().sum())
    text = json.dumps({"name": os.path.basename(os.fspath(name).rstrip("/")), "config": model.config.to_dict(), "check": round(check, 6)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sample_key(sample: Sample) -> str:
    return hashlib.sha256(f"{sample.prompt}\0{sample.answer}".encode()).hexdigest()[:24]


class ScoreCache:
    """Append-only JSONL of scores for one weak model: {"key", "n", "cond", "ans"} per line.

    A line cut short by a crash is ignored on reading (its sample is scored again).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.scores: dict[str, tuple[int, float, float]] = {}
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                        self.scores[r["key"]] = (int(r["n"]), float(r["cond"]), float(r["ans"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line after a crash

    def add(self, rows: Iterable[tuple[str, int, float, float]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = False
        if self.path.is_file() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        with open(self.path, "a", encoding="utf-8") as f:
            if torn:
                f.write("\n")  # end a line cut by a crash, so the next record starts a line of its own
            for key, n, cond, ans in rows:
                self.scores[key] = (n, cond, ans)
                f.write(json.dumps({"key": key, "n": n, "cond": cond, "ans": ans}) + "\n")
            f.flush()
            os.fsync(f.fileno())


def default_cache(fingerprint: str) -> Path:
    from bioner.engines.generative.model import cache_dir

    return cache_dir() / "ifd" / f"{fingerprint}.jsonl"


def answer_nll(model: Any, rows: Sequence[tuple[list[int], int]], pad_id: int) -> list[tuple[int, float]]:
    """(answer tokens, mean NLL in nats) for each (input ids, index of the first answer token); one forward pass.

    The LM head is applied only to the positions that predict answer tokens (as in training).
    """
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, _) in enumerate(rows):  # right padding: positions stay those of an unpadded sequence
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    with torch.inference_mode():
        hidden = decoder_hidden(causal, ids, mask, shared_prefix([x for x, _ in rows]))  # the shared prompt head once
        pos = [(i, p) for i, (x, a) in enumerate(rows) for p in range(a - 1, len(x) - 1)]
        rows_i = torch.tensor([i for i, _ in pos])
        cols = torch.tensor([p for _, p in pos])
        logits = causal.lm_head(hidden[rows_i, cols])
        cap = getattr(causal.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        nll = F.cross_entropy(logits.float(), ids[rows_i, cols + 1], reduction="none")
    out: list[tuple[int, float]] = []
    k = 0
    for x, a in rows:
        n = len(x) - a
        out.append((n, float(nll[k:k + n].mean())))
        k += n
    return out


def _rows(tokenizer: Any, sample: Sample) -> tuple[tuple[list[int], int], tuple[list[int], int]] | None:
    """(conditional, unconditional) inputs of a sample, or None when its answer has no tokens."""
    from bioner.engines.generative.prompts import prompt_ids

    answer = list(tokenizer(sample.answer, add_special_tokens=False)["input_ids"])
    if not answer:
        return None
    prompt = prompt_ids(tokenizer, sample.prompt)
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    return (prompt + answer, len(prompt)), ([start] + answer, 1)


def ifd_scores(
    model: Any, tokenizer: Any, samples: Sequence[Sample], *, cache: ScoreCache | None = None, batch_size: int = 8,
    progress: bool = False, log_every: int = 0, score: str = "all",
) -> list[ScoredSample]:
    """Score the samples ``score`` names (``SCORE_MODES``); cached ones are read, not recomputed; results in input order.

    Samples left unscored come back ``ScoredSample.unscored`` unless the cache has them.
    Samples are scored in length-sorted batches (less padding). A sample whose answer has
    no tokens cannot be scored and raises E740, naming it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if score not in SCORE_MODES:
        raise BionerError("E741", f"unknown scoring mode {score!r}", hint=f"one of: {', '.join(SCORE_MODES)}")
    keys = [sample_key(s) for s in samples]
    wanted = {"all": lambda s: True, "positives": lambda s: s.entities > 0, "none": lambda s: False}[score]
    todo = [k for k, key in enumerate(keys) if (cache is None or key not in cache.scores) and wanted(samples[k])]
    built: dict[int, tuple[tuple[list[int], int], tuple[list[int], int]]] = {}
    for k in todo:
        r = _rows(tokenizer, samples[k])
        if r is None:
            s = samples[k]
            raise BionerError("E740", f"{s.source}: document {s.doc_id!r} at {s.start}: the answer has no tokens, so it has no perplexity")
        built[k] = r
    todo.sort(key=lambda k: len(built[k][0][0]))
    fresh: dict[str, tuple[int, float, float]] = {}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    bar = Progress(TextColumn("IFD scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=not progress)
    started = time.perf_counter()
    with bar:
        task = bar.add_task("ifd", total=len(todo))
        for lo in range(0, len(todo), batch_size):
            part = todo[lo:lo + batch_size]
            cond = answer_nll(model, [built[k][0] for k in part], pad)
            ans = answer_nll(model, [built[k][1] for k in part], pad)
            rows = [(keys[k], c[0], c[1], a[1]) for k, c, a in zip(part, cond, ans, strict=True)]
            if cache is not None:
                cache.add(rows)
            fresh.update({key: (n, c, a) for key, n, c, a in rows})
            bar.advance(task, len(part))
            done = lo + len(part)
            if log_every and (done // batch_size) % log_every == 0:
                rate = done / (time.perf_counter() - started)
                print(f"IFD scored {done}/{len(todo)} ({rate:.2f} samples/s)", file=sys.stderr, flush=True)
    table = {**(cache.scores if cache is not None else {}), **fresh}
    return [ScoredSample(s, *table[key]) if key in table else ScoredSample.unscored(s) for s, key in zip(samples, keys, strict=True)]


# ---------------------------------------------------------------------------- selection


@dataclass
class Selection:
    """What a strategy kept, and why each sample was kept or left out."""

    strategy: str
    ratio: float
    kept: list[ScoredSample]
    groups: dict[str, int]  # group -> count, over all samples
    labels: list[str] = field(default_factory=list)  # group of each input sample, in input order

    @property
    def kept_groups(self) -> list[str]:
        """The group of each kept sample ("positive kept" or "negative kept"), parallel to ``kept``."""
        return [lab for lab in self.labels if lab.endswith("kept")]


def select(scored: Sequence[ScoredSample], *, ratio: float = 0.5, strategy: str = "hybrid", seed: int = 0) -> Selection:
    """Apply a selection strategy (module doc); the kept samples stay in input order."""
    if strategy not in STRATEGIES:
        raise BionerError("E741", f"unknown curation strategy {strategy!r}", hint=f"one of: {', '.join(STRATEGIES)}")
    if not 0.0 < ratio <= 1.0:
        raise BionerError("E741", f"ratio must be in (0, 1], got {ratio}")
    pos = [k for k, s in enumerate(scored) if s.positive]
    if strategy in RANKED:
        missing = [scored[k].sample for k in pos if not scored[k].scored]
        if missing:  # a NaN IFD would silently rank as "dropped"
            m = missing[0]
            raise BionerError("E741", f"strategy {strategy!r} ranks positives by IFD, but {len(missing)} are not scored "
                              f"(first: {m.source}: document {m.doc_id!r} at {m.start})", hint="score the positives first (score='positives' or 'all')")
    n_keep = round(ratio * len(pos))
    labels = ["negative kept" if not s.positive else "" for s in scored]
    if strategy == "full":
        chosen = set(pos)
    elif strategy == "random":
        chosen = set(random.Random(f"curate:{seed}").sample(pos, n_keep))
    else:
        below = [k for k in pos if scored[k].ifd < 1.0]
        for k in set(pos) - set(below):
            labels[k] = "positive dropped (IFD >= 1)"
        chosen = set(sorted(below, key=lambda k: (-scored[k].ifd, k))[:n_keep])
    for k in pos:
        if not labels[k]:
            labels[k] = "positive kept" if k in chosen else "positive not selected"
    if strategy == "ifd-only":
        labels = [lab.replace("negative kept", "negative left out") for lab in labels]
    kept = [s for s, lab in zip(scored, labels, strict=True) if lab.endswith("kept")]
    groups: dict[str, int] = {}
    for lab in labels:
        groups[lab] = groups.get(lab, 0) + 1
    return Selection(strategy, ratio, kept, dict(sorted(groups.items())), labels)


def quantiles(values: Sequence[float], qs: Sequence[float] = QUANTILES) -> dict[str, float]:
    """Linear-interpolated quantiles, keyed "q05", "q50" ... ("min" and "max" at the ends)."""
    if not values:
        return {}
    v = sorted(values)
    out = {}
    for q in qs:
        x = q * (len(v) - 1)
        lo = int(math.floor(x))
        hi = min(lo + 1, len(v) - 1)
        val = v[lo] + (v[hi] - v[lo]) * (x - lo)
        out["min" if q == 0 else "max" if q == 1 else f"q{round(100 * q):02d}"] = round(val, 4)
    return out


def summary(selection: Selection, scored: Sequence[ScoredSample], **extra: Any) -> dict[str, Any]:
    """Counts per group and the IFD distribution of the scored positives and negatives (JSON-able)."""
    pos = [s.ifd for s in scored if s.positive and s.scored]
    neg = [s.ifd for s in scored if not s.positive and s.scored]
    n_pos = sum(s.positive for s in scored)
    return {"strategy": selection.strategy, "ratio": selection.ratio, "samples": len(scored), "positives": n_pos, "negatives": len(scored) - n_pos,
            "kept": len(selection.kept), "groups": selection.groups, "scored": {"positives": len(pos), "negatives": len(neg)},
            "ifd_quantiles": {"positives": quantiles(pos), "negatives": quantiles(neg)},
            "positives_ifd_at_least_1": sum(x >= 1 for x in pos), **extra}


def histogram_png(scored: Sequence[ScoredSample], path: str | os.PathLike[str], *, title: str = "") -> Path:
    """A PNG histogram of the scored samples' IFD, positives and negatives stacked, with IFD = 1 marked (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise BionerError("E742", "the IFD histogram needs matplotlib", hint="pip install 'bioner[llm]', or pass --no-plot") from err
    pos = [s.ifd for s in scored if s.positive and s.scored]
    neg = [s.ifd for s in scored if not s.positive and s.scored]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    top = max([1.2, *pos, *neg])
    bins = [top * k / 60 for k in range(61)]
    ax.hist([pos, neg], bins=bins, stacked=True, label=[f"positives ({len(pos)})", f"negatives ({len(neg)})"], color=["#3b7dd8", "#f0a030"])
    ax.axvline(1.0, color="#c03030", linestyle="--", linewidth=1, label="IFD = 1")
    ax.set_xlabel("IFD = PPL(answer | prompt) / PPL(answer)")
    ax.set_ylabel("samples")
    ax.set_title(title or "IFD of tuning samples")
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, out)
    return out


def write_curated(selection: Selection, path: str | os.PathLike[str], meta: dict[str, Any]) -> tuple[Path, Path]:
    """The kept samples as JSONL (one record each, with scores and group) and ``<path>.summary.json``, both written atomically."""
    from bioner.io._common import atomic_write

    out = Path(path)
    with atomic_write(out) as f:
        for s, group in zip(selection.kept, selection.kept_groups, strict=True):
            f.write(json.dumps(s.record(group), ensure_ascii=False) + "\n")
    side = out.with_name(out.name + ".summary.json")
    with atomic_write(side) as f:
        f.write(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return out, side


def read_curated(path: str | os.PathLike[str]) -> tuple[list[Sample], dict[str, Any]]:
    """Samples of a curated file and its summary (scheme, types per part); errors name the file and line."""
    from bioner.io._common import read_text

    p = Path(path)
    side = p.with_name(p.name + ".summary.json")
    if not side.is_file():
        raise BionerError("E743", f"no {side.name} beside the curated file", file=p, hint="give a file written by `bioner curate`")
    try:
        meta = json.loads(read_text(side))
    except ValueError as err:
        raise BionerError("E208", f"invalid JSON: {err}", file=side) from err
    names = {f for f in Sample.__dataclass_fields__}
    samples = []
    for n, line in enumerate(read_text(p).splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            samples.append(Sample(**{k: v for k, v in r.items() if k in names}))
        except (ValueError, TypeError) as err:
            raise BionerError("E743", f"not a curated sample: {err}", file=p, line=n) from err
    return samples, meta
