"""Shared fixtures. Unit tests make their own tiny data; corpus tests read $BIONER_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _data_dir() -> Path | None:
    env = os.environ.get("BIONER_DATA")
    if env:
        return Path(env)
    guess = Path(__file__).resolve().parents[2] / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared benchmark corpora. Missing data is a failure, not a skip: CI must see it."""
    d = _data_dir()
    if d is None or not d.is_dir():
        pytest.fail("benchmark corpora not found: set BIONER_DATA to the folder laid out like shared/data")
    return d


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a tiny random causal LM + tokenizer (tests/tiny_lm.py), loadable with from_pretrained."""
    from tests.tiny_lm import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))
