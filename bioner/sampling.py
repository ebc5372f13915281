"""Sentence-level samples of annotated documents, for few-shot training (``k`` sentences of a corpus).

A k-shot sample counts sentences, not documents: an abstract holds ten sentences, a
LINNAEUS full text hundreds. Documents are cut with their own segmentation
(``Document.sentences``) or ``split_sentences``; sentences a mention crosses are joined
first (``join_crossed``), so no entity is cut. Each sentence becomes a Document of its
own (id ``DOC:sN``, entities and tokens shifted to its text), and the sample is drawn
uniformly from all sentences, with and without entities, with a seeded RNG: the same
``(docs, k, seed)`` always gives the same sentences in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from bioner.doc import Document
from bioner.text import join_crossed, split_sentences


def sentence_documents(doc: Document) -> list[Document]:
    """``doc`` cut into one Document per sentence (entities and tokens shifted; crossed sentences joined)."""
    text = doc.text
    sents = join_crossed(doc.sentences if doc.sentences is not None else split_sentences(text), doc.entities)
    out: list[Document] = []
    for k, (s, e) in enumerate(sents):
        if not text[s:e].strip():
            continue
        ents = [x.shifted(-s) for x in doc.entities if s <= x.start and x.end <= e]
        toks = [(a - s, b - s) for a, b in doc.tokens if s <= a and b <= e] if doc.tokens is not None else None
        out.append(Document(f"{doc.id}:s{k}", text[s:e], ents, sentences=[(0, e - s)], tokens=toks, metadata={"document": doc.id}))
    return out


def sample_sentences(docs: Iterable[Document], k: int, seed: int = 0) -> list[Document]:
    """``k`` sentences drawn uniformly (seeded) from all sentences of ``docs``; all of them when there are fewer."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    pool: Sequence[Document] = [s for d in docs for s in sentence_documents(d)]
    if k >= len(pool):
        return list(pool)
    return random.Random(seed).sample(list(pool), k)
