"""Prompts for generative extraction: an instruction, the entity types with definitions, optional
few-shot examples, and the text.

The same prompt exists in two forms: ``messages`` (chat form, for chat APIs and models
with a chat template) and ``text`` (one string: the chat template applied when the
tokenizer has one, else a plain layout). Training and local generation use ``text``,
so a model is tuned on exactly what it later sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bioner.labels import TYPES, find_type, get_type

# Short on purpose: every prompt token is paid for in every training step and every
# generated sentence, and a tuned model learns the format from its targets anyway.
INSTRUCTIONS: dict[str, str] = {
    "json": 'List the mentions of the entity types below in the text as JSON, in text order: [{"entity": <type>, "name": <mention as written>}, ...]; [] if there are none.',
    "tags": "For each entity type below that occurs in the text, write '<type>: <the text with each mention of that type in [brackets]>' (nested mentions nested); none if there are none.",
}

# Noun-phrase candidates offered to a teacher (off by default); the hedge keeps it from copying them blindly.
CANDIDATES_HEADER = "Candidate phrases (may be incomplete or wrong):"


@dataclass(frozen=True)
class TypeSpec:
    """An entity type as the model sees it: the label it writes and a one-sentence definition."""

    name: str  # corpus type name, the Entity.label of what is found
    label: str  # what the model reads and writes
    definition: str = ""

    @classmethod
    def of(cls, name: str, label: str | None = None, definition: str | None = None) -> TypeSpec:
        """A registered type name gets its natural label and definition; a user's own word
        ("disease", "gene") stays the label and borrows the definition of the type it names."""
        if name in TYPES:
            t = TYPES[name]
            return cls(name, label or t.label, t.description if definition is None else definition)
        known = find_type(label or name)
        default = known.description if known is not None else get_type(name).description
        return cls(name, label or name, default if definition is None else definition)


@dataclass(frozen=True)
class Example:
    """A few-shot example: a text and the answer the model should write for it."""

    text: str
    answer: str


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def type_specs(types: Sequence[str] | Mapping[str, str]) -> list[TypeSpec]:
    """Type names (registry labels and definitions) or a mapping name -> label (definitions from the registry)."""
    if isinstance(types, Mapping):
        return [TypeSpec.of(name, label) for name, label in types.items()]
    return [TypeSpec.of(name) for name in types]


def labels_of(specs: Sequence[TypeSpec]) -> dict[str, str]:
    """name -> label, the mapping the task formats take."""
    return {s.name: s.label for s in specs}


def body(scheme: str, text: str, specs: Sequence[TypeSpec], *, definitions: bool = True, examples: Sequence[Example] = (),
         candidates: Sequence[str] | None = None) -> str:
    """The user message: instruction, types, examples, candidate phrases (when given and not empty), text.

    Without ``candidates`` the message is exactly what it was before the option existed, so
    tuned adapters and recorded prompts are unaffected.
    """
    lines = [INSTRUCTIONS[scheme], "", "Entity types:"]
    for s in specs:
        lines.append(f"- {s.label}: {s.definition}" if definitions and s.definition else f"- {s.label}")
    for ex in examples:
        lines += ["", f"Text: {ex.text}", f"Answer: {ex.answer}"]
    if candidates:
        # before the text, so every prompt still ends "Text: <unit>"
        lines += ["", f"{CANDIDATES_HEADER} {'; '.join(candidates)}"]
    lines += ["", f"Text: {text}"]
    return "\n".join(lines)


def render(tokenizer: Any | None, content: str) -> str:
    """One string for a user message: the tokenizer's chat template with the generation prompt, or a plain layout.

    The plain layout ends with "Answer:" and a newline; the model writes the answer after it.
    """
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True))
    return f"{content}\nAnswer:\n"


def build(scheme: str, text: str, specs: Sequence[TypeSpec], *, tokenizer: Any | None = None, definitions: bool = True,
          examples: Sequence[Example] = (), candidates: Sequence[str] | None = None) -> Prompt:
    """The prompt for one unit of text; ``candidates``: phrases offered as hints (``bioner.silver.candidate_phrases``)."""
    content = body(scheme, text, specs, definitions=definitions, examples=examples, candidates=candidates)
    return Prompt([{"role": "user", "content": content}], render(tokenizer, content))


def prompt_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt, as training and local generation both see it.

    The tokenizer's special tokens (Gemma's <bos>) are added unless the text already
    starts with them, as a chat template's output does.
    """
    bos = getattr(tokenizer, "bos_token", None)
    add = not (bos and text.startswith(bos))
    return list(tokenizer(text, add_special_tokens=add)["input_ids"])
