"""The ``bioner`` spaCy component, run with the shipped span model on spacy.blank("en")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import spacy  # the `spacy` extra: a missing install fails here rather than skipping

import bioner.models
from bioner.doc import Document, Entity
from bioner.errors import BionerError
from bioner.spacy_component import BionerComponent, set_annotations

BRCA = "Germline mutations in BRCA1 predispose to early-onset breast cancer."
CD28 = "Activation of the CD28 surface receptor in human T lymphocytes induces the IL-2 promoter."
# natural-language prompts, one pass per label: what the shipped model finds BRCA1 with
BRCA_CONFIG: dict[str, Any] = {"labels": {"disease": "disease", "gene": "gene or gene product"}, "per_label": True}
GENIA_CONFIG: dict[str, Any] = {"labels": ["DNA", "protein", "cell type"], "threshold": 0.4, "nested": True}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def keys(spans: Any) -> list[tuple[int, int, str]]:
    return [(s.start_char, s.end_char, s.label_) for s in spans]


def reference(text: str, config: dict[str, Any]) -> list[Entity]:
    """What bioner itself predicts for ``text`` with the component's settings."""
    return bioner.models.extract(text, config["labels"], threshold=config.get("threshold"), flat=not config.get("nested", False),
                                 per_label=config.get("per_label"))[0].entities


def test_brca1_flat_predictions() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("bioner", config=BRCA_CONFIG)
    doc = nlp(BRCA)
    assert [(e.text, e.label_) for e in doc.ents] == [("BRCA1", "gene"), ("breast cancer", "disease")]
    ref = reference(BRCA, BRCA_CONFIG)
    assert keys(doc.ents) == [e.key() for e in ref]  # same character offsets as bioner extract
    group = doc.spans["bioner"]
    assert keys(group) == keys(doc.ents)
    assert group.attrs["scores"] == pytest.approx([e.score for e in ref])
    assert group.attrs["char_offsets"] == [[e.start, e.end] for e in ref] and group.attrs["unaligned"] == []
    assert [e._.bioner_score for e in doc.ents] == pytest.approx([e.score for e in ref])
    assert all(s > 0.5 for s in group.attrs["scores"])


def test_nested_entities_kept_in_span_group() -> None:
    nlp = spacy.blank("en")
    component = nlp.add_pipe("bioner", config=GENIA_CONFIG)
    assert isinstance(component, BionerComponent)
    doc = nlp(CD28)
    ref = reference(CD28, GENIA_CONFIG)
    group = doc.spans["bioner"]
    assert keys(group) == [e.key() for e in ref]
    found = {(s.text, s.label_) for s in group}
    assert {("CD28 surface receptor", "protein"), ("CD28", "protein"), ("IL-2 promoter", "DNA")} <= found
    inner = [s for s in group if any(o is not s and o.start <= s.start and s.end <= o.end and len(o) > len(s) for o in group)]
    assert inner, "no nested span in the group"
    # doc.ents: flat, highest score first -> here the outer spans
    ents = list(doc.ents)
    assert all(a.end <= b.start for a, b in zip(ents, ents[1:]))
    assert ("CD28 surface receptor", "protein") in {(e.text, e.label_) for e in ents}
    assert ("CD28", "protein") not in {(e.text, e.label_) for e in ents}
    assert set(keys(ents)) <= set(keys(group)) and len(ents) < len(group)
    assert component.counts["entities"] == len(group) and component.counts["expanded"] == 0


def test_pipe_batches_and_matches_per_doc(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [BRCA, "", CD28, "Cisplatin-induced nephrotoxicity in mice.", "IL-2 gene expression requires NF-kappa B and CD28."]
    nlp = spacy.blank("en")
    nlp.add_pipe("bioner", config=GENIA_CONFIG)
    single = [nlp(t) for t in texts]
    calls: list[int] = []
    real = bioner.models.extract

    def counting(docs: list[Document], *args: Any, **kw: Any) -> list[Document]:
        calls.append(len(docs))
        return real(docs, *args, **kw)

    monkeypatch.setattr(bioner.models, "extract", counting)
    batched = list(nlp.pipe(texts, batch_size=2))
    assert calls == [2, 2, 1]  # one model call per batch of documents
    assert [d.text for d in batched] == texts
    for a, b in zip(single, batched):
        assert keys(a.ents) == keys(b.ents)
        assert keys(a.spans["bioner"]) == keys(b.spans["bioner"])
        assert a.spans["bioner"].attrs["scores"] == pytest.approx(b.spans["bioner"].attrs["scores"], abs=1e-4)
    assert len(single[1].spans["bioner"]) == 0 and single[1].ents == ()
    assert sum(len(d.spans["bioner"]) for d in batched) >= 6


def test_misaligned_entities_are_expanded_or_listed_never_dropped() -> None:
    nlp = spacy.blank("en")
    doc = nlp("BRCA1/2  carriers")  # spaCy: "BRCA1/2", " ", "carriers"
    ents = [Entity(0, 5, "gene", score=0.9), Entity(7, 8, "odd", score=0.4), Entity(9, 17, "group", score=0.7)]
    counts = set_annotations(doc, ents, "k")
    assert counts == {"entities": 3, "expanded": 1, "unaligned": 1}
    group = doc.spans["k"]
    assert [(s.text, s.label_) for s in group] == [("BRCA1/2", "gene"), ("carriers", "group")]
    assert group.attrs["char_offsets"] == [[0, 5], [9, 17]]  # the model's own offsets are kept
    assert group.attrs["unaligned"] == [{"start": 7, "end": 8, "label": "odd", "score": 0.4}]
    assert [(e.text, e.label_) for e in doc.ents] == [("BRCA1/2", "gene"), ("carriers", "group")]


def test_flat_selection_is_by_score_and_order_free() -> None:
    nlp = spacy.blank("en")
    text = "IL-2 gene expression in T cells"
    ents = [Entity(0, 4, "protein", score=0.9), Entity(0, 9, "DNA", score=0.6), Entity(5, 20, "x", score=0.95), Entity(24, 31, "cell", score=0.5)]
    results = []
    for order in (ents, ents[::-1], [ents[2], ents[0], ents[3], ents[1]]):
        doc = nlp(text)
        set_annotations(doc, order)
        results.append((keys(doc.ents), keys(doc.spans["bioner"])))
        assert len(doc.spans["bioner"]) == 4
    assert results[0] == results[1] == results[2]
    assert [lab for _, _, lab in results[0][0]] == ["protein", "x", "cell"]  # x (0.95) beats DNA (0.6), which overlaps it
    # same start, end, label on two spans is fine for the score lookup
    doc = nlp(text)
    set_annotations(doc, [Entity(0, 4, "protein", score=0.9), Entity(0, 4, "gene", score=0.3)])
    assert sorted((s.label_, s._.bioner_score) for s in doc.spans["bioner"]) == [("gene", 0.3), ("protein", 0.9)]


def test_config_errors_at_add_pipe(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    with pytest.raises(BionerError) as exc:
        nlp.add_pipe("bioner", config={"engine": "crf"})
    assert exc.value.code == "E602"
    with pytest.raises(BionerError) as exc:
        nlp.add_pipe("bioner", config={"model": str(tmp_path / "missing")})
    assert exc.value.code == "E601"
    with pytest.raises(ValueError):
        nlp.add_pipe("bioner", config={"labels": []})
    with pytest.raises(ValueError):
        nlp.add_pipe("bioner", config={"threshold": 1.5})
    assert nlp.pipe_names == []
    # a "disease,gene" string is parsed as --labels does
    component = nlp.add_pipe("bioner", config={"labels": "Disease=disease,gene"})
    assert isinstance(component, BionerComponent) and component.labels == {"Disease": "disease", "gene": "gene"}


def test_serialization_round_trip(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("bioner", config=BRCA_CONFIG)
    doc = nlp(BRCA)
    again = spacy.tokens.Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert keys(again.spans["bioner"]) == keys(doc.spans["bioner"]) and keys(again.ents) == keys(doc.ents)
    assert [e._.bioner_score for e in again.ents] == pytest.approx([e._.bioner_score for e in doc.ents])
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")  # the config names the factory and its settings
    restored = loaded.get_pipe("bioner")
    assert loaded.pipe_names == ["bioner"] and isinstance(restored, BionerComponent) and restored.labels == BRCA_CONFIG["labels"]
    assert keys(loaded(BRCA).ents) == keys(doc.ents)


def test_factory_found_through_the_entry_point(tmp_path: Path) -> None:
    """The pyproject entry point (spacy_factories: bioner = bioner.spacy_component:make_bioner) is
    enough: spaCy imports the module itself. An installed stand-in dist-info declares it here."""
    dist = tmp_path / "bioner_spacy_probe-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bioner-spacy-probe\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[spacy_factories]\nbioner = bioner.spacy_component:make_bioner\n")
    code = textwrap.dedent("""
        import sys, spacy
        assert "bioner.spacy_component" not in sys.modules
        nlp = spacy.blank("en")
        nlp.add_pipe("bioner", config={"labels": ["disease"]})
        print(nlp.pipe_names, "bioner.spacy_component" in sys.modules)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['bioner'] True"
