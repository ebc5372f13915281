"""A tiny random causal LM (Gemma 3 architecture) and a byte-level tokenizer for tests (fixture ``tiny_lm_dir``).

Tests of loading, generation, LoRA tuning and the engine run on it in seconds; what
they check (offsets, masking, resume, batching equivalence) does not depend on the
model being any good. The real Gemma 270M is exercised by the benches.
"""

from __future__ import annotations

from pathlib import Path

_TRAIN_TEXT = [
    'Germline mutations in BRCA1 predispose to early-onset breast cancer.',
    '[{"entity": "disease", "name": "breast cancer"}, {"entity": "gene", "name": "BRCA1"}]',
    "disease: Germline mutations in BRCA1 predispose to early-onset [breast cancer].",
    "Tamoxifen reduced the risk of [[CD28] surface receptor] loss in mice. none []",
    "急性肺炎 患者 发热 治疗 阿莫西林",
]


def build_tiny_lm(path: Path, *, vocab_size: int = 400, seed: int = 0) -> Path:
    """Write a random 2-layer Gemma 3 model and its tokenizer to ``path``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<unk>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_TRAIN_TEXT * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(seed)
    config = Gemma3TextConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=512, sliding_window=64,
        # a wide init: with the default (0.02) the tied output embedding is so small that every next-token
        # distribution is near uniform, and LoRA (which does not touch embeddings or norms) cannot sharpen it
        initializer_range=0.5,
        pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
    )
    model = Gemma3ForCausalLM(config)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
