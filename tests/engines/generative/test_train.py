from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # the llm extra is part of the test setup; this only names the dependency

from bioner.doc import Document, Entity  # noqa: E402
from bioner.engines.generative import prompts  # noqa: E402
from bioner.engines.generative.formats import get_format  # noqa: E402
from bioner.engines.generative.train import (  # noqa: E402
    IGNORE,
    LLMTrainConfig,
    Part,
    Sample,
    answer_loss,
    build_samples,
    read_settings,
    shared_prefix,
    tokenize_sample,
    train_llm,
)
from bioner.errors import BionerError, Report  # noqa: E402

TEXT = "Germline mutations in BRCA1 predispose to breast cancer. Nothing to see here."


def _doc() -> Document:
    return Document("d1", TEXT, [Entity(22, 27, "GENE"), Entity(42, 55, "Disease")])


def _load(path: Path):  # noqa: ANN202
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_build_samples_one_per_sentence_with_negatives_and_counts() -> None:
    specs = [prompts.TypeSpec.of("Disease"), prompts.TypeSpec.of("GENE")]
    doc = _doc()
    doc.entities.append(Entity.from_fragments([(0, 8), (22, 27)], "Disease"))  # discontinuous: JSON cannot carry it
    report = Report(skip_invalid=True)
    samples = build_samples([Part("toy", [doc], specs)], "json", None, report=report)
    assert [s.entities for s in samples] == [2, 0]
    fmt = get_format("json")
    labels = prompts.labels_of(specs)
    first = "Germline mutations in BRCA1 predispose to breast cancer."
    assert samples[0].answer == fmt.encode(first, [Entity(22, 27, "GENE"), Entity(42, 55, "Disease")], labels)
    assert samples[1].answer == fmt.encode("Nothing to see here.", [], labels)
    assert "A disease, disorder" in samples[0].prompt and "gene or gene product" in samples[0].prompt
    assert samples[0].prompt.rstrip().endswith("Answer:") and first in samples[0].prompt
    assert report.counts["W743"] == 1


def test_tokenize_sample_masks_prompt_and_ends_with_eos(tiny_lm_dir: Path) -> None:
    _, tok = _load(tiny_lm_dir)
    ids, labels = tokenize_sample(tok, Sample("Text: a\nAnswer:\n", '[{"entity": "gene", "name": "a"}]', "toy"))
    n_prompt = len(tok("Text: a\nAnswer:\n")["input_ids"])
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:] and ids[-1] == tok.eos_token_id
    assert len(ids) == len(labels) > n_prompt + 1


def test_sparse_answer_loss_equals_full_head_loss(tiny_lm_dir: Path) -> None:
    model, tok = _load(tiny_lm_dir)
    rows = [tokenize_sample(tok, Sample("Text: BRCA1 in mice\nAnswer:\n", "gene: [BRCA1] in mice", "t")),
            tokenize_sample(tok, Sample("Text: x\nAnswer:\n", "none", "t"))]
    width = max(len(r[0]) for r in rows)
    ids = torch.tensor([r[0] + [tok.pad_token_id] * (width - len(r[0])) for r in rows])
    mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows])
    labels = torch.tensor([r[1] + [IGNORE] * (width - len(r[1])) for r in rows])
    sparse = answer_loss(model, ids, mask, labels)
    full = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(sparse, full, atol=1e-5), (float(sparse), float(full))


def test_shared_prefix_counts_the_common_head() -> None:
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert shared_prefix([[1, 2], [1, 2]]) == 2
    assert shared_prefix([[7, 1], [1, 7]]) == 0
    assert shared_prefix([]) == 0


def test_running_the_shared_prompt_head_once_gives_the_same_loss_and_gradients(tiny_lm_dir: Path) -> None:
    from bioner.engines.generative.train import add_lora

    model, tok = _load(tiny_lm_dir)
    head = "List the genes in the text below as JSON. Entity types: gene, a gene or gene product. Text: "
    rows = [tokenize_sample(tok, Sample(head + text + "\nAnswer:\n", answer, "t")) for text, answer in (
        ("BRCA1 in mice", '[{"entity": "gene", "name": "BRCA1"}]'), ("nothing at all here", "[]"),
        ("TP53 and MDM2 bind", '[{"entity": "gene", "name": "TP53"}, {"entity": "gene", "name": "MDM2"}]'))]
    width = max(len(r[0]) for r in rows)
    ids = torch.tensor([r[0] + [tok.pad_token_id] * (width - len(r[0])) for r in rows])
    mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows])
    labels = torch.tensor([r[1] + [IGNORE] * (width - len(r[1])) for r in rows])
    prefix = shared_prefix([r[0] for r in rows])
    assert prefix >= 8  # long enough to take the shared path
    lora = add_lora(model, LLMTrainConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0))
    with torch.no_grad():  # LoRA's B starts at zero; make the adapters matter
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    out = {}
    for k in (0, prefix):
        lora.zero_grad()
        loss = answer_loss(lora, ids, mask, labels, k)
        loss.backward()
        out[k] = (loss.detach(), [p.grad.clone() for p in lora.parameters() if p.requires_grad])
    assert torch.allclose(out[0][0], out[prefix][0], atol=1e-6)
    for a, b in zip(out[0][1], out[prefix][1], strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_a_sample_weighs_the_same_however_it_is_batched(tiny_lm_dir: Path) -> None:
    """One step's gradient is the sum of its samples' own gradients: a 2-token ``[]`` answer does not
    gain weight by sharing a micro-batch with other short answers (length bucketing does that)."""
    from bioner.engines.generative.train import accumulate, add_lora, answer_tokens

    model, tok = _load(tiny_lm_dir)
    rows = [tokenize_sample(tok, Sample(f"Text: {text}\nAnswer:\n", answer, "t")) for text, answer in (
        ("BRCA1 in mice", '[{"entity": "gene", "name": "BRCA1"}]'), ("nothing at all here", "[]"), ("it rained", "[]"),
        ("TP53 and MDM2 bind", '[{"entity": "gene", "name": "TP53"}, {"entity": "gene", "name": "MDM2"}]'))]
    n = answer_tokens(rows)
    assert n[1] == n[2] < n[0] < n[3]  # the empty answers are the shortest
    lora = add_lora(model, LLMTrainConfig(lora_r=4, lora_alpha=8, lora_dropout=0.0))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    params = [p for p in lora.parameters() if p.requires_grad]

    def grads(batches: list[list[int]]) -> tuple[float, list[torch.Tensor]]:
        lora.zero_grad()
        loss = accumulate(lora, [[rows[i] for i in b] for b in batches], tok.pad_token_id, norm=10.0)
        return loss, [p.grad.clone() for p in params]

    alone = [grads([[i]]) for i in range(4)]
    for grouping in ([[0, 1, 2, 3]], [[1, 2], [0, 3]], [[0], [1, 2, 3]]):
        loss, got = grads(grouping)
        assert loss == pytest.approx(sum(a[0] for a in alone), rel=1e-5)
        for k, g in enumerate(got):
            assert torch.allclose(g, sum(a[1][k] for a in alone), atol=1e-6, rtol=1e-4)


def _samples() -> list[Sample]:
    return [Sample(f"Text: sentence {i} BRCA1\nAnswer:\n", f'[{{"entity": "gene", "name": "BRCA{i}"}}]', "toy") for i in range(6)]


def test_training_lowers_loss_and_saves_a_loadable_adapter(tiny_lm_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel

    model, tok = _load(tiny_lm_dir)
    config = LLMTrainConfig(max_steps=30, batch_size=3, grad_accum=1, lr=1e-2, warmup=0.0, lora_r=8, lora_alpha=16, lora_dropout=0.0, save_every=10)
    result = train_llm(model, tok, _samples(), output_dir=tmp_path / "run", config=config, base_model=str(tiny_lm_dir),
                       types={"toy": [{"name": "GENE", "label": "gene", "definition": "a gene"}]}, progress=False)
    assert result.finished and result.steps == 30 and result.adapter is not None
    assert sum(result.losses[-5:]) / 5 < 0.5 * sum(result.losses[:5]) / 5
    settings = read_settings(result.adapter)
    assert settings["scheme"] == "json" and settings["base_model"] == str(tiny_lm_dir) and settings["steps"] == 30
    assert json.loads((result.adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_lm_dir)
    size = sum(f.stat().st_size for f in result.adapter.iterdir())
    assert size < 2_000_000  # LoRA weights only, not the base model
    base, _ = _load(tiny_lm_dir)
    loaded = PeftModel.from_pretrained(base, result.adapter)
    trained = dict(result.model.named_parameters())
    for name, p in loaded.named_parameters():
        if "lora_" in name:
            assert torch.equal(p, trained[name])


def test_resume_continues_bit_for_bit(tiny_lm_dir: Path, tmp_path: Path) -> None:
    config = LLMTrainConfig(max_steps=6, batch_size=2, grad_accum=2, lr=1e-3, lora_r=4, lora_alpha=8, save_every=0)
    model, tok = _load(tiny_lm_dir)
    straight = train_llm(model, tok, _samples(), output_dir=tmp_path / "a", config=config, progress=False)
    model2, _ = _load(tiny_lm_dir)
    first = train_llm(model2, tok, _samples(), output_dir=tmp_path / "b", config=config, max_steps=3, progress=False)
    assert not first.finished and first.adapter is None
    model3, _ = _load(tiny_lm_dir)  # a fresh process would start from the base model again
    resumed = train_llm(model3, tok, _samples(), output_dir=tmp_path / "b", config=config, progress=False)
    assert resumed.finished and resumed.losses == straight.losses
    a = {n: p for n, p in straight.model.named_parameters() if "lora_" in n}
    b = {n: p for n, p in resumed.model.named_parameters() if "lora_" in n}
    assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def test_two_fresh_runs_with_one_seed_train_the_same_adapter(tiny_lm_dir: Path, tmp_path: Path) -> None:
    config = LLMTrainConfig(max_steps=2, batch_size=2, grad_accum=1, lr=1e-3, lora_r=4, lora_alpha=8, save_every=0)
    runs = []
    for name, draws in (("a", 1), ("b", 7)):
        model, tok = _load(tiny_lm_dir)
        torch.rand(draws)  # whatever ran before in the process must not matter
        runs.append(train_llm(model, tok, _samples(), output_dir=tmp_path / name, config=config, progress=False))
    a, b = ({n: p for n, p in r.model.named_parameters() if "lora_" in n} for r in runs)
    assert runs[0].losses == runs[1].losses and a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def test_checkpoint_of_another_run_is_refused(tiny_lm_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_lm_dir)
    config = LLMTrainConfig(max_steps=2, batch_size=2, grad_accum=1, lora_r=4, save_every=1)
    train_llm(model, tok, _samples(), output_dir=tmp_path / "r", config=config, max_steps=1, progress=False)
    model2, _ = _load(tiny_lm_dir)
    with pytest.raises(BionerError, match="E603"):
        train_llm(model2, tok, _samples()[:4], output_dir=tmp_path / "r", config=config, progress=False)


def test_too_long_samples_are_counted_and_unknown_settings_refused(tiny_lm_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_lm_dir)
    report = Report(skip_invalid=True)
    long = Sample("Text: " + "word " * 400 + "\nAnswer:\n", "[]", "toy")
    config = LLMTrainConfig(max_steps=1, batch_size=2, grad_accum=1, lora_r=4, max_len=128)
    result = train_llm(model, tok, [*_samples()[:2], long], output_dir=tmp_path / "r", config=config, report=report, progress=False)
    assert result.samples == 2 and report.counts["W744"] == 1
    with pytest.raises(BionerError, match="E730"):
        LLMTrainConfig.from_dict({"max_step": 3})
