"""Leave-one-corpus-out (zero-shot) evaluation: train a span model without a corpus, score it on that corpus.

The model never sees the left-out corpus's annotations (nor its text, unless silver
data brings it in), so its score on that corpus's test split, with the registry's
natural-language labels as prompts, is a zero-shot score in GLiNER-BioMed's sense.
Corpora that share documents leave together (``SHARED_TEXT``): leaving out GENIA
also leaves out JNLPBA (whose train split is GENIA), and the BC5CDR variants go as
one. Other corpora may still annotate the same type (BC5CDR has diseases when
NCBI-disease is left out): what is unseen is the corpus, its guidelines and its texts.

A run folder (``<output>``) records what it was trained for in ``leave_out.json``;
asking a folder for another corpus is E608, and a finished folder is loaded, not
trained again (an unfinished one resumes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bioner.errors import BionerError, Report

if TYPE_CHECKING:
    from bioner.cli.train import SpanTrainOptions
    from bioner.evaluate import Evaluation

# corpora whose texts overlap: they are left out together
SHARED_TEXT: tuple[frozenset[str], ...] = (
    frozenset({"bc5cdr", "bc5cdr-chem", "bc5cdr-disease"}),
    frozenset({"jnlpba", "genia"}),
    frozenset({"cmeee", "cmeee-carved"}),
)
# the English corpora a leave-one-out model trains on (GENIA's documents are in JNLPBA, so JNLPBA stands for both)
POOL = ("ncbi-disease", "bc5cdr", "bc2gm", "jnlpba", "linnaeus", "s800")
RECORD = "leave_out.json"
# The default training recipe (``bioner evaluate --leave-out`` without --train-config, and bench/zero_shot.py):
# a fresh uni-encoder on the packaged MiniLM, 2,000 steps of 8 sentences (30-45 minutes on one CPU
# thread) on fixed per-corpus document samples of the remaining corpora's train splits; the best dev
# checkpoint is kept and the threshold is chosen on the same dev samples. A corpus that is left out
# is not loaded, so its sample sizes do not apply.
RECIPE: dict[str, object] = {
    "kind": "uni", "max_width": 12, "max_len": 256, "hidden_size": 256, "batch_size": 8, "lr": 5e-5, "others_lr": 2.5e-4,
    "schedule_steps": 2000, "eval_every": 1000, "save_every": 200, "seed": 0,
    "train_samples": {"bc2gm": 6000, "jnlpba": 650, "linnaeus": 8},
    "dev_samples": {"ncbi-disease": 25, "bc5cdr": 25, "bc2gm": 250, "jnlpba": 25, "s800": 25, "linnaeus": 1},
    # the prompts the first measured units trained LINNAEUS with, before the registry gave it its own
    # guideline prompt: pinned so every unit of the table has one recipe
    "labels": {"linnaeus": {"Species": "species"}},
}
_NOT_IDENTITY = ("threads", "resume", "root")  # options that do not change the model


def left_out_with(corpus: str) -> frozenset[str]:
    """``corpus`` and every corpus that shares its texts."""
    from bioner import corpora

    corpora.get(corpus)  # unknown name: E201 with the list
    for group in SHARED_TEXT:
        if corpus in group:
            return group
    return frozenset({corpus})


def training_corpora(corpus: str, pool: Sequence[str] = POOL) -> list[str]:
    """The corpora of ``pool`` that share no text with ``corpus``."""
    out = left_out_with(corpus)
    return [c for c in pool if c not in out]


def check_training(corpus: str, train: Sequence[str]) -> None:
    """E608 when ``train`` holds ``corpus`` or a corpus sharing its texts."""
    bad = sorted(set(train) & left_out_with(corpus))
    if bad:
        raise BionerError("E608", f"leaving out {corpus} but training on {', '.join(bad)}",
                          hint=f"drop {', '.join(bad)} from the training corpora (they share texts with {corpus})")


def recipe_options() -> SpanTrainOptions:
    """``RECIPE`` as training options (no corpora, no output folder yet)."""
    from bioner.cli.train import SpanTrainOptions

    return SpanTrainOptions.from_mapping(RECIPE, where="bioner.leave_out.RECIPE")


@dataclass(frozen=True)
class LeaveOutRun:
    """A trained (or loaded) leave-one-out model."""

    corpus: str
    trained_on: tuple[str, ...]
    model_dir: Path
    trained_now: bool


def leave_out_model(corpus: str, opts: SpanTrainOptions, *, progress: bool = False, log_every: int = 0,
                    report: Report | None = None) -> LeaveOutRun:
    """Train a span model on ``opts`` without ``corpus`` into ``opts.output``, or load the one already there.

    ``opts.corpus`` empty: ``training_corpora(corpus)``; given: checked (E608). Files
    (``train_file``, ``silver``) are the user's word that they hold no text of ``corpus``.
    """
    from bioner.cli.train import MODEL_DIR, train_span_model

    train = list(opts.corpus) or training_corpora(corpus)
    check_training(corpus, train)
    # prompts pinned for a corpus that is left out have nothing to apply to
    gone = left_out_with(corpus)
    opts = replace(opts, corpus=train, labels={k: v for k, v in opts.labels.items() if k not in gone})
    out = Path(opts.output)
    record = out / RECORD
    options = {k: v for k, v in asdict(opts).items() if k not in _NOT_IDENTITY}
    wanted = {"corpus": corpus, "trained_on": train, "options": options}
    if record.is_file():
        have = json.loads(record.read_text(encoding="utf-8"))
        if have.get("corpus") != corpus:
            raise BionerError("E608", f"{out} holds a model trained without {have.get('corpus')!r}, not {corpus!r}", file=record,
                              hint="give another --run-dir")
        if have.get("finished") and (out / MODEL_DIR).is_dir():
            if not _same_options(have.get("options") or {}, options):
                raise BionerError("E608", f"{out} holds a model trained with other options", file=record,
                                  hint="give another --run-dir, or delete the folder to train again")
            return LeaveOutRun(corpus, tuple(have["trained_on"]), out / MODEL_DIR, False)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(record, {**wanted, "finished": False})
    run = train_span_model(opts, progress=progress, log_every=log_every, report=report)
    _write_json(record, {**wanted, "finished": run.result.finished})
    return LeaveOutRun(corpus, tuple(train), run.model_dir, True)


def _same_options(recorded: dict[str, object], options: dict[str, object]) -> bool:
    """A record written before an option existed holds that option's default."""
    from bioner.cli.train import SpanTrainOptions

    defaults = {k: v for k, v in asdict(SpanTrainOptions()).items() if k not in _NOT_IDENTITY}
    return {**defaults, **recorded} == options


def _write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def leave_out_evaluate(corpus: str, model_dir: str | os.PathLike[str], *, split: str = "test", root: str | None = None,
                       threads: int | None = None, threshold: float | None = None, limit: int | None = None,
                       report: Report | None = None) -> Evaluation:
    """Score the model in ``model_dir`` on ``corpus``'s ``split`` with the registry's natural-language labels.

    The model alone is scored, asked for the corpus's own types only: no abbreviation
    propagation (``bioner.abbreviations``) and no context types (``CorpusInfo.predict_types``),
    so that zero- and few-shot numbers measure what training gave the model.
    """
    from bioner.cli.evaluate import evaluate_model_source
    from bioner.models import ModelRef

    model: ModelRef = os.fspath(model_dir)
    return evaluate_model_source(f"{corpus}:{split}", model, root=root, threads=threads, threshold=threshold, limit=limit,
                                 gold_report=report if report is not None else Report(skip_invalid=True), abbreviations=False,
                                 context_types=False)
