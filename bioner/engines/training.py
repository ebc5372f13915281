"""Pieces every training loop shares: learning-rate schedule, RNG state, atomic checkpoint writes, adapter configs."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def scheduler(optimizer: Any, total: int, warmup: float) -> Any:
    import torch

    warm = int(total * warmup)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_state(path: Path, state: dict[str, Any], name: str) -> None:
    """Write ``state`` to ``path/name`` atomically: a crash mid-save keeps the previous file."""
    import torch

    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path / name)


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int, buckets: int = 0) -> list[list[int]]:
    """The epoch's batches as indices into ``lengths`` (one per example); a function of seed and epoch only, so a resumed run replays it.

    With ``buckets`` > 0 the shuffled examples are cut into pools of ``buckets`` batches,
    each pool is sorted by length before it is cut into batches, and the batches are
    shuffled: a batch then pads to similar lengths (far less wasted compute on a CPU)
    while every batch still draws from a random pool.
    """
    rng = random.Random(f"{seed}:epoch:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if buckets <= 0:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    pool = buckets * batch_size
    batches: list[list[int]] = []
    for p in range(0, len(order), pool):
        chunk_ = sorted(order[p : p + pool], key=lambda i: lengths[i])
        batches.extend(chunk_[i : i + batch_size] for i in range(0, len(chunk_), batch_size))
    rng.shuffle(batches)
    return batches


def name_adapter_base(folder: Path, base: str) -> None:
    """Write ``base`` (the name users load it with, e.g. gemma3-270m) as a saved peft adapter's base, not the local path it was read from."""
    config_file = folder / "adapter_config.json"
    if base and config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = base
        config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
