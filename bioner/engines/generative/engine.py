"""The generative engine: Documents in, Documents with entities out, through an LLM writing a task format.

Each document is cut into generation units (sentences, ``samples.units``); each unit
gets a prompt with the entity types and their definitions; a backend (local
transformers model, or any OpenAI-compatible server) writes the answer; the task
format's decoder turns it into entities with offsets into the unit, which are shifted
to the document. Decoding never raises: what failed to parse or align is counted in
``GenerationStats`` (per call, and summed over the engine's life).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioner.doc import Document, Entity
from bioner.engines.generative import prompts
from bioner.engines.generative.formats import FORMATS, get_format
from bioner.engines.generative.samples import MAX_CHARS, units
from bioner.errors import BionerError

if TYPE_CHECKING:
    from bioner.engines.generative.backends import Backend

DEFAULT_LLM = "gemma3-270m"
MAX_NEW_TOKENS = 256


@dataclass
class GenerationStats:
    """What generation produced and what could not be used, summed over calls."""

    units: int = 0
    items: int = 0  # mentions the outputs proposed
    entities: int = 0  # entities placed in the text
    parse_failures: int = 0
    align_failures: int = 0
    unknown_types: int = 0
    truncated: int = 0  # outputs cut before the answer closed (hit max_new_tokens)
    errors: int = 0  # backend failures (HTTP errors after retries)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: GenerationStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, float]:
        d: dict[str, float] = {f.name: getattr(self, f.name) for f in fields(self)}
        d["tokens_per_entity"] = self.completion_tokens / self.entities if self.entities else 0.0
        d["units_per_second"] = self.units / self.seconds if self.seconds else 0.0
        d["parse_failure_rate"] = self.parse_failures / max(1, self.items + self.parse_failures)
        d["align_failure_rate"] = self.align_failures / max(1, self.items)
        return d


@dataclass
class LLMEngine:
    """An LLM that extracts entities by writing ``scheme`` ("json" or "tags").

    ``tokenizer``: the local model's tokenizer, used to render prompts with its chat
    template (None for a served model: prompts are then sent in chat form or the plain
    layout). ``definitions``: list each type with its one-sentence definition.
    ``examples``: few-shot examples put in every prompt. ``candidates``: list the unit's
    noun-phrase candidates in every prompt (``bioner.silver.candidate_phrases``).
    """

    backend: Backend
    scheme: str = "json"
    tokenizer: Any = None
    definitions: bool = True
    examples: Sequence[prompts.Example] = ()
    max_new_tokens: int = MAX_NEW_TOKENS
    max_chars: int = MAX_CHARS
    name: str = "llm"
    adapter: str | None = None  # the LoRA adapter folder, when the model has one
    candidates: bool = False
    stats: GenerationStats = field(default_factory=GenerationStats)
    last: GenerationStats = field(default_factory=GenerationStats)

    def __post_init__(self) -> None:
        get_format(self.scheme)  # E701 for an unknown scheme, before any work

    @classmethod
    def load(
        cls,
        model: str | os.PathLike[str] | None = None,
        *,
        adapter: str | os.PathLike[str] | None = None,
        scheme: str | None = None,
        url: str | None = None,
        api: str = "completions",
        batch_size: int = 8,
        threads: int | None = None,
        device: str | None = None,
        **options: Any,
    ) -> LLMEngine:
        """A local model (Hub name, folder or ``gemma3-270m``) with an optional LoRA adapter, or a served model at ``url``.

        The adapter's ``bioner_llm.json`` supplies the base model, the scheme and whether
        prompts list definitions, so a tuned adapter is used with the prompts it was tuned on.
        """
        from bioner.engines.generative.train import read_settings

        settings = read_settings(adapter) if adapter is not None else {}
        scheme = scheme or settings.get("scheme") or "json"
        if settings.get("scheme") and scheme != settings["scheme"]:
            raise BionerError("E734", f"adapter {adapter} was tuned for scheme {settings['scheme']!r}, not {scheme!r}",
                              hint=f"use --scheme {settings['scheme']} or another adapter")
        options.setdefault("definitions", settings.get("definitions", True))
        if url is not None:
            from bioner.engines.generative.backends import HttpBackend

            served = str(model) if model is not None else DEFAULT_LLM
            return cls(HttpBackend(url, served, api=api), scheme, name=f"llm:{served}", **options)
        from bioner.engines.generative.backends import LocalBackend
        from bioner.engines.generative.model import load_causal_lm

        base = model if model is not None else settings.get("base_model") or DEFAULT_LLM
        lm = load_causal_lm(base, adapter=adapter, device=device)
        label = Path(adapter).name if adapter is not None else Path(str(base)).name
        return cls(LocalBackend(lm, batch_size=batch_size, threads=threads), scheme, tokenizer=lm.tokenizer, name=f"llm:{label}",
                   adapter=None if adapter is None else os.fspath(adapter), **options)

    def prompt(self, text: str, specs: Sequence[prompts.TypeSpec]) -> prompts.Prompt:
        cands = None
        if self.candidates:
            from bioner.silver import candidate_phrases  # local: only teachers that ask for candidates need it

            cands = candidate_phrases(text)
        return prompts.build(self.scheme, text, specs, tokenizer=self.tokenizer, definitions=self.definitions, examples=self.examples,
                             candidates=cands)

    def predict(self, docs: Iterable[Document], types: Sequence[str] | Mapping[str, str] | Sequence[prompts.TypeSpec]) -> list[Document]:
        """New Documents (same ids and text) holding the entities the model wrote, offsets into the original text.

        ``types``: type names (labels and definitions from the registry), a mapping
        name -> label the model writes, or ``TypeSpec``s. Entity labels are the names.
        """
        specs = _specs(types)
        labels = prompts.labels_of(specs)
        fmt = FORMATS[self.scheme]
        docs = list(docs)
        plan: list[tuple[int, int]] = []  # (document index, unit start) per prompt
        texts: list[str] = []
        for i, doc in enumerate(docs):
            for u in units(doc.copy(entities=[]), max_chars=self.max_chars):
                plan.append((i, u.start))
                texts.append(u.text)
        stats = GenerationStats(units=len(texts))
        started = time.perf_counter()
        gens = self.backend.generate([self.prompt(t, specs) for t in texts], max_new_tokens=self.max_new_tokens, is_complete=fmt.is_complete)
        found: list[list[Entity]] = [[] for _ in docs]
        for (i, start), text, gen in zip(plan, texts, gens):
            stats.prompt_tokens += gen.prompt_tokens
            stats.completion_tokens += gen.completion_tokens
            if gen.finish_reason == "error":
                stats.errors += 1
                continue
            dec = fmt.decode(text, gen.text, labels)
            stats.items += dec.items
            stats.parse_failures += dec.parse_failures
            stats.align_failures += dec.align_failures
            stats.unknown_types += dec.unknown_types
            stats.truncated += int(dec.truncated or gen.finish_reason == "length")
            for e in dec.entities:
                found[i].append(e.shifted(start).with_(source=self.name))
        stats.seconds = time.perf_counter() - started
        out: list[Document] = []
        for doc, ents in zip(docs, found):
            unique = sorted(set(ents), key=Entity.sort_key)
            stats.entities += len(unique)
            out.append(doc.copy(entities=unique))
        self.last = stats
        self.stats.add(stats)
        return out

    def iter_predict(self, docs: Iterable[Document], types: Sequence[str] | Mapping[str, str] | Sequence[prompts.TypeSpec],
                     *, block: int = 32) -> Iterator[Document]:
        """``predict`` over a stream, ``block`` documents at a time, in input order."""
        part: list[Document] = []
        for doc in docs:
            part.append(doc)
            if len(part) >= block:
                yield from self.predict(part, types)
                part = []
        if part:
            yield from self.predict(part, types)


def _specs(types: Sequence[str] | Mapping[str, str] | Sequence[prompts.TypeSpec]) -> list[prompts.TypeSpec]:
    if isinstance(types, Mapping):
        specs = prompts.type_specs(types)
    else:
        items = list(types)
        specs = [t if isinstance(t, prompts.TypeSpec) else prompts.TypeSpec.of(str(t)) for t in items]
    if not specs:
        raise BionerError("E605", "no entity types to extract", hint="name the types, e.g. --labels disease,gene")
    seen: set[str] = set()
    for s in specs:
        if s.label.lower() in seen:
            raise BionerError("E605", f"two types share the label {s.label!r}; the model's answer could not tell them apart",
                              hint="give each type its own label")
        seen.add(s.label.lower())
    return specs
