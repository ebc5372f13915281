"""The Ray Data runner of ``bioner annotate`` (``--ray``): the same shards, the same bytes, on a Ray cluster.

How it runs. The driver reads the inputs and cuts the shards exactly as the local run
does (``bioner.annotate``); each pending shard's payload (its documents as JSON lines)
is put in Ray's object store as a one-row Arrow block, so the driver holds only
references (the object store spills to disk when a large input does not fit). The
whole input is read and staged before the actors start, so annotation begins after
that reading pass; reading is fast next to annotation (BC5CDR's 500 test abstracts are
read and encoded in under a second), and this keeps one Dataset, one actor pool and one
model load per actor. That Dataset is mapped with ``map_batches`` by a callable class on an
actor pool of ``workers`` actors (``ActorPoolStrategy(size=workers)``, one CPU and one torch
thread each): every actor loads the model once and annotates whole shards with the
same ``ShardAnnotator`` as the local run, so its output bytes are the local bytes.
Order is preserved, and the driver writes each shard file and the manifest as
results arrive, so an interrupted Ray run resumes like a local one (either way).

Clusters. Without ``address`` a local Ray of ``workers`` CPUs is started and stopped
again; with one (``auto``, ``host:6379``, ``ray://host:10001``) the job joins that
cluster, whose nodes need bioner (with the span or llm extra) and the model: a Hub
name, or a folder at the same path. An already initialised Ray (``ray.init`` called
by the caller) is used as it is.

Ray is optional: ``pip install 'bioner[ray]'``; it is imported only here, when asked for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from bioner.annotate import AnnotateOptions, Shard, ShardAnnotator, ShardResult
from bioner.errors import CODES, BionerError

RAY_PIN = "ray[data]==2.60.0"  # the extra's pin; any Ray 2.x with Ray Data's map_batches(concurrency=) works


def require_ray() -> ModuleType:
    """The ``ray`` module with Ray Data, or E820 saying which extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  # the data extra (pyarrow, pandas) is needed too
    except ImportError as exc:
        raise BionerError("E820", f"Ray is not installed ({exc.name or exc})",
                          hint=f"pip install 'bioner[ray]' (it pins {RAY_PIN}), or run without --ray") from None
    return ray


class RayAnnotator:
    """The callable class of ``map_batches``: one per actor, model loaded once in ``__init__``."""

    def __init__(self, options: AnnotateOptions) -> None:
        self.annotator = ShardAnnotator(options, threads=1)

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        import json

        out: dict[str, list[Any]] = {"index": [], "data": [], "documents": [], "entities": [], "issues": []}
        for index, payload in zip(batch["index"].to_pylist(), batch["payload"].to_pylist()):
            res = self.annotator(int(index), payload)
            out["index"].append(res.index)
            out["data"].append(res.data)
            out["documents"].append(res.documents)
            out["entities"].append(res.entities)
            out["issues"].append(json.dumps(res.issues))
        return out


def _quiet(ray: ModuleType) -> None:
    """Ray Data's progress bars and per-run log lines would fight bioner's own progress bar."""
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # shards come back in input order: written and resumed like a local run
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.enable_auto_log_stats = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


# how a BionerError reads in a remote traceback (an actor that died in __init__ sends only text)
_REMOTE_ERROR = re.compile(r"bioner\.errors\.BionerError: \[([EW]\d{3})\] (.+)")


def _bioner_error(exc: BaseException) -> BionerError | None:
    """A BionerError raised inside an actor (Ray wraps it, sometimes twice, or passes only its text), rebuilt for the driver."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    texts = []
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, BionerError) and getattr(e, "code", None):
            return BionerError(e.code, e.message, file=e.file, line=e.line, hint=e.hint)
        texts.append(str(e))
        todo += [e.__cause__, e.__context__, getattr(e, "cause", None)]
    for text in texts:
        found = _REMOTE_ERROR.search(text)
        if found and found.group(1) in CODES:
            return BionerError(found.group(1), found.group(2).strip())  # the text already holds file:line and hint
    return None


def _stage(ray: ModuleType, shards: Iterable[Shard]) -> list[Any]:
    """Put each shard's payload in the object store as a one-row Arrow block; the driver keeps only references."""
    import pyarrow as pa

    refs = []
    for shard in shards:
        table = pa.table({"index": pa.array([shard.index], pa.int64()), "payload": pa.array([shard.payload()], pa.large_binary())})
        refs.append(ray.put(table))
    return refs


def run_ray(shards: Iterable[Shard], options: AnnotateOptions, *, workers: int = 1, address: str | None = None) -> Iterator[ShardResult]:
    """Annotate ``shards`` with Ray Data on ``workers`` actors; results in shard order (see the module doc)."""
    import itertools
    import json

    ray = require_ray()
    it = iter(shards)
    first = next(it, None)
    if first is None:  # a resumed job that is already done: no cluster to start
        return
    started = False
    if not ray.is_initialized():
        try:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            else:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except Exception as exc:  # ConnectionError, a bad address, a cluster of another Ray version ...
            raise BionerError("E828", f"cannot start or reach Ray{f' at {address}' if address else ''}: {type(exc).__name__}: {exc}",
                              hint="check --address (auto, HOST:6379 or ray://HOST:10001) and that the cluster runs the same Ray and Python") from None
        started = True
    try:
        _quiet(ray)
        refs = _stage(ray, itertools.chain([first], it))  # reading errors (bad lines, duplicate ids) propagate from here unchanged
        ds = ray.data.from_arrow_refs(refs).map_batches(
            # Ray sets OMP_NUM_THREADS to an actor's num_cpus (1); ShardAnnotator sets torch's threads to 1 as well
            RayAnnotator, fn_constructor_args=(options,), batch_size=1, batch_format="pyarrow", num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
        )
        try:
            for row in ds.iter_rows():
                yield ShardResult(int(row["index"]), bytes(row["data"]), int(row["documents"]), int(row["entities"]), json.loads(row["issues"]))
        except Exception as exc:
            found = _bioner_error(exc)
            if found is not None:
                raise found from None
            head = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise BionerError("E828", f"the Ray job failed: {type(exc).__name__}: {head}",
                              hint="Ray kills a worker that runs out of memory: try fewer --workers or a smaller --shard-size; Ray's logs are under /tmp/ray/session_latest/logs") from exc
    finally:
        if started:
            ray.shutdown()


__all__ = ["RAY_PIN", "RayAnnotator", "require_ray", "run_ray"]
