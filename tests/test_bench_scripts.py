"""Every bench/ script imports: a renamed library function must fail here, not hours into a bench run.

Importing runs a script's top level only (each keeps its work under ``if __name__ == "__main__"``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

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


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_bench_script_imports(path: Path, monkeypatch: pytest.MonkeyPatch, isolated: None) -> None:
    monkeypatch.syspath_prepend(str(BENCH))  # scripts import their siblings (results_file, llm_engines)
    name = f"_bench_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
