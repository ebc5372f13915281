"""Abbreviation definitions (Schwartz & Hearst, with offsets) and entity labels propagated across them."""

from __future__ import annotations

import pytest

from bioner.abbreviations import SOURCE, best_long_form, find_abbreviations, propagate, propagate_all
from bioner.doc import Document, Entity


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(a.short_text(text), a.long_text(text)) for a in find_abbreviations(text)]


@pytest.mark.parametrize(("text", "pairs"), [
    ("Patients with acute myocardial infarction (MI) were seen.", [("MI", "myocardial infarction")]),
    ("We measured TNF (tumor necrosis factor) levels.", [("TNF", "tumor necrosis factor")]),  # short form first
    ("Heat shock protein (HSP; 70 kDa) was induced.", [("HSP", "Heat shock protein")]),  # cut at ; or ,
    ("Both 5-fluorouracil (5-FU) and interleukin-6 ( IL-6 ) rose.", [("5-FU", "5-fluorouracil"), ("IL-6", "interleukin-6")]),
    ("Results (n = 5) were significant (p < 0.05; see above), as in Fig. 2 (Fig. 2).", []),
    ("It was seen. (MI) in others.", []),  # no long form before the parenthesis in its sentence
])
def test_definitions_and_their_offsets(text: str, pairs: list[tuple[str, str]]) -> None:
    assert _pairs(text) == pairs


def test_long_form_never_crosses_a_sentence() -> None:
    text = "It was seen in many. Infarction (MI) was rare."
    assert find_abbreviations(text) == []  # no word of its own sentence starts with M
    [ab] = find_abbreviations(text, sentences=[(0, len(text))])  # one sentence given: "many." joins the long form
    assert ab.long_text(text) == "many. Infarction"


def test_best_long_form_needs_the_first_letter_at_a_word_start() -> None:
    long = "the exposure to high temperatures"
    assert best_long_form("HT", long) == long.index("high")
    assert best_long_form("XQ", long) is None


TEXT = "Acute myocardial infarction (MI) after cocaine (COC). MI and inf-MI and MIs; MI again. COC use."


def test_propagate_adds_every_whole_word_occurrence_with_the_long_forms_type() -> None:
    mi = TEXT.index("myocardial")
    doc = Document("d", TEXT, [Entity(0, mi + 21, "Disease", score=0.9)])  # "Acute myocardial infarction": ends where the long form does
    out = propagate(doc)
    added = [(TEXT[e.start:e.end], e.label, e.score, e.source) for e in out.entities if e.source == SOURCE]
    assert added == [("MI", "Disease", 0.9, SOURCE)] * 3  # in the parentheses, then "MI and", "MI again"; not inf-MI or MIs
    assert [TEXT[e.start:e.end] for e in out.entities].count("COC") == 0  # cocaine is no entity: nothing to propagate


def test_propagate_relabels_skips_overlaps_and_optionally_removes() -> None:
    mi = TEXT.index("myocardial")
    first_mi, second_mi = TEXT.index("MI"), TEXT.index("MI and")
    coc = TEXT.index("COC")
    inf = TEXT.index("inf-MI")
    ents = [Entity(mi, mi + 21, "Disease"), Entity(second_mi, second_mi + 2, "Chemical"), Entity(inf, inf + 6, "Disease"),
            Entity(coc, coc + 3, "Disease")]
    out = propagate(Document("d", TEXT, ents))
    labels = {(e.start, e.end): e.label for e in out.entities}
    assert labels[(second_mi, second_mi + 2)] == "Disease"  # relabelled to the long form's type
    assert labels[(first_mi, first_mi + 2)] == "Disease"
    assert labels[(inf, inf + 6)] == "Disease" and (inf + 4, inf + 6) not in labels  # "MI" inside a longer mention is left alone
    assert labels[(coc, coc + 3)] == "Disease"  # without remove=, an entity on a short form whose long form is no entity stays
    removed = propagate(Document("d", TEXT, ents), remove=True)
    assert (coc, coc + 3) not in {(e.start, e.end) for e in removed.entities}
    assert propagate_all([Document("d", TEXT, ents)], remove=True) == [removed]


def test_propagate_keeps_documents_without_definitions_unchanged() -> None:
    doc = Document("d", "No abbreviations here, only cancer.", [Entity(28, 34, "Disease")])
    assert propagate(doc) == doc


def test_a_short_form_inside_a_longer_mention_is_left_to_it() -> None:
    text = "Schwartz-Jampel syndrome (SJS) is rare. SJS type 2 differs from SJS."
    ents = [Entity(0, 24, "Disease"), Entity(40, 50, "Disease")]  # "SJS type 2" is one mention
    out = propagate(Document("d", text, ents))
    assert [text[e.start:e.end] for e in out.entities] == ["Schwartz-Jampel syndrome", "SJS", "SJS type 2", "SJS"]


def test_many_definitions_in_one_long_text() -> None:
    parts, ents, pos = [], [], 0
    for k in range(300):
        head = f"Acute bad illness {k}"
        sentence = f"{head} (ABI{k}) was seen; ABI{k} and ABI{k} type 2 again. "
        ents.append(Entity(pos, pos + len(head), "Disease"))
        tail = sentence.index(f"ABI{k} type 2")
        ents.append(Entity(pos + tail, pos + tail + len(f"ABI{k} type 2"), "Disease"))
        parts.append(sentence)
        pos += len(sentence)
    text = "".join(parts)
    out = propagate(Document("d", text, ents))
    added = [e for e in out.entities if e.source == SOURCE]
    assert len(added) == 600 and {text[e.start:e.end] for e in added} == {f"ABI{k}" for k in range(300)}
