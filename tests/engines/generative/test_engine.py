from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from bioner.doc import Document, Entity
from bioner.engines.generative.backends import Backend, Generation
from bioner.engines.generative.engine import LLMEngine
from bioner.engines.generative.prompts import Prompt, TypeSpec
from bioner.errors import BionerError

TEXT = "Germline mutations in BRCA1 predispose to breast cancer.\nTamoxifen lowers the risk of breast cancer."


class Scripted(Backend):
    """Answers each prompt by looking its text up in ``answers`` (our own interface, not a server)."""

    def __init__(self, answers: dict[str, str], fail: Sequence[str] = ()) -> None:
        self.answers = answers
        self.fail = set(fail)
        self.seen: list[Prompt] = []

    def generate(self, prompts: Sequence[Prompt], *, max_new_tokens: int, is_complete: Callable[[str], bool] | None = None,
                 stop: Sequence[str] = ()) -> list[Generation]:
        out = []
        for p in prompts:
            self.seen.append(p)
            unit = p.text.rsplit("Text: ", 1)[1].split("\nAnswer:", 1)[0]
            if unit in self.fail:
                out.append(Generation("", 10, 0, "error", error="HTTP 503"))
            else:
                ans = self.answers.get(unit, "[]")
                out.append(Generation(ans, 10, len(ans.split()), "stop"))
        return out


def test_entities_come_back_at_document_offsets_with_stats() -> None:
    answers = {
        "Germline mutations in BRCA1 predispose to breast cancer.": '[{"entity": "gene", "name": "BRCA1"}, {"entity": "disease", "name": "breast cancer"}]',
        "Tamoxifen lowers the risk of breast cancer.": '```json\n[{"entity": "disease", "name": "breast cancer"}, {"entity": "planet", "name": "Mars"}, {"entity": "disease", "name": "gout"}]\n```',
    }
    backend = Scripted(answers)
    engine = LLMEngine(backend, "json", name="llm:test")
    [doc] = engine.predict([Document("d", TEXT)], {"GENE": "gene", "Disease": "disease"})
    got = [(e.start, e.end, e.label, TEXT[e.start:e.end]) for e in doc.entities]
    second = TEXT.index("breast cancer", 60)
    assert got == [(22, 27, "GENE", "BRCA1"), (42, 55, "Disease", "breast cancer"), (second, second + 13, "Disease", "breast cancer")]
    assert all(e.source == "llm:test" for e in doc.entities)
    st = engine.last
    assert (st.units, st.entities, st.unknown_types, st.align_failures) == (2, 3, 1, 1)
    assert len(backend.seen) == 2 and "- gene: A gene, or the protein" in backend.seen[0].text  # the user's word borrows the registry definition


def test_tags_scheme_nested_and_backend_errors_counted() -> None:
    text = "CD28 surface receptor binds B7. Nothing here."
    answers = {"CD28 surface receptor binds B7.": "protein: [[CD28] surface receptor] binds [B7]."}
    engine = LLMEngine(Scripted(answers, fail=["Nothing here."]), "tags")
    [doc] = engine.predict([Document("d", text)], ["protein"])
    assert [(e.start, e.end) for e in doc.entities] == [(0, 21), (0, 4), (28, 30)]  # outer first at equal start
    assert engine.last.errors == 1 and engine.stats.errors == 1
    engine.predict([Document("d2", text)], ["protein"])
    assert engine.stats.units == 4 and engine.stats.errors == 2  # summed over calls


def test_bad_types_and_scheme_raise_before_any_generation() -> None:
    backend = Scripted({})
    with pytest.raises(BionerError, match="E701"):
        LLMEngine(backend, "xml")
    engine = LLMEngine(backend, "json")
    with pytest.raises(BionerError, match="E605"):
        engine.predict([Document("d", "x")], [])
    with pytest.raises(BionerError, match="E605"):
        engine.predict([Document("d", "x")], [TypeSpec("A", "gene"), TypeSpec("B", "Gene")])
    assert backend.seen == []


def test_documents_without_text_and_many_documents_keep_order() -> None:
    docs = [Document(f"d{i}", f"Patient {i} had gout.") for i in range(5)] + [Document("empty", "")]
    answers = {f"Patient {i} had gout.": '[{"entity": "disease", "name": "gout"}]' for i in range(5)}
    out = list(LLMEngine(Scripted(answers), "json").iter_predict(docs, ["Disease"], block=2))
    assert [d.id for d in out] == [d.id for d in docs]
    assert [len(d.entities) for d in out] == [1, 1, 1, 1, 1, 0]
    assert out[3].entities[0] == Entity(out[3].text.index("gout"), out[3].text.index("gout") + 4, "Disease", source="llm")
