"""Batch annotation that streams, shards, resumes and scales out: ``annotate(inputs, out_dir, ...)``.

The job. Input files (PubTator, BioC, JSONL, plain text, any readable format; a
directory is walked in sorted order) are read as one stream of Documents, never
held in memory whole. The stream is cut into shards of ``shard_size`` documents in
input order; shard ``k`` holds documents ``k*N .. k*N+N-1``, so the cut depends on the
inputs and ``shard_size`` only. Each shard's predictions go to a temporary file that
is renamed (``os.replace``) to ``OUT_DIR/shard-000123.<ext>``: a shard file is
either absent or complete.

The manifest. ``OUT_DIR/manifest.json`` (also replaced atomically, after every shard)
records the inputs (absolute path, format, size, mtime), the options that decide the
output bytes (engine, model and a hash of its files, labels, threshold, format,
shard size ...) and each completed shard: documents, entities, first and last id, a
SHA-256 of its ids and of its bytes. Running the same command again resumes: the
inputs are read again, completed shards are checked (same ids, file of the recorded
size) and skipped, and the rest is annotated. A shard cut short by a crash has no
entry and is annotated again, so nothing is lost or written twice. Other inputs or
options into the same folder are an error (E821) naming what differs; ``force=True``
starts over.

Runners. Every runner executes the same ``ShardAnnotator`` on the same shard payload
(the shard's documents as JSON lines, entities removed), predicting in blocks of
``BLOCK`` documents with one torch thread, so outputs are byte-identical whether a
shard ran in this process, in a worker process (``workers > 1``) or in a Ray actor
(``ray=True``, ``bioner.annotate_ray``).

Document ids must be unique across inputs (readers already make them unique within
a file): a repeat is E824 naming both files, unless ``prefix_ids`` makes every id
``RELPATH:ID`` (RELPATH: the input file relative to the common folder of all inputs).

The engine option (``span`` or ``llm``) and the provenance kept in the manifest and
on every entity (``Entity.source`` is the model's name) are what LLM teacher
annotation (distillation) builds on.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import bioner
import bioner.io
from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io._common import PathLike, UniqueIds, iter_lines
from bioner.io.jsonl import doc_from_dict, doc_to_dict
from bioner.models import DEFAULT_ADAPTER_DIR, ENGINES, LLMOptions, parse_label_spec, span_labels

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DEFAULT_SHARD_SIZE = 1000
# documents per prediction call inside a shard: fixed (not a tuning knob) so that every
# runner makes exactly the same model calls and writes the same bytes
BLOCK = 32
TEXT_UNITS = ("file", "line")  # a plain-text input is one document, or one per non-blank line
TEXT_FORMAT = "txt"  # plain text: not in bioner.io.FORMATS (see bioner.io.text)
RAY_EXTRA = "ray"  # pip install 'bioner[ray]'
_SHARD_FILE = re.compile(r"shard-(\d+)\.")
_TEMP_FILE = re.compile(r"^\.(shard-\d+\.|manifest\.json).*\.tmp$")

LabelsArg = Sequence[str] | Mapping[str, str] | str | None


# ---------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class InputFile:
    """One input file, with what the manifest keeps to notice that it changed."""

    path: Path  # absolute
    format: str  # a bioner.io format name, or "txt"
    size: int
    mtime_ns: int

    def record(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "size": self.size, "mtime_ns": self.mtime_ns}


def _input_format(path: Path, from_format: str | None) -> str:
    """The reader for ``path``: ``from_format``, else detection; a ``.txt`` nobody can place is plain text."""
    if from_format is not None:
        if from_format != TEXT_FORMAT:
            fmt = bioner.io.get_format(from_format)
            if not fmt.can_read:
                raise BionerError("E207", f"format {fmt.name!r} can only be written", file=path)
        return from_format
    try:
        return bioner.io.detect_format(path).name
    except BionerError as exc:
        if exc.code == "E207" and path.suffix.lower() == ".txt":
            return TEXT_FORMAT
        raise


def _walk(folder: Path, exclude: Path | None) -> list[Path]:
    """Files under ``folder`` in sorted order, without hidden ones, brat ``.txt`` halves (read with
    their ``.ann``) and anything inside ``exclude`` (the output folder)."""
    found = []
    for p in sorted(folder.rglob("*"), key=lambda q: q.relative_to(folder).as_posix()):
        rel = p.relative_to(folder)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and p.resolve().is_relative_to(exclude):
            continue
        if p.suffix.lower() == ".txt" and p.with_suffix(".ann").is_file():
            continue
        found.append(p)
    return found


def plan_inputs(inputs: Sequence[PathLike], *, from_format: str | None = None, exclude: PathLike | None = None) -> list[InputFile]:
    """The input files in reading order, each with its format (detected now, so a bad file fails before any model loads).

    A directory contributes its files in sorted order (recursively). E210 for a missing
    path, E207 for a file whose format cannot be told, E826 when nothing is left.
    """
    if not inputs:
        raise BionerError("E826", "no inputs given", hint="give files or directories with -i")
    skip = Path(exclude).resolve() if exclude is not None else None
    files: list[InputFile] = []
    seen: set[Path] = set()
    for raw in inputs:
        p = Path(raw).expanduser()
        if not p.exists():
            raise BionerError("E210", "file not found", file=p)
        for f in _walk(p, skip) if p.is_dir() else [p]:
            full = f.resolve()
            if full in seen:  # a file named twice (or inside a named folder) is read once
                continue
            seen.add(full)
            st = full.stat()
            files.append(InputFile(full, _input_format(full, from_format), st.st_size, st.st_mtime_ns))
    if not files:
        raise BionerError("E826", f"no input files in {', '.join(map(str, inputs))}", hint="a directory is walked for files; hidden files are left out")
    return files


def _read_lines(path: Path) -> Iterator[Document]:
    """A plain-text file, one document per non-blank line, id ``<stem>:<line number>``; the line is the text, unchanged."""
    for lineno, line in iter_lines(path):
        if line.strip():
            yield Document(f"{path.stem}:{lineno}", line)


def _read_file(f: InputFile, text_unit: str, report: Report) -> Iterator[Document]:
    from bioner.io import text as plain_text

    if f.format == TEXT_FORMAT:
        return _read_lines(f.path) if text_unit == "line" else plain_text.read(f.path)
    return bioner.io.read(f.path, f.format, report=report, skip_invalid=report.skip_invalid)


def _prefixes(files: Sequence[InputFile]) -> list[str]:
    """``RELPATH`` of each file, relative to the common folder of all of them (posix separators)."""
    if len(files) == 1:
        return [files[0].path.name]
    root = Path(os.path.commonpath([str(f.path.parent) for f in files]))
    return [f.path.relative_to(root).as_posix() for f in files]


def iter_documents(
    files: Sequence[InputFile], *, text_unit: str = "file", prefix_ids: bool = False, report: Report | None = None,
) -> Iterator[Document]:
    """The documents of all ``files``, streamed in order, ids unique across files.

    Without ``prefix_ids`` a repeated id is E824 naming the file and the id (and the
    earlier file); with it every id becomes ``RELPATH:ID``.
    """
    report = report if report is not None else Report()
    prefixes = _prefixes(files) if prefix_ids else None
    ids = UniqueIds()  # a bitmap for PMIDs: all of PubMed fits in a few MB
    for k, f in enumerate(files):
        for doc in _read_file(f, text_unit, report):
            if prefixes is not None:
                doc = doc.copy(id=f"{prefixes[k]}:{doc.id}")
            if ids.unique(doc.id) != doc.id:
                raise _duplicate(doc.id, files, k, text_unit)
            yield doc


def _duplicate(doc_id: str, files: Sequence[InputFile], k: int, text_unit: str) -> BionerError:
    """E824 for ``doc_id`` seen again in ``files[k]``; the earlier file is found by reading again (error path only)."""
    first = files[k]
    for f in files[: k + 1]:
        if any(d.id == doc_id for d in _read_file(f, text_unit, Report(skip_invalid=True))):
            first = f
            break
    where = "earlier in the same file" if first is files[k] else f"already in {first.path}"
    return BionerError("E824", f"document id {doc_id!r} is {where}", file=files[k].path,
                       hint="document ids must be unique across inputs: fix the ids, or pass --prefix-ids to make them RELPATH:ID")


def estimate_documents(files: Sequence[InputFile], text_unit: str = "file") -> int | None:
    """About how many documents ``files`` hold, from a fast byte scan (for a progress bar's ETA only).

    None when a format has no cheap marker to count.
    """
    markers = {"pubtator": b"|t|", "jsonl": b"\n", "bioc-xml": b"<document", "nested-jsonl": b"\n"}
    total = 0
    for f in files:
        if f.format == TEXT_FORMAT and text_unit == "file":
            total += 1
            continue
        marker = b"\n" if f.format == TEXT_FORMAT else markers.get(f.format)
        if marker is None:
            return None
        n, tail = 0, b""
        with f.path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                n += (tail + chunk).count(marker) - tail.count(marker)  # markers cut by a chunk border count once
                tail = chunk[-(len(marker) - 1):] if len(marker) > 1 else b""
        total += n
    return total


# ---------------------------------------------------------------------------
# Options


@dataclass(frozen=True)
class AnnotateOptions:
    """Everything that decides the output bytes; recorded in the manifest and compared on resume."""

    engine: str = "span"
    model: str | None = None  # a resolved model folder or Hub name (span); the causal LM name, or None (llm)
    model_fingerprint: str | None = None  # SHA-256 over the model folder's files (None for Hub names)
    labels: tuple[tuple[str, str], ...] | None = None  # (label, prompt) pairs; None: the LLM adapter's own types
    threshold: float | None = None  # None: the model's own
    nested: bool = False
    per_label: bool = False
    format: str = "jsonl"
    shard_size: int = DEFAULT_SHARD_SIZE
    text_unit: str = "file"
    prefix_ids: bool = False
    skip_invalid: bool = False
    batch_size: int = 8
    llm: LLMOptions | None = None
    selector: str | None = None  # a selector folder that verifies every entity (bioner.selector)
    selector_fingerprint: str | None = None
    selector_threshold: float | None = None  # None: the selector's own
    abbreviations: bool = True  # entity types propagated across each document's abbreviations (bioner.abbreviations)

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = [list(p) for p in self.labels] if self.labels is not None else None
        if d["llm"] is not None and not d["llm"]["candidates"]:
            del d["llm"]["candidates"]  # recorded when on only: manifests written before the option existed still resume
        if not d["abbreviations"]:
            del d["abbreviations"]  # recorded when on only: a job from before the option (made without it) resumes with it off
        return d

    @property
    def label_map(self) -> dict[str, str] | None:
        return dict(self.labels) if self.labels is not None else None

    @property
    def extension(self) -> str:
        return bioner.io.get_format(self.format).extensions[0]


def _label_pairs(labels: LabelsArg) -> tuple[tuple[str, str], ...] | None:
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = parse_label_spec(labels)
    pairs = tuple(labels.items()) if isinstance(labels, Mapping) else tuple((x, x) for x in labels)
    if not pairs:
        raise BionerError("E605", "no entity types to annotate", hint="give types, e.g. --labels disease,gene")
    return pairs


def folder_fingerprint(path: PathLike) -> str:
    """SHA-256 over a folder's file names and bytes: a retrained model in the same folder changes it."""
    h = hashlib.sha256()
    root = Path(path)
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return "sha256:" + h.hexdigest()


def make_options(
    *, engine: str = "span", model: str | os.PathLike[str] | None = None, labels: LabelsArg = None, threshold: float | None = None,
    nested: bool = False, per_label: bool | None = None, out_format: str = "jsonl", shard_size: int = DEFAULT_SHARD_SIZE,
    text_unit: str = "file", prefix_ids: bool = False, skip_invalid: bool = False, batch_size: int = 8, llm: LLMOptions | None = None,
    selector: str | os.PathLike[str] | None = None, selector_threshold: float | None = None, abbreviations: bool = True,
) -> AnnotateOptions:
    """Check and resolve the settings (the model path, the label set) before any input is read."""
    from bioner.models import resolve_model

    if engine not in ENGINES:
        raise BionerError("E829", f"unknown engine {engine!r}", hint=f"one of: {', '.join(ENGINES)} (and --ray to run either on Ray)")
    if shard_size < 1 or batch_size < 1:
        raise BionerError("E829", f"shard size and batch size must be >= 1 (got {shard_size}, {batch_size})")
    if text_unit not in TEXT_UNITS:
        raise BionerError("E829", f"unknown text unit {text_unit!r}", hint=f"one of: {', '.join(TEXT_UNITS)}")
    fmt = bioner.io.get_format(out_format)
    if not fmt.can_write or fmt.name == "brat":
        raise BionerError("E827", f"format {fmt.name!r} cannot be written one shard per file",
                          hint="choose jsonl (lossless), pubtator, bioc-xml, bioc-json, iob ...")
    pairs = _label_pairs(labels)
    if engine == "span":
        if llm is not None:
            raise BionerError("E829", "LLM options (scheme, adapter, url) apply to --engine llm")
        span_model = resolve_model(model)  # E601 now, not in a worker later
        resolved: str | None = span_model
        folder = Path(span_model)
        fingerprint = folder_fingerprint(folder) if folder.is_dir() else None
        # as extract does: registered types prompted as the model learned them, one prompt per label unless a corpus's own set
        label_set, per_label = span_labels(labels, per_label)  # the labels as given: plain words get their registered prompts
        pairs = tuple(label_set.items()) if isinstance(label_set, Mapping) else tuple((x, x) for x in label_set)
    else:
        llm = llm or LLMOptions()
        resolved = None if model is None else os.fspath(model)
        adapter = llm.adapter or (str(DEFAULT_ADAPTER_DIR) if model is None and llm.url is None and DEFAULT_ADAPTER_DIR.is_dir() else None)
        # the base LM's folder and the adapter's: either changing changes the output
        parts = [folder_fingerprint(p) for p in (resolved, adapter) if p is not None and Path(p).is_dir()]
        fingerprint = "+".join(parts) or None
    sel_folder = _selector_folder(selector, selector_threshold)
    return AnnotateOptions(
        engine=engine, model=resolved, model_fingerprint=fingerprint, labels=pairs, threshold=threshold, nested=nested,
        per_label=bool(per_label), format=fmt.name, shard_size=shard_size, text_unit=text_unit, prefix_ids=prefix_ids,
        skip_invalid=skip_invalid, batch_size=batch_size, llm=llm, selector=None if sel_folder is None else str(sel_folder),
        selector_fingerprint=None if sel_folder is None else folder_fingerprint(sel_folder), selector_threshold=selector_threshold,
        abbreviations=abbreviations,
    )


def _selector_folder(selector: str | os.PathLike[str] | None, threshold: float | None) -> Path | None:
    """The selector's folder, checked now (E620) rather than in a worker later."""
    from bioner.selector import selector_path
    from bioner.selector.model import SETTINGS

    if selector is None:
        if threshold is not None:
            raise BionerError("E829", "a selector threshold needs a selector", hint="add --selector PATH")
        return None
    folder = selector_path(selector).resolve()
    if not (folder / SETTINGS).is_file():
        raise BionerError("E620", f"not a selector: no {SETTINGS}", file=folder, hint="give a folder written by `bioner train selector`")
    return folder


# ---------------------------------------------------------------------------
# Shards: what goes to a runner, and what comes back


def ids_checksum(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


@dataclass
class Shard:
    """Documents ``index*N ..`` of the input stream."""

    index: int
    docs: list[Document]

    @property
    def ids_sha256(self) -> str:
        return ids_checksum(d.id for d in self.docs)

    def payload(self) -> bytes:
        """The documents as JSON lines without their entities: what every runner annotates (pickle-free, so Ray can ship it)."""
        return "".join(json.dumps(doc_to_dict(d.copy(entities=[])), ensure_ascii=False) + "\n" for d in self.docs).encode("utf-8")


def decode_payload(payload: bytes) -> list[Document]:
    # json.dumps escapes every control character, so b"\n" only ever ends a record
    return [doc_from_dict(json.loads(line)) for line in payload.split(b"\n") if line]


def iter_shards(docs: Iterable[Document], size: int) -> Iterator[Shard]:
    part: list[Document] = []
    index = 0
    for doc in docs:
        part.append(doc)
        if len(part) == size:
            yield Shard(index, part)
            index, part = index + 1, []
    if part:
        yield Shard(index, part)


@dataclass(frozen=True)
class ShardResult:
    """A shard's output file content and counts, as a runner returns it."""

    index: int
    data: bytes
    documents: int
    entities: int
    issues: dict[str, int] = field(default_factory=dict)  # writer warnings (W301 ...) by code


def render(docs: Iterable[Document], fmt: str) -> tuple[bytes, dict[str, int]]:
    """The bytes ``bioner.io.write`` produces for ``docs`` in ``fmt`` (writers take paths: a private temp dir)."""
    report = Report()
    ext = bioner.io.get_format(fmt).extensions[0]
    with tempfile.TemporaryDirectory(prefix="bioner-shard-") as tmp:
        path = Path(tmp) / f"shard{ext}"
        bioner.io.write(docs, path, fmt, report=report)
        return path.read_bytes(), dict(report.counts)


class ShardAnnotator:
    """Loads the model once, then annotates shard payloads: the one code path of every runner.

    Built in this process, in each worker process, and in each Ray actor.
    """

    def __init__(self, options: AnnotateOptions, *, threads: int = 1) -> None:
        from bioner.models import load_llm, load_model
        from bioner.selector import load_selector

        self.options = options
        self.threads = threads
        self.selector = load_selector(options.selector)
        self.model: Any
        if options.engine == "span":
            self.model = load_model(options.model, threads=threads, cache=False)
        else:
            load_llm(options.model, options.llm, threads=threads, batch_size=options.batch_size)  # kept in load_llm's cache
            self.model = options.model

    def annotate(self, docs: Sequence[Document]) -> list[Document]:
        from bioner.models import iter_extract

        o = self.options
        return list(iter_extract(docs, o.label_map, model=self.model, threshold=o.threshold, flat=not o.nested, batch_size=o.batch_size,
                                 threads=self.threads, per_label=o.per_label, block=BLOCK, engine=o.engine, llm=o.llm,
                                 selector=self.selector, selector_threshold=o.selector_threshold, abbreviations=o.abbreviations))

    def __call__(self, index: int, payload: bytes) -> ShardResult:
        found = self.annotate(decode_payload(payload))
        data, issues = render(found, self.options.format)
        return ShardResult(index, data, len(found), sum(len(d.entities) for d in found), issues)


# ---------------------------------------------------------------------------
# Local runners


def run_local(shards: Iterable[Shard], options: AnnotateOptions, *, workers: int = 1) -> Iterator[ShardResult]:
    """Annotate ``shards`` here (``workers == 1``) or in worker processes; results in shard order.

    Nothing is loaded until the first shard arrives: a resumed job that is already done costs no model load.
    """
    it = iter(shards)
    first = next(it, None)
    if first is None:
        return
    if workers == 1:
        annotator = ShardAnnotator(options)
        for shard in itertools.chain([first], it):
            yield annotator(shard.index, shard.payload())
        return
    yield from _run_pool(itertools.chain([first], it), options, workers)


_worker: ShardAnnotator | None = None  # the annotator of a worker process


def _start_worker(options: AnnotateOptions) -> None:
    global _worker
    _worker = ShardAnnotator(options)


def _work(index: int, payload: bytes) -> ShardResult:
    assert _worker is not None, "worker process was not started with _start_worker"
    return _worker(index, payload)


def _run_pool(shards: Iterable[Shard], options: AnnotateOptions, workers: int) -> Iterator[ShardResult]:
    """Shards over spawned processes (a fork of a process that ran torch threads can deadlock);
    two shards per worker in flight, so memory stays bounded."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker, initargs=(options,)) as pool:
        pending: deque[Future[ShardResult]] = deque()
        for shard in shards:
            pending.append(pool.submit(_work, shard.index, shard.payload()))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# ---------------------------------------------------------------------------
# The output folder and its manifest


def shard_name(index: int, options: AnnotateOptions) -> str:
    return f"shard-{index:06d}{options.extension}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, flush it to disk, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())  # the rename must never publish a file whose bytes are not on disk
    os.replace(tmp, path)


def _dump(d: Mapping[str, Any]) -> str:
    """JSON with one line per input, option and shard: readable, and diffs line by line."""

    def one(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    def block(v: Any, pad: str) -> str:
        if isinstance(v, dict) and v:
            return "{\n" + ",\n".join(f"{pad}  {one(k)}: {one(x)}" for k, x in v.items()) + f"\n{pad}}}"
        if isinstance(v, list) and v:
            return "[\n" + ",\n".join(f"{pad}  {one(x)}" for x in v) + f"\n{pad}]"
        return one(v)

    return "{\n" + ",\n".join(f"  {one(k)}: {block(v, '  ')}" for k, v in d.items()) + "\n}\n"


@dataclass
class Manifest:
    """What ``OUT_DIR/manifest.json`` holds; see the module doc."""

    inputs: list[dict[str, Any]]
    options: dict[str, Any]
    shards: dict[int, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    documents: int | None = None  # set when complete
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "bioner_manifest": MANIFEST_VERSION, "tool": "bioner annotate", "bioner_version": bioner.__version__,
            "created": self.created, "updated": self.updated, "complete": self.complete, "documents": self.documents,
            "inputs": self.inputs, "options": self.options, "shards": [self.shards[k] for k in sorted(self.shards)],
        }

    def save(self, out_dir: Path) -> None:
        self.updated = _now()
        write_atomic(out_dir / MANIFEST, _dump(self.to_json()).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(d, dict) or d.get("bioner_manifest") != MANIFEST_VERSION:
                raise ValueError(f"not a version {MANIFEST_VERSION} annotate manifest")
            shards = {int(s["index"]): s for s in d["shards"]}
            return cls(d["inputs"], d["options"], shards, bool(d["complete"]), d.get("documents"), d["created"], d["updated"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BionerError("E823", f"cannot read the manifest: {exc}", file=path,
                              hint="pass --force to start over in this folder (its shards are deleted), or choose a new output folder") from None

    @property
    def documents_done(self) -> int:
        return sum(int(s["documents"]) for s in self.shards.values())


def _differences(old: Manifest, inputs: list[dict[str, Any]], options: dict[str, Any]) -> list[str]:
    """What differs between a manifest and this run, one phrase each."""
    diffs = []
    for key in sorted(set(old.options) | set(options)):
        if old.options.get(key) != options.get(key):
            diffs.append(f"option {key}: {json.dumps(old.options.get(key))} in the manifest, {json.dumps(options.get(key))} now")
    old_by, new_by = {i["path"]: i for i in old.inputs}, {i["path"]: i for i in inputs}
    diffs += [f"input {p} is new" for p in new_by if p not in old_by]
    diffs += [f"input {p} is no longer given" for p in old_by if p not in new_by]
    for p in (p for p in new_by if p in old_by):
        changed = [k for k in ("format", "size", "mtime_ns") if old_by[p].get(k) != new_by[p].get(k)]
        if changed:
            diffs.append(f"input {p} changed ({', '.join(f'{k} {old_by[p].get(k)} -> {new_by[p].get(k)}' for k in changed)})")
    if not diffs and [i["path"] for i in old.inputs] != [i["path"] for i in inputs]:
        diffs.append("the inputs are given in another order")
    return diffs


def _clear(out_dir: Path) -> None:
    """Remove what annotate writes (manifest, shards, temp files), nothing else."""
    for p in out_dir.iterdir():
        if p.is_file() and (p.name == MANIFEST or _SHARD_FILE.match(p.name) or _TEMP_FILE.match(p.name)):
            p.unlink()


def open_job(out_dir: Path, files: Sequence[InputFile], options: AnnotateOptions, *, force: bool = False) -> Manifest:
    """The manifest to continue: the folder's own when it matches this run, else a new one (``force``, or a new folder)."""
    inputs = [f.record() for f in files]
    opts = options.record()
    if out_dir.exists() and not out_dir.is_dir():
        raise BionerError("E822", "the output path is a file, not a folder", file=out_dir, hint="choose a folder for the shards")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MANIFEST
    if force:
        _clear(out_dir)
    elif path.exists():
        old = Manifest.load(path)
        diffs = _differences(old, inputs, opts)
        if diffs:
            more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
            raise BionerError("E821", f"it holds a run with other inputs or options: {'; '.join(diffs[:3])}{more}", file=out_dir,
                              hint="rerun with the manifest's inputs and options to resume, pass --force to start over here (its shards are deleted), or choose a new output folder")
        for p in out_dir.iterdir():
            if _TEMP_FILE.match(p.name):  # left by a run that was killed mid-write
                p.unlink()
        return old
    elif any(not p.name.startswith(".") for p in out_dir.iterdir()):
        raise BionerError("E822", "the output folder is not empty and has no manifest.json", file=out_dir,
                          hint="choose a new or empty folder (or pass --force to write here anyway)")
    manifest = Manifest(inputs, opts)
    manifest.save(out_dir)
    return manifest


# ---------------------------------------------------------------------------
# The job


@dataclass(frozen=True)
class ProgressEvent:
    """Sent after every shard, written or skipped (already done)."""

    shard: int
    skipped: bool
    documents: int  # documents covered so far, skipped shards included
    annotated: int  # documents annotated by this run
    elapsed: float  # seconds since the job started
    rate: float  # documents/s since the first written shard (model loading and Ray start-up left out); 0 until known

    @property
    def docs_per_second(self) -> float:
        return self.rate


@dataclass
class AnnotateResult:
    out_dir: Path
    manifest: Path
    shards: int  # shards in the output folder
    shards_written: int  # by this run
    shards_skipped: int  # already done by an earlier run
    documents: int  # in all shards
    documents_annotated: int  # by this run
    entities: int  # found by this run
    seconds: float  # the whole run: reading, model loading (and Ray start-up) included
    steady_seconds: float  # from the first written shard to the last
    steady_documents: int  # documents of the shards written after the first
    read_report: Report
    write_issues: Counter[str]

    @property
    def docs_per_second(self) -> float:
        """Documents annotated per second of the whole run."""
        return self.documents_annotated / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_docs_per_second(self) -> float:
        """Documents per second once the first shard was out: the throughput a long run converges to."""
        return self.steady_documents / self.steady_seconds if self.steady_seconds > 0 else 0.0


@dataclass(frozen=True)
class _Sent:
    """What the driver keeps of a shard sent to a runner: enough for its manifest entry, not its documents."""

    documents: int
    first_id: str
    last_id: str
    ids_sha256: str


def _shard_record(result: ShardResult, sent: _Sent, name: str) -> dict[str, Any]:
    if result.documents != sent.documents:
        raise RuntimeError(f"shard {result.index}: {sent.documents} documents sent, {result.documents} came back")
    rec: dict[str, Any] = {
        "index": result.index, "file": name, "documents": result.documents, "entities": result.entities,
        "first_id": sent.first_id, "last_id": sent.last_id, "ids_sha256": sent.ids_sha256,
        "bytes": len(result.data), "sha256": hashlib.sha256(result.data).hexdigest(), "finished": _now(),
    }
    if result.issues:
        rec["issues"] = dict(sorted(result.issues.items()))
    return rec


def annotate(
    inputs: Sequence[PathLike],
    out_dir: PathLike,
    *,
    model: str | os.PathLike[str] | None = None,
    labels: LabelsArg = None,
    engine: str = "span",
    threshold: float | None = None,
    nested: bool = False,
    per_label: bool | None = None,
    out_format: str = "jsonl",
    shard_size: int = DEFAULT_SHARD_SIZE,
    workers: int = 1,
    ray: bool = False,
    address: str | None = None,
    from_format: str | None = None,
    text_unit: str = "file",
    prefix_ids: bool = False,
    skip_invalid: bool = False,
    force: bool = False,
    batch_size: int = 8,
    llm: LLMOptions | None = None,
    selector: str | os.PathLike[str] | None = None,
    selector_threshold: float | None = None,
    abbreviations: bool = True,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_start: Callable[[Sequence[InputFile], Manifest], None] | None = None,
) -> AnnotateResult:
    """Annotate ``inputs`` (files or directories) into shards in ``out_dir``, resuming an earlier run there.

    ``model``/``labels``/``threshold``/``nested``/``per_label``/``engine``/``llm``: as
    ``bioner.models.extract`` (labels default to ``DEFAULT_LABELS``, one prompt each).
    ``out_format``: the shards' format (default jsonl, lossless). ``workers``: processes
    (or Ray actors), each with its own model and one torch thread. ``ray``: run on Ray
    Data, a local cluster of ``workers`` CPUs unless ``address`` names one (``address``
    implies ``ray``). ``from_format``: read every input in this format (``txt``: plain
    text); ``text_unit="line"`` makes each non-blank line of a plain-text input a
    document. ``prefix_ids``: see the module doc. ``skip_invalid``: skip (and count)
    invalid input records instead of stopping at the first. ``force``: discard an
    earlier run in ``out_dir``. ``selector``: a selector folder that verifies every entity
    (``selector_threshold`` overrides its own). ``abbreviations``: as ``bioner.models.iter_extract``. ``on_start`` sees the input files and manifest before
    reading; ``on_progress`` is called after every shard.
    """
    if workers < 1:
        raise BionerError("E829", f"workers must be >= 1, got {workers}")
    ray = ray or address is not None
    if ray:
        from bioner.annotate_ray import require_ray

        require_ray()  # E820 before any work
    options = make_options(engine=engine, model=model, labels=labels, threshold=threshold, nested=nested, per_label=per_label,
                           out_format=out_format, shard_size=shard_size, text_unit=text_unit, prefix_ids=prefix_ids,
                           skip_invalid=skip_invalid, batch_size=batch_size, llm=llm, selector=selector,
                           selector_threshold=selector_threshold, abbreviations=abbreviations)
    out = Path(out_dir)
    files = plan_inputs(inputs, from_format=from_format, exclude=out)
    manifest = open_job(out, files, options, force=force)
    if on_start is not None:
        on_start(files, manifest)
    start = time.monotonic()
    read_report = Report(skip_invalid=skip_invalid)
    write_issues: Counter[str] = Counter()
    state = {"documents": 0, "annotated": 0, "entities": 0, "written": 0, "skipped": 0, "shards": 0, "first_docs": 0}
    first_at: float | None = None  # when the first shard was written: the rate counts from there

    def steady(now: float) -> tuple[int, float]:
        return (state["annotated"] - state["first_docs"], now - first_at) if first_at is not None else (0, 0.0)

    def event(shard: int, skipped: bool) -> None:
        if on_progress is not None:
            now = time.monotonic()
            docs, secs = steady(now)
            on_progress(ProgressEvent(shard, skipped, state["documents"], state["annotated"], now - start, docs / secs if secs > 0 else 0.0))

    def intact(index: int) -> bool:
        rec = manifest.shards.get(index)
        if rec is None:
            return False
        p = out / rec["file"]
        if p.is_file() and p.stat().st_size == rec["bytes"]:
            return True
        read_report.warn("W830", f"shard {index} ({rec['file']}) is missing or has another size: annotated again", file=p)
        return False

    sent: dict[int, _Sent] = {}

    def pending() -> Iterator[Shard]:
        """Shards still to annotate; done ones are checked against the manifest and passed over."""
        docs = iter_documents(files, text_unit=text_unit, prefix_ids=prefix_ids, report=read_report)
        for shard in iter_shards(docs, shard_size):
            state["shards"] = shard.index + 1
            if intact(shard.index):
                rec = manifest.shards[shard.index]
                if rec["ids_sha256"] != shard.ids_sha256 or rec["documents"] != len(shard.docs):
                    raise BionerError("E825", f"shard {shard.index} was written from other documents than the inputs hold now "
                                      f"(first id {rec['first_id']!r} then, {shard.docs[0].id!r} now)", file=out / rec["file"],
                                      hint="an input changed in place without a new size or mtime: pass --force to start over")
                state["documents"] += len(shard.docs)
                state["skipped"] += 1
                event(shard.index, True)
                continue
            manifest.shards.pop(shard.index, None)
            if manifest.complete:  # a finished folder with a shard to redo is not finished any more
                manifest.complete = False
                manifest.save(out)
            sent[shard.index] = _Sent(len(shard.docs), shard.docs[0].id, shard.docs[-1].id, shard.ids_sha256)
            yield shard

    if ray:
        from bioner.annotate_ray import run_ray

        results = run_ray(pending(), options, workers=workers, address=address)
    else:
        results = run_local(pending(), options, workers=workers)
    try:
        for res in results:
            name = shard_name(res.index, options)
            write_atomic(out / name, res.data)
            manifest.shards[res.index] = _shard_record(res, sent.pop(res.index), name)
            manifest.save(out)  # after the rename: a listed shard is always on disk
            write_issues.update(res.issues)
            state["documents"] += res.documents
            state["annotated"] += res.documents
            state["entities"] += res.entities
            state["written"] += 1
            if first_at is None:
                first_at, state["first_docs"] = time.monotonic(), res.documents
            event(res.index, False)
    finally:
        with contextlib.suppress(Exception):
            results.close()  # type: ignore[attr-defined]  # stop worker pools / Ray on an error
    if state["shards"] == 0:
        raise BionerError("E826", "the inputs hold no documents", file=files[0].path if len(files) == 1 else None)
    stale = sorted(k for k in manifest.shards if k >= state["shards"])
    if stale:
        raise BionerError("E825", f"the manifest lists shard {stale[0]} but the inputs now end at shard {state['shards'] - 1}", file=out / MANIFEST,
                          hint="an input changed in place without a new size or mtime: pass --force to start over")
    manifest.complete = True
    manifest.documents = manifest.documents_done
    manifest.save(out)
    steady_docs, steady_secs = steady(time.monotonic())
    return AnnotateResult(
        out_dir=out, manifest=out / MANIFEST, shards=len(manifest.shards), shards_written=state["written"], shards_skipped=state["skipped"],
        documents=manifest.documents, documents_annotated=state["annotated"], entities=state["entities"], seconds=time.monotonic() - start,
        steady_seconds=steady_secs, steady_documents=steady_docs, read_report=read_report, write_issues=write_issues,
    )


def read_output(out_dir: PathLike) -> Iterator[Document]:
    """The annotated documents of a finished (or partial) output folder, in input order."""
    out = Path(out_dir)
    manifest = Manifest.load(out / MANIFEST)
    fmt = manifest.options["format"]
    for k in sorted(manifest.shards):
        yield from bioner.io.read(out / manifest.shards[k]["file"], fmt)


__all__ = [
    "BLOCK", "DEFAULT_SHARD_SIZE", "MANIFEST", "AnnotateOptions", "AnnotateResult", "InputFile", "Manifest", "ProgressEvent", "Shard",
    "ShardAnnotator", "ShardResult", "annotate", "estimate_documents", "iter_documents", "iter_shards", "make_options", "plan_inputs",
    "read_output", "run_local",
]
