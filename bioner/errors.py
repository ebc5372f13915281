"""Errors with stable codes, and the report that counts what was skipped or dropped.

Every problem bioner detects in user data carries a code (``E1xx`` data model,
``E2xx`` reading, ``E3xx`` writing, ``E4xx`` evaluation, ``E5xx`` corpora,
``W...`` for things that are reported but do not stop the job) so that users can
search for it. Messages name the file and line when there is one, and say what was
expected.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

# code -> short title; the single place where codes are defined.
CODES: dict[str, str] = {
    # data model
    "E101": "entity offsets out of range or empty",
    "E102": "entity fragments are not ordered, disjoint and inside start..end",
    "E103": "passage or segment offsets out of range",
    "E104": "entity text does not match the document text at its offsets",
    # reading
    "E201": "malformed line",
    "E202": "offset does not match the text",
    "E203": "unknown or invalid tag",
    "E204": "invalid UTF-8",
    "E205": "empty file",
    "E206": "dangling reference (an id that is not defined)",
    "E207": "unknown format",
    "E208": "invalid JSON or XML",
    "E209": "duplicate document id",
    "E210": "file not found",
    "W211": "I- tag after O or after another type (treated as B-)",
    "W212": "relation line kept as metadata",
    "W214": "invalid BIOES sequence repaired (E- without B-, entity not closed by E-)",
    "W213": "duplicate document id: the later copy is kept under id#2, id#3 ...",
    "W220": "entity type not in the label mapping: dropped",
    "W221": "duplicate entity (same span and label) dropped",
    # writing
    "W301": "nested or overlapping entity dropped: the format is flat",
    "W302": "discontinuous entity written as its covering span",
    "W303": "entity boundary inside a token: token split at the boundary",
    "E304": "label cannot be written in this format",
    "W304": "token contains whitespace: split at it",
    "W305": "entity boundary between tokens: written as the tokens it covers, or dropped if none",
    "W307": "entity crosses a sentence boundary: sentences merged",
    "E305": "text, id or field cannot be written in this format (e.g. a line break in PubTator)",
    "W306": "information the format cannot hold was dropped (scores, attributes, metadata, passage layout)",
    "W320": "annotation line dropped: it refers to an entity that is not written",
    # evaluation
    "E401": "gold and predicted collections do not contain the same documents",
    "E402": "gold and predicted texts differ for a document",
    # corpora
    "E501": "unknown corpus",
    "E502": "unknown split",
    "E503": "corpus files not found",
    "E504": "download failed or checksum mismatch",
    # models
    "E601": "model not found or could not be loaded",
    "E602": "unsupported model architecture",
    "E603": "training checkpoint does not match this run",
    "W604": "entity left out of span training (wider than max_width words, discontinuous, or cut at a window edge)",
    "E605": "no entity types to predict, or a type the chosen corpus does not have",
    "E606": "a quantized (inference-only) model cannot be saved or trained",
    "E607": "bad silver-data options for span training (mode, file, or a run folder made with other silver settings)",
    "E608": "leave-one-corpus-out: the training corpora include the left-out corpus, or the run folder was made for another corpus",
    # generative engine: task formats
    # contrastive entity selector
    "E620": "not a selector folder (no bioner_selector.json)",
    "E621": "selector settings unreadable, or written by a newer bioner",
    "E622": "no candidates to train or calibrate the selector on",
    "E623": "selector training checkpoint does not match this run",
    "E624": "output folder for a selector is not empty",
    "E701": "unknown task format (the answer format an LLM writes)",
    "E702": "invalid output labels for a task format (empty, repeated, a line break, or ':' in tags)",
    "E703": "unknown name assignment policy for the JSON format",
    # generative engine (E701-E709 task formats, E710-E729 models and backends, E730+ tuning and the engine)
    "E710": "causal LM folder not found",
    "E711": "not a causal LM folder (no config.json, or a model that does not generate text)",
    "E712": "causal LM could not be fetched from the Hub (offline, unknown or gated name)",
    "E713": "causal LM weights or tokenizer could not be loaded",
    "E714": "LoRA adapter missing or not made for this base model",
    "E715": "a packaged model alias could not be built (package missing or conversion failed)",
    "E720": "the generation server rejected the request (HTTP 4xx other than 429: wrong model name, bad request, key)",
    "E721": "invalid generation backend setting",
    "E722": "a local generation server did not start",
    "E730": "unknown LLM training setting",
    "E731": "LoRA target modules not found in the model",
    "E732": "no training samples",
    "E733": "adapter settings file unreadable",
    "E734": "adapter and requested scheme disagree",
    "E740": "a tuning sample cannot be scored (its answer has no tokens)",
    "E741": "invalid curation setting (unknown strategy, ratio outside (0, 1])",
    "E742": "the IFD histogram needs matplotlib",
    "E743": "not a curated file (no summary beside it, or a record that is not a sample)",
    "W741": "gold entity outside every generation unit",
    "W742": "gold entity of a type the prompt does not ask for",
    "W743": "gold entity the task format cannot represent (left out of the target)",
    "W744": "training sample longer than max_len tokens (left out)",
    # HTTP service (bioner serve): E800-E819
    "E800": "request body is not valid JSON",
    "E801": "request body too large",
    "E802": "invalid request field (wrong type, out of range, or not a field /extract takes)",
    "E803": "nothing to annotate (no text, an empty list, or only blank texts)",
    "E804": "too many texts in one request",
    "E805": "text too long",
    "E806": "invalid labels (not a list of types or a mapping type -> natural-language label)",
    "E807": "unknown model (not loaded by this server)",
    "E808": "unknown engine, an engine this server did not load, or an option the engine does not take",
    "E809": "server busy: the request queue is full (retry after the Retry-After header's seconds)",
    "E810": "server shutting down: no new requests accepted",
    "E811": "prediction failed inside the model",
    "E812": "no such endpoint, or a method it does not take",
    "E813": "unsupported content type (send application/json)",
    "E814": "the HTTP service needs fastapi and uvicorn (pip install 'bioner[llm]')",
    "E815": "invalid service setting (a limit or batching option out of range)",
    # batch annotation (bioner annotate): E820-E839
    "E820": "Ray is not installed (the ray extra)",
    "E821": "the output folder holds a run with other inputs or options",
    "E822": "the output folder is not empty and holds no annotate manifest",
    "E823": "annotate manifest unreadable, or written by an unknown version",
    "E824": "document id used twice across the inputs",
    "E825": "an input changed since its shards were written",
    "E826": "no input documents or files",
    "E827": "output format cannot be written one shard per file",
    "E828": "the Ray job failed (cluster not reachable, or a worker died)",
    "E829": "invalid annotate setting",
    "W830": "shard file listed in the manifest was missing or changed: annotated again",
    # silver data for distillation (bioner silver, bioner.silver): E900-E909
    "E900": "nothing to collect or merge (no corpora, or no teacher inputs)",
    "E901": "a document is in one teacher input but not in another",
    "E902": "a document's text differs between teacher inputs",
    "E903": "teacher inputs hold the same documents in different orders",
    "E904": "invalid merge setting (agreement, match mode, names)",
    "E905": "a teacher's annotate output folder is not complete",
}


class BionerError(Exception):
    """An error with a stable code, and where it happened when that is known."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        file: str | os.PathLike[str] | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unregistered error code {code!r}")
        self.code = code
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        hint = f" ({self.hint})" if self.hint else ""
        return f"[{self.code}] {where}{self.message}{hint}"


@dataclass
class Issue:
    code: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        return f"[{self.code}] {where}{self.message}"


@dataclass
class Report:
    """Counts what a reader skipped or a writer could not represent.

    Readers take ``skip_invalid``: when False (the default) the first invalid record
    raises; when True it is recorded here and reading continues. Warnings (``W...``)
    are always recorded and never raise. Nothing is dropped without a count here.
    """

    skip_invalid: bool = False
    issues: list[Issue] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    keep: int = 50  # full issue records kept per code; the counts are always complete

    def error(self, err: BionerError) -> None:
        """Raise ``err`` unless invalid records are being skipped; then record it."""
        if not self.skip_invalid:
            raise err
        self._add(err.code, err.message, err.file, err.line)

    def warn(self, code: str, message: str, *, file: str | os.PathLike[str] | None = None, line: int | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unregistered code {code!r}")
        self._add(code, message, str(file) if file is not None else None, line)

    def _add(self, code: str, message: str, file: str | None, line: int | None) -> None:
        self.counts[code] += 1
        if self.counts[code] <= self.keep:
            self.issues.append(Issue(code, message, file, line))

    @property
    def skipped(self) -> int:
        return sum(n for c, n in self.counts.items() if c.startswith("E"))

    def __bool__(self) -> bool:
        return bool(self.counts)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def summary(self) -> list[str]:
        """One line per code: count and meaning, e.g. ``W301 x12: nested ... dropped``."""
        return [f"{code} x{n}: {CODES[code]}" for code, n in sorted(self.counts.items())]
