"""Candidates: perturbations of gold spans, sampling over kinds, and engines' false positives joining groups."""

from __future__ import annotations

import pytest

from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.selector.candidates import KINDS, boundary_variants, engine_candidates, gold_candidates, kind_counts, perturbations

TEXT = "Germline mutations in BRCA1 predispose to early-onset breast cancer and ovarian cancer."
DOC = Document("d1", TEXT, [Entity(22, 27, "GENE"), Entity(54, 67, "Disease"), Entity(72, 86, "Disease")])
TYPES = ["Disease", "GENE"]


def _texts(pairs: list[tuple[str, Entity]], kind: str) -> list[str]:
    return [TEXT[e.start:e.end] for k, e in pairs if k == kind]


def test_perturbations_of_a_two_token_mention() -> None:
    pairs = perturbations(DOC, DOC.entities[1], TYPES)
    assert _texts(pairs, "sub") == ["breast", "cancer"]
    assert _texts(pairs, "super") == ["onset breast cancer and"]
    shifts = _texts(pairs, "shift")
    # start moved left by 1 and 2 tokens ("-" is a token), end moved right by 1 and 2, whole span moved
    assert {"-onset breast cancer", "onset breast cancer", "breast cancer and", "breast cancer and ovarian", "onset breast", "cancer and"} <= set(shifts)
    assert [(e.start, e.end, e.label) for k, e in pairs if k == "type"] == [(54, 67, "GENE")]
    keys = [e.key() for _, e in pairs]
    assert len(keys) == len(set(keys)) and DOC.entities[1].key() not in keys
    assert all(e.label == "Disease" for k, e in pairs if k != "type")


def test_perturbations_stay_inside_the_sentence() -> None:
    text = "It was a tumor. Cancer spreads."
    doc = Document("s", text, [Entity(16, 22, "Disease")], sentences=[(0, 15), (16, 31)])
    pairs = perturbations(doc, doc.entities[0], ["Disease"])
    assert pairs and all(16 <= e.start and e.end <= 31 for _, e in pairs)
    assert "Cancer spreads" in _texts_of(text, pairs)


def _texts_of(text: str, pairs: list[tuple[str, Entity]]) -> list[str]:
    return [text[e.start:e.end] for _, e in pairs]


def test_gold_candidates_groups_sampling_and_gold_collisions() -> None:
    # "cancer" alone is also gold here: the sub-span perturbation that equals it must not be a negative
    doc = Document("d", "Early breast cancer is a cancer.", [Entity(6, 19, "Disease"), Entity(25, 31, "Disease")])
    cands = gold_candidates([doc], ["Disease", "GENE"], per_gold=None, start=3, base=10)
    golds = [k for k, c in enumerate(cands) if c.kind == "gold"]
    assert [cands[k].entity.key() for k in golds] == [(6, 19, "Disease"), (25, 31, "Disease")]
    gold_keys = {e.key() for e in doc.entities}
    for k, c in enumerate(cands):
        assert c.doc == 3
        if c.kind == "gold":
            assert c.target == 1 and c.group == -1
        else:
            assert c.target == 0 and c.entity.key() not in gold_keys
            assert c.group - 10 in golds and c.group - 10 < k  # the group names its gold candidate (offset by base)
    # round-robin over kinds: 4 per gold gives one of each kind the mention has
    few = gold_candidates([DOC], TYPES, per_gold=4, seed=1)
    by_group = {}
    for c in few:
        if c.kind != "gold":
            by_group.setdefault(c.group, []).append(c.kind)
    assert all(len(kinds) <= 4 for kinds in by_group.values())
    breast = next(k for k, c in enumerate(few) if c.kind == "gold" and c.entity.start == 54)
    assert sorted(by_group[breast]) == sorted(KINDS)
    assert gold_candidates([DOC], TYPES, per_gold=4, seed=1) == few  # seeded
    assert kind_counts(few)["gold"] == 3


def test_engine_false_positives_join_overlapping_gold_groups() -> None:
    cands = gold_candidates([DOC], TYPES, per_gold=0)
    pred = DOC.copy(entities=[Entity(22, 27, "GENE"), Entity(60, 67, "Disease"), Entity(0, 8, "Disease"), Entity(60, 67, "Disease"),
                              Entity(72, 86, "GENE")])
    fps = engine_candidates([DOC], [pred], "span", cands, types=TYPES)
    assert [(c.entity.key(), c.kind) for c in fps] == [((60, 67, "Disease"), "engine:span"), ((0, 8, "Disease"), "engine:span"),
                                                       ((72, 86, "GENE"), "engine:span")]
    breast = next(k for k, c in enumerate(cands) if c.entity.start == 54)
    assert [c.group for c in fps] == [breast, -1, -1]  # "cancer" overlaps gold "breast cancer"; GENE overlaps no gold GENE
    assert all(c.target == 0 for c in fps)
    with pytest.raises(BionerError) as exc:
        engine_candidates([DOC], [Document("other", TEXT)], "span", cands)
    assert exc.value.code == "E402"
    with pytest.raises(BionerError) as exc:
        engine_candidates([DOC], [], "span", cands)
    assert exc.value.code == "E401"


def test_boundary_variants_move_each_end_by_one_token_inside_the_sentence() -> None:
    text = "It was a tumor. Hereditary breast cancer spreads."
    doc = Document("s", text, [Entity(27, 40, "Disease")], sentences=[(0, 15), (16, 49)])
    got = [text[e.start:e.end] for e in boundary_variants(doc, doc.entities[0])]
    assert got == ["Hereditary breast", "Hereditary breast cancer", "Hereditary breast cancer spreads", "breast",
                   "breast cancer spreads", "cancer", "cancer spreads"]
    assert all(e.label == "Disease" and 16 <= e.start for e in boundary_variants(doc, doc.entities[0]))
    # a boundary the engine placed inside a token stays where it is when only the other end moves
    inside = Entity(30, 40, "Disease")  # "ast cancer"
    assert "ast cancer spreads" in [text[e.start:e.end] for e in boundary_variants(doc, inside)]
    # first token of its sentence: no variant reaches into the sentence before
    first = boundary_variants(doc, Entity(16, 26, "Disease"))
    assert [text[e.start:e.end] for e in first] == ["Hereditary breast", "breast"]
    assert boundary_variants(doc, Entity.from_fragments([(16, 26), (34, 40)], "Disease")) == []  # discontinuous: none
