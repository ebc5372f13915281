"""The one way benches add a row to their committed JSON results: read, update and replace under a lock."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def add_result(path: Path, key: str, row: dict[str, Any], lock_dir: Path) -> None:
    """Set ``key`` to ``row`` in the JSON file ``path`` atomically; two bench processes may finish at the same time."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load_results(path)
        results[key] = row
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
