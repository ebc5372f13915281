"""``bioner annotate --ray``: the same job on a local Ray cluster writes the same bytes as the local run.

One module-scoped Ray (starting it takes seconds); the shipped span model on a few documents.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray  # the ray extra (pip install 'bioner[ray]'): a missing extra fails here, it is not skipped

import bioner.io
from bioner.annotate import MANIFEST, annotate, make_options, read_output
from bioner.annotate_ray import run_ray
from bioner.doc import Document
from bioner.errors import BionerError

LABELS = "disease,chemical"
TEXTS = ["Cystic fibrosis and aspirin.", "Lung cancer treated with cisplatin.", "Parkinson disease and levodopa.",
         "Insulin for type 2 diabetes.", "Gout and allopurinol."]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One small local Ray for the module; annotate() uses an initialised Ray as it is."""
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_run_is_byte_identical_to_the_local_run_and_resumes(cluster: None, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    bioner.io.write([Document(f"d{i}", t) for i, t in enumerate(TEXTS)], src)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    annotate([src], local, labels=LABELS, shard_size=2)
    res = annotate([src], on_ray, labels=LABELS, shard_size=2, ray=True, workers=1)
    assert (res.shards, res.documents, res.shards_written) == (3, 5, 3)
    files = sorted(p.name for p in local.glob("shard-*"))
    assert files == sorted(p.name for p in on_ray.glob("shard-*")) == ["shard-000000.jsonl", "shard-000001.jsonl", "shard-000002.jsonl"]
    for name in files:
        assert (on_ray / name).read_bytes() == (local / name).read_bytes()
    assert sum(len(d.entities) for d in read_output(on_ray)) > 3
    # the manifest does not care where shards ran: a local rerun finds the Ray run done
    assert (on_ray / MANIFEST).read_text().count('"index"') == 3
    again = annotate([src], on_ray, labels=LABELS, shard_size=2)
    assert (again.shards_written, again.shards_skipped) == (0, 3)


def test_an_error_in_an_actor_reaches_the_driver_with_its_code(cluster: None, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    bioner.io.write([Document("d0", TEXTS[0])], src)
    # a setting error is found in the driver, before Ray does any work
    with pytest.raises(BionerError) as exc:
        annotate([src], tmp_path / "out", model=tmp_path / "missing", ray=True)
    assert exc.value.code == "E601"
    # a model folder the actor cannot load (it vanished after the driver checked it): the actor's E601 comes back as itself
    from dataclasses import replace

    from bioner.annotate import Shard

    options = replace(make_options(labels=LABELS), model=str(tmp_path / "vanished"))
    with pytest.raises(BionerError) as exc:
        list(run_ray([Shard(0, [Document("d0", TEXTS[0])])], options, workers=1))
    assert exc.value.code == "E601" and "vanished" in str(exc.value)
