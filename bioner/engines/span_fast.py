"""An exact, cheaper way to compute GLiNER's span scores for the ``markerV0`` span layer.

gliner scores a span (word i to word i+k) against a label c as

    rep(i, k) = W2 · drop(relu(W1 · relu([start(i); end(i+k)]) + b1)) + b2      (D = hidden, H = 4 D)
    score(i, k, c) = rep(i, k) · prompt(c)

and computes ``rep`` for every one of the words x max_width spans: a (2D -> H) and a
(H -> D) matrix product per span, which is most of the model's time on CPU. Both
products can move off the spans, because ``relu`` commutes with concatenation and a
dot product with ``prompt(c)`` can be pulled through ``W2``:

    W1 · relu([s; e]) = W1[:, :D] · relu(s) + W1[:, D:] · relu(e)      (per word, not per span)
    rep · prompt(c)   = h · (W2^T prompt(c)) + b2 · prompt(c)           (per label, not per span)

so a span costs one add, one relu and C dot products of length H instead of about
3 D·H multiply-adds. Same parameters, same dropout placement, same loss; in eval mode
the scores equal gliner's up to float rounding (tested). Models whose span layer is not
``markerV0`` (or that add a span context encoder with its own mask) use gliner's own
forward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

_CORES = ("UniEncoderSpanModel", "BiEncoderSpanModel")
_REP_KEYS = ("packing_config", "pair_attention_mask", "token_lengths", "word_lengths")


def supports(gliner: Any) -> bool:
    """Whether ``fused_forward`` computes exactly what this gliner model's forward computes."""
    core = getattr(gliner, "model", None)
    layer = getattr(core, "span_rep_layer", None)
    marker = getattr(layer, "span_rep_layer", None)
    return (
        type(core).__name__ in _CORES
        and type(marker).__name__ == "SpanMarkerV0"
        and type(getattr(layer, "context_encoder", None)).__name__ == "IdentityContextEncoder"
    )


def _representations(core: Any, inputs: Mapping[str, Any]) -> Any:
    extra = {k: inputs[k] for k in _REP_KEYS if k in inputs}
    if type(core).__name__ == "BiEncoderSpanModel":
        return core.get_representations(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
            labels_embeds=inputs.get("labels_embeds"), labels_input_ids=inputs.get("labels_input_ids"),
            labels_attention_mask=inputs.get("labels_attention_mask"), text_lengths=inputs["text_lengths"],
            words_mask=inputs["words_mask"], labels_gather_indices=inputs.get("labels_gather_indices"),
            prompts_embedding_mask=inputs.get("prompts_embedding_mask"), **extra,
        )
    return core.get_representations(inputs["input_ids"], inputs["attention_mask"], inputs["text_lengths"], inputs["words_mask"], **extra)


def fused_forward(gliner: Any, inputs: Mapping[str, Any], loss_options: Mapping[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Span logits (B, words, max_width, labels) and, when ``inputs`` has labels, gliner's loss."""
    core = gliner.model
    reps = _representations(core, inputs)
    width = int(core.config.max_width)
    span_idx, span_mask = inputs["span_idx"], inputs["span_mask"]
    words, _ = core._fit_length(reps.words_embedding, reps.mask, span_idx.size(1) // width)
    marker = core.span_rep_layer.span_rep_layer
    first, _, drop, second = marker.out_project  # Linear(2D, H), ReLU, Dropout, Linear(H, D)
    start = marker.project_start(words).relu()
    end = marker.project_end(words).relu()
    d = start.size(-1)
    a = F.linear(start, first.weight[:, :d], first.bias)  # (B, W, H), per word
    e = F.linear(end, first.weight[:, d:])
    # the end word of span (i, k) is i + k; past the last word the pad is zero and the span is masked anyway
    e = F.pad(e, (0, 0, 0, width - 1)).unfold(1, width, 1).permute(0, 1, 3, 2)  # (B, W, K, H)
    hidden = drop(torch.relu(a.unsqueeze(2) + e))
    labels = inputs.get("labels")
    n_labels = reps.prompts_embedding.size(1) if labels is None else max(reps.prompts_embedding.size(1), labels.size(-1))
    prompts, prompts_mask = core._fit_length(reps.prompts_embedding, reps.prompts_embedding_mask, n_labels)
    prompts = core.prompt_rep_layer(prompts)  # (B, C, D)
    q = prompts @ second.weight  # (B, C, H): W2^T prompt
    bias = prompts @ second.bias  # (B, C)
    b, w, k, h = hidden.shape
    scores = torch.bmm(hidden.reshape(b, w * k, h), q.transpose(1, 2)).view(b, w, k, -1) + bias[:, None, None, :]
    loss = None
    if labels is not None:
        loss = core.loss(scores, labels, prompts_mask, span_mask, **(loss_options or {}))
    return scores, loss
