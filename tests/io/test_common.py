"""Shared reader/writer helpers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bioner.io._common import atomic_write


def test_atomic_write_gives_the_permissions_of_a_plain_open(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")
    with atomic_write(tmp_path / "sub" / "out.txt") as fh:
        fh.write("y")
    out = tmp_path / "sub" / "out.txt"
    assert out.read_text(encoding="utf-8") == "y"
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert [p.name for p in out.parent.iterdir()] == ["out.txt"]  # no temporary left behind


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(out) as fh:
        fh.write("half")
        raise RuntimeError("crash mid-write")
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
