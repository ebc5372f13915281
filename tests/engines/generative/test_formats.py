"""Task formats: JSON and symbolic tags, encode/decode, robustness, round trips on the corpora."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioner import corpora
from bioner.doc import Entity
from bioner.engines.generative.formats import (
    DEFAULT_POLICY,
    FORMATS,
    NONE,
    POLICIES,
    Decoded,
    JsonFormat,
    TagsFormat,
    assign_names,
    get_format,
    mark,
    parse_json_items,
    target_cost,
)
from bioner.engines.generative.samples import units
from bioner.errors import BionerError

JSON = JsonFormat()
TAGS = TagsFormat()
DIS = {"Disease": "disease"}
TWO = {"Chemical": "chemical compound or drug", "Disease": "disease"}
GENIA = {"protein": "protein", "DNA": "DNA"}


def ent(text: str, mention: str, label: str, nth: int = 0) -> Entity:
    """The ``nth`` occurrence of ``mention`` in ``text`` as an entity."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(mention, start + 1)
    return Entity(start, start + len(mention), label)


def keys(ents: Sequence[Entity]) -> Counter[tuple[int, int, str]]:
    return Counter(e.key() for e in ents)


def spans(text: str, d: Decoded) -> list[tuple[str, str]]:
    return [(text[e.start:e.end], e.label) for e in d.entities]


# ---------------------------------------------------------------- registry and labels


def test_get_format_and_unknown_name() -> None:
    assert get_format("json") is FORMATS["json"] and get_format("tags") is FORMATS["tags"]
    assert get_format("json").name == "json" and get_format("tags").name == "tags"
    with pytest.raises(BionerError) as err:
        get_format("xml")
    assert err.value.code == "E701" and "json" in str(err.value) and "tags" in str(err.value)


def test_unknown_policy() -> None:
    with pytest.raises(BionerError) as err:
        JsonFormat("nearest")
    assert err.value.code == "E703" and DEFAULT_POLICY in str(err.value)


@pytest.mark.parametrize("labels", [{"A": "gene", "B": " Gene "}, {"A": ""}, {"A": "two\nlines"}])
def test_invalid_labels(labels: dict[str, str]) -> None:
    for fmt in (JSON, TAGS):
        with pytest.raises(BionerError) as err:
            fmt.encode("x", [], labels)
        assert err.value.code == "E702"


def test_colon_in_label_only_refused_by_tags() -> None:
    labels = {"A": "gene: or protein"}
    assert JSON.encode("BRCA1", [Entity(0, 5, "A")], labels) == '[{"entity": "gene: or protein", "name": "BRCA1"}]'
    with pytest.raises(BionerError) as err:
        TAGS.encode("BRCA1", [Entity(0, 5, "A")], labels)
    assert err.value.code == "E702"


# ---------------------------------------------------------------- JSON encode


def test_json_encode_text_order_and_empty() -> None:
    text = "Cisplatin-induced nephrotoxicity and cisplatin"
    gold = [ent(text, "cisplatin", "Chemical"), ent(text, "nephrotoxicity", "Disease"), ent(text, "Cisplatin", "Chemical")]
    assert JSON.encode(text, gold, TWO) == (
        '[{"entity": "chemical compound or drug", "name": "Cisplatin"}, {"entity": "disease", "name": "nephrotoxicity"}, '
        '{"entity": "chemical compound or drug", "name": "cisplatin"}]'
    )
    assert JSON.encode(text, [], TWO) == "[]"


def test_json_encode_same_span_two_types_and_dedup() -> None:
    text = "IL-2 binds IL-2"
    gold = [Entity(0, 4, "DNA"), Entity(0, 4, "protein"), Entity(11, 15, "protein")]
    out = JSON.encode(text, gold, GENIA)
    assert json.loads(out) == [{"entity": "protein", "name": "IL-2"}, {"entity": "DNA", "name": "IL-2"}, {"entity": "protein", "name": "IL-2"}]
    dedup = JsonFormat(dedup=True).encode(text, gold, GENIA)
    assert json.loads(dedup) == [{"entity": "protein", "name": "IL-2"}, {"entity": "DNA", "name": "IL-2"}]
    assert keys(JSON.decode(text, out, GENIA).entities) == keys(gold)


def test_json_chinese_is_written_as_is() -> None:
    text = "患者肺炎，发热。"
    out = JSON.encode(text, [Entity(2, 4, "dis"), Entity(5, 7, "sym")], {"dis": "疾病", "sym": "症状"})
    assert out == '[{"entity": "疾病", "name": "肺炎"}, {"entity": "症状", "name": "发热"}]'
    d = JSON.decode(text, out, {"dis": "疾病", "sym": "症状"})
    assert spans(text, d) == [("肺炎", "dis"), ("发热", "sym")]


# ---------------------------------------------------------------- JSON decode: labels and robustness

TEXT = 'Patients with the "A" allele of BRCA1 had breast cancer; Crohn\'s disease was rare.'


def test_json_labels_case_quotes_spaces_and_type_names() -> None:
    out = '[{"entity": " Disease ", "name": "breast cancer"}, {"entity": "\'DISEASE\'", "name": "Crohn\'s disease"}, {"entity": "Disease", "name": "rare"}]'
    d = JSON.decode(TEXT, out, {"Disease": "disorder"})  # "Disease" is the type name: accepted as an alias
    assert spans(TEXT, d) == [("breast cancer", "Disease"), ("Crohn's disease", "Disease"), ("rare", "Disease")]
    d = JSON.decode(TEXT, '[{"entity": "gene", "name": "BRCA1"}, {"entity": "disease", "name": "breast cancer"}]', DIS)
    assert d.unknown_types == 1 and d.items == 2 and spans(TEXT, d) == [("breast cancer", "Disease")]


@pytest.mark.parametrize("output", [
    '```json\n[{"entity": "disease", "name": "breast cancer"}, {"entity": "disease", "name": "Crohn\'s disease"}]\n```',
    'Here are the entities:\n[{"entity": "disease", "name": "breast cancer"}, {"entity": "disease", "name": "Crohn\'s disease"}]\nI hope this helps [1].',
    "[{'entity': 'disease', 'name': 'breast cancer'}, {'entity': 'disease', 'name': 'Crohn's disease'}]",
    '[{"entity": "disease", "name": "breast cancer",}, {"entity": "disease", "name": "Crohn\'s disease"},]',
    '[{"type": "disease", "text": "breast cancer", "score": 0.9}, {"label": "disease", "mention": "Crohn\'s disease", "id": [1, {"x": 2}]}]',
    '[{"entity": "breast cancer", "type": "disease"}, {"disease": ["Crohn\'s disease"]}]',
    '[{entity: "disease", name: "breast cancer"}, {entity: disease, name: Crohn\'s disease}]',
])
def test_json_tolerates_model_habits(output: str) -> None:
    d = JSON.decode(TEXT, output, DIS)
    assert spans(TEXT, d) == [("breast cancer", "Disease"), ("Crohn's disease", "Disease")]
    assert (d.parse_failures, d.align_failures, d.unknown_types, d.truncated) == (0, 0, 0, False)


def test_json_unescaped_inner_quotes() -> None:
    out = '[{"entity": "gene", "name": "the "A" allele"}, {"entity": "gene", "name": "BRCA1"}]'
    d = JSON.decode(TEXT, out, {"GENE": "gene"})
    assert spans(TEXT, d) == [('the "A" allele', "GENE"), ("BRCA1", "GENE")]
    assert d.parse_failures == 0


def test_json_truncated_list_keeps_complete_items() -> None:
    out = '[{"entity": "disease", "name": "breast cancer"}, {"entity": "disease", "name": "Crohn'
    d = JSON.decode(TEXT, out, DIS)
    assert spans(TEXT, d) == [("breast cancer", "Disease")] and d.truncated
    # only the closing brace missing: the item is complete and kept
    d = JSON.decode(TEXT, '[{"entity": "disease", "name": "breast cancer"', DIS)
    assert spans(TEXT, d) == [("breast cancer", "Disease")] and d.truncated


def test_json_failures_are_counted_not_raised() -> None:
    d = JSON.decode(TEXT, '[{"entity": "disease"}, "breast cancer", 7, {"entity": "disease", "name": "  "}, {"entity": "disease", "name": "lupus"}]', DIS)
    assert d.entities == [] and d.items == 5 and d.parse_failures == 4 and d.align_failures == 1
    for nothing in ("", "   ", "No entities found.", "none"):
        d = JSON.decode(TEXT, nothing, DIS)
        assert d.entities == [] and d.parse_failures == 1 and d.items == 0
    d = JSON.decode(TEXT, "[]", DIS)
    assert (d.items, d.parse_failures, d.truncated) == (0, 0, False)


def test_deeply_nested_output_is_a_parse_failure() -> None:
    for out in ('[{"entity": "disease", "name": ' + "[" * 5000, '{"disease": ' + "[" * 5000 + '"x"' + "]" * 5000 + "}"):
        d = JSON.decode(TEXT, out, DIS)
        assert d.entities == [] and d.parse_failures == 1
        assert not JSON.is_complete(out)
        assert TAGS.decode(TEXT, out, DIS).entities == []
    assert JSON.decode(TEXT, "[" * 5000 + "]" * 5000, DIS).entities == []  # the innermost "[]" reads as an empty answer


def test_json_objects_without_list() -> None:
    d = JSON.decode(TEXT, '{"entity": "disease", "name": "breast cancer"}\n{"entity": "disease", "name": "Crohn\'s disease"}', DIS)
    assert [m for m, _ in spans(TEXT, d)] == ["breast cancer", "Crohn's disease"] and not d.truncated


names = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)


@given(st.lists(st.tuples(st.sampled_from(["disease", "gene"]), names), max_size=5), st.booleans())
@settings(max_examples=200, deadline=None)
def test_tolerant_scanner_reads_valid_json_like_json(items: list[tuple[str, str]], ascii_only: bool) -> None:
    """A trailing comma sends the text to the tolerant scanner; it must read what json.loads reads."""
    dumped = json.dumps([{"entity": t, "name": n} for t, n in items], ensure_ascii=ascii_only)
    broken = dumped[:-1] + (",]" if items else "]")
    got, found, closed = parse_json_items(broken)
    assert found and closed and got == items


garbage = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(['[', ']', '{', '}', '"', "'", ":", ",", "\\", " ", "\n", "entity", "name", "disease", "x", "\\u12", "```"]),
             max_size=40).map("".join),
)


@given(garbage)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decoders_never_raise(output: str) -> None:
    for fmt in (JSON, TAGS, JsonFormat("all-outside"), JsonFormat("auto")):
        d = fmt.decode(TEXT, output, DIS)
        assert isinstance(d, Decoded)
        assert all(0 <= e.start < e.end <= len(TEXT) and e.label == "Disease" for e in d.entities)
        assert d.parse_failures >= 0 and d.align_failures >= 0
        fmt.is_complete(output)


# ---------------------------------------------------------------- JSON names -> offsets


def test_policy_repeated_name_and_inside_longer_mention() -> None:
    text = "cancer risk: breast cancer and cancer"
    gold = [ent(text, "cancer", "Disease"), ent(text, "breast cancer", "Disease"), ent(text, "cancer", "Disease", 2)]
    target = JSON.encode(text, gold, DIS)
    assert keys(JSON.decode(text, target, DIS).entities) == keys(gold)  # monotone-outside skips the one inside
    wrong = JsonFormat("order").decode(text, target, DIS).entities
    assert ent(text, "cancer", "Disease", 1) in wrong  # order takes the occurrence inside "breast cancer"
    assert JSON.unrepresentable(text, gold, DIS) == Counter()
    assert JsonFormat("order").unrepresentable(text, gold, DIS) == Counter({"ambiguous name": 1})


def test_policy_nested_same_type_and_other_type() -> None:
    text = "the CD28 surface receptor binds LMP1 DNA; LMP1 protein"
    gold = [ent(text, "CD28 surface receptor", "protein"), ent(text, "CD28", "protein"),
            ent(text, "LMP1 DNA", "DNA"), ent(text, "LMP1", "protein", 1)]
    d = JSON.decode(text, JSON.encode(text, gold, GENIA), GENIA)
    assert keys(d.entities) == keys(gold)  # CD28 only occurs nested; LMP1 protein is the one outside the DNA


def test_whole_word_occurrences_preferred() -> None:
    text = "IL-2R expression needs IL-2"
    d = JSON.decode(text, '[{"entity": "protein", "name": "IL-2"}]', GENIA)
    assert [(e.start, e.end) for e in d.entities] == [(23, 27)]
    d = JsonFormat(whole_word=False).decode(text, '[{"entity": "protein", "name": "IL-2"}]', GENIA)
    assert [(e.start, e.end) for e in d.entities] == [(0, 4)]


def test_dedup_lists_all_and_auto() -> None:
    text = "BRCA1 and BRCA2; BRCA1 again"
    gold = [ent(text, "BRCA1", "GENE"), ent(text, "BRCA2", "GENE"), ent(text, "BRCA1", "GENE", 1)]
    lab = {"GENE": "gene"}
    dedup = JsonFormat(dedup=True).encode(text, gold, lab)
    assert len(json.loads(dedup)) == 2
    assert len(JSON.decode(text, dedup, lab).entities) == 2  # monotone-outside: one listing, one mention
    for policy in ("all", "all-outside", "auto"):
        assert keys(JsonFormat(policy).decode(text, dedup, lab).entities) == keys(gold)
    # auto follows the listing when the output repeats a name: BRCA2 listed once is placed once
    text2 = text + " and BRCA2"
    full = JSON.encode(text2, gold, lab)
    assert keys(JsonFormat("auto").decode(text2, full, lab).entities) == keys(gold)
    assert len(JsonFormat("all-outside").decode(text2, full, lab).entities) == 4


def test_name_lookup_fallbacks_and_failures() -> None:
    text = "Familial breast cancer (BRCA)"
    got, failures = assign_names(text, [("Disease", " Breast  Cancer "), ("Disease", "lung cancer"), ("Disease", "BRCA"), ("Disease", "BRCA")])
    assert [text[e.start:e.end] for e in got] == ["breast cancer", "BRCA"]
    assert failures == 2  # not in the text; listed twice but occurs once
    for policy in POLICIES:
        ents, fails = assign_names(text, [("Disease", "breast cancer")], policy)
        assert [text[e.start:e.end] for e in ents] == ["breast cancer"] and fails == 0


def test_json_unrepresentable_reasons() -> None:
    text = "breast and ovarian cancer; cancer"
    gold = [Entity.from_fragments([(0, 6), (19, 25)], "Disease"), Entity(11, 25, "Disease"), Entity(11, 25, "Disease"),
            Entity(19, 25, "Species"), Entity(27, 33, "Disease")]
    lost = JSON.unrepresentable(text, gold, DIS)
    assert lost == Counter({"discontinuous": 1, "duplicate": 1, "unlisted type": 1})
    assert "breast" not in JSON.encode(text, gold, DIS)


# ---------------------------------------------------------------- tags encode


def test_tags_encode_nested_types_order_and_none() -> None:
    text = "The CD28 surface receptor and IL-2 gene"
    gold = [ent(text, "IL-2 gene", "DNA"), ent(text, "CD28", "protein"), ent(text, "CD28 surface receptor", "protein"),
            ent(text, "IL-2", "protein"), ent(text, "CD28 surface receptor", "DNA")]
    assert TAGS.encode(text, gold, GENIA) == (
        "protein: The [[CD28] surface receptor] and [IL-2] gene\n"
        "DNA: The [CD28 surface receptor] and [IL-2 gene]"
    )
    assert TAGS.encode(text, [], GENIA) == NONE
    assert TAGS.encode(text, [ent(text, "IL-2", "cell_type")], GENIA) == NONE  # a type not asked for
    assert keys(TAGS.decode(text, TAGS.encode(text, gold, GENIA), GENIA).entities) == keys(gold)


def test_tags_adjacent_mentions() -> None:
    text = "ab"
    gold = [Entity(0, 1, "protein"), Entity(1, 2, "protein"), Entity(0, 2, "protein")]
    out = TAGS.encode(text, gold, GENIA)
    assert out == "protein: [[a][b]]"
    assert keys(TAGS.decode(text, out, GENIA).entities) == keys(gold)


def test_tags_literal_brackets_and_backslashes() -> None:
    text = "[3H]thymidine in a\\b and x\\[y] end\\"
    gold = [ent(text, "[3H]thymidine", "protein"), ent(text, "a\\", "protein"), ent(text, "\\[y]", "protein"), ent(text, "end\\", "protein")]
    out = TAGS.encode(text, gold, GENIA)
    assert out == "protein: [\\[3H\\]thymidine] in [a\\\\]b and x[\\\\\\[y\\]] [end\\\\]"
    assert keys(TAGS.decode(text, out, GENIA).entities) == keys(gold)
    # a lone backslash before an ordinary character is copied as is
    assert mark("C:\\temp", []) == "C:\\temp"


def test_tags_line_breaks_copied_as_spaces() -> None:
    text = "heart\nfailure and\r\nstroke"
    gold = [Entity(0, 13, "Disease"), ent(text, "stroke", "Disease")]
    out = TAGS.encode(text, gold, DIS)
    assert out == "disease: [heart failure] and  [stroke]" and "\n" not in out
    assert keys(TAGS.decode(text, out, DIS).entities) == keys(gold)


def test_tags_unrepresentable_reasons() -> None:
    text = "abc def ghi"
    gold = [Entity(0, 7, "protein"), Entity(4, 11, "protein"), Entity(4, 11, "DNA"), Entity(3, 7, "DNA"),
            Entity.from_fragments([(0, 3), (8, 11)], "protein"), Entity(0, 3, "RNA")]
    lost = TAGS.unrepresentable(text, gold, GENIA)
    assert lost == Counter({"crossing": 1, "discontinuous": 1, "unlisted type": 1, "edge whitespace": 1})
    out = TAGS.encode(text, gold, GENIA)
    assert out == "protein: [abc def] ghi\nDNA: abc [def ghi]"


# ---------------------------------------------------------------- tags decode


SENT = "Mutations in BRCA1 cause breast cancer in women."


def test_tags_changed_dropped_and_extra_words() -> None:
    lab = {"GENE": "gene", "Disease": "disease"}
    out = "gene: Mutation in [BRCA1] causes breast cancer in women.\ndisease: Mutations in BRCA1  cause [ breast  cancer ] in woman"
    d = TAGS.decode(SENT, out, lab)
    assert spans(SENT, d) == [("BRCA1", "GENE"), ("breast cancer", "Disease")]
    assert (d.parse_failures, d.align_failures, d.unknown_types) == (0, 0, 0)
    # a dropped word before the mention, and a changed word inside it
    d = TAGS.decode(SENT, "disease: Mutations in BRCA1 cause [breast tumour] in women.", lab)
    assert spans(SENT, d) == [("breast cancer", "Disease")]


def test_tags_boundary_in_a_changed_region_is_an_align_failure() -> None:
    lab = {"GENE": "gene"}
    # "BRCA1" rewritten as "BRxyzw": the span ends inside a substitution of another length ("xyzw" for "CA1")
    d = TAGS.decode(SENT, "gene: Mutations in [BRxy]zw cause breast cancer in women.", lab)
    assert d.entities == [] and d.align_failures == 1 and d.items == 1
    # a boundary on the edge of a changed region maps: the model bracketed "BRCA" and rewrote the "1"
    d = TAGS.decode(SENT, "gene: Mutations in [BRCA]-one cause breast cancer in women.", lab)
    assert spans(SENT, d) == [("BRCA", "GENE")]


def test_tags_model_forgot_to_escape() -> None:
    text = "Uptake of [3H]thymidine rose."
    d = TAGS.decode(text, "chemical: Uptake of [[3H]thymidine] rose.", {"Chemical": "chemical"})
    assert spans(text, d) == [("[3H]thymidine", "Chemical")]
    d = TAGS.decode(text, "chemical: Uptake of [3H]thymidine went up.", {"Chemical": "chemical"})
    assert d.entities == []  # no markup left once the text's own brackets are read as text


def test_tags_chinese_alignment() -> None:
    text = "患者出现发热和咳嗽，诊断为肺炎。"
    lab = {"sym": "症状", "dis": "疾病"}
    gold = [ent(text, "发热", "sym"), ent(text, "咳嗽", "sym"), ent(text, "肺炎", "dis")]
    out = TAGS.encode(text, gold, lab)
    assert out == "症状: 患者出现[发热]和[咳嗽]，诊断为肺炎。\n疾病: 患者出现发热和咳嗽，诊断为[肺炎]。"
    assert keys(TAGS.decode(text, out, lab).entities) == keys(gold)
    # the model changed and dropped characters elsewhere, and added spaces
    d = TAGS.decode(text, "症状: 病人出现 [发热] 与[咳嗽]，诊断肺炎\n疾病: 患者出现发热和咳嗽，诊断为 [ 肺炎 ] 。", lab)
    assert spans(text, d) == [("发热", "sym"), ("咳嗽", "sym"), ("肺炎", "dis")] and d.align_failures == 0


def test_tags_lines_labels_and_failures() -> None:
    lab = {"GENE": "gene", "Disease": "disease"}
    out = "Here is the answer\n**Disease**: Mutations in BRCA1 cause [breast cancer] in women.\nspecies: in [women]\ngene: [BRCA1]] cause [breast"
    d = TAGS.decode(SENT, out, lab)
    assert spans(SENT, d) == [("BRCA1", "GENE"), ("breast cancer", "Disease")]
    assert d.unknown_types == 1  # the species line's one mention
    assert d.parse_failures == 3  # the prose line, one stray ']' and one unclosed '['
    assert d.truncated  # the last line stops inside a bracket
    assert d.items == 5
    for out in ("none", "None.", "NONE\n"):
        d = TAGS.decode(SENT, out, lab)
        assert d.entities == [] and d.parse_failures == 0
    assert TAGS.decode(SENT, "", lab).parse_failures == 1
    d = TAGS.decode(SENT, "gene: Mutations in [BRCA1] ca", lab)
    assert spans(SENT, d) == [("BRCA1", "GENE")] and d.truncated
    assert not TAGS.decode(SENT, "gene: Mutations in [BRCA1] cause breast cancer in women", lab).truncated  # only the '.' left out


# ---------------------------------------------------------------- round trip properties

texts = st.lists(st.sampled_from(list("ab [],\\\n中文 ") + ["xyz", "[3H]", "\\[", "肺炎"]), min_size=1, max_size=20).map("".join)


@st.composite
def laminar(draw: st.DrawFn) -> tuple[str, list[Entity]]:
    """A text and, per type, nested-or-disjoint spans without whitespace at their edges."""
    text = draw(texts)
    ents: list[Entity] = []
    for label in ("protein", "DNA"):
        for _ in range(draw(st.integers(0, 4))):
            s = draw(st.integers(0, len(text) - 1))
            e = draw(st.integers(s + 1, len(text)))
            if text[s].isspace() or text[e - 1].isspace():
                continue
            cand = Entity(s, e, label)
            if all(not (x.label == label and x.overlaps(cand) and not (x.contains(cand) or cand.contains(x))) and x.key() != cand.key() for x in ents):
                ents.append(cand)
    return text, ents


@given(laminar())
@settings(max_examples=300, deadline=None)
def test_tags_round_trip_property(case: tuple[str, list[Entity]]) -> None:
    text, gold = case
    out = TAGS.encode(text, gold, GENIA)
    assert TAGS.is_complete(out + "\n\n")
    d = TAGS.decode(text, out, GENIA)
    assert keys(d.entities) == keys(gold)
    assert (d.parse_failures, d.align_failures, d.unknown_types, d.truncated) == (0, 0, 0, False)
    assert TAGS.unrepresentable(text, gold, GENIA) == Counter()


@given(laminar())
@settings(max_examples=200, deadline=None)
def test_json_round_trip_loses_only_what_it_reports(case: tuple[str, list[Entity]]) -> None:
    text, gold = case
    out = JSON.encode(text, gold, GENIA)
    assert JSON.is_complete(out)
    d = JSON.decode(text, out, GENIA)
    missing = sum((keys(gold) - keys(d.entities)).values())
    assert JSON.unrepresentable(text, gold, GENIA).get("ambiguous name", 0) == missing
    assert (d.parse_failures, d.unknown_types, d.truncated) == (0, 0, False)


# ---------------------------------------------------------------- completion


def test_json_is_complete() -> None:
    full = '```json\n[{"entity": "disease", "name": "a ] b [c"}]'
    assert JSON.is_complete(full) and JSON.is_complete("[]") and JSON.is_complete("Answer [1]: []")
    for k in range(len(full)):
        assert not JSON.is_complete(full[:k])
    assert not JSON.is_complete("See [1] and [2].")
    assert JSON.is_complete("[{'entity': 'disease', 'name': \"Crohn's\"}]")


def test_tags_is_complete() -> None:
    assert not TAGS.is_complete("none") and TAGS.is_complete("none\n")
    assert not TAGS.is_complete("disease: [a] b\n") and not TAGS.is_complete("disease: [a] b\ngene: c")
    assert TAGS.is_complete("disease: [a] b\n\n")
    assert TAGS.is_complete("disease: [a] b\nThat is all.\n")
    assert TAGS.is_complete("disease: [a] b\ngene: [c]\nDisease: [a] b\n")  # the model started over
    assert not TAGS.is_complete("Sure, here it is\ndisease: [a]")


# ---------------------------------------------------------------- costs


def test_target_cost_counts() -> None:
    samples = [("BRCA1 here", [Entity(0, 5, "GENE")]), ("nothing", [])]
    total, ents = target_cost(TAGS, samples, {"GENE": "gene"})
    assert (total, ents) == (len("gene: [BRCA1] here") + len("none"), 1)
    total, _ = target_cost(JSON, samples, {"GENE": "gene"}, count=lambda s: s.count("{"))
    assert total == 1


# ---------------------------------------------------------------- the corpora


@pytest.mark.parametrize(("name", "split"), [("ncbi-disease", "test"), ("linnaeus", "dev"), ("genia", "dev"), ("cmeee", "dev"), ("bc5cdr", "dev")])
def test_corpus_round_trip(data_dir: Path, name: str, split: str) -> None:
    """Tags give every unit back exactly; JSON loses only what unrepresentable() reports (few)."""
    corpus = corpora.load(name, split, root=data_dir)
    labels = corpora.get(name).natural_labels
    n_units = exact_json = n_ents = 0
    for doc in corpus:
        for u in units(doc):
            n_units += 1
            n_ents += len(u.entities)
            d = TAGS.decode(u.text, TAGS.encode(u.text, u.entities, labels), labels)
            assert keys(d.entities) == keys(u.entities), (doc.id, u.text)
            d = JSON.decode(u.text, JSON.encode(u.text, u.entities, labels), labels)
            missing = sum((keys(u.entities) - keys(d.entities)).values())
            assert JSON.unrepresentable(u.text, u.entities, labels) == (Counter({"ambiguous name": missing}) if missing else Counter())
            exact_json += keys(d.entities) == keys(u.entities)
    assert n_units > 500 and n_ents > 500
    assert exact_json / n_units > 0.96
