"""Fine-tuning a SpanModel on Documents: sentence-level examples, per-corpus label sets, resumable.

Why a plain torch loop and not gliner's (Hugging Face) Trainer: the Trainer's
collator builds each batch's label list itself, and for bi-encoders it pools the
types of the whole batch into one list, so a sentence of corpus A would be trained
to say "no" to corpus B's types, which corpus A never annotates. Here every example
carries its own corpus's label set through the collator (``entity_types`` per row),
and the checkpoint holds everything needed to continue bit-for-bit: model, optimizer,
scheduler, RNG states and the position in the epoch (the data order of an epoch is a
function of the seed and the epoch number, so nothing else is needed).

Examples. Each document is cut into sentences (``Document.sentences`` or
``split_sentences``; sentences an entity crosses are joined), words are the document's
tokens or ``tokenize`` tokens, split at every entity boundary so that each entity is a
whole number of words. An example's label prompt is the types it mentions plus the
other types of its corpus as negatives (each kept with probability
``negative_types``, or the group's own probability in ``group_negative_types``, and
at least one label always, so entity-free sentences teach "nothing here"). Entities that cannot be a training span (discontinuous, wider than
``max_width`` words, cut at a window edge) are left out and counted as W604.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioner.doc import Document, Offsets
from bioner.engines import training
from bioner.engines.span import LabelSet, Pairs, SpanModel, label_pairs, natural_labels, sentence_groups
from bioner.engines.training import rng_state, save_state, scheduler, set_rng_state
from bioner.errors import BionerError, Report
from bioner.text import chunk, join_crossed, split_sentences, tokenize

# (document, its label set) pairs, or corpus name -> documents (labels per corpus)
TrainData = Sequence[tuple[Document, LabelSet]] | Mapping[str, Sequence[Document]]

CHECKPOINT = "checkpoint"
BEST = "best"
_STATE = "state.pt"


@dataclass(frozen=True)
class Example:
    """One training sentence in gliner's terms, with its corpus's label set."""

    words: tuple[str, ...]
    spans: tuple[tuple[int, int, str], ...]  # first word, last word (inclusive), prompt
    labels: tuple[tuple[str, str], ...]  # the corpus's (type, prompt) pairs
    group: str  # which corpus / label set it came from

    def gliner(self) -> dict[str, Any]:
        return {"tokenized_text": list(self.words), "ner": [list(s) for s in self.spans]}


@dataclass
class TrainResult:
    """What a ``train_span`` run did. ``history`` has one entry per dev evaluation."""

    steps: int
    epochs: float
    best_f1: float | None
    best_step: int | None
    stopped_early: bool
    finished: bool  # False when stopped by max_steps before the planned steps
    output_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    losses: list[float] = field(default_factory=list)  # per step, of this call only (not of a resumed past)
    threshold: float | None = None  # chosen on dev at the end (tune_threshold), now the model's default
    thresholds: dict[float, dict[str, float]] = field(default_factory=dict)  # dev scores per candidate threshold


# ---------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class _Group:
    name: str
    docs: tuple[Document, ...]
    pairs: tuple[tuple[str, str], ...]


def _corpus_labels(name: str, docs: Sequence[Document], labels: Mapping[str, LabelSet] | None) -> Pairs:
    """A corpus's label set: given, else the registry's natural labels, else its observed types."""
    if labels is not None and name in labels:
        return label_pairs(labels[name])
    from bioner import corpora

    if name in corpora.CORPORA:
        return label_pairs(corpora.get(name).natural_labels)
    seen = sorted({e.label for d in docs for e in d.entities})
    if not seen:
        raise ValueError(f"corpus {name!r} has no entities and no label set: pass labels={{{name!r}: [...]}}")
    return label_pairs(natural_labels(seen))


def groups(data: TrainData | None, labels: Mapping[str, LabelSet] | None = None) -> list[_Group]:
    """Normalize training/dev data to groups of documents sharing a label set."""
    if data is None:
        return []
    if isinstance(data, Mapping):
        return [_Group(name, tuple(docs), tuple(_corpus_labels(name, list(docs), labels))) for name, docs in data.items()]
    by_set: dict[tuple[tuple[str, str], ...], list[Document]] = {}
    for item in data:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Document)):
            raise TypeError("training data must be (Document, label set) pairs or a mapping corpus name -> documents")
        doc, ls = item
        by_set.setdefault(tuple(label_pairs(ls)), []).append(doc)
    return [_Group("+".join(n for n, _ in pairs), tuple(docs), pairs) for pairs, docs in by_set.items()]


def _split_tokens(tokens: Sequence[Offsets], cuts: set[int]) -> list[Offsets]:
    """The document's own tokens, split where an entity boundary falls inside one."""
    out: list[Offsets] = []
    for s, e in tokens:
        inner = sorted(c for c in cuts if s < c < e)
        for a, b in zip([s] + inner, inner + [e], strict=True):
            out.append((a, b))
    return out


def document_examples(doc: Document, pairs: Sequence[tuple[str, str]], *, group: str, max_width: int, max_words: int, report: Report) -> list[Example]:
    """Sentence-level examples of one document (see the module doc)."""
    text = doc.text
    prompt_of = dict(pairs)
    ents = []
    for e in doc.entities:
        if e.label not in prompt_of:
            continue  # a type this corpus's label set does not have: neither positive nor negative
        if e.discontinuous:
            report.warn("W604", f"document {doc.id!r}: discontinuous {e.label} at {e.start}..{e.end} left out")
            continue
        ents.append(e)
    cuts = {b for e in ents for b in (e.start, e.end)}
    toks = _split_tokens(doc.tokens, cuts) if doc.tokens is not None else tokenize(text, boundaries=cuts)
    sents = join_crossed(doc.sentences if doc.sentences is not None else split_sentences(text), ents)
    placed: set[int] = set()
    examples: list[Example] = []
    for span, group_toks in sentence_groups(sents, toks):
        for c in chunk(text, max_words, 0, sentences=[span], token_spans=group_toks):
            first = {s: i for i, (s, _) in enumerate(c.tokens)}
            last = {e: i for i, (_, e) in enumerate(c.tokens)}
            spans = []
            for k, e in enumerate(ents):
                if k in placed or e.start not in first or e.end not in last:
                    continue
                placed.add(k)
                ws, we = first[e.start], last[e.end]
                if we - ws + 1 > max_width:
                    report.warn("W604", f"document {doc.id!r}: {e.label} {text[e.start:e.end]!r} is {we - ws + 1} words, max_width is {max_width}")
                    continue
                spans.append((ws, we, prompt_of[e.label]))
            examples.append(Example(tuple(text[s:e] for s, e in c.tokens), tuple(sorted(set(spans))), tuple(pairs), group))
    for k, e in enumerate(ents):
        if k not in placed:
            report.warn("W604", f"document {doc.id!r}: {e.label} at {e.start}..{e.end} does not fit one window of whole words")
    return examples


def build_examples(data: Sequence[_Group], *, max_width: int, max_words: int, report: Report | None = None) -> list[Example]:
    report = report if report is not None else Report()
    return [
        ex
        for g in data
        for d in g.docs
        for ex in document_examples(d, g.pairs, group=g.name, max_width=max_width, max_words=max_words, report=report)
    ]


def example_prompts(ex: Example, rng: random.Random, negative_types: float) -> list[str]:
    """The example's label list: its mentioned types plus sampled negatives of its own corpus, shuffled."""
    pos = list(dict.fromkeys(p for _, _, p in ex.spans))
    others = [p for _, p in ex.labels if p not in pos]
    neg = [p for p in others if rng.random() < negative_types]
    if not pos and not neg:
        neg = [rng.choice(others)]  # an entity-free sentence still needs a label to say "none" to
    prompts = pos + neg
    rng.shuffle(prompts)
    return prompts


# ---------------------------------------------------------------------------
# Training


def _optimizer(model: SpanModel, lr: float, others_lr: float, weight_decay: float) -> Any:
    import torch

    groups_: dict[tuple[bool, bool], list[Any]] = {}
    for n, p in model.gliner.model.named_parameters():
        if not p.requires_grad:
            continue
        encoder = "token_rep_layer" in n or "labels_encoder" in n
        decay = p.ndim > 1 and "norm" not in n.lower()
        groups_.setdefault((encoder, decay), []).append(p)
    params = [
        {"params": ps, "lr": lr if enc else others_lr, "weight_decay": weight_decay if decay else 0.0}
        for (enc, decay), ps in sorted(groups_.items())
    ]
    return torch.optim.AdamW(params)


def _evaluate_dev(model: SpanModel, dev: Sequence[_Group], predict_options: Mapping[str, Any]) -> dict[str, float]:
    """Strict micro P/R/F1 pooled over the dev groups (each scored on its own types)."""
    preds = [model.predict(g.docs, dict(g.pairs), **predict_options) for g in dev]
    return _pooled(dev, preds, None)


def _pooled(dev: Sequence[_Group], preds: Sequence[Sequence[Document]], below: float | None) -> dict[str, float]:
    from bioner.evaluate import evaluate

    tp = fp = fn = 0
    for g, pred in zip(dev, preds, strict=True):
        ev = evaluate(g.docs, pred, labels=[n for n, _ in g.pairs], ignore_score_below=below)
        tp, fp, fn = tp + ev.strict.micro.tp, fp + ev.strict.micro.fp, fn + ev.strict.micro.fn
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": fp, "fn": fn}


THRESHOLDS = tuple(round(0.2 + 0.05 * i, 2) for i in range(14))  # 0.2 ... 0.85


def choose_threshold(
    model: SpanModel, dev: TrainData, *, labels: Mapping[str, LabelSet] | None = None, candidates: Sequence[float] = THRESHOLDS,
    predict_options: Mapping[str, Any] | None = None,
) -> tuple[float, dict[float, dict[str, float]]]:
    """The candidate threshold with the best strict micro F1 on ``dev`` (pooled over its corpora), and every candidate's scores.

    One prediction pass at the lowest candidate: flat decoding keeps spans greedily by
    score, so dropping what scores below ``t`` afterwards gives exactly what decoding at
    ``t`` gives. Ties go to the higher threshold (fewer, surer entities). Does not set
    ``model.threshold``: the caller decides.
    """
    return _choose_threshold(model, groups(dev, labels), candidates, predict_options)


def _choose_threshold(
    model: SpanModel, dev_groups: Sequence[_Group], candidates: Sequence[float], predict_options: Mapping[str, Any] | None,
) -> tuple[float, dict[float, dict[str, float]]]:
    if not dev_groups or not candidates:
        raise ValueError("choosing a threshold needs dev documents and at least one candidate")
    options = {"pack_sentences": False, "batch_size": 16, **(predict_options or {}), "threshold": min(candidates)}
    preds = [model.predict(g.docs, dict(g.pairs), **options) for g in dev_groups]
    table = {t: _pooled(dev_groups, preds, t) for t in sorted(candidates)}
    best = max(table, key=lambda t: (table[t]["f1"], t))
    return best, table


def _fingerprint(examples: Sequence[Example], batch_size: int, epochs: int, seed: int, model: SpanModel, buckets: int) -> dict[str, Any]:
    fp = {"examples": len(examples), "words": sum(len(e.words) for e in examples), "batch_size": batch_size, "epochs": epochs, "seed": seed, "kind": model.kind}
    return {**fp, "length_buckets": buckets} if buckets else fp  # plain batches: same fingerprint as before buckets existed


def epoch_batches(examples: Sequence[Example], batch_size: int, seed: int, epoch: int, buckets: int = 0) -> list[list[int]]:
    """The epoch's batches as example indices (see ``training.epoch_batches``; length = words)."""
    return training.epoch_batches([len(e.words) for e in examples], batch_size, seed, epoch, buckets)


def train_span(
    model: SpanModel,
    train: TrainData,
    dev: TrainData | None = None,
    *,
    labels: Mapping[str, LabelSet] | None = None,
    output_dir: str | os.PathLike[str],
    epochs: int = 3,
    batch_size: int = 8,
    lr: float = 3e-5,
    others_lr: float | None = None,
    weight_decay: float = 0.01,
    warmup: float = 0.1,
    max_grad_norm: float = 1.0,
    negative_types: float = 1.0,
    group_negative_types: Mapping[str, float] | None = None,
    loss_options: Mapping[str, Any] | None = None,
    eval_every: int | None = None,
    early_stopping_patience: int | None = None,
    predict_options: Mapping[str, Any] | None = None,
    save_every: int | None = None,
    max_steps: int | None = None,
    schedule_steps: int | None = None,
    length_buckets: int = 50,
    tune_threshold: bool = True,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    log_every: int = 0,
    report: Report | None = None,
) -> TrainResult:
    """Fine-tune ``model`` in place; checkpoints and the best model go to ``output_dir``.

    ``train``/``dev``: (Document, label set) pairs, or corpus name -> documents with
    ``labels`` giving each corpus's label set (type -> prompt; default: the corpus
    registry's natural labels). ``lr`` is the encoders' learning rate, ``others_lr``
    (default 5 x lr) the span and prompt layers'. ``loss_options`` go to gliner's loss
    (``alpha``, ``gamma`` for focal loss, ``reduction``; default focal loss, alpha 0.75, gamma 2, summed).
    ``negative_types``: the probability that a type of the group's label set an example
    does not mention is in its prompt (as a type to answer "none" for);
    ``group_negative_types`` (group name -> probability) overrides it for some groups,
    e.g. silver data whose teacher misses mentions: every mention it missed under a
    prompted type is taught as "not an entity".
    Dev is scored with strict micro F1 after every epoch, or every ``eval_every``
    steps; ``early_stopping_patience`` evaluations without improvement stop training,
    and the best weights (saved in ``output_dir/best``) are loaded back at the end.
    ``output_dir/checkpoint`` holds model, optimizer, scheduler, RNG states and step,
    written after each evaluation, every ``save_every`` steps and on interruption;
    with ``resume`` a run continues from it. ``max_steps`` stops after that many steps
    in total (the schedule still spans ``epochs``, so a resumed run continues it).
    ``schedule_steps``: the learning rate decays to zero at this step and training ends
    there (default: ``epochs`` x steps per epoch). It is not part of the checkpoint's
    identity: a resumed run may shorten or lengthen the rest of its decay, e.g. to fit
    a time budget.
    ``length_buckets``: batches are formed from pools of that many batches sorted by
    length (0: plain random batches); see ``epoch_batches``. ``tune_threshold``: when the
    run finishes and there is dev data, pick the model's default threshold on dev
    (``choose_threshold``) and store it with the best model. ``progress``: a progress bar;
    ``log_every``: a line on stderr every that many steps and after each dev evaluation
    (for logs, where a bar does not show).
    """
    import torch

    if model.quantized:
        raise BionerError("E606", f"model {model.name!r} is quantized ({model.quantized}) and cannot be trained", hint="load it without quantize")
    report = report if report is not None else Report()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_groups, dev_groups = groups(train, labels), groups(dev, labels)
    examples = build_examples(train_groups, max_width=model.max_width, max_words=model.max_words, report=report)
    if not examples:
        raise ValueError("no training examples: the training documents have no text")
    steps_per_epoch = len(epoch_batches(examples, batch_size, seed, 0, length_buckets))
    total = epochs * steps_per_epoch if schedule_steps is None else schedule_steps
    if total < 1:
        raise ValueError(f"schedule_steps must be >= 1, got {schedule_steps}")
    opt = _optimizer(model, lr, others_lr if others_lr is not None else 5 * lr, weight_decay)
    sched = scheduler(opt, total, warmup)
    loss_kw = {"alpha": 0.75, "gamma": 2.0, "reduction": "sum", **(loss_options or {})}
    pred_kw = {"pack_sentences": False, "batch_size": 16, **(predict_options or {})}
    per_group = dict(group_negative_types or {})
    for name, prob in [("negative_types", negative_types), *per_group.items()]:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"{name}: a probability between 0 and 1, got {prob}")
    unknown = sorted(set(per_group) - {g.name for g in train_groups})
    if unknown:
        raise ValueError(f"group_negative_types names groups that are not in the training data: {', '.join(unknown)}")
    fp = _fingerprint(examples, batch_size, epochs, seed, model, length_buckets)
    if negative_types != 1.0 or per_group:  # other prompts, another run (the default keeps older checkpoints resumable)
        fp["negative_types"] = {"": negative_types, **per_group}

    def negatives(group: str) -> float:
        return per_group.get(group, negative_types)

    step, best_f1, best_step, bad_evals = 0, None, None, 0
    history: list[dict[str, Any]] = []
    ckpt = out / CHECKPOINT / _STATE
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["fingerprint"] != fp:
            raise BionerError("E603", f"checkpoint {ckpt} was made by another run {state['fingerprint']}, this run is {fp}",
                              file=ckpt, hint="use another output_dir, or resume=False to start over")
        model.gliner.model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        step, best_f1, best_step, bad_evals, history = state["step"], state["best_f1"], state["best_step"], state["bad_evals"], state["history"]
    else:
        torch.manual_seed(seed)

    def save() -> None:
        save_state(out / CHECKPOINT, {
            "fingerprint": fp, "model": model.gliner.model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "rng": rng_state(), "step": step, "best_f1": best_f1, "best_step": best_step, "bad_evals": bad_evals, "history": history,
        }, _STATE)

    collator = model.gliner.data_collator_class(model.gliner.config, data_processor=model.gliner.data_processor, prepare_labels=True)
    stop_at = total if max_steps is None else min(total, max_steps)
    batches: list[list[int]] | None = None
    batches_epoch = -1
    stopped_early = False
    losses: list[float] = []  # since the last evaluation
    all_losses: list[float] = []
    started, first_step = time.perf_counter(), step
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("span training"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"), disable=not progress)
    try:
        with bar:
            task = bar.add_task("train", total=total, completed=step, info="")
            while step < stop_at and not stopped_early:
                epoch, pos = divmod(step, steps_per_epoch)
                if batches is None or epoch != batches_epoch:
                    batches, batches_epoch = epoch_batches(examples, batch_size, seed, epoch, length_buckets), epoch
                idx = batches[pos]
                loss = _train_step(model, collator, [examples[i] for i in idx], random.Random(f"{seed}:step:{step}"), negatives, loss_kw, opt, sched, max_grad_norm)
                losses.append(loss)
                all_losses.append(loss)
                step += 1
                bar.update(task, completed=step, info=f"loss {loss:.3g}")
                if log_every and step % log_every == 0:
                    recent = all_losses[-log_every:]
                    print(f"span step {step}/{stop_at} loss {sum(recent) / len(recent):.4g} "
                          f"{(time.perf_counter() - started) / (step - first_step):.2f} s/step", file=sys.stderr, flush=True)
                end_of_epoch = step % steps_per_epoch == 0
                if dev_groups and ((eval_every and step % eval_every == 0) or (not eval_every and end_of_epoch) or step == total):
                    scores = _evaluate_dev(model, dev_groups, pred_kw)
                    entry = {"step": step, "epoch": step / steps_per_epoch, "loss": sum(losses) / len(losses), "seconds": time.perf_counter() - started, **scores}
                    history.append(entry)
                    losses = []
                    bar.update(task, info=f"dev F1 {scores['f1']:.4f}")
                    if log_every:
                        print(f"span step {step} dev F1 {scores['f1']:.4f}", file=sys.stderr, flush=True)
                    if best_f1 is None or scores["f1"] > best_f1:
                        best_f1, best_step, bad_evals = scores["f1"], step, 0
                        model.save(out / BEST)
                    else:
                        bad_evals += 1
                        stopped_early = early_stopping_patience is not None and bad_evals >= early_stopping_patience
                    save()
                elif save_every and step % save_every == 0:
                    save()
    except KeyboardInterrupt:
        save()  # interrupted: keep the position, so resume continues here
        raise
    save()
    if best_step is not None and (out / BEST).is_dir():
        best = SpanModel.load(out / BEST, device=str(model.device))
        model.gliner.model.load_state_dict(best.gliner.model.state_dict())
    model.gliner.eval()
    finished = step >= total or stopped_early
    threshold: float | None = None
    thresholds: dict[float, dict[str, float]] = {}
    if tune_threshold and finished and dev_groups:
        threshold, thresholds = _choose_threshold(model, dev_groups, THRESHOLDS, predict_options)
        model.threshold = threshold
        if best_step is not None:
            model.save(out / BEST)
    return TrainResult(step, step / steps_per_epoch, best_f1, best_step, stopped_early, finished, out, history, report, all_losses,
                       threshold, thresholds)


def _train_step(
    model: SpanModel, collator: Any, batch: Sequence[Example], rng: random.Random, negatives: Callable[[str], float],
    loss_kw: Mapping[str, Any], opt: Any, sched: Any, max_grad_norm: float,
) -> float:
    import torch

    model.gliner.train()
    prompts = [example_prompts(ex, rng, negatives(ex.group)) for ex in batch]
    inputs = collator([ex.gliner() for ex in batch], entity_types=prompts)
    dev = model.device
    inputs = {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    if model.fused:
        from bioner.engines.span_fast import fused_forward

        _, loss = fused_forward(model.gliner, inputs, loss_kw)
    else:
        loss = model.gliner.model(**inputs, **loss_kw).loss
    assert loss is not None  # the collator prepared labels
    loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(model.gliner.model.parameters(), max_grad_norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.detach())


def iter_examples(data: TrainData, *, labels: Mapping[str, LabelSet] | None = None, max_width: int = 12, max_words: int = 256,
                  report: Report | None = None) -> Iterable[dict[str, Any]]:
    """gliner-format examples (``tokenized_text``, ``ner``, ``ner_labels``) for use with gliner's own tools."""
    for ex in build_examples(groups(data, labels), max_width=max_width, max_words=max_words, report=report):
        yield {**ex.gliner(), "ner_labels": [p for _, p in ex.labels]}
