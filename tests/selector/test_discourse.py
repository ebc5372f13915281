"""Mention groups: one decision per mention and type in a document, abbreviations joined to their long forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bioner.doc import Document, Entity
from bioner.selector.discourse import group_max, mention_groups
from bioner.selector.model import Selector, decide

TEXT = "Cowden disease (CD) is rare. CD causes hamartomas. In  CD patients, cd was low and CD was typed as a gene."


def _at(text: str, mention: str, nth: int = 0) -> tuple[int, int]:
    k = -1
    for _ in range(nth + 1):
        k = text.index(mention, k + 1)
    return k, k + len(mention)


def test_same_text_and_type_share_a_group_and_an_abbreviation_joins_its_long_form() -> None:
    long_form, cd = Entity(*_at(TEXT, "Cowden disease"), "Disease"), [Entity(*_at(TEXT, "CD", k), "Disease") for k in range(3)]
    gene_cd = Entity(*_at(TEXT, "CD", 3), "Gene")
    lower = Entity(*_at(TEXT, "cd"), "Disease")
    other = Entity(*_at(TEXT, "hamartomas"), "Disease")
    ents = [long_form, *cd, gene_cd, lower, other]
    groups = mention_groups(TEXT, ents)
    assert groups[:4] == [0, 0, 0, 0]  # "Cowden disease (CD)" defines CD: the long form and every Disease "CD" together
    assert groups[4] == 4 and groups[5] == 5 and groups[6] == 6  # another type, another case, another text: alone
    # without the definition's long form among the entities, the short forms still form one group of their own
    assert mention_groups(TEXT, cd + [other]) == [0, 0, 0, 3]
    # whitespace does not split a group; an empty document has no groups
    text = "breast  cancer and breast cancer"
    assert mention_groups(text, [Entity(0, 14, "Disease"), Entity(19, 32, "Disease")]) == [0, 0]
    assert mention_groups("", []) == []


def test_group_max_gives_each_member_its_groups_best_value() -> None:
    assert group_max([0.2, 0.9, 0.1, 0.4], [0, 0, 2, 2]) == [0.9, 0.9, 0.4, 0.4]
    with pytest.raises(ValueError):
        group_max([0.2], [0, 1])


def test_decide_keeps_a_group_together_and_lets_guarded_members_carry_it() -> None:
    ents = [Entity(*_at(TEXT, "Cowden disease"), "Disease", score=0.95), *(Entity(*_at(TEXT, "CD", k), "Disease", score=0.5) for k in range(3)),
            Entity(*_at(TEXT, "hamartomas"), "Disease", score=0.5)]
    probs = [0.3, 0.9, 0.1, 0.2, 0.2]
    assert decide(TEXT, ents, probs, threshold=0.5) == [False, True, False, False, False]
    assert decide(TEXT, ents, probs, threshold=0.5, consistent=True) == [True, True, True, True, False]
    # a guarded long form (never scored) keeps its short forms although the selector rejected every one of them
    assert decide(TEXT, ents, [None, 0.1, 0.1, 0.1, 0.9], threshold=0.5, guard=0.9, consistent=True) == [True] * 5
    with pytest.raises(ValueError, match="guard"):
        decide(TEXT, ents, [None, 0.1, 0.1, 0.1, 0.9], threshold=0.5)  # no guard: every entity needs a probability


def test_select_keeps_every_mention_of_an_accepted_group_and_says_so(tiny_encoder: Path) -> None:
    sel = Selector.create(tiny_encoder)
    ents = [Entity(*_at(TEXT, "CD", k), "Disease") for k in range(3)]
    doc = Document("d", TEXT, ents)
    probs = sel.score([(TEXT, e) for e in ents])
    cut = sorted(probs)[1] + 1e-9  # only the most probable mention reaches it
    assert sum(p >= cut for p in probs) == 1
    [alone] = sel.select([doc], threshold=cut, engine="span")
    assert len(alone.entities) == 1 and "consistent" not in alone.metadata["selector"]
    sel.settings.consistent = {"span": True}
    assert sel.consistent_for("span") and not sel.consistent_for("llm") and not sel.consistent_for(None)
    [together] = sel.select([doc], threshold=cut, engine="span")
    assert [e.key() for e in together.entities] == [e.key() for e in ents]
    assert together.metadata["selector"] == {"kept": 3, "rejected": 0, "threshold": cut, "consistent": True, "by_mention": 2}
    assert all("selector_score" in e.attrs for e in together.entities)  # each keeps its own probability
    [off] = sel.select([doc], threshold=cut, engine="span", consistent=False)
    assert len(off.entities) == 1
