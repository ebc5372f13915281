"""Gemma's tokenizer rebuilt from a GGUF file, because transformers' own conversion is wrong for it.

transformers 5.16 turns the GGUF vocabulary of Gemma 3 into a ``Unigram`` model whose
"scores" are really BPE merge ranks, and its ``GemmaTokenizer`` class then rebuilds a
BPE without merges: text comes out one character per token ("G", "e", "r", ...), which
the model never saw in pre-training. Here the GGUF's pieces and ranks are turned into
a byte-fallback BPE exactly as transformers converts Gemma's SentencePiece model
(``GemmaConverter``: merges generated from the vocabulary, ordered by the merged
piece's score), so "Germline mutations" is tokenized the way Gemma was trained on.
"""

from __future__ import annotations

import os
from typing import Any

# GGUF token types (llama.cpp's llama_token_type)
_CONTROL, _USER_DEFINED = 3, 4
_TURN_TOKENS = {"<start_of_turn>", "<end_of_turn>"}


def _field(reader: Any, name: str) -> list[Any]:
    f = reader.fields[name]
    return [f.parts[i].tolist()[0] if f.types[-1].name != "STRING" else bytes(f.parts[i]).decode("utf-8") for i in f.data]


def gemma_tokenizer_from_gguf(path: str | os.PathLike[str]) -> Any:
    """A ``PreTrainedTokenizerFast`` equal to Gemma's SentencePiece BPE, from the GGUF at ``path``."""
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import generate_merges

    reader = GGUFReader(os.fspath(path))
    pieces: list[str] = _field(reader, "tokenizer.ggml.tokens")
    scores: list[float] = _field(reader, "tokenizer.ggml.scores")
    types: list[int] = _field(reader, "tokenizer.ggml.token_type")
    bos, eos, unk, pad = (int(_field(reader, f"tokenizer.ggml.{k}_token_id")[0]) for k in ("bos", "eos", "unknown", "padding"))
    vocab = {p: i for i, p in enumerate(pieces)}
    if "\t" not in vocab and "<0x09>" in vocab:  # as GemmaSentencePieceExtractor: a tab piece for merges
        vocab["\t"] = vocab["<0x09>"]
    special = {i for i, t in enumerate(types) if t in (_CONTROL, _USER_DEFINED)}
    merges = generate_merges(vocab, [(p, s) for i, (p, s) in enumerate(zip(pieces, scores)) if i not in special])
    tok = Tokenizer(BPE({p: i for i, p in enumerate(pieces)}, merges, unk_token=pieces[unk], fuse_unk=True, byte_fallback=True, dropout=None))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_tokens([AddedToken(pieces[i], normalized=False, special=types[i] == _CONTROL or pieces[i] in _TURN_TOKENS) for i in sorted(special)])
    tok.post_processor = processors.TemplateProcessing(single=f"{pieces[bos]} $A", pair=f"{pieces[bos]} $A $B", special_tokens=[(pieces[bos], bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=pieces[bos], eos_token=pieces[eos], unk_token=pieces[unk], pad_token=pieces[pad],
                                   padding_side="left")
