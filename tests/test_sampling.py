"""Sentence samples for few-shot training: offsets shifted exactly, crossed sentences joined, seeded draws."""

from __future__ import annotations

from bioner.doc import Document, Entity
from bioner.sampling import sample_sentences, sentence_documents


def _doc() -> Document:
    text = "Cystic fibrosis is common. Aspirin may cause Reye syndrome. Nothing here."
    return Document("d", text, [Entity(0, 15, "Disease"), Entity(27, 34, "Chemical"), Entity(45, 58, "Disease")])


def test_sentence_documents_shift_entities_to_each_sentence() -> None:
    doc = _doc()
    sents = sentence_documents(doc)
    assert [s.text for s in sents] == ["Cystic fibrosis is common.", "Aspirin may cause Reye syndrome.", "Nothing here."]
    assert [s.id for s in sents] == ["d:s0", "d:s1", "d:s2"]
    got = [(s.id, s.text[e.start:e.end], e.label) for s in sents for e in s.entities]
    want = [("d:s0", "Cystic fibrosis", "Disease"), ("d:s1", "Aspirin", "Chemical"), ("d:s1", "Reye syndrome", "Disease")]
    assert got == want and sents[2].entities == []
    assert all(s.sentences == [(0, len(s.text))] and s.metadata["document"] == "d" for s in sents)


def test_a_mention_across_a_sentence_split_joins_the_sentences_and_tokens_shift() -> None:
    text = "Type 2 diabetes (cf. Fig. 1) is here. Next one."
    toks = [(0, 4), (5, 6), (7, 15), (38, 42), (43, 47)]
    doc = Document("x", text, [Entity(7, 27, "Disease")], sentences=[(0, 25), (26, 37), (38, 47)], tokens=toks)
    sents = sentence_documents(doc)
    assert [s.text for s in sents] == ["Type 2 diabetes (cf. Fig. 1) is here.", "Next one."]
    assert sents[0].text[sents[0].entities[0].start:sents[0].entities[0].end] == "diabetes (cf. Fig. 1"
    assert sents[1].tokens == [(0, 4), (5, 9)] and sents[1].text[5:9] == "one."


def test_sample_sentences_is_seeded_and_counts_sentences_not_documents() -> None:
    docs = [_doc().copy(id=f"d{i}") for i in range(10)]  # 30 sentences
    a, b, c = sample_sentences(docs, 7, seed=1), sample_sentences(docs, 7, seed=1), sample_sentences(docs, 7, seed=2)
    assert len(a) == 7 and [s.id for s in a] == [s.id for s in b] and [s.id for s in a] != [s.id for s in c]
    assert len({s.id for s in a}) == 7
    assert len(sample_sentences(docs, 100)) == 30  # fewer than k: all of them
