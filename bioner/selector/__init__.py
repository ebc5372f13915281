"""The contrastive entity selector (LLMNER): a classifier that accepts or rejects each candidate (mention, type).

Any engine's output passes through it (``Selector.select``, or ``selector=`` in
``bioner.extract``/``evaluate_model``, ``--selector`` on the command line):

* ``bioner.selector.candidates``: gold spans, their boundary-shifted, sub-, super- and
  type-swapped negatives, and engines' real false positives;
* ``bioner.selector.model``: the cross-encoder, ``Selector`` (create, load, save, score, select);
* ``bioner.selector.discourse``: a document's mentions of one type and text (or abbreviation) as one group, decided together;
* ``bioner.selector.train``: BCE + contrastive training and the dev-chosen decision rules, ``train_selector``.

torch and transformers are imported only when a selector is created or loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from bioner.errors import BionerError
from bioner.models import REPO_ROOT

if TYPE_CHECKING:
    from .model import Selector
    from .train import Part, SelectorTrainConfig, SelectorTrainResult, train_selector

SelectorRef = Union["Selector", str, os.PathLike[str], None]

__all__ = ["DEFAULT_SELECTOR_DIR", "Part", "Selector", "SelectorRef", "SelectorTrainConfig", "SelectorTrainResult", "load_selector",
           "selector_path", "train_selector"]

_LAZY = {"Selector": ".model", "Part": ".train", "SelectorTrainConfig": ".train", "SelectorTrainResult": ".train", "train_selector": ".train"}


DEFAULT_SELECTOR_NAME = "bioner-selector-gemma3-lora"
DEFAULT_SELECTOR_DIR = REPO_ROOT / "models" / DEFAULT_SELECTOR_NAME  # beside the default span model and adapter


def selector_path(selector: str | os.PathLike[str]) -> Path:
    """The folder ``selector`` names: ``"default"`` is the shipped selector (E620 when it is not installed), anything else a path."""
    if os.fspath(selector) == "default":
        if not DEFAULT_SELECTOR_DIR.is_dir():
            raise BionerError("E620", f"the default selector is not installed: {DEFAULT_SELECTOR_DIR} does not exist",
                              hint="train one with `bioner train selector` and pass its folder (--selector PATH)")
        return DEFAULT_SELECTOR_DIR
    return Path(selector).expanduser()


def load_selector(selector: SelectorRef) -> Selector | None:
    """A Selector from a folder or ``"default"`` (or one already loaded); None stays None (no selection)."""
    if selector is None:
        return None
    from .model import Selector

    return selector if isinstance(selector, Selector) else Selector.load(selector)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'bioner.selector' has no attribute {name!r}")
