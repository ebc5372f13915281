"""Which span model to use, and entity extraction with it: ``extract`` and ``evaluate_model``.

The default model. bioner's own span model (GLiNER uni-encoder on all-MiniLM-L6-v2,
trained by ``scripts/train_default_model.py`` on the train splits of the registered
corpora) lives in the repository at ``models/bioner-span-minilm/`` — a folder written by
``SpanModel.save`` (``gliner_config.json``, weights, tokenizer). It is looked for
relative to the repository root, the parent of the ``bioner`` package folder, so it is
found from a source checkout and an editable install. A regular (non-editable) install
puts the package in site-packages, where there is no ``models/`` beside it: there, set
``BIONER_MODEL`` to the model folder (or to a Hub name), or pass a model explicitly.

Model names. Everywhere a model is taken (``--model``, ``model=``) it may be a local
folder, a Hugging Face Hub name (``Ihor/gliner-biomed-base-v1.0``, passed to gliner
unchanged; needs the network or a filled cache), a loaded ``SpanModel``, or None (or
``"default"``) for the default model.

Labels. ``extract`` takes plain types (``["disease", "gene"]``: each is the label of
what it finds) or a mapping label -> prompt. A plain type that names a registered type
is prompted with that type's natural-language label, the prompt the default model was
trained on ("gene" -> "gene or gene product"); any other word is its own prompt. Without
labels it uses ``DEFAULT_LABELS``: six broad biomedical types with short labels. See
``span_labels`` for when each label gets a prompt of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from bioner.doc import Document
from bioner.errors import BionerError
from bioner.labels import find_type, natural_label

if TYPE_CHECKING:
    from bioner.engines.generative.engine import LLMEngine
    from bioner.engines.span import LabelSet, SpanModel
    from bioner.evaluate import Evaluation
    from bioner.selector import SelectorRef

ENV_MODEL = "BIONER_MODEL"
DEFAULT_MODEL_NAME = "bioner-span-minilm"
TRAIN_SCRIPT = "scripts/train_default_model.py"
# the repository root: parent of the bioner package folder (see the module doc)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / DEFAULT_MODEL_NAME

# label -> prompt: short labels for output, the prompts the default model was trained with
DEFAULT_LABELS: dict[str, str] = {
    "disease": natural_label("Disease"),
    "chemical": natural_label("Chemical"),
    "gene": natural_label("GENE"),
    "species": natural_label("Species"),
    "cell line": natural_label("cell_line"),
    "cell type": natural_label("cell_type"),
}

# a Hub repo id: "name" or "owner/name" (letters, digits, - _ .)
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_CONFIG = "gliner_config.json"
_CACHE_SIZE = 2  # loaded models kept per process (extract called again with the same name)

ModelRef = Union["SpanModel", str, "os.PathLike[str]", None]


# ---------------------------------------------------------------------------
# Resolution


def _check_folder(path: Path, what: str) -> Path:
    if not (path / _CONFIG).is_file():
        raise BionerError("E601", f"{what} {path} is not a GLiNER model folder: it has no {_CONFIG}", file=path,
                          hint="a model folder is written by SpanModel.save or `bioner train span`")
    return path


def default_model_path() -> Path:
    """The default model folder: ``$BIONER_MODEL`` when set, else ``<repo>/models/bioner-span-minilm``.

    Raises E601 when the folder does not hold a model, saying how to get one.
    """
    env = os.environ.get(ENV_MODEL)
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise BionerError("E601", f"{ENV_MODEL}={env} is not an existing model folder",
                              hint=f"set {ENV_MODEL} to a folder written by SpanModel.save, or to a Hub name")
        return _check_folder(path, ENV_MODEL)
    if not DEFAULT_MODEL_DIR.exists():
        raise BionerError(
            "E601", f"the default model is not installed: {DEFAULT_MODEL_DIR} does not exist",
            hint=f"train it with `python {TRAIN_SCRIPT}` (it writes runs/default/final) and copy that folder to {DEFAULT_MODEL_DIR}, "
                 f"set {ENV_MODEL} to a model folder, or pass a model (--model PATH_OR_HUB_NAME)",
        )
    return _check_folder(DEFAULT_MODEL_DIR, "the default model folder")


def _looks_like_path(name: str) -> bool:
    """Not a Hub repo id: starts like a path, or has characters or slashes a repo id cannot have."""
    return name.startswith((".", "/", "~")) or not _HUB_NAME.match(name)


def resolve_model(name: str | os.PathLike[str] | None) -> str:
    """What to load for ``name``: None -> the default model (``$BIONER_MODEL`` may be a Hub name);
    an existing folder -> its path; a Hub name -> unchanged. A path that does not exist raises E601."""
    if name is None or os.fspath(name) in ("", "default"):
        env = os.environ.get(ENV_MODEL)
        if env and not Path(env).expanduser().exists() and not _looks_like_path(env):
            return env  # a Hub name in the environment
        return str(default_model_path())
    text = os.fspath(name)
    path = Path(text).expanduser()
    if path.exists():
        return str(_check_folder(path, "model"))
    if isinstance(name, os.PathLike) or _looks_like_path(text):
        raise BionerError("E601", "model folder not found", file=path, hint="give a folder written by SpanModel.save, or a Hub name such as owner/model")
    return text


# ---------------------------------------------------------------------------
# Loading


_cache: dict[tuple[str, str, int, str | None], SpanModel] = {}


def _stamp(resolved: str) -> int:
    """Changes when a local model folder is rewritten (so a retrained model is reloaded); 0 for Hub names."""
    path = Path(resolved)
    if not path.is_dir():
        return 0
    return max((p.stat().st_mtime_ns for p in path.iterdir()), default=0)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))


def load_model(model: ModelRef = None, *, threads: int | None = None, device: str = "cpu", quantize: str | None = None,
               cache: bool = True) -> SpanModel:
    """A ``SpanModel`` for ``model`` (see the module doc); a loaded one is returned as it is
    (quantized in place when ``quantize`` asks for it).

    With ``cache`` the last few loaded models are kept, keyed by folder, its
    modification time and quantization, so repeated calls do not load the same weights
    again. ``threads`` sets torch's (process-wide) thread count; ``quantize="int8"``:
    see ``SpanModel.quantize``.
    """
    from bioner.engines.span import SpanModel

    _set_threads(threads)
    if isinstance(model, SpanModel):
        return model.quantize() if quantize == "int8" else model
    resolved = resolve_model(model)
    key = (resolved, device, _stamp(resolved), quantize)
    if cache and key in _cache:
        return _cache[key]
    # entities carry the model name as their source: the short name for the shipped model
    name = DEFAULT_MODEL_NAME if resolved == str(DEFAULT_MODEL_DIR) else None
    loaded = SpanModel.load(resolved, device=device, name=name, quantize=quantize)
    if cache:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = loaded
    return loaded


# ---------------------------------------------------------------------------
# Labels


def parse_label_spec(spec: str) -> list[str] | dict[str, str]:
    """``"disease,gene"`` -> ``["disease", "gene"]``; ``"Disease=disease,GENE=gene or gene product"`` -> label -> prompt.

    Items without ``=`` are their own prompt. Raises E605 when nothing is left.
    """
    items = [x.strip() for x in spec.split(",") if x.strip()]
    if not items:
        raise BionerError("E605", f"no entity types in {spec!r}", hint="give comma-separated types, e.g. disease,gene")
    if not any("=" in x for x in items):
        return items
    pairs: dict[str, str] = {}
    for item in items:
        label, _, prompt = item.partition("=")
        label, prompt = label.strip(), (prompt.strip() if "=" in item else label.strip())
        if not label or not prompt:
            raise BionerError("E605", f"label item {item!r} has an empty side", hint="write LABEL=prompt, e.g. Disease=disease")
        pairs[label] = prompt
    return pairs


def span_labels(labels: LabelSet | str | None, per_label: bool | None = None) -> tuple[LabelSet, bool]:
    """The label -> prompt set the span engine sees for ``labels``, and whether each label gets a prompt of its own.

    None: ``DEFAULT_LABELS``. A string is parsed as ``--labels`` (``parse_label_spec``).
    Plain types are prompted with the natural-language label of the registered type they
    name ("gene" -> "gene or gene product"; the output label stays "gene"), other words
    with themselves; a mapping is taken as given. ``per_label`` None: off when the prompts
    are exactly the label set of one registered corpus (a set the default model learned
    in one prompt, as in ``bioner evaluate``), on otherwise — the default model scores a
    prompt of types it never saw together lower (BRCA1 as "gene" beside "disease": no
    hit above 0.3 in one prompt, 0.71 in its own). For a model trained on prompts that
    mix types (the GLiNER-BioMed checkpoints) pass ``per_label=False``: one prompt is what
    it learned, and one encoder pass instead of one per label.
    """
    from bioner import corpora

    if labels is None:
        label_set: LabelSet = DEFAULT_LABELS
    else:
        given = parse_label_spec(labels) if isinstance(labels, str) else labels
        if isinstance(given, Mapping):
            label_set = given
        else:
            label_set = {w: t.label if (t := find_type(w)) is not None else w for w in given}
    if per_label is None:
        prompts = set(label_set.values()) if isinstance(label_set, Mapping) else set(label_set)
        per_label = len(prompts) > 1 and not any(prompts == set(info.natural_labels.values()) for info in corpora.CORPORA.values())
    return label_set, per_label


def corpus_labels(corpus: str, types: Iterable[str] | None = None) -> dict[str, str]:
    """A registered corpus's types -> their natural-language prompts (``ncbi-disease`` -> ``{"Disease": "disease"}``).

    ``corpus`` may carry a split (``bc5cdr:test``); ``types`` keeps only those (E605 for a
    type the corpus does not have).
    """
    from bioner import corpora

    info = corpora.get(corpus.partition(":")[0])
    pairs = dict(info.natural_labels)
    if types is not None:
        wanted = list(types)
        unknown = [t for t in wanted if t not in pairs]
        if unknown:
            raise BionerError("E605", f"corpus {info.name!r} has no type {unknown[0]!r}", hint=f"its types: {', '.join(pairs)}")
        pairs = {t: pairs[t] for t in wanted}
    return pairs


def corpus_prediction_labels(corpus: str, types: Iterable[str] | None = None) -> dict[str, str]:
    """The label set to predict ``corpus`` with: ``corpus_labels`` plus the types it is predicted beside.

    A one-type view of a corpus is predicted with its parent's whole label set, in the
    parent's order (``CorpusInfo.predict_types``: BC5CDR-disease -> BC5CDR's chemicals and
    diseases); the extra types are for the model's benefit and are not scored.
    """
    from bioner import corpora

    own = corpus_labels(corpus, types)
    info = corpora.get(corpus.partition(":")[0])
    return {t: p for t, p in info.prediction_labels.items() if t in own or t not in info.types}


def gold_labels(docs: Iterable[Document], types: Iterable[str] | None = None) -> dict[str, str]:
    """Label set for predicting on annotated documents: ``types`` (or the types the documents have) -> natural prompts."""
    names = list(types) if types is not None else sorted({e.label for d in docs for e in d.entities})
    if not names:
        raise BionerError("E605", "the gold documents have no entities, so there are no types to predict", hint="name the types (--labels)")
    return {t: natural_label(t) for t in names}


# ---------------------------------------------------------------------------
# The generative (LLM) engine

ENGINES = ("span", "llm")
DEFAULT_ADAPTER_NAME = "bioner-gemma3-270m-lora"
DEFAULT_ADAPTER_DIR = REPO_ROOT / "models" / DEFAULT_ADAPTER_NAME


@dataclass(frozen=True)
class LLMOptions:
    """How ``engine="llm"`` runs: the LoRA ``adapter`` (default: the shipped one when present),
    the ``scheme`` it writes (default: the adapter's), a served model at ``url`` (an
    OpenAI-compatible server; ``api`` "completions" or "chat") instead of a local one.
    ``candidates``: offer each sentence's noun-phrase candidates in the prompt (``bioner.silver.noun_phrases``)."""

    scheme: str | None = None
    adapter: str | None = None
    url: str | None = None
    api: str = "completions"
    max_new_tokens: int = 256
    candidates: bool = False


_llm_cache: dict[tuple[Any, ...], LLMEngine] = {}


def load_llm(model: str | os.PathLike[str] | None = None, options: LLMOptions | None = None, *, threads: int | None = None,
             batch_size: int = 8, device: str | None = None) -> LLMEngine:
    """An ``LLMEngine`` for ``model`` (a causal LM name or folder, ``gemma3-270m``, or None: the
    adapter's base model) with ``options``; the last one loaded is kept for the next call."""
    from bioner.engines.generative.engine import LLMEngine

    options = options or LLMOptions()
    adapter = options.adapter
    if adapter is None and model is None and options.url is None and DEFAULT_ADAPTER_DIR.is_dir():
        adapter = str(DEFAULT_ADAPTER_DIR)
    if adapter is not None and not Path(adapter).is_dir():
        raise BionerError("E714", "adapter folder not found", file=adapter, hint="give a folder written by `bioner train llm` (<output>/adapter)")
    _set_threads(threads)
    key = (None if model is None else os.fspath(model), adapter, options, batch_size, device)
    if key in _llm_cache:
        return _llm_cache[key]
    engine = LLMEngine.load(model, adapter=adapter, scheme=options.scheme, url=options.url, api=options.api, batch_size=batch_size,
                            threads=threads, device=device, max_new_tokens=options.max_new_tokens, candidates=options.candidates)
    _llm_cache.clear()  # one LLM in memory at a time
    _llm_cache[key] = engine
    return engine


def llm_types(labels: LabelSet | str | None, adapter: str | None) -> LabelSet:
    """Types for the LLM engine: ``labels`` as given, else the types the adapter was tuned on, else ``DEFAULT_LABELS``."""
    if labels is not None:
        return parse_label_spec(labels) if isinstance(labels, str) else labels
    if adapter is not None:
        from bioner.engines.generative.train import read_settings

        trained: dict[str, str] = {}
        for specs in read_settings(adapter).get("types", {}).values():
            for t in specs:
                trained.setdefault(t["name"], t["label"])
        if trained:
            return trained
    return DEFAULT_LABELS


# ---------------------------------------------------------------------------
# Extraction


def _as_documents(docs: Iterable[Document] | Document | str) -> Iterable[Document]:
    if isinstance(docs, str):
        return [Document("text", docs)]
    if isinstance(docs, Document):
        return [docs]
    return docs


def iter_extract(
    docs: Iterable[Document] | Document | str,
    labels: LabelSet | str | None = None,
    *,
    model: ModelRef = None,
    threshold: float | None = None,
    flat: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    threads: int | None = None,
    device: str = "cpu",
    quantize: str | None = None,
    workers: int = 1,
    per_label: bool | None = None,
    block: int = 64,
    engine: str = "span",
    llm: LLMOptions | None = None,
    selector: SelectorRef = None,
    selector_threshold: float | None = None,
    abbreviations: bool = True,
) -> Iterator[Document]:
    """``extract``, streamed: ``block`` documents are predicted at a time and yielded in input order.

    ``workers`` > 1 runs that many processes, each with its own copy of the model and one
    torch thread (``threads`` is ignored): on a CPU, one single-threaded process per core
    beats one process with a thread per core, because small matrix products do not
    split well across threads. ``model`` must then be a name or path (each process
    loads it), not a loaded ``SpanModel``. ``labels`` and ``per_label`` (one prompt per
    label, see ``SpanModel.predict``): see ``span_labels``.
    ``engine="llm"``: a causal LM writes the entities (``llm`` options, ``load_llm``);
    ``model`` is then the base LM (default: the adapter's), and ``threshold``,
    ``flat``, ``quantize``, ``workers`` and ``per_label`` do not apply.
    ``selector``: a selector folder or ``Selector`` that verifies every entity the engine
    found (``Selector.select``; ``selector_threshold`` overrides its own threshold).
    ``abbreviations``: make each document's entities agree with the abbreviations it
    defines (``bioner.abbreviations.propagate``: "myocardial infarction (MI)" tagged as a
    disease makes every later "MI" one too), after the engine and before the selector.
    """
    found = _iter_engine(docs, labels, model=model, threshold=threshold, flat=flat, multi_label=multi_label, batch_size=batch_size,
                         threads=threads, device=device, quantize=quantize, workers=workers, per_label=per_label, block=block,
                         engine=engine, llm=llm)
    if abbreviations:
        from bioner.abbreviations import propagate

        found = map(propagate, found)
    from bioner.selector import load_selector

    stage = load_selector(selector)  # before the engine runs: a bad selector path fails before any prediction
    if stage is None:
        yield from found
        return
    for part in _blocks(found, block):
        yield from stage.select(part, threshold=selector_threshold, engine=engine)


def _iter_engine(
    docs: Iterable[Document] | Document | str, labels: LabelSet | str | None, *, model: ModelRef, threshold: float | None, flat: bool,
    multi_label: bool, batch_size: int, threads: int | None, device: str, quantize: str | None, workers: int, per_label: bool | None,
    block: int, engine: str, llm: LLMOptions | None,
) -> Iterator[Document]:
    if engine not in ENGINES:
        raise BionerError("E602", f"unknown engine {engine!r}", hint=f"one of: {', '.join(ENGINES)}")
    if engine == "llm":
        if model is not None and not isinstance(model, (str, os.PathLike)):
            raise BionerError("E602", "engine 'llm' takes a causal LM name or folder as its model, not a loaded span model")
        llm_engine = load_llm(model, llm, threads=threads, batch_size=batch_size)
        yield from llm_engine.iter_predict(_as_documents(docs), llm_types(labels, llm_engine.adapter), block=block)
        return
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    label_set, per_label = span_labels(labels, per_label)
    options: dict[str, Any] = {"threshold": threshold, "flat": flat, "multi_label": multi_label, "batch_size": batch_size,
                               "per_label": per_label}
    if workers > 1:
        yield from _parallel_extract(_as_documents(docs), label_set, model, device, quantize, workers, block, options)
        return
    span_model = load_model(model, threads=threads, device=device, quantize=quantize)
    for part in _blocks(_as_documents(docs), block):
        yield from span_model.predict(part, label_set, **options)


def _blocks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    part: list[Document] = []
    for doc in docs:
        part.append(doc)
        if len(part) >= size:
            yield part
            part = []
    if part:
        yield part


_worker: SpanModel | None = None  # the model of a worker process (see _parallel_extract)


def _start_worker(resolved: str, device: str, quantize: str | None) -> None:
    global _worker
    _worker = load_model(resolved, threads=1, device=device, quantize=quantize, cache=False)


def _predict_block(docs: list[Document], labels: LabelSet, options: dict[str, Any]) -> list[Document]:
    assert _worker is not None, "worker process was not started with _start_worker"
    return _worker.predict(docs, labels, **options)


def _parallel_extract(
    docs: Iterable[Document], labels: LabelSet, model: ModelRef, device: str, quantize: str | None, workers: int, block: int,
    options: dict[str, Any],
) -> Iterator[Document]:
    """Blocks of documents spread over worker processes; results come back in input order.

    At most two blocks per worker are in flight, so memory stays bounded on inputs of
    any size. Workers are spawned (not forked): a forked copy of a process that has
    already run torch threads can deadlock.
    """
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    from bioner.engines.span import SpanModel

    if isinstance(model, SpanModel):
        raise ValueError("workers > 1 needs the model as a name or path (each worker process loads its own copy), not a loaded SpanModel")
    resolved = resolve_model(model)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker, initargs=(resolved, device, quantize)) as pool:
        pending: deque[Future[list[Document]]] = deque()
        for part in _blocks(docs, block):
            pending.append(pool.submit(_predict_block, part, labels, options))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def extract(
    docs: Iterable[Document] | Document | str,
    labels: LabelSet | str | None = None,
    *,
    model: ModelRef = None,
    threshold: float | None = None,
    flat: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    threads: int | None = None,
    device: str = "cpu",
    quantize: str | None = None,
    workers: int = 1,
    per_label: bool | None = None,
    engine: str = "span",
    llm: LLMOptions | None = None,
    selector: SelectorRef = None,
    selector_threshold: float | None = None,
    abbreviations: bool = True,
) -> list[Document]:
    """Find entities: new Documents (same ids, text, sentences, tokens) holding the model's predictions.

    ``docs``: Documents, one Document, or a string (one document with id ``"text"``).
    ``labels``: types (each is prompt and label), a mapping label -> prompt, a string as
    ``--labels`` takes it (``"disease,gene"``; see ``parse_label_spec``), or None for
    ``DEFAULT_LABELS``. ``model``: see the module doc (None: the default model).
    ``threshold``: minimum span probability (None: the model's own, chosen on dev data
    when it was trained; 0.5 for other models); ``flat=False`` keeps nested entities,
    ``multi_label`` lets one span carry several labels. ``quantize="int8"``: int8
    encoder on the CPU (``SpanModel.quantize``). ``workers`` and ``per_label``: see
    ``iter_extract``; ``engine="llm"`` and ``llm``, ``selector`` and ``selector_threshold``,
    ``abbreviations``: see ``iter_extract``. Offsets index the original text.
    """
    return list(iter_extract(docs, labels, model=model, threshold=threshold, flat=flat, multi_label=multi_label,
                             batch_size=batch_size, threads=threads, device=device, quantize=quantize, workers=workers,
                             per_label=per_label, engine=engine, llm=llm, selector=selector, selector_threshold=selector_threshold,
                             abbreviations=abbreviations))


def evaluate_model(
    gold: Iterable[Document],
    labels: LabelSet | None = None,
    *,
    model: ModelRef = None,
    threshold: float | None = None,
    flat: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    threads: int | None = None,
    device: str = "cpu",
    quantize: str | None = None,
    engine: str = "span",
    llm: LLMOptions | None = None,
    selector: SelectorRef = None,
    selector_threshold: float | None = None,
    abbreviations: bool = True,
) -> Evaluation:
    """Predict on the gold documents' texts and score the predictions against them.

    ``labels``: label -> prompt (or plain types); default: the gold's own types with
    their natural-language prompts. Only the label set's types are scored.
    """
    from bioner.engines.span import label_pairs
    from bioner.evaluate import evaluate

    gold = list(gold)
    label_set: LabelSet = gold_labels(gold) if labels is None else labels
    pred = extract(gold, label_set, model=model, threshold=threshold, flat=flat, multi_label=multi_label,
                   batch_size=batch_size, threads=threads, device=device, quantize=quantize, engine=engine, llm=llm,
                   selector=selector, selector_threshold=selector_threshold, abbreviations=abbreviations)
    return evaluate(gold, pred, labels=[name for name, _ in label_pairs(label_set)])


__all__ = [
    "DEFAULT_ADAPTER_DIR", "DEFAULT_LABELS", "DEFAULT_MODEL_DIR", "ENGINES", "ENV_MODEL", "LLMOptions", "corpus_labels", "corpus_prediction_labels",
    "span_labels", "default_model_path",
    "evaluate_model", "extract", "gold_labels", "iter_extract", "llm_types", "load_llm", "load_model", "parse_label_spec", "resolve_model",
]
