"""GENIA 3.02 XML: unit tests on tiny XML, then the corpus (read once per module)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bioner.doc import Document, Passage
from bioner.errors import BionerError, Report
from bioner.io import genia

ARTICLE = """<article>
<articleinfo>
<bibliomisc>MEDLINE:{id}</bibliomisc>
</articleinfo>
<title>
<sentence><cons lex="IL-2_gene" sem="G#DNA_domain_or_region"><cons lex="IL-2" sem="G#protein_molecule">IL-2</cons> gene</cons> &amp; <cons lex="T_cell" sem="G#cell_type">T cells</cons>.</sentence>
</title>
<abstract>
<sentence>We saw <cons lex="(AND CD2_receptor CD25_receptor)" sem="(AND G#protein_molecule G#protein_molecule)"><cons lex="CD2*">CD2</cons> and <cons lex="CD25*">CD25</cons> <cons lex="*receptor">receptors</cons></cons>.</sentence>
<sentence>No <cons lex="virus" sem="G#virus">virus</cons>  here; <cons sem="G#protein_family_or_group"><cons sem="G#protein_molecule">NF-kB</cons></cons>.</sentence>
</abstract>
</article>
"""


def xml(tmp: Path, *articles: str) -> Path:
    path = tmp / "tiny.xml"
    body = "\n".join(articles)
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE set SYSTEM "gpml.dtd">\n<set>\n<import resource="GENIAontology.daml" prefix="G"></import>\n{body}\n</set>\n')
    return path


def spans(doc: Document) -> list[tuple[str, str]]:
    return [(doc.text[e.start:e.end], e.label) for e in doc.entities]


def test_text_rule_sentences_passages_and_nesting(tmp_path: Path) -> None:
    report, dropped = Report(), Counter[str]()
    (doc,) = genia.read(xml(tmp_path, ARTICLE.format(id="1")), report=report, dropped=dropped)
    title = "IL-2 gene & T cells."
    s1, s2 = "We saw CD2 and CD25 receptors.", "No virus  here; NF-kB."
    assert doc.id == "MEDLINE:1"
    assert doc.text == f"{title}\n{s1} {s2}"
    assert doc.passages == [Passage(0, len(title), "title"), Passage(len(title) + 1, len(doc.text), "abstract")]
    assert [doc.text[s:e] for s, e in doc.sentences or ()] == [title, s1, s2]
    # outer first; the coordination is dropped, and NF-kB is protein twice (once kept)
    assert spans(doc) == [("IL-2 gene", "DNA"), ("IL-2", "protein"), ("T cells", "cell_type"), ("NF-kB", "protein")]
    assert doc.entities[0].attrs == {"sem": "G#DNA_domain_or_region"}
    assert doc.entities[3].attrs == {"sem": "G#protein_family_or_group"}
    assert dropped == {"(no sem)": 3, "(AND G#protein_molecule G#protein_molecule)": 1, "G#virus": 1, "(duplicate protein)": 1}
    assert report.counts == {"W220": 2, "W221": 1}
    assert all(i.line is not None and i.file for i in report.issues)


def test_mapping_options(tmp_path: Path) -> None:
    path = xml(tmp_path, ARTICLE.format(id="1"))
    (doc,) = genia.read(path, coordination="same-type", report=Report())
    assert ("CD2 and CD25 receptors", "protein") in spans(doc)
    (doc,) = genia.read(path, mapping="none", report=Report())
    assert ("virus", "G#virus") in spans(doc) and doc.entities[0].attrs == {}
    assert ("NF-kB", "G#protein_molecule") in spans(doc) and ("NF-kB", "G#protein_family_or_group") in spans(doc)
    (doc,) = genia.read(path, mapping={"G#cell_type": "Cell", "G#virus": None}, report=Report())
    assert spans(doc) == [("T cells", "Cell")]
    (doc,) = genia.read(path, keep_unmapped=True, report=Report())
    assert ("virus", "G#virus") in spans(doc) and ("IL-2", "protein") in spans(doc)
    with pytest.raises(ValueError, match="5types"):
        genia.read(path, mapping="six")  # type: ignore[arg-type]  # raises before reading


def test_duplicate_id_renamed(tmp_path: Path) -> None:
    report = Report()
    docs = list(genia.read(xml(tmp_path, ARTICLE.format(id="7"), ARTICLE.format(id="7"), ARTICLE.format(id="7")), report=report))
    assert [d.id for d in docs] == ["MEDLINE:7", "MEDLINE:7#2", "MEDLINE:7#3"]
    assert report.counts["W213"] == 2


def test_bad_articles_are_e201_and_skippable(tmp_path: Path) -> None:
    no_id = ARTICLE.format(id="1").replace("<bibliomisc>MEDLINE:1</bibliomisc>", "")
    stray = ARTICLE.format(id="2").replace("<abstract>\n", "<abstract>\nstray text\n")
    path = xml(tmp_path, no_id, stray, ARTICLE.format(id="3"))
    with pytest.raises(BionerError) as exc:
        list(genia.read(path))
    assert exc.value.code == "E201" and exc.value.file == str(path) and exc.value.line == 5  # the <article> line
    report = Report(skip_invalid=True)
    assert [d.id for d in genia.read(path, report=report)] == ["MEDLINE:3"]
    assert report.counts["E201"] == 2 and "stray text" in [i for i in report.issues if i.code == "E201"][1].message


def test_malformed_xml_is_e208_with_line(tmp_path: Path) -> None:
    path = xml(tmp_path, ARTICLE.format(id="1").replace("</cons> gene", "</cns> gene"))
    with pytest.raises(BionerError) as exc:
        list(genia.read(path))
    assert exc.value.code == "E208" and exc.value.line == 10  # the title sentence


def test_load_split_ids(tmp_path: Path) -> None:
    for split in genia.SPLITS:
        (tmp_path / f"{split}.txt").write_text(f"MEDLINE:1{split}\n\nMEDLINE:2{split}\n")
    assert genia.load_split_ids(tmp_path)["dev"] == ["MEDLINE:1dev", "MEDLINE:2dev"]


# ---------------------------------------------------------------- the corpus


@dataclass
class Corpus:
    docs: dict[str, Document]
    report: Report
    dropped: Counter[str]
    splits: dict[str, list[str]]


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> Corpus:
    report, dropped = Report(), Counter[str]()
    docs = list(genia.read(data_dir / "genia/original-xml/GENIAcorpus3.02.xml", report=report, dropped=dropped))
    assert len(docs) == 2000
    return Corpus({d.id: d for d in docs}, report, dropped, genia.load_split_ids(data_dir / "genia/nested-jsonlines/splits"))


def by_type(docs: list[Document]) -> dict[str, int]:
    return dict(Counter(e.label for d in docs for e in d.entities))


def test_corpus_shape(corpus: Corpus) -> None:
    docs = list(corpus.docs.values())
    assert len(corpus.docs) == 2000 and sum(len(d.sentences or ()) for d in docs) == 18546
    assert "MEDLINE:97218353#2" in corpus.docs and corpus.report.counts["W213"] == 1
    assert [len(corpus.splits[s]) for s in genia.SPLITS] == [1601, 199, 199]
    assert all(i in corpus.docs for ids in corpus.splits.values() for i in ids)
    first = corpus.docs["MEDLINE:95369245"]
    assert first.text.startswith("IL-2 gene expression and NF-kappa B activation through CD28 requires reactive oxygen production by 5-lipoxygenase.\nActivation of the CD28 surface receptor")
    assert ("CD28 surface receptor", "protein") in spans(first) and ("CD28", "protein") in spans(first)
    # what the 5-type mapping leaves out, per original type
    assert corpus.dropped["G#other_name"] == 20055 and corpus.dropped["G#virus"] == 2117 and corpus.dropped["(no sem)"] == 5154
    duplicates = sum(n for k, n in corpus.dropped.items() if k.startswith("(duplicate "))
    unmapped = sum(corpus.dropped.values()) - duplicates - corpus.dropped["(no sem)"]
    assert (corpus.report.counts["W220"], corpus.report.counts["W221"]) == (unmapped, duplicates) == (36643, 33)


def test_dev_and_test_match_the_nested_jsonlines_counts(corpus: Corpus) -> None:
    # README (nested-jsonlines, CNN_Nested_NER): dev 1,765 sent / 4,714 ment, test 1,732 / 5,119
    dev = [corpus.docs[i] for i in corpus.splits["dev"]]
    test = [corpus.docs[i] for i in corpus.splits["test"]]
    assert sum(len(d.sentences or ()) for d in dev) == 1765 and sum(len(d.sentences or ()) for d in test) == 1732
    assert by_type(dev) == {"DNA": 1161, "RNA": 139, "protein": 2466, "cell_line": 372, "cell_type": 576}
    assert by_type(test) == {"DNA": 1132, "RNA": 106, "protein": 2900, "cell_line": 403, "cell_type": 578}


def test_train_matches_when_the_later_duplicate_is_used(corpus: Corpus) -> None:
    # CNN_Nested_NER kept the later copy of MEDLINE:97218353 (19 mentions vs 10 in the first)
    ids = corpus.splits["train"]
    first = sum(len(corpus.docs[i].entities) for i in ids)
    later = first - len(corpus.docs["MEDLINE:97218353"].entities) + len(corpus.docs["MEDLINE:97218353#2"].entities)
    assert (first, later) == (46194, 46203)
