"""Loading causal LMs: local folders, the cached alias conversion, adapters, and the errors users meet."""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from bioner.engines.generative import model as model_mod
from bioner.engines.generative.model import GEMMA_ALIAS, LoadedLM, cache_dir, ensure_alias, load_causal_lm, prepare_tokenizer
from bioner.errors import BionerError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_lm(tiny_lm_dir: Path) -> LoadedLM:
    return load_causal_lm(tiny_lm_dir)


def test_loads_a_local_folder_ready_for_batched_generation(tiny_lm: LoadedLM, tiny_lm_dir: Path) -> None:
    assert tiny_lm.name == str(tiny_lm_dir)
    assert tiny_lm.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not tiny_lm.model.training
    assert tiny_lm.model.dtype == torch.float32 or torch.cuda.is_available()
    assert tiny_lm.tokenizer.padding_side == "left"
    assert tiny_lm.tokenizer.pad_token == "<pad>"
    ids = tiny_lm.tokenizer("Germline mutations in BRCA1", return_tensors="pt").to(tiny_lm.device)
    assert tiny_lm.model(**ids).logits.shape[-1] == tiny_lm.model.config.vocab_size


def test_dtype_and_device_are_honoured(tiny_lm_dir: Path) -> None:
    lm = load_causal_lm(str(tiny_lm_dir), device="cpu", dtype=torch.bfloat16)
    assert lm.device == "cpu"
    assert lm.model.dtype == torch.bfloat16
    assert next(lm.model.parameters()).device.type == "cpu"


def test_pad_token_falls_back_to_eos(tiny_lm_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_lm_dir)
    tok.pad_token = None
    tok.padding_side = "right"
    assert tok.pad_token_id is None
    prepare_tokenizer(tok)
    assert tok.pad_token == "<eos>" and tok.pad_token_id == tok.eos_token_id
    assert tok.padding_side == "left"


def test_missing_local_folder_is_e710(tmp_path: Path) -> None:
    missing = tmp_path / "no-model-here"
    with pytest.raises(BionerError) as err:
        load_causal_lm(missing)
    assert err.value.code == "E710" and str(missing) in str(err.value)
    with pytest.raises(BionerError) as err:
        load_causal_lm("./models/not-there")  # looks like a path, not a Hub name
    assert err.value.code == "E710"


def test_folder_that_is_not_a_causal_lm_is_e711(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as err:
        load_causal_lm(tmp_path)  # empty folder
    assert err.value.code == "E711" and str(tmp_path) in str(err.value)

    from transformers import BertConfig

    bert = tmp_path / "bert"
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
               architectures=["BertForMaskedLM"]).save_pretrained(bert)
    with pytest.raises(BionerError) as err:
        load_causal_lm(bert)
    assert err.value.code == "E711" and "not a causal language model" in err.value.message

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(BionerError) as err:
        load_causal_lm(weights)  # a file, not a folder
    assert err.value.code == "E711"


def test_hub_name_offline_is_e712_saying_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants

    # offline and an empty Hub cache: fails at once instead of retrying the network
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(BionerError) as err:
        load_causal_lm("bioner-test/no-such-model")
    assert time.perf_counter() - started < 10
    assert err.value.code == "E712"
    assert "bioner-test/no-such-model" in err.value.message
    assert err.value.hint is not None and "local folder" in err.value.hint and GEMMA_ALIAS in err.value.hint


def test_broken_weights_are_e713(tiny_lm_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_lm_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BionerError) as err:
        load_causal_lm(broken)
    assert err.value.code == "E713" and str(broken) in str(err.value)


# ---------------------------------------------------------------------------
# LoRA adapters


def _save_adapter(base: torch.nn.Module, folder: Path) -> None:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    # init_lora_weights=False: B is random, so the adapter really changes the outputs
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.save_pretrained(folder)


def test_adapter_is_put_on_the_model(tiny_lm_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _save_adapter(AutoModelForCausalLM.from_pretrained(tiny_lm_dir), tmp_path / "lora")
    plain = load_causal_lm(tiny_lm_dir)
    tuned = load_causal_lm(tiny_lm_dir, adapter=tmp_path / "lora")
    assert isinstance(tuned.model, PeftModel)
    assert not tuned.model.training
    ids = plain.tokenizer("Tamoxifen reduced the risk", return_tensors="pt")
    with torch.no_grad():
        assert not torch.allclose(plain.model(**ids).logits, tuned.model(**ids).logits)
        out = tuned.model.generate(**ids, max_new_tokens=2, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 2


def test_missing_or_incompatible_adapter_is_e714_naming_the_folder(tiny_lm_dir: Path, tmp_path: Path) -> None:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    with pytest.raises(BionerError) as err:
        load_causal_lm(tiny_lm_dir, adapter=tmp_path / "nope")
    assert err.value.code == "E714" and str(tmp_path / "nope") in str(err.value)

    # an adapter tuned on a model of another width does not fit the tiny model
    other = Gemma3ForCausalLM(Gemma3TextConfig(vocab_size=400, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                                               num_attention_heads=2, num_key_value_heads=1, head_dim=16))
    _save_adapter(other, tmp_path / "other-lora")
    with pytest.raises(BionerError) as err:
        load_causal_lm(tiny_lm_dir, adapter=tmp_path / "other-lora")
    assert err.value.code == "E714" and str(tmp_path / "other-lora") in str(err.value)
    assert "base model" in (err.value.hint or "")


# ---------------------------------------------------------------------------
# The gemma3-270m alias: converted once into the cache, atomically


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BIONER_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("BIONER_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "bioner"


def test_alias_is_converted_once_then_loaded_from_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_lm_dir: Path) -> None:
    calls: list[Path] = []

    def convert(out: Path) -> None:  # stands in for the slow GGUF conversion
        calls.append(out)
        shutil.copytree(tiny_lm_dir, out, dirs_exist_ok=True)

    monkeypatch.setenv("BIONER_CACHE", str(tmp_path))
    monkeypatch.setitem(model_mod.ALIASES, GEMMA_ALIAS, convert)
    lm = load_causal_lm(GEMMA_ALIAS)
    final = model_mod.alias_path(GEMMA_ALIAS)
    assert final.parent == tmp_path / "llm" and final.name.startswith(GEMMA_ALIAS)  # versioned: gemma3-270m-v2
    assert lm.name == GEMMA_ALIAS
    assert len(calls) == 1 and calls[0].parent == final.parent and calls[0] != final  # written beside, then renamed
    assert (final / "config.json").is_file()
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no temp folder left
    load_causal_lm(GEMMA_ALIAS)
    assert len(calls) == 1


def test_processes_loading_an_alias_together_convert_it_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_lm_dir: Path) -> None:
    # two first loads at once used to run two conversions that raced on the GGUF file they both unpacked
    calls: list[Path] = []

    def convert(out: Path) -> None:
        calls.append(out)
        time.sleep(0.3)  # a conversion long enough for the other caller to arrive during it
        shutil.copytree(tiny_lm_dir, out, dirs_exist_ok=True)

    monkeypatch.setenv("BIONER_CACHE", str(tmp_path))
    monkeypatch.setitem(model_mod.ALIASES, GEMMA_ALIAS, convert)
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: ensure_alias(GEMMA_ALIAS), range(2)))
    assert paths == [model_mod.alias_path(GEMMA_ALIAS)] * 2
    assert len(calls) == 1


def test_a_crashed_conversion_leaves_nothing_that_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_lm_dir: Path) -> None:
    def crash(out: Path) -> None:
        (out / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
        raise KeyboardInterrupt  # killed half-way

    monkeypatch.setenv("BIONER_CACHE", str(tmp_path))
    llm = tmp_path / "llm"
    llm.mkdir()
    stale = llm / f".{model_mod.alias_path(GEMMA_ALIAS).name}-deadbeef"  # left by a conversion killed long ago
    stale.mkdir()
    os.utime(stale, (time.time() - 7 * 3600, time.time() - 7 * 3600))
    monkeypatch.setitem(model_mod.ALIASES, GEMMA_ALIAS, crash)
    with pytest.raises(KeyboardInterrupt):
        load_causal_lm(GEMMA_ALIAS)
    assert list(llm.iterdir()) == []  # neither the final folder nor any temp folder

    monkeypatch.setitem(model_mod.ALIASES, GEMMA_ALIAS, lambda out: shutil.copytree(tiny_lm_dir, out, dirs_exist_ok=True))
    assert ensure_alias(GEMMA_ALIAS) == model_mod.alias_path(GEMMA_ALIAS)
    assert load_causal_lm(GEMMA_ALIAS).model.config.vocab_size > 0
