"""Every bench/ script imports: a renamed library function must fail here, not hours into a bench run.

Importing runs a script's top level only (each keeps its work under ``if __name__ == "__main__"``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def test_the_bench_folder_has_scripts() -> None:
    assert len(SCRIPTS) >= 10


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Scripts set defaults at import (BIONER_DATA, HF_HUB_OFFLINE, sys.path); none may leak into other tests."""
    environ, path = dict(os.environ), list(sys.path)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path


def _load(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # scripts import their siblings (results_file, llm_engines)
    name = f"_bench_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_imports(path: Path, monkeypatch: pytest.MonkeyPatch, isolated: None) -> None:
    _load(path, monkeypatch)


def test_the_selector_bench_interval_brackets_the_f1_change(monkeypatch: pytest.MonkeyPatch, isolated: None) -> None:
    from bioner.doc import Document, Entity

    bench = _load(BENCH / "selector.py", monkeypatch)
    gold = [Document(f"d{k}", "Aspirin may cause Reye syndrome.", [Entity(0, 7, "Chemical"), Entity(18, 31, "Disease")]) for k in range(40)]
    noisy = [g.copy(entities=[*g.entities, Entity(11, 17, "Disease")]) if k % 2 else g.copy(entities=g.entities[:1]) for k, g in enumerate(gold)]
    assert bench._doc_counts(gold, noisy, ["Chemical", "Disease"])[:2] == [(1, 1, 2), (2, 3, 2)]
    assert bench._doc_counts(gold, noisy, ["Chemical"])[1] == (1, 1, 1)  # other types are not counted
    assert bench._delta_f1_interval(gold, noisy, noisy, ["Chemical", "Disease"]) == [0.0, 0.0]  # no change, no spread
    lo, hi = bench._delta_f1_interval(gold, noisy, gold, ["Chemical", "Disease"])  # perfect against F1 0.75: +25 points
    assert 20.0 < lo <= 25.0 <= hi < 30.0


def test_the_zero_shot_table_shows_each_silver_variant_beside_the_recipe(monkeypatch: pytest.MonkeyPatch, isolated: None) -> None:
    bench = _load(BENCH / "zero_shot.py", monkeypatch)
    row = {"unit": "s800", "corpus": "s800", "docs": 2, "gold": 9, "p": 50.0, "r": 25.0, "f1": 33.333, "relaxed_f1": 40.0}
    res = {"loo/base/s800": {**row, "variant": "base", "f1": 25.41}, "loo/student/s800": {**row, "variant": "student", "f1": 6.16},
           "loo/base-again/linnaeus": {**row, "unit": "linnaeus", "corpus": "linnaeus", "variant": "base-again", "f1": 24.0},
           "loo/student-neg0/s800": {**row, "variant": "student-neg0"}, "loo/student-neg0.25/linnaeus": {**row, "unit": "linnaeus", "corpus": "linnaeus", "variant": "student-neg0.25"}}
    lines = bench._variant_rows(res)
    assert lines[-2:] == ["| linnaeus | linnaeus | 0.25 | 50.00 | 25.00 | **33.33** | 40.00 | - | - | 24.00 |",  # its own teacher re-scored
                          "| s800 | s800 | 0 | 50.00 | 25.00 | **33.33** | 40.00 | 6.16 | 25.41 | - |"]
    assert bench._variant_rows({k: v for k, v in res.items() if "neg" not in k}) == []  # no variant, no extra table
    assert [bench._student(n) for n in (None, 0.0, 0.25)] == ["student", "student-neg0", "student-neg0.25"]
