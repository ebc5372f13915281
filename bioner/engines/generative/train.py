"""LoRA tuning of a causal LM to write entities in a task format (JSON or symbolic tags).

Samples. Each corpus (or set of documents) comes with its own entity types and
definitions (a ``Part``); every generation unit (a sentence, ``samples.units``) of its
documents becomes one sample: the prompt (``prompts.build`` with that part's types) and
the target (``formats.encode`` of the unit's gold entities). Sentences without entities
stay in as negatives (``[]`` / ``none``). What a format cannot carry (discontinuous
mentions, crossing mentions of one type) and samples longer than ``max_len`` tokens are
counted in the report, never dropped silently.

Loss on answer tokens only, and the LM head only where the loss needs it: the model's
decoder runs on the whole sequence, but the vocabulary projection (262k rows for
Gemma, the dominant cost of a full forward pass on a CPU) is applied only to the
hidden states that predict an answer token or the closing EOS. The prompt's head that
every sample of a batch shares (instruction and type definitions) runs once per batch
(``decoder_hidden``).

Checkpoints. ``output_dir/checkpoint/state.pt`` holds the LoRA weights, optimizer,
scheduler, RNG states and the step; the data order is a function of the seed and the
epoch, so a resumed run continues exactly where the interrupted one stopped. The
finished adapter goes to ``output_dir/adapter`` (peft's own format, a few MB) with
``bioner_llm.json`` saying how it was trained (base model, scheme, types), written to a
temporary folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bioner.doc import Document
from bioner.engines import training
from bioner.engines.generative import prompts
from bioner.engines.generative.formats import get_format
from bioner.engines.generative.samples import outside_units, units
from bioner.errors import BionerError, Report

CHECKPOINT = "checkpoint"
ADAPTER = "adapter"
SETTINGS = "bioner_llm.json"
_STATE = "state.pt"
IGNORE = -100


@dataclass(frozen=True)
class Part:
    """Documents and the entity types the model is asked for on them (a corpus and its types)."""

    name: str
    docs: Sequence[Document]
    types: Sequence[prompts.TypeSpec]


@dataclass(frozen=True)
class Sample:
    """One training pair: the rendered prompt and the answer the model should write (EOS added at tokenization)."""

    prompt: str
    answer: str
    source: str
    doc_id: str = ""
    start: int = 0
    entities: int = 0


@dataclass
class LLMTrainConfig:
    """A LoRA recipe. ``max_steps`` counts optimizer steps of ``batch_size`` x ``grad_accum`` samples."""

    scheme: str = "json"
    max_steps: int = 300
    batch_size: int = 4
    grad_accum: int = 2
    lr: float = 2e-4
    warmup: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    max_len: int = 512
    definitions: bool = True
    length_buckets: int = 20
    seed: int = 0
    save_every: int = 25

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LLMTrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise BionerError("E730", f"unknown training settings {unknown}", hint=f"valid settings: {', '.join(sorted(known))}")
        vals = dict(values)
        if "target_modules" in vals:
            vals["target_modules"] = tuple(vals["target_modules"])
        return cls(**vals)


@dataclass
class LLMTrainResult:
    steps: int
    epochs: float
    finished: bool
    output_dir: Path
    adapter: Path | None
    samples: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    report: Report = field(default_factory=Report)
    model: Any = None  # the tuned peft model, ready for generation


def build_samples(parts: Sequence[Part], scheme: str, tokenizer: Any, *, definitions: bool = True, report: Report | None = None) -> list[Sample]:
    """Every generation unit of every part's documents as a (prompt, answer) sample."""
    fmt = get_format(scheme)
    report = report if report is not None else Report(skip_invalid=True)
    out: list[Sample] = []
    for part in parts:
        labels = prompts.labels_of(part.types)
        for doc in part.docs:
            doc_units = units(doc)
            for outside in outside_units(doc, doc_units):
                report.warn("W741", f"{part.name}: document {doc.id!r}: entity {outside.label!r} at {outside.start}..{outside.end} is in no generation unit")
            for u in doc_units:
                ents = [e for e in u.entities if e.label in labels]
                if len(ents) < len(u.entities):
                    report.warn("W742", f"{part.name}: document {doc.id!r}: {len(u.entities) - len(ents)} entities of types not asked for")
                lost = fmt.unrepresentable(u.text, ents, labels)
                for reason, n in lost.items():
                    for _ in range(n):
                        report.warn("W743", f"{part.name}: document {doc.id!r} at {u.start}: {reason}")
                answer = fmt.encode(u.text, ents, labels)
                prompt = prompts.build(scheme, u.text, part.types, tokenizer=tokenizer, definitions=definitions).text
                out.append(Sample(prompt, answer, part.name, doc.id, u.start, len(ents) - sum(lost.values())))
    return out


def tokenize_sample(tokenizer: Any, sample: Sample) -> tuple[list[int], list[int]]:
    """Input ids and labels (IGNORE on the prompt): prompt, answer, EOS — tokenized as generation sees them."""
    p = prompts.prompt_ids(tokenizer, sample.prompt)
    a = list(tokenizer(sample.answer, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    return p + a, [IGNORE] * len(p) + a


# below this many shared tokens, running the prefix separately costs more than it saves
MIN_SHARED_PREFIX = 8


def shared_prefix(rows: Sequence[Sequence[int]]) -> int:
    """How many leading token ids all ``rows`` have in common."""
    if not rows:
        return 0
    first, n = rows[0], min(len(r) for r in rows)
    k = 0
    while k < n and all(r[k] == first[k] for r in rows):
        k += 1
    return k


def decoder_hidden(causal: Any, input_ids: Any, attention_mask: Any, prefix: int = 0) -> Any:
    """The decoder's last hidden states (batch, width, hidden), the first ``prefix`` tokens run once for all rows.

    Every sample of a task shares its instruction and type definitions, about 90 of the
    ~130 tokens of an NCBI-disease sample: running them once per batch and giving the rows
    their keys and values as a cache is exact (attention is causal, so the prefix's states
    do not depend on what follows) and made a CPU tuning step 1.5x faster here. Gradients flow through the
    shared states; in training, LoRA dropout draws one mask for the prefix of a batch.
    ``prefix`` must not exceed the shared part of the rows (``shared_prefix``).
    """
    import torch

    rows = input_ids.shape[0]
    if rows == 1 or prefix < MIN_SHARED_PREFIX or prefix >= input_ids.shape[1]:
        return causal.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    head = causal.model(input_ids=input_ids[:1, :prefix], use_cache=True)
    cache = head.past_key_values
    cache.batch_repeat_interleave(rows)
    tail = causal.model(input_ids=input_ids[:, prefix:], attention_mask=attention_mask, past_key_values=cache, use_cache=True)
    return torch.cat([head.last_hidden_state.expand(rows, -1, -1), tail.last_hidden_state], dim=1)


def answer_loss(model: Any, input_ids: Any, attention_mask: Any, labels: Any, prefix: int = 0, reduction: str = "mean") -> Any:
    """Cross-entropy over answer tokens (``reduction``: their mean or sum), projecting only their hidden states onto the vocabulary.

    ``prefix``: leading tokens shared by every row, run once (``decoder_hidden``).
    """
    import torch
    import torch.nn.functional as F

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = decoder_hidden(causal, input_ids, attention_mask, prefix)
    target = labels[:, 1:]
    keep = target != IGNORE
    logits = causal.lm_head(hidden[:, :-1][keep])
    cap = getattr(causal.config, "final_logit_softcapping", None)
    if cap:  # Gemma 2-style soft capping, applied as the model's own forward does
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits.float(), target[keep], reduction=reduction)


def answer_tokens(rows: Sequence[tuple[list[int], list[int]]]) -> list[int]:
    """How many answer tokens (labels that count) each tokenized sample has."""
    return [sum(t != IGNORE for t in labels) for _, labels in rows]


def accumulate(model: Any, batches: Sequence[Sequence[tuple[list[int], list[int]]]], pad_id: int, norm: float) -> float:
    """Back-propagate one optimizer step's loss, its micro-``batches`` one at a time; return the loss.

    The loss is the sum of the step's answer-token NLLs over ``norm``, a constant of the data
    (its mean answer tokens per step), not over this step's own token count. Dividing by the
    step's own count gives a sample more weight the fewer answer tokens its batch-mates have;
    with length-bucketed batches the 2-token ``[]`` answers share batches, so NCBI-disease's
    negatives (42-44% of the samples) drew 80-83% of the weight of the choice between ``[]`` and
    an entity list (93% in the IFD-50% hybrid set; ``bench/curation.py weights``), and tuned
    adapters answered ``[]`` with about that probability to every sentence. With a constant,
    every answer token weighs the same wherever it is batched, as in the likelihood of the
    whole training set.
    """
    total = 0.0
    for batch in batches:
        ids, mask, labels = _collate(batch, pad_id)
        loss = answer_loss(model, ids, mask, labels, shared_prefix([x for x, _ in batch]), reduction="sum") / norm
        loss.backward()
        total += float(loss.detach())
    return total


def _collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (x, y) in enumerate(rows):  # right padding: positions stay those of an unpadded sequence
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
        labels[i, : len(y)] = torch.tensor(y)
    return ids, mask, labels


def add_lora(model: Any, config: LLMTrainConfig) -> Any:
    """Wrap ``model`` with fresh LoRA adapters on ``config.target_modules`` (those the model has)."""
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in config.target_modules if t in names]
    if not targets:
        raise BionerError("E731", f"none of the LoRA target modules {list(config.target_modules)} exist in this model",
                          hint=f"pick from its linear layers, e.g. {sorted(n for n in names if n.endswith('proj'))[:8]}")
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout, target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def _fingerprint(rows: Sequence[tuple[list[int], list[int]]], config: LLMTrainConfig, base: str) -> dict[str, Any]:
    return {"samples": len(rows), "tokens": sum(len(x) for x, _ in rows), "base": base, "scheme": config.scheme,
            "batch_size": config.batch_size, "grad_accum": config.grad_accum, "seed": config.seed, "max_steps": config.max_steps,
            "lora": [config.lora_r, config.lora_alpha, list(config.target_modules)], "length_buckets": config.length_buckets,
            "loss": "answer-token NLL sum / mean answer tokens per step"}  # a checkpoint of another objective must not resume


def train_llm(
    model: Any,
    tokenizer: Any,
    samples: Sequence[Sample],
    *,
    output_dir: str | os.PathLike[str],
    config: LLMTrainConfig | None = None,
    base_model: str = "",
    types: dict[str, list[dict[str, str]]] | None = None,
    max_steps: int | None = None,
    resume: bool = True,
    progress: bool = True,
    log_every: int = 0,
    report: Report | None = None,
) -> LLMTrainResult:
    """Tune LoRA adapters on ``samples``; checkpoints and the adapter go to ``output_dir``.

    ``model`` is a transformers causal LM (it is wrapped with LoRA here) or a peft model
    that already has adapters. ``max_steps`` stops this call early (the schedule still
    spans ``config.max_steps``; a later call resumes). ``base_model`` and ``types`` (part
    name -> [{name, label, definition}]) are written to ``bioner_llm.json`` beside the
    adapter so that extraction can rebuild the same prompts.
    """
    import torch

    config = config or LLMTrainConfig()
    report = report if report is not None else Report(skip_invalid=True)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[list[int], list[int]]] = []
    for s in samples:
        ids, labels = tokenize_sample(tokenizer, s)
        if len(ids) > config.max_len:
            report.warn("W744", f"{s.source}: document {s.doc_id!r} at {s.start}: {len(ids)} tokens > max_len {config.max_len}")
            continue
        rows.append((ids, labels))
    if not rows:
        raise BionerError("E732", "no training samples fit", hint=f"raise max_len (now {config.max_len}) or give documents with text")
    if not hasattr(model, "peft_config"):
        torch.manual_seed(config.seed)  # the adapter's random start is part of the run (a resumed run loads its own)
        model = add_lora(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = training.scheduler(opt, config.max_steps, config.warmup)
    fp = _fingerprint(rows, config, base_model)
    lengths = [len(x) for x, _ in rows]
    n_answer = answer_tokens(rows)
    norm = config.batch_size * config.grad_accum * sum(n_answer) / len(n_answer)  # mean answer tokens per step (``accumulate``)
    n_batches = len(training.epoch_batches(lengths, config.batch_size, config.seed, 0, config.length_buckets))

    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    step, losses = 0, []
    ckpt = out / CHECKPOINT / _STATE
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["fingerprint"] != fp:
            raise BionerError("E603", f"checkpoint {ckpt} was made by another run {state['fingerprint']}, this run is {fp}",
                              file=ckpt, hint="use another output_dir, or resume=False to start over")
        set_peft_model_state_dict(model, state["adapter"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        training.set_rng_state(state["rng"])
        step, losses = state["step"], state["losses"]
    else:
        torch.manual_seed(config.seed)

    def save() -> None:
        training.save_state(out / CHECKPOINT, {
            "fingerprint": fp, "adapter": get_peft_model_state_dict(model), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "rng": training.rng_state(), "step": step, "losses": losses,
        }, _STATE)

    stop_at = config.max_steps if max_steps is None else min(config.max_steps, max_steps)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    started, first_step = time.perf_counter(), step
    epoch_cache: dict[int, list[list[int]]] = {}

    def micro_batch(m: int) -> list[int]:
        epoch, pos = divmod(m, n_batches)
        if epoch not in epoch_cache:
            epoch_cache.clear()
            epoch_cache[epoch] = training.epoch_batches(lengths, config.batch_size, config.seed, epoch, config.length_buckets)
        return epoch_cache[epoch][pos]

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("LoRA tuning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"), disable=not progress)
    try:
        with bar:
            task = bar.add_task("train", total=config.max_steps, completed=step, info="")
            while step < stop_at:
                opt.zero_grad(set_to_none=True)
                total = accumulate(model, [[rows[i] for i in micro_batch(step * config.grad_accum + k)] for k in range(config.grad_accum)],
                                   pad_id, norm)
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                opt.step()
                sched.step()
                step += 1
                losses.append(total)
                bar.update(task, completed=step, info=f"loss {total:.3g}")
                if log_every and step % log_every == 0:
                    recent = losses[-log_every:]
                    print(f"step {step}/{config.max_steps} loss {sum(recent) / len(recent):.4f} "
                          f"{(time.perf_counter() - started) / max(1, step - first_step):.1f} s/step", file=sys.stderr, flush=True)
                if config.save_every and step % config.save_every == 0:
                    save()
    except KeyboardInterrupt:
        save()  # keep the position so a resumed run continues here
        raise
    save()
    model.eval()
    finished = step >= config.max_steps
    adapter = None
    if finished:
        adapter = save_adapter(model, out / ADAPTER, {
            "base_model": base_model, "scheme": config.scheme, "definitions": config.definitions, "types": types or {},
            "steps": step, "samples": len(rows), "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        })
    epochs = step * config.grad_accum / max(1, n_batches)
    return LLMTrainResult(step, epochs, finished, out, adapter, len(rows), losses, time.perf_counter() - started, report, model)


def save_adapter(model: Any, path: Path, settings: dict[str, Any]) -> Path:
    """peft adapter + bioner settings, written beside ``path`` and renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    training.name_adapter_base(tmp, str(settings.get("base_model") or ""))
    (tmp / SETTINGS).write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def read_settings(adapter: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``bioner_llm.json`` of an adapter folder ({} when it was not made by bioner)."""
    f = Path(adapter) / SETTINGS
    if not f.is_file():
        return {}
    try:
        return dict(json.loads(f.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BionerError("E733", f"cannot read the adapter settings: {exc}", file=f, hint="re-save the adapter or delete the file") from exc


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    """Counts per source: samples, positives, negatives, entities."""
    by: dict[str, Counter[str]] = {}
    for s in samples:
        c = by.setdefault(s.source, Counter())
        c["samples"] += 1
        c["positives" if s.entities else "negatives"] += 1
        c["entities"] += s.entities
    return {k: dict(v) for k, v in by.items()}

