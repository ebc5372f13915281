"""GLiNER training data: a JSON list with one example per sentence.

Each example is what the gliner library trains on,
``{"tokenized_text": [words], "ner": [[first_word, last_word_inclusive, label], ...]}``, plus
keys gliner ignores that let bioner map word spans back to the document:

* ``"doc_id"``: the Document id;
* ``"char_offset"``: where the example's first word starts in ``Document.text``;
* ``"token_spans"``: ``[start, end]`` of each word relative to ``char_offset`` (end exclusive),
  so word i is ``text[char_offset + s : char_offset + e]`` and a predicted span ``[i, j]`` covers
  ``text[char_offset + token_spans[i][0] : char_offset + token_spans[j][1]]``.

With ``labels`` each example also gets ``"label"``: the entity types gliner should score for
it (given in that order, then any type of the example's own entities that is missing, so no
gold entity is ignored); gliner then uses exactly these types instead of in-batch negatives.
``label_map`` renames types on the way out (``{"DNA": "DNA sequence"}``); unmapped types are
kept as they are, and the mapping applies to ``labels`` too.

Sentences without entities are written too (they teach the model what not to tag). Words come
from ``doc.tokens``, else :func:`bioner.text.tokenize` with entity boundaries forced; a word
containing whitespace is split (W304), a word with an entity boundary inside is split (W303),
an entity not aligned to words is snapped to the words it covers or dropped (W305), sentences
an entity crosses are merged (W307), discontinuous entities become their covering span (W302)
— see :func:`bioner.io.iob.align_tokens`. Nested entities are kept (gliner learns them).
Entity scores, sources, ids and attributes, passages and metadata are not written (W306, once
per document); the text itself is not needed, ``token_spans`` point into it.

``read`` (for inspecting or re-using such files) rebuilds the text from the words with the
token-joining rule; consecutive examples with the same ``doc_id`` form one Document (examples
without one are each a Document ``<file stem>:<n>``). ``token_spans``/``char_offset``/``label``
are not read back: the original text is not in the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from bioner.doc import Document
from bioner.errors import BionerError, Report
from bioner.io import file_stem
from bioner.io._common import (
    SURROGATE_HINT,
    PathLike,
    atomic_write,
    describe_lost,
    ensure_report,
    lone_surrogate,
    lost_parts,
    read_text,
    surrogate_escapes,
)
from bioner.io.iob import TokenSpan, align_tokens, doc_from_tokens, text_lost


def _examples(doc: Document, report: Report, path: PathLike, labels: Sequence[str] | None, label_map: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    view = align_tokens(doc, report=report, file=path)
    # the file holds words, not the text: spacing and text between tokens do not come back
    lost = lost_parts(doc, {"sentences", "tokens"}) + text_lost(doc, view)
    if lost:
        report.warn("W306", f"document {doc.id!r}: dropped {describe_lost(lost)}", file=path)
    ner: list[list[list[Any]]] = [[] for _ in view.sentences]
    for e, s, i, j in view.spans:
        ner[s].append([i, j - 1, label_map.get(e.label, e.label)])
    wanted = [label_map.get(x, x) for x in labels] if labels is not None else None
    for toks, spans in zip(view.sentences, ner):
        if not toks:
            continue  # an empty sentence is no example
        base = toks[0][0]
        ex: dict[str, Any] = {"tokenized_text": [doc.text[a:b] for a, b in toks], "ner": spans}
        if wanted is not None:
            ex["label"] = list(dict.fromkeys([*wanted, *(x[2] for x in spans)]))
        ex.update(doc_id=doc.id, char_offset=base, token_spans=[[a - base, b - base] for a, b in toks])
        yield ex


def write(
    docs: Iterable[Document],
    path: PathLike,
    *,
    report: Report | None = None,
    labels: Sequence[str] | None = None,
    label_map: Mapping[str, str] | None = None,
) -> None:
    """Write GLiNER training JSON, one example per sentence (one per line, inside a JSON list)."""
    report = ensure_report(report)
    mapping = dict(label_map or {})
    with atomic_write(path) as fh:
        fh.write("[")
        first = True
        for doc in docs:
            for ex in _examples(doc, report, path, labels, mapping):
                fh.write(("\n" if first else ",\n") + json.dumps(ex, ensure_ascii=False))
                first = False
        fh.write("\n]\n")


def _parse_example(k: int, ex: Any) -> tuple[list[str], list[tuple[int, int, str]], str | None]:
    """(words, spans with exclusive ends, doc_id); TypeError/ValueError/BionerError naming the problem."""
    if not isinstance(ex, dict):
        raise TypeError(f"example {k} is not a JSON object")
    words = ex.get("tokenized_text")
    if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
        raise ValueError(f"example {k}: 'tokenized_text' must be a list of non-empty strings")
    spans = []
    for m in ex.get("ner", []):
        if not (isinstance(m, list) and len(m) == 3 and type(m[0]) is int and type(m[1]) is int and isinstance(m[2], str)):
            raise ValueError(f"example {k}: each 'ner' item must be [first_word, last_word, label], got {m!r}")
        if not 0 <= m[0] <= m[1] < len(words):
            raise BionerError("E202", f"example {k}: span {m[:2]} is outside its {len(words)} words")
        spans.append((m[0], m[1] + 1, m[2]))
    doc_id = ex.get("doc_id")
    return words, spans, doc_id if isinstance(doc_id, str) else None


def read(path: PathLike, *, report: Report | None = None, skip_invalid: bool = False) -> Iterator[Document]:
    """Read GLiNER training JSON back into Documents (text rebuilt from the words)."""
    report = ensure_report(report, skip_invalid)
    raw = read_text(path)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BionerError("E208", f"invalid JSON at column {exc.colno}: {exc.msg}", file=path, line=exc.lineno) from None
    except RecursionError:  # json's decoder recurses once per nesting level
        raise BionerError("E208", "invalid JSON: nested too deeply", file=path) from None
    if not isinstance(data, list):
        raise BionerError("E201", "expected a JSON list of examples", file=path)
    stem = file_stem(path)
    group: tuple[str, list[list[str]], list[TokenSpan]] | None = None
    escapes = surrogate_escapes(raw)
    for k, ex in enumerate(data, 1):
        try:
            if escapes and lone_surrogate(ex):
                raise BionerError("E204", f"example {k}: a string holds a lone surrogate escape", hint=SURROGATE_HINT)
            words, spans, doc_id = _parse_example(k, ex)
        except (TypeError, ValueError, BionerError) as exc:
            code, msg = (exc.code, exc.message) if isinstance(exc, BionerError) else ("E201", str(exc))
            report.error(BionerError(code, msg, file=path, hint="expected {'tokenized_text': [...], 'ner': [[i, j, label], ...]}"))
            continue
        if group is not None and (doc_id is None or doc_id != group[0]):
            yield doc_from_tokens(*group)
            group = None
        if group is None:
            group = (doc_id or f"{stem}:{k}", [], [])
        group[2].extend((len(group[1]), i, j, lab) for i, j, lab in spans)
        group[1].append(words)
    if group is not None:
        yield doc_from_tokens(*group)


__all__ = ["read", "write"]
