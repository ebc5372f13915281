"""The peers a CPU user has today for biomedical NER, trained and scored like every bioner bench.

Run: .venv/bin/python bench/peers.py [--peer crf|spacy] [--corpus NAME ...] [--spacy-budget SECONDS]
     .venv/bin/python bench/peers.py --table-only

Two peers, each trained on a corpus's train split and scored on its test split with
``bioner.evaluate.evaluate`` (strict and relaxed micro P/R/F1) against the same gold
Documents every other bioner bench uses:

- CRF: sklearn-crfsuite (L-BFGS, c1 = c2 = 0.1, 100 iterations, all transitions), features
  per token: lowercased word, prefixes and suffixes of 1-4 characters, word shape (full
  and collapsed), upper/title/digit flags, hyphen, Greek letter; the same for the tokens
  at -2..+2; BOS/EOS. No model selection (the dev split is not used).
- spaCy: ``spacy.blank("en")`` + NER from the default efficiency config (``spacy init config
  --pipeline ner --optimize efficiency``: hash embeddings of NORM/PREFIX/SUFFIX/SHAPE,
  no vectors), trained from scratch with spaCy's own training loop pieces and
  optimizer/batcher settings, the dev split picking the best checkpoint, stopped by a
  wall-clock budget (``--spacy-budget``, dev evaluations included) or the config's
  patience/max steps. Each model is saved to ``runs/peers/spacy-<corpus>/``.

Both peers see bioner's tokens: sentences from ``Document.sentences`` or
``split_sentences``; tokens from ``Document.tokens`` or ``tokenize``, at training time
split at every entity boundary (as ``bioner.engines.span_train`` does) so that BIO tags
are exact; at test time with no boundaries (no gold leaks in). Predicted tags become
character-offset Entities on the original test Documents.

Everything runs on one thread at nice 10. Results are merged per (peer, corpus) into
``runs/peers/results.json``, so separate invocations build one table; the table is
printed and written to ``bench/results/peers.md``.
"""

from __future__ import annotations

import os

# one thread everywhere; must be set before numpy/thinc load their BLAS
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))

from bioner import corpora  # noqa: E402
from bioner.doc import Document, Entity, Offsets  # noqa: E402
from bioner.engines.span import sentence_groups  # noqa: E402
from bioner.engines.span_train import _split_tokens  # noqa: E402
from bioner.evaluate import Evaluation, evaluate  # noqa: E402
from bioner.io._common import atomic_write  # noqa: E402
from bioner.text import join_crossed, split_sentences, tokenize  # noqa: E402

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example as SpacyExample

CORPORA = ("ncbi-disease", "bc5cdr-chem", "bc5cdr-disease", "bc2gm", "jnlpba", "s800", "linnaeus")
PEERS = ("crf", "spacy")
RUNS = ROOT / "runs" / "peers"
CACHE = RUNS / "results.json"
OUT = ROOT / "bench" / "results" / "peers.md"
# JNLPBA's dev split is carved out of its train split: select on held-out train documents instead
HOLDOUT_DEV = {"jnlpba": 0.1}
SEED = 0


# ---------------------------------------------------------------------------
# Sentences, BIO tags and back


@dataclass(frozen=True)
class Sentence:
    """A sentence of one document: its tokens (document offsets), their strings, gold BIO tags when training."""

    doc: int  # index of the document in its list
    tokens: tuple[Offsets, ...]
    words: tuple[str, ...]
    tags: tuple[str, ...] = ()

    @property
    def spaces(self) -> list[bool]:
        """Whether whitespace follows each token (for spaCy Docs)."""
        return [a[1] < b[0] for a, b in zip(self.tokens, self.tokens[1:])] + [False]


def _flat(entities: Sequence[Entity], dropped: Counter[str]) -> list[Entity]:
    """Entities BIO tags can hold: continuous, non-overlapping (longest first on a clash)."""
    kept: list[Entity] = []
    for e in sorted(entities, key=lambda x: (-(x.end - x.start), x.start)):
        if e.discontinuous:
            dropped["discontinuous"] += 1
        elif any(e.overlaps(k) for k in kept):
            dropped["overlapping"] += 1
        else:
            kept.append(e)
    return sorted(kept, key=Entity.sort_key)


def bio_tags(tokens: Sequence[Offsets], entities: Sequence[Entity]) -> tuple[list[str], list[Entity]]:
    """IOB2 tags of ``tokens`` and the entities that do not start and end on a token boundary of them."""
    first = {s: i for i, (s, _) in enumerate(tokens)}
    last = {e: i for i, (_, e) in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    missed: list[Entity] = []
    for ent in entities:
        i, j = first.get(ent.start), last.get(ent.end)
        if i is None or j is None or j < i:
            missed.append(ent)
            continue
        tags[i] = f"B-{ent.label}"
        for k in range(i + 1, j + 1):
            tags[k] = f"I-{ent.label}"
    return tags, missed


def decode(tokens: Sequence[Offsets], tags: Sequence[str]) -> list[Entity]:
    """Entities of IOB tags; an I- tag that does not continue an entity of its type starts one (conlleval)."""
    ents: list[Entity] = []
    start = end = -1
    label = ""
    for (s, e), tag in zip(tokens, tags):
        kind, _, typ = tag.partition("-")
        if kind == "I" and label == typ:
            end = e
            continue
        if label:
            ents.append(Entity(start, end, label))
        start, end, label = (s, e, typ) if kind in ("B", "I") else (-1, -1, "")
    if label:
        ents.append(Entity(start, end, label))
    return ents


def _sentences_of(doc: Document) -> list[Offsets]:
    return list(doc.sentences) if doc.sentences is not None else split_sentences(doc.text)


def training_sentences(docs: Sequence[Document], dropped: Counter[str]) -> list[Sentence]:
    """Tagged sentences; tokens split at entity boundaries, sentences an entity crosses joined."""
    out: list[Sentence] = []
    for n, doc in enumerate(docs):
        ents = _flat(doc.entities, dropped)
        cuts = {b for e in ents for b in (e.start, e.end)}
        toks = _split_tokens(doc.tokens, cuts) if doc.tokens is not None else tokenize(doc.text, boundaries=cuts)
        placed = 0
        for _, group in sentence_groups(join_crossed(_sentences_of(doc), ents), toks):
            inside = [e for e in ents if group[0][0] <= e.start and e.end <= group[-1][1]]
            tags, missed = bio_tags(group, inside)
            placed += len(inside) - len(missed)
            out.append(Sentence(n, tuple(group), tuple(doc.text[s:e] for s, e in group), tuple(tags)))
        dropped["unaligned"] += len(ents) - placed
    return out


def test_sentences(docs: Sequence[Document]) -> list[Sentence]:
    """Untagged sentences of bioner's tokens (no entity boundaries: the test gold stays unseen)."""
    out: list[Sentence] = []
    for n, doc in enumerate(docs):
        toks = list(doc.tokens) if doc.tokens is not None else tokenize(doc.text)
        for _, group in sentence_groups(_sentences_of(doc), toks):
            out.append(Sentence(n, tuple(group), tuple(doc.text[s:e] for s, e in group)))
    return out


def to_documents(docs: Sequence[Document], sents: Sequence[Sentence], tags: Sequence[Sequence[str]]) -> list[Document]:
    """Copies of ``docs`` holding the entities decoded from each sentence's predicted tags."""
    found: list[list[Entity]] = [[] for _ in docs]
    for sent, seq in zip(sents, tags, strict=True):
        found[sent.doc].extend(decode(sent.tokens, seq))
    return [d.copy(entities=sorted(ents, key=Entity.sort_key)) for d, ents in zip(docs, found)]


# ---------------------------------------------------------------------------
# CRF

GREEK = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega".split()
)
_GREEK_CHAR = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")


def word_shape(word: str) -> str:
    """``IL-2`` -> ``XX-d``: uppercase X, lowercase x, digit d, anything else itself."""
    return "".join("X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c for c in word)


def short_shape(word: str) -> str:
    """The shape with runs collapsed: ``Xxxxx`` -> ``Xx``, ``dddd`` -> ``d``."""
    return re.sub(r"(.)\1+", r"\1", word_shape(word))


@functools.cache
def word_features(word: str) -> tuple[str, ...]:
    """Features of one token on its own (cached: words repeat)."""
    low = word.lower()
    feats = [f"w={low}", f"shape={word_shape(word)[:12]}", f"sshape={short_shape(word)}"]
    feats += [f"p{k}={low[:k]}" for k in range(1, 5) if len(low) >= k]
    feats += [f"s{k}={low[-k:]}" for k in range(1, 5) if len(low) >= k]
    flags = {
        "upper": word.isupper(),
        "title": word.istitle(),
        "digit": word.isdigit(),
        "hasdigit": any(c.isdigit() for c in word),
        "hyphen": "-" in word,
        "greek": low in GREEK or bool(_GREEK_CHAR.search(word)),
    }
    feats += [name for name, on in flags.items() if on]
    return tuple(feats)


@functools.cache
def _at(word: str, offset: int) -> tuple[str, ...]:
    """A neighbour's features, prefixed with its position (``-1:w=of``)."""
    return tuple(f"{offset}:{f}" for f in word_features(word))


def sentence_features(words: Sequence[str]) -> list[list[str]]:
    """Features of each token: its own, those of the tokens at -2..+2, BOS/EOS."""
    n = len(words)
    out: list[list[str]] = []
    for i, word in enumerate(words):
        feats = ["bias", *word_features(word)]
        for off in (-2, -1, 1, 2):
            if 0 <= i + off < n:
                feats.extend(_at(words[i + off], off))
        if i == 0:
            feats.append("BOS")
        if i == n - 1:
            feats.append("EOS")
        out.append(feats)
    return out


def train_crf(train: Sequence[Sentence]) -> tuple[Any, dict[str, Any]]:
    import sklearn_crfsuite

    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=100, all_possible_transitions=True)
    # a generator: crfsuite copies each sequence as it is appended, so features never pile up in Python
    crf.fit((sentence_features(s.words) for s in train), [list(s.tags) for s in train])
    log = crf.training_log_
    iterations = len(log.iterations) if log is not None else None
    return crf, {"iterations": iterations, "features": len(crf.state_features_)}


def predict_crf(crf: Any, docs: Sequence[Document]) -> list[Document]:
    sents = test_sentences(docs)
    tags = [crf.predict_single(sentence_features(s.words)) for s in sents]
    return to_documents(docs, sents, tags)


# ---------------------------------------------------------------------------
# spaCy


def spacy_config() -> Any:
    """The config ``spacy init config --lang en --pipeline ner --optimize efficiency`` writes (CPU)."""
    from spacy.cli.init_config import init_config

    return init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)


def spacy_examples(nlp: Language, sents: Sequence[Sentence]) -> list[SpacyExample]:
    """Examples over bioner's tokens (``words``/``spaces``), so entity spans align exactly."""
    from spacy.tokens import Doc
    from spacy.training import Example

    out = []
    for s in sents:
        words, spaces = list(s.words), s.spaces
        out.append(Example(Doc(nlp.vocab, words=words, spaces=spaces), Doc(nlp.vocab, words=words, spaces=spaces, ents=list(s.tags))))
    return out


def train_spacy(train: Sequence[Sentence], dev: Sequence[Sentence], out_dir: Path, budget: float, max_epochs: int) -> tuple[Language, dict[str, Any]]:
    """Train with spaCy's loop pieces and config settings; keep the best dev checkpoint; save to ``out_dir``."""
    import spacy
    from spacy.schemas import ConfigSchemaTraining
    from spacy.training.loop import create_evaluation_callback, create_train_batches, train_while_improving
    from spacy.util import registry
    from thinc.api import fix_random_seed

    t0 = time.perf_counter()
    config = spacy_config()
    fix_random_seed(SEED)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    T = registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)
    train_eg, dev_eg = spacy_examples(nlp, train), spacy_examples(nlp, dev)
    optimizer = T["optimizer"]
    nlp.initialize(lambda: train_eg, sgd=optimizer)
    steps = train_while_improving(
        nlp,
        optimizer,
        create_train_batches(nlp, lambda _: train_eg, T["batcher"], max_epochs),
        create_evaluation_callback(nlp, lambda _: dev_eg, T["score_weights"]),
        dropout=T["dropout"],
        accumulate_gradient=T["accumulate_gradient"],
        patience=T["patience"],
        max_steps=T["max_steps"],
        eval_frequency=T["eval_frequency"],
        exclude=T["frozen_components"],
        annotating_components=T["annotating_components"],
        before_update=T["before_update"],
    )
    best: bytes | None = None
    info: dict[str, Any] = {}
    best_info: dict[str, Any] = {}
    stop = "patience or max_steps"
    for _, info, is_best in steps:
        if is_best:
            best = nlp.to_bytes(exclude=["vocab"])
            best_info = {"best_step": info["step"], "best_dev_f1": info["score"], "best_words": info["words"]}
            print(f"  step {info['step']}: dev ents_f {info['score']:.4f} (best), {time.perf_counter() - t0:.0f} s", flush=True)
        if time.perf_counter() - t0 > budget:
            stop = "budget"
            break
    else:
        if max_epochs and info.get("epoch", 0) + 1 >= max_epochs:
            stop = "max_epochs"
        elif info.get("step", 0) - best_info.get("best_step", 0) >= T["patience"]:
            stop = f"patience ({T['patience']} steps without a better dev score)"
        else:
            stop = "max_steps"
    if best is not None:
        nlp.from_bytes(best, exclude=["vocab"])
    train_words = sum(len(s.words) for s in train)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir)
    return nlp, {
        "steps": info.get("step", -1) + 1,
        "epochs": round(info.get("words", 0) / max(1, train_words), 2),
        "stop": stop,
        **best_info,
        "best_epochs": round(best_info.get("best_words", 0) / max(1, train_words), 2),
        "dev_sentences": len(dev),
        "model_dir": str(out_dir.relative_to(ROOT)),
    }


def predict_spacy(nlp: Language, docs: Sequence[Document]) -> list[Document]:
    """The model over bioner's test tokens (spaCy's tokenizer skipped: Docs are built from words)."""
    from spacy.tokens import Doc

    sents = test_sentences(docs)
    tags = []
    for sd in nlp.pipe(Doc(nlp.vocab, words=list(s.words), spaces=s.spaces) for s in sents):
        tags.append([f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in sd])
    return to_documents(docs, sents, tags)


# ---------------------------------------------------------------------------
# Jobs


@dataclass
class Splits:
    train: list[Document]
    dev: list[Document]
    test: list[Document]
    dev_note: str


def load_splits(name: str, limit: int | None) -> Splits:
    train = list(corpora.load(name, "train"))[:limit]
    test = list(corpora.load(name, "test"))[:limit]
    share = HOLDOUT_DEV.get(name)
    if share is None:
        return Splits(train, list(corpora.load(name, "dev"))[:limit], test, "dev")
    # documents held out of train for model selection (the official dev overlaps train)
    order = list(range(len(train)))
    random.Random(SEED).shuffle(order)
    held = set(order[: max(1, int(len(train) * share))])
    return Splits(
        [d for i, d in enumerate(train) if i not in held],
        [d for i, d in enumerate(train) if i in held],
        test,
        f"{len(held)} train documents held out (seed {SEED}); CRF trains on all of train",
    )


def scores(ev: Evaluation) -> dict[str, Any]:
    s, r = ev.strict.micro, ev.relaxed.micro
    return {
        "strict_p": s.precision, "strict_r": s.recall, "strict_f1": s.f1,
        "relaxed_p": r.precision, "relaxed_r": r.recall, "relaxed_f1": r.f1,
        "by_type_strict_f1": {t: x.f1 for t, x in ev.strict.by_type.items()},
        "gold": ev.gold_entities, "predicted": ev.pred_entities,
    }


def run_job(peer: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train one peer on one corpus, predict its test split, score it."""
    load1 = os.getloadavg()[0]
    splits = load_splits(name, args.limit)
    dropped: Counter[str] = Counter()
    t0 = time.perf_counter()
    train_docs = splits.train + splits.dev if peer == "crf" and name in HOLDOUT_DEV else splits.train
    train = training_sentences(train_docs, dropped)
    predict: Callable[[Sequence[Document]], list[Document]]
    if peer == "crf":
        crf, details = train_crf(train)
        details["train_wall_s"] = time.perf_counter() - t0
        predict = functools.partial(predict_crf, crf)
    else:
        dev = training_sentences(splits.dev, Counter())
        out_dir = RUNS / ("smoke" if args.limit is not None else "") / f"spacy-{name}"  # a smoke test never replaces a real model
        nlp, details = train_spacy(train, dev, out_dir, args.spacy_budget, args.spacy_epochs)
        details["train_wall_s"] = time.perf_counter() - t0  # converting the data included, like the CRF's features
        predict = functools.partial(predict_spacy, nlp)
    t1 = time.perf_counter()
    pred = predict(splits.test)
    predict_s = time.perf_counter() - t1
    n_test = len(test_sentences(splits.test))
    ev = evaluate(splits.test, pred)
    return {
        "peer": peer,
        "corpus": name,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", "bench/peers.py", *sys.argv[1:]]),
        "load1_at_start": load1,
        "train_docs": len(train_docs),
        "train_sentences": len(train),
        "train_dropped": dict(dropped),
        "dev": splits.dev_note if peer == "spacy" else "not used",
        "test_docs": len(splits.test),
        "test_sentences": n_test,
        "predict_s": predict_s,
        "sentences_per_s": n_test / predict_s,
        **details,
        **scores(ev),
    }


# ---------------------------------------------------------------------------
# Cache and table


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


def save_cache(path: Path, cache: dict[str, dict[str, Any]]) -> None:
    with atomic_write(path) as fh:
        json.dump(cache, fh, indent=1, sort_keys=True)
        fh.write("\n")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _ordered(cache: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: dict[str, Any]) -> tuple[int, int, str]:
        c = r["corpus"]
        return (PEERS.index(r["peer"]), CORPORA.index(c) if c in CORPORA else len(CORPORA), c)

    return sorted(cache.values(), key=key)


PEER_NAMES = {
    "crf": "CRF (sklearn-crfsuite 0.5.0)",
    "spacy": "spaCy 3.8.18 NER, efficiency config, from scratch",
}


def main_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| peer | corpus | strict P | strict R | strict F1 | relaxed F1 | train wall (s) | predict sentences/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        wall = f"{r['train_wall_s']:.0f}" + (" (budget hit)" if r.get("stop") == "budget" else "")
        lines.append(
            f"| {PEER_NAMES[r['peer']]} | {r['corpus']} | {_pct(r['strict_p'])} | {_pct(r['strict_r'])} | {_pct(r['strict_f1'])} "
            f"| {_pct(r['relaxed_f1'])} | {wall} | {r['sentences_per_s']:.0f} |"
        )
    return lines


def type_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    multi = [r for r in rows if len(r["by_type_strict_f1"]) > 1]
    if not multi:
        return []
    types = sorted({t for r in multi for t in r["by_type_strict_f1"]})
    lines = ["Strict F1 per type (multi-type corpora):", "", f"| peer | corpus | {' | '.join(types)} |", "|---|---|" + "---|" * len(types)]
    for r in multi:
        cells = " | ".join(_pct(r["by_type_strict_f1"][t]) if t in r["by_type_strict_f1"] else "—" for t in types)
        lines.append(f"| {r['peer']} | {r['corpus']} | {cells} |")
    return lines


def details_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| peer | corpus | date | train docs / sentences | left out of training | model selection | training | test docs / sentences | 1-min load at start |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["peer"] == "spacy":
            training = (
                f"{r['steps']} steps, {r['epochs']} epochs, stopped by {r['stop']}; best dev ents_f {_pct(r.get('best_dev_f1') or 0)} "
                f"at step {r.get('best_step')} ({r.get('best_epochs')} epochs); saved to `{r['model_dir']}`"
            )
        else:
            training = f"{r.get('iterations')} L-BFGS iterations, {r.get('features')} state features"
        left = ", ".join(f"{k} {v}" for k, v in sorted(r["train_dropped"].items()) if v) or "none"
        lines.append(
            f"| {r['peer']} | {r['corpus']} | {r['date']} | {r['train_docs']} / {r['train_sentences']} | {left} | {r['dev']} | {training} "
            f"| {r['test_docs']} / {r['test_sentences']} | {r['load1_at_start']:.2f} |"
        )
    return lines


def corpus_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each corpus's source commits and the splits used, from the registry and the cached runs."""
    lines = [
        "| corpus | registry title | source (pinned commits) | train docs | dev (spaCy model selection only) | test docs / sentences / gold mentions |",
        "|---|---|---|---|---|---|",
    ]
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        first.setdefault(r["corpus"], r)
    for name in [c for c in CORPORA if c in first]:
        info, r = corpora.get(name), first[name]
        commits = sorted({m.group() for s in info.sources for m in re.finditer(r"[0-9a-f]{40}", s.url)})
        src = "; ".join(f"`{c[:10]}`" for c in commits) or "(no pinned source)"
        dev = f"{int(HOLDOUT_DEV[name] * 100)}% of train documents held out (the official dev is carved out of train)" if name in HOLDOUT_DEV else "official dev split"
        lines.append(f"| {name} | {info.title} | {src} | {r['train_docs']} | {dev} | {r['test_docs']} / {r['test_sentences']} / {r['gold']} |")
    return lines


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def render(cache: dict[str, dict[str, Any]]) -> str:
    rows = _ordered(cache)
    commands = list(dict.fromkeys(r["command"] for r in rows))
    dates = sorted(r["date"] for r in rows)
    parts = [
        "# Peers: spaCy NER and a CRF, trained here on each corpus",
        "",
        "Commands (each merges its results into `runs/peers/results.json`; `--table-only` reprints):",
        "",
        *[f"- `{c}`" for c in commands],
        "",
        f"Dates: {dates[0]} to {dates[-1]}." if dates else "",
        f"Machine: {machine_note()}; no GPU. Every job ran on one thread (OMP/MKL/BLIS threads = 1) at nice 10 "
        "**while another training job (2 threads) was using the CPU**, so wall times and sentences/s are noisy (read them as ±25% or worse; "
        "the 1-min load average at each job's start is in the details table).",
        "",
        "Data: `$BIONER_DATA` = the shared data folder, loaded with `bioner.corpora.load(name, split)` (offset-bearing originals). "
        "Scored on the test split with `bioner.evaluate.evaluate` against the same gold Documents as the other bioner benches: "
        "micro P/R/F1 in %, strict = exact (start, end, type), relaxed = same type and overlapping characters. "
        "Test sentences are bioner's (`Document.sentences` or `split_sentences`); predict sentences/s covers the whole path from "
        "Documents to Entities (tokenizing, sentence splitting, features, tagging, decoding), one thread.",
        "",
        *corpus_table(rows),
        "",
        *main_table(rows),
        "",
    ]
    types = type_table(rows)
    if types:
        parts += [*types, ""]
    parts += [
        "Recipes. CRF: sklearn-crfsuite, L-BFGS, c1 = c2 = 0.1, 100 iterations, all possible transitions; features of the token and of "
        "the tokens at -2..+2: lowercased word, prefixes/suffixes 1-4, shape and collapsed shape, upper/title/digit/has-digit, hyphen, "
        "Greek letter; BOS/EOS; trained on train (no model selection). spaCy: `spacy init config --lang en --pipeline ner --optimize "
        "efficiency` (tok2vec: hash embeddings of NORM/PREFIX/SUFFIX/SHAPE, width 96, depth 4, no vectors; Adam 0.001, "
        "batches by words, dropout 0.1, eval every 200 steps; the pipeline is `spacy.blank(\"en\")` + tok2vec + ner), trained from scratch on "
        "bioner's tokens, best dev checkpoint kept, stopped by the wall-clock budget (dev evaluations count against it) or "
        "the config's patience. Training tokens are split at entity boundaries, as in `bioner.engines.span_train`; test tokens "
        "are not (no gold boundary leaks into prediction). Train wall includes converting Documents to sentences/features.",
        "",
        "Details:",
        "",
        *details_table(rows),
        "",
    ]
    return "\n".join(parts)


def write_table(cache: dict[str, dict[str, Any]], out: Path) -> str:
    partial = sorted(k for k, r in cache.items() if "peer" not in r)
    if partial:
        # records restored with their strict F1 only cannot fill the table; keep the table written when they were whole
        return (f"{out} not rewritten: {', '.join(partial)} in the cache hold only a strict F1 (restored); "
                "rerun those peers to rebuild the table")
    text = render(cache)
    with atomic_write(out) as fh:
        fh.write(text)
    return text


def jobs(peers: Sequence[str], names: Sequence[str]) -> Iterator[tuple[str, str]]:
    for peer in peers:
        for name in names:
            yield peer, name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--peer", action="append", choices=PEERS, help="crf or spacy (repeatable; default both)")
    ap.add_argument("--corpus", action="append", choices=CORPORA, help="repeatable; default all")
    ap.add_argument("--spacy-budget", type=float, default=600.0, help="wall-clock seconds of spaCy training per corpus")
    ap.add_argument("--spacy-epochs", type=int, default=0, help="max spaCy epochs (0: no limit but the budget/patience)")
    ap.add_argument("--limit", type=int, default=None, help="first N documents of each split (smoke test: nothing is cached or written)")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table-only", action="store_true", help="reprint the table from the cache")
    args = ap.parse_args()

    if not args.table_only:
        os.nice(10)  # a long training job shares this CPU
        for peer, name in jobs(args.peer or PEERS, args.corpus or CORPORA):
            print(f"== {peer} on {name}", flush=True)
            result = run_job(peer, name, args)
            print(
                f"   strict P/R/F1 {_pct(result['strict_p'])}/{_pct(result['strict_r'])}/{_pct(result['strict_f1'])}, "
                f"relaxed F1 {_pct(result['relaxed_f1'])}, train {result['train_wall_s']:.0f} s, {result['sentences_per_s']:.0f} sentences/s, "
                f"left out of training: {result['train_dropped'] or 'none'}",
                flush=True,
            )
            if args.limit is None:
                cache = load_cache(args.cache)  # re-read: another invocation may have added results meanwhile
                cache[f"{peer}/{name}"] = result
                save_cache(args.cache, cache)
    if args.limit is None:
        print(write_table(load_cache(args.cache), args.out))


if __name__ == "__main__":
    main()
