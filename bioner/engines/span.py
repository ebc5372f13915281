"""GLiNER span engine: entities of any type named in natural language, flat or nested.

A ``SpanModel`` wraps a span-level GLiNER model from the ``gliner`` library: a
uni-encoder (labels and text in one encoder, as GLiNER-BioMed's uni models) or a
bi-encoder (a second encoder for the labels). It scores every span of up to
``max_width`` words against every label.

How text reaches the model. Each document is cut with ``bioner.text`` into its
sentences (``Document.sentences`` or ``split_sentences``); each sentence is a window,
and a sentence longer than ``max_words`` words is cut into overlapping windows
(``chunk``). With ``pack_sentences=True`` consecutive sentences are packed into windows
of up to ``max_words`` words that overlap by whole sentences instead (for models trained
on passages; a model trained by ``train_span`` on sentences scored 4.5 F1 lower on
NCBI-disease test that way). A window that would not fit the encoder's sub-word limit
(prompt included) is cut again. Words are the document's own ``tokens`` or ``tokenize``
tokens, and the model gets them as a word list, so gliner's own regex word splitter
never sees the text. A predicted span (first word, last word) is therefore exactly
``text[word_start:word_end]`` of the original document, and every non-whitespace character is in at least one window.

Labels. The model sees natural-language prompts; entities come back with corpus type
names: ``{"Chemical": "chemical compound or drug"}`` makes the model look for
"chemical compound or drug" and label what it finds ``Chemical``. A plain list of
strings is used as both. Each document may have its own label set.

Decoding happens per document after the windows are merged (a mention seen by two
windows is one candidate with its best score), greedily by score:

* ``flat=True``: no two entities overlap;
* ``flat=False``: nested entities are kept, partially overlapping ones are not;
* ``multi_label=True``: the same span may carry several labels.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioner.doc import Document, Entity, Offsets
from bioner.errors import BionerError
from bioner.labels import natural_label
from bioner.text import Chunk, chunk, merge_chunk_entities, split_sentences, tokenize

if TYPE_CHECKING:
    import torch

# A label set: corpus type -> prompt the model sees, or plain labels used as both.
LabelSet = Sequence[str] | Mapping[str, str]
# (corpus type, prompt) pairs, in prompt order
Pairs = list[tuple[str, str]]

KINDS = ("uni", "bi")
QUANTIZE = (None, "int8")  # what SpanModel.load(quantize=...) accepts
DEFAULT_THRESHOLD = 0.5
SETTINGS = "bioner_settings.json"  # bioner's own settings in a model folder (gliner ignores the file)
# gliner model classes whose output is span logits (B, words, widths, labels)
_SPAN_CLASSES = ("UniEncoderSpanGLiNER", "BiEncoderSpanGLiNER")
# tokenizers that set no limit report a huge model_max_length
_NO_LIMIT = 1_000_000


# ---------------------------------------------------------------------------
# Labels


def label_pairs(labels: LabelSet | str) -> Pairs:
    """(corpus type, prompt) pairs from a mapping type -> prompt, or from plain labels."""
    if isinstance(labels, str):
        labels = [labels]
    if isinstance(labels, Mapping):
        pairs = [(k, v) for k, v in labels.items()]
    else:
        pairs = [(x, x) for x in labels]
    if not pairs:
        raise ValueError("no entity types given: pass at least one label")
    for name, prompt in pairs:
        if not isinstance(name, str) or not isinstance(prompt, str) or not name.strip() or not prompt.strip():
            raise ValueError(f"labels must be non-empty strings, got {name!r} -> {prompt!r}")
    for what, values in (("type", [n for n, _ in pairs]), ("prompt", [p for _, p in pairs])):
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise ValueError(f"duplicate label {what} {dup[0]!r} in one label set")
    return pairs


def natural_labels(types: Iterable[str]) -> dict[str, str]:
    """Corpus type -> its natural-language label from ``bioner.labels`` ("GENE" -> "gene or gene product")."""
    return {t: natural_label(t) for t in types}


def labels_per_document(labels: LabelSet | Sequence[LabelSet] | str, n: int) -> list[Pairs]:
    """One label set for all ``n`` documents, or one per document (a sequence of label sets)."""
    if isinstance(labels, (str, Mapping)) or all(isinstance(x, str) for x in labels):
        pairs = label_pairs(labels)  # type: ignore[arg-type]
        return [pairs] * n
    sets = list(labels)
    if len(sets) != n:
        raise ValueError(f"per-document labels: got {len(sets)} label sets for {n} documents")
    return [label_pairs(s) for s in sets]  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Decoding


def _conflict(a: Entity, b: Entity, flat: bool, multi_label: bool) -> bool:
    if a.span == b.span:
        return not multi_label
    if not a.overlaps(b):
        return False
    # nested mode keeps containment, never a partial overlap
    return flat or not (a.contains(b) or b.contains(a))


def decode(candidates: Iterable[Entity], *, flat: bool = True, multi_label: bool = False) -> list[Entity]:
    """Keep candidates greedily by score (highest first), skipping those that conflict with a kept one.

    Conflicts: any overlap when ``flat``, a partial overlap otherwise; the same span
    with another label unless ``multi_label``. Ties are broken by position, so the
    result does not depend on the candidates' order. Sorted by ``Entity.sort_key``.
    """
    ranked = sorted(candidates, key=lambda e: (-(e.score if e.score is not None else float("-inf")), e.start, e.end, e.label))
    kept: list[Entity] = []
    for ent in ranked:
        if not any(_conflict(ent, k, flat, multi_label) for k in kept):
            kept.append(ent)
    return sorted(kept, key=Entity.sort_key)


# ---------------------------------------------------------------------------
# Windows


@dataclass(frozen=True)
class Window:
    """What one model input row holds: a chunk of one document, its words and labels."""

    doc: int  # index of the document in the predict call
    chunk: Chunk
    words: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]


def sentence_groups(sentences: Sequence[Offsets], tokens: Sequence[Offsets]) -> list[tuple[Offsets, list[Offsets]]]:
    """Each sentence with the tokens that start in it; tokens in no sentence form groups of their own.

    Used to give every sentence its own windows (no packing), without losing a token.
    """
    groups: list[tuple[Offsets, list[Offsets]]] = []
    toks = sorted(tokens)
    i, n = 0, len(toks)
    for s, e in sorted(sentences):
        stray: list[Offsets] = []
        while i < n and toks[i][0] < s:
            stray.append(toks[i])
            i += 1
        if stray:
            groups.append(((stray[0][0], max(t[1] for t in stray)), stray))
        inside: list[Offsets] = []
        while i < n and toks[i][0] < e:
            inside.append(toks[i])
            i += 1
        if inside:
            groups.append(((min(s, inside[0][0]), max([e] + [t[1] for t in inside])), inside))
    if i < n:
        groups.append(((toks[i][0], max(t[1] for t in toks[i:])), toks[i:]))
    return groups


# ---------------------------------------------------------------------------
# The model


def _read_settings(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        threshold = float(data["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BionerError("E601", f"unreadable model settings: {type(err).__name__}: {err}", file=path,
                          hint='it must be JSON like {"threshold": 0.5}; delete it to use the defaults') from err
    if not 0.0 <= threshold <= 1.0:
        raise BionerError("E601", f"threshold {threshold} is not a probability", file=path, hint="use a value between 0 and 1")
    return {**data, "threshold": threshold}


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))


def _config_params() -> set[str]:
    """Every keyword a GLiNERConfig accepts by name (its own and its base's)."""
    from gliner import GLiNERConfig
    from gliner.config import BaseGLiNERConfig

    names: set[str] = set()
    for cls in (GLiNERConfig, BaseGLiNERConfig):
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self":
                names.add(p.name)
    return names


class SpanModel:
    """A span-level GLiNER model with bioner's Documents in and out.

    Build one with ``SpanModel.load`` (a Hub name or a saved folder) or
    ``SpanModel.create`` (a fresh model on any Hugging Face encoder). ``gliner`` is the
    wrapped ``gliner`` model, for what this class does not expose.
    """

    def __init__(self, gliner: Any, name: str) -> None:
        cls_name = type(gliner).__name__
        if cls_name not in _SPAN_CLASSES:
            raise BionerError(
                "E602",
                f"model {name!r} is a {cls_name}; SpanModel runs span-level GLiNER models only ({', '.join(_SPAN_CLASSES)})",
                hint="token-level, decoder and relation GLiNER variants are not supported",
            )
        self.gliner = gliner
        self.name = name
        from bioner.engines import span_fast

        # the exact, cheaper span scorer (span_fast) where it applies; set False to run gliner's forward
        self.fused = span_fast.supports(gliner)
        self.quantized: str | None = None  # "int8" after quantize(): inference only
        # the probability above which a span is an entity when a call names none; chosen on dev
        # data at training time and stored beside the weights (SETTINGS), 0.5 for other models
        self.threshold = DEFAULT_THRESHOLD
        self._prompt_lengths: dict[tuple[str, ...], int] = {}

    # -- building ------------------------------------------------------------

    @classmethod
    def load(
        cls, name_or_path: str | os.PathLike[str], *, device: str = "cpu", threads: int | None = None, name: str | None = None,
        quantize: str | None = None, **kwargs: Any,
    ) -> SpanModel:
        """Load a GLiNER model: a local folder (``save``, ``GLiNER.save_pretrained``) or a Hub name.

        Hub names (``urchade/gliner_small-v2.1``, ``Ihor/gliner-biomed-base-v1.0``,
        ``Ihor/gliner-biomed-bi-base-v1.0``) go through gliner's own ``from_pretrained``,
        unchanged. ``threads`` sets torch's thread count (a process-wide setting);
        ``quantize="int8"`` calls ``quantize`` after loading; ``kwargs`` go to
        ``GLiNER.from_pretrained``.
        """
        if quantize not in QUANTIZE:
            raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
        from gliner import GLiNER

        _set_threads(threads)
        src = os.fspath(name_or_path)
        local = Path(src).expanduser()
        if local.exists() and not (local / "gliner_config.json").is_file():
            raise BionerError("E601", f"{local} is not a GLiNER model folder: it has no gliner_config.json", file=local)
        try:
            if local.exists():
                model = GLiNER.from_pretrained(str(local), map_location=device, local_files_only=True, **kwargs)
            else:
                model = GLiNER.from_pretrained(src, map_location=device, **kwargs)
        except Exception as err:  # hub, file and config errors of several libraries: say which model
            raise BionerError(
                "E601",
                f"cannot load GLiNER model {src!r}: {type(err).__name__}: {err}",
                hint="a Hub name needs network access or a filled Hugging Face cache; a path must be a folder written by SpanModel.save",
            ) from err
        model.to(device)
        model.eval()
        loaded = cls(model, name or src)
        settings = local / SETTINGS if local.exists() else None
        if settings is not None and settings.is_file():
            loaded.threshold = _read_settings(settings)["threshold"]
        return loaded.quantize() if quantize == "int8" else loaded

    def quantize(self) -> SpanModel:
        """Int8 dynamic quantization of the encoders' linear layers, in place; returns self.

        On a CPU with int8 dot products (AVX-512 VNNI, AVX-VNNI) the encoder, which is
        most of a prediction's time, runs about 2.5x faster (about 2x end to end); the F1 cost, measured on the test
        sets, is in the default model's card. Weights are stored as int8 with one scale
        per output channel and activations are quantized on the fly, so nothing needs calibration.
        The span and prompt layers stay float32 (small, and the fused scorer reads their
        weights). Activation scales are per batch, so a window's int8 scores depend slightly
        on the windows batched with it; float32 scores do not. A quantized model predicts
        only: it cannot be trained or saved.
        """
        if self.quantized:
            return self
        if self.device.type != "cpu":
            raise ValueError(f"int8 dynamic quantization runs on the CPU; this model is on {self.device}")
        import warnings

        import torch

        core = self.gliner.model
        with warnings.catch_warnings():
            # torch.ao's eager quantization is deprecated in favour of torchao, but kept in the pinned torch 2.13
            warnings.simplefilter("ignore")
            # one scale per output channel: on the default model it costs 0.5 NCBI-disease F1 where one per tensor cost 1.65
            qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
            core.token_rep_layer = torch.ao.quantization.quantize_dynamic(core.token_rep_layer, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
        self.quantized = "int8"
        return self

    @classmethod
    def create(
        cls,
        encoder: str | os.PathLike[str],
        *,
        kind: str = "uni",
        labels_encoder: str | os.PathLike[str] | None = None,
        max_width: int = 12,
        max_len: int = 256,
        device: str = "cpu",
        threads: int | None = None,
        name: str | None = None,
        seed: int | None = None,
        **config: Any,
    ) -> SpanModel:
        """A fresh GLiNER span model on a pretrained Hugging Face encoder (Hub name or path).

        ``kind="bi"`` adds a label encoder (``labels_encoder``, default: ``encoder``).
        ``max_width`` is the longest span in words, ``max_len`` the most words per
        window. Other ``config`` keywords are GLiNERConfig fields (``dropout``,
        ``hidden_size``, ``span_mode``, ``max_types`` ...); unknown ones raise. ``seed``
        seeds torch before the new layers are drawn, so the same seed gives the same model
        (None: torch's current random state).
        """
        import torch
        from gliner import GLiNER, GLiNERConfig

        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind == "uni" and labels_encoder is not None:
            raise ValueError("labels_encoder is only for kind='bi'")
        valid = _config_params() - {"model_name", "labels_encoder", "max_width", "max_len"}
        unknown = sorted(set(config) - valid)
        if unknown:
            raise TypeError(f"unknown GLiNER config keyword(s) {unknown}; valid: {', '.join(sorted(valid))}")
        _set_threads(threads)
        enc = os.fspath(encoder)  # a str: a Path in the config breaks save_pretrained
        if kind == "bi":
            config["labels_encoder"] = os.fspath(labels_encoder) if labels_encoder is not None else enc
        cfg = GLiNERConfig(model_name=enc, max_width=max_width, max_len=max_len, **config)
        if seed is not None:
            torch.manual_seed(seed)
        try:
            # without backbone_from_pretrained the encoder is silently random
            model = GLiNER.from_config(cfg, backbone_from_pretrained=True)
        except Exception as err:
            raise BionerError("E601", f"cannot build a GLiNER model on encoder {enc!r}: {type(err).__name__}: {err}") from err
        model.to(device)
        model.eval()
        return cls(model, name or f"gliner-{kind}:{Path(enc).name or enc}")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model (safetensors, config, tokenizers) to a folder ``load`` reads back.

        Written to a temporary folder first, then swapped in, so an interrupted save
        never leaves a half-written model under ``path``.
        """
        if self.quantized:
            raise BionerError("E606", f"model {self.name!r} is quantized ({self.quantized}) for inference and cannot be saved",
                              hint="save the float model (load it without quantize), then quantize after loading")
        dest = Path(path)
        tmp = dest.with_name(dest.name + ".tmp")
        old = dest.with_name(dest.name + ".old")
        for p in (tmp, old):
            if p.exists():
                shutil.rmtree(p)
        self.gliner.save_pretrained(tmp, safe_serialization=True)
        (tmp / SETTINGS).write_text(json.dumps({"threshold": self.threshold}, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
        if old.exists():
            shutil.rmtree(old)
        return dest

    # -- properties ------------------------------------------------------------

    @property
    def kind(self) -> str:
        return "bi" if getattr(self.gliner.config, "labels_encoder", None) else "uni"

    @property
    def max_words(self) -> int:
        """Most words per window (the model's ``max_len``)."""
        return int(self.gliner.config.max_len)

    @property
    def max_width(self) -> int:
        """Longest span the model can predict, in words."""
        return int(self.gliner.config.max_width)

    @property
    def device(self) -> torch.device:
        return self.gliner.device  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return (f"SpanModel(name={self.name!r}, kind={self.kind!r}, max_width={self.max_width}, max_words={self.max_words}, "
                f"fused={self.fused}, quantized={self.quantized})")

    # -- windows ---------------------------------------------------------------

    def _subword_limit(self) -> int | None:
        limit = int(getattr(self.gliner.data_processor.transformer_tokenizer, "model_max_length", _NO_LIMIT))
        return None if limit >= _NO_LIMIT else limit

    def _prompt_length(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Sub-words the label prompt takes in the text encoder (none for a bi-encoder)."""
        if self.kind == "bi":
            return 0
        key = tuple(p for _, p in pairs)
        if key not in self._prompt_lengths:  # computed once per label set, not per document
            ids = self.gliner.data_processor.transformer_tokenizer(list(key), add_special_tokens=False)["input_ids"]
            self._prompt_lengths[key] = sum(1 + len(x) for x in ids) + 1  # one <<ENT>> per label, then <<SEP>>
        return self._prompt_lengths[key]

    def windows(
        self,
        doc: Document,
        labels: LabelSet | str,
        *,
        max_words: int | None = None,
        overlap: int | None = None,
        pack_sentences: bool = False,
        doc_index: int = 0,
    ) -> list[Window]:
        """The model inputs for one document (see the module doc); exposed for inspection and tests."""
        return self._windows(doc, tuple(label_pairs(labels)), max_words, overlap, pack_sentences, doc_index)

    def _windows(
        self, doc: Document, pairs: tuple[tuple[str, str], ...], max_words: int | None, overlap: int | None, pack_sentences: bool, doc_index: int
    ) -> list[Window]:
        words_max, ov = self._window_sizes(max_words, overlap)
        text = doc.text
        toks = list(doc.tokens) if doc.tokens is not None else tokenize(text)
        sents = list(doc.sentences) if doc.sentences is not None else split_sentences(text)
        if pack_sentences:
            chunks = chunk(text, words_max, ov, sentences=sents, token_spans=toks)
        else:
            chunks = [c for span, group in sentence_groups(sents, toks) for c in chunk(text, words_max, ov, sentences=[span], token_spans=group)]
        limit = self._subword_limit()
        if limit is not None and chunks:
            budget = limit - 2 - self._prompt_length(pairs)  # [CLS] and [SEP] too
            if budget < 1:
                raise ValueError(f"the label prompt alone takes {limit - 2 - budget} of the encoder's {limit} sub-words: use fewer or shorter labels")
            chunks = self._fit_subwords(text, chunks, budget, ov)
        return [Window(doc_index, c, tuple(text[s:e] for s, e in c.tokens), pairs) for c in chunks]

    def _window_sizes(self, max_words: int | None, overlap: int | None) -> tuple[int, int]:
        words_max = self.max_words if max_words is None else int(max_words)
        if not 1 <= words_max <= self.max_words:
            raise ValueError(f"max_words must be between 1 and the model's max_len {self.max_words}, got {words_max}")
        ov = words_max // 4 if overlap is None else int(overlap)
        return words_max, max(0, min(ov, words_max - 1))

    def _fit_subwords(self, text: str, chunks: list[Chunk], budget: int, overlap: int) -> list[Chunk]:
        """Cut windows again until each fits the encoder's sub-word budget (else it would be truncated)."""
        tok = self.gliner.data_processor.transformer_tokenizer
        spans = sorted({t for c in chunks for t in c.tokens})
        ids = tok([text[s:e] for s, e in spans], add_special_tokens=False)["input_ids"] if spans else []
        cost = {t: len(x) for t, x in zip(spans, ids, strict=True)}
        out: list[Chunk] = []
        todo = list(reversed(chunks))
        while todo:
            c = todo.pop()
            n = sum(cost[t] for t in c.tokens)
            if n <= budget or len(c.tokens) <= 1:  # one word cannot be cut further
                out.append(c)
                continue
            smaller = max(1, min(len(c.tokens) - 1, len(c.tokens) * budget // n))
            parts = chunk(text, smaller, min(overlap, smaller - 1), sentences=[(c.start, c.end)], token_spans=c.tokens)
            todo.extend(reversed(parts))
        return out

    # -- prediction ------------------------------------------------------------

    def predict(
        self,
        docs: Iterable[Document],
        labels: LabelSet | Sequence[LabelSet] | str,
        *,
        threshold: float | None = None,
        flat: bool = True,
        multi_label: bool = False,
        batch_size: int = 8,
        max_words: int | None = None,
        overlap: int | None = None,
        pack_sentences: bool = False,
        per_label: bool = False,
    ) -> list[Document]:
        """New Documents (same ids, text, sentences, tokens) whose entities are the model's predictions.

        ``labels``: one label set for all documents (a list of types, or a mapping
        type -> prompt) or one per document. ``threshold``: minimum span probability
        (default: the model's ``threshold``).
        ``flat`` / ``multi_label``: decoding, see the module doc. ``batch_size``:
        windows per forward pass (windows are sorted by length to cut padding; the
        output keeps the input order). ``max_words`` (default: the model's max_len) and
        ``overlap`` (default: a quarter of it) size the windows; by default every sentence
        is its own window (as in ``train_span``), ``pack_sentences=True`` packs sentences.
        ``per_label=True`` scores every label in a prompt of its own (one encoder pass per
        label) and decodes all candidates together: for label sets a model never saw
        together in training, where a long mixed prompt lowers its scores.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        docs = list(docs)
        per_doc = labels_per_document(labels, len(docs))
        wins = [
            w
            for i, (d, pairs) in enumerate(zip(docs, per_doc, strict=True))
            for prompt in ([(pair,) for pair in pairs] if per_label else [tuple(pairs)])
            for w in self._windows(d, prompt, max_words, overlap, pack_sentences, i)
        ]
        found = self.score_windows(wins, threshold=self.threshold if threshold is None else threshold, batch_size=batch_size)
        by_doc: list[list[tuple[Chunk, list[Entity]]]] = [[] for _ in docs]
        for w, ents in zip(wins, found, strict=True):
            by_doc[w.doc].append((w.chunk, ents))
        out = []
        for d, parts in zip(docs, by_doc, strict=True):
            ents = decode(merge_chunk_entities(parts), flat=flat, multi_label=multi_label)
            out.append(d.copy(entities=ents))
        return out

    def score_windows(self, windows: Sequence[Window], *, threshold: float = 0.5, batch_size: int = 8) -> list[list[Entity]]:
        """Every (span, label) above ``threshold`` per window, offsets relative to ``window.chunk.start``.

        Windows are run shortest first, ``batch_size`` at a time; results come back in
        the order given.
        """
        import torch

        order = sorted(range(len(windows)), key=lambda i: len(windows[i].words))
        results: list[list[Entity]] = [[] for _ in windows]
        was_training = self.gliner.training
        self.gliner.eval()
        collator = self.gliner.create_collator()
        try:
            with torch.inference_mode():
                for b in range(0, len(order), batch_size):
                    idx = order[b : b + batch_size]
                    for i, ents in zip(idx, self._run([windows[i] for i in idx], collator, threshold), strict=True):
                        results[i] = ents
        finally:
            self.gliner.train(was_training)
        return results

    def _run(self, batch: Sequence[Window], collator: Any, threshold: float) -> list[list[Entity]]:
        import torch

        prompts = [[p for _, p in w.labels] for w in batch]
        shared = all(p == prompts[0] for p in prompts)
        inputs = collator([{"tokenized_text": list(w.words), "ner": None} for w in batch], entity_types=prompts[0] if shared else prompts)
        if self.fused:
            from bioner.engines.span_fast import fused_forward

            dev = self.device
            logits, _ = fused_forward(self.gliner, {k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()})
        else:
            logits = self.gliner.run_batch(inputs, threshold=threshold).logits
        probs = torch.sigmoid(logits.float()).cpu()  # (B, L, K, C)
        n_b, n_l, n_k, n_c = probs.shape
        words = torch.tensor([len(w.words) for w in batch]).view(n_b, 1, 1, 1)
        n_labels = torch.tensor([len(w.labels) for w in batch]).view(n_b, 1, 1, 1)
        start = torch.arange(n_l).view(1, n_l, 1, 1)
        width = torch.arange(n_k).view(1, 1, n_k, 1)
        cls = torch.arange(n_c).view(1, 1, 1, n_c)
        # padding words, spans running past the window, and label slots a row does not have
        valid = (start + width < words) & (cls < n_labels)
        hits = ((probs > threshold) & valid).nonzero().tolist()
        scores = probs[(probs > threshold) & valid].tolist()  # same row-major order as nonzero
        found: list[list[Entity]] = [[] for _ in batch]
        for (b, s, k, c), score in zip(hits, scores, strict=True):
            w = batch[b]
            toks = w.chunk.tokens
            found[b].append(Entity(toks[s][0] - w.chunk.start, toks[s + k][1] - w.chunk.start, w.labels[c][0], score=score, source=self.name))
        return found
