"""Fixtures for the HTTP service: the shipped span model, loaded once per session (offline), and helpers."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network

import threading

import pytest
import torch

from bioner.doc import Document, Entity
from bioner.engines.span import SpanModel
from bioner.models import load_model
from bioner.serve import FunctionPredictor, Options

# short sentences the shipped model annotates with confidence; a curly apostrophe and a Greek letter check offsets are characters
SENTENCES = [
    "BRCA1 mutations raise the risk of breast cancer in women.",
    "Cisplatin caused severe nephrotoxicity in rats.",
    "Patients with Crohn\u2019s disease received infliximab.",
    "TNF-\u03b1 levels rose in HeLa cells after aspirin treatment.",
    "Mutations in the CFTR gene cause cystic fibrosis.",
    "Tamoxifen reduces the recurrence of breast cancer.",
]


@pytest.fixture(scope="session")
def span_model() -> SpanModel:
    """The shipped model (models/bioner-span-minilm), one torch thread: the machine is shared."""
    torch.set_num_threads(1)
    return load_model(None, threads=1)


def direct(model: SpanModel, texts: list[str], labels: dict[str, str] | list[str], **options: object) -> list[list[tuple[int, int, str, float]]]:
    """What the model itself predicts for ``texts`` one at a time: the reference the service must reproduce."""
    out = []
    for text in texts:
        (doc,) = model.predict([Document("x", text)], labels, **options)  # type: ignore[arg-type]
        out.append([(e.start, e.end, e.label, e.score or 0.0) for e in doc.entities])
    return out


def served(result: dict) -> list[tuple[int, int, str, float]]:
    return [(e["start"], e["end"], e["label"], e["score"]) for e in result["entities"]]


def same(got: list[tuple[int, int, str, float]], want: list[tuple[int, int, str, float]]) -> bool:
    """Equal spans and labels; scores equal up to float32 rounding (batching pads windows differently)."""
    return [g[:3] for g in got] == [w[:3] for w in want] and all(abs(g[3] - w[3]) < 1e-4 for g, w in zip(got, want))


class Gate:
    """A slow test double (not a model): blocks each call until released, to hold the worker busy on purpose.

    Used only where the real model's speed would make a test timing-dependent: filling
    the queue (503) and shutting down with work in flight.
    """

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls: list[list[str]] = []

    def __call__(self, docs: list[Document], options: Options) -> list[Document]:
        self.calls.append([d.text for d in docs])
        self.started.set()
        if not self.release.wait(20):
            raise TimeoutError("gate never released")
        return [d.copy(entities=[Entity(0, min(4, len(d.text)), "x", score=1.0)]) for d in docs]


@pytest.fixture
def gated() -> tuple[Gate, FunctionPredictor]:
    """The gate and a predictor that calls it (default label ``x``)."""
    g = Gate()
    return g, FunctionPredictor(g, name="gate", default_labels={"x": "x"})
