"""Content sniffing (bioner.io._sniff) and how detect_format uses it for ambiguous suffixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bioner.errors import BionerError
from bioner.io import FORMATS, detect_format, read
from bioner.io._sniff import HEAD_BYTES, sniff

PUBTATOR = "123|t|Lung cancer.\n123|a|A study.\n123\t0\t11\tLung cancer\tDisease\tD008175\n\n"
BIOC_XML = (
    "<?xml version='1.0' encoding='UTF-8'?><!DOCTYPE collection SYSTEM 'BioC.dtd'>\n<collection><source>x</source><date/><key/>"
    "<document><id>1</id><passage><infon key='type'>title</infon><offset>0</offset><text>Lung cancer.</text>"
    "<annotation id='T1'><infon key='type'>Disease</infon><location offset='0' length='11'/><text>Lung cancer</text></annotation>"
    "</passage></document></collection>\n"
)
BIOC_XML_NO_DOCTYPE = "<?xml version='1.0'?>\n<collection>\n<source>PubTator</source>\n<document><id>1</id></document></collection>\n"
GENIA_XML = (
    '<?xml version="1.0"?>\n<!DOCTYPE set SYSTEM "gpml.dtd">\n<set>\n<article>\n<articleinfo><bibliomisc>MEDLINE:1</bibliomisc></articleinfo>\n'
    '<title><sentence><cons lex="IL-2" sem="G#protein_molecule">IL-2</cons> expression</sentence></title>\n</article>\n</set>\n'
)
_PASSAGE = {
    "offset": 0, "infons": {"type": "title"}, "text": "Lung cancer.", "sentences": [], "relations": [],
    "annotations": [{"id": "T1", "infons": {"type": "Disease"}, "text": "Lung cancer", "locations": [{"offset": 0, "length": 11}]}],
}
BIOC_JSON = {
    "source": "PubTator", "date": "", "key": "", "infons": {},
    "documents": [{"id": "1", "infons": {}, "passages": [_PASSAGE], "annotations": [], "relations": []}],
}
CBLUE = [{"text": "患者发热。", "entities": [{"start_idx": 2, "end_idx": 3, "type": "sym", "entity": "发热"}]}]
NESTED = {"tokens": ["IL-2", "gene"], "entity_mentions": [{"start": 0, "end": 2, "entity_type": "DNA"}], "doc_id": "d1"}
JSONL = {"id": "d1", "text": "Lung cancer.", "entities": [{"start": 0, "end": 11, "label": "Disease"}]}
GLINER = [{"tokenized_text": ["Lung", "cancer"], "ner": [[0, 1, "disease"]]}]
IOB = "-DOCSTART-\tO\n\nLung\tB-Disease\ncancer\tI-Disease\n.\tO\n\nNo\tO\n"
BIOES = "Lung\tB-Disease\ncancer\tE-Disease\nand\tO\nflu\tS-Disease\n"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.txt", PUBTATOR, "pubtator"),
        ("a.xml", BIOC_XML, "bioc-xml"),
        ("a.xml", BIOC_XML_NO_DOCTYPE, "bioc-xml"),
        ("a.xml", GENIA_XML, "genia-xml"),
        ("a.json", json.dumps(BIOC_JSON), "bioc-json"),
        ("a.json", json.dumps(BIOC_JSON, indent=2), "bioc-json"),
        ("a.json", json.dumps(CBLUE, ensure_ascii=False, indent=4), "cblue"),
        ("a.json", json.dumps([{"text": "无标注的句子。"}], ensure_ascii=False), "cblue"),  # CMeEE's unlabelled test
        ("a.json", json.dumps(NESTED) + "\n" + json.dumps(NESTED) + "\n", "nested-jsonl"),
        ("a.json", json.dumps(JSONL) + "\n" + json.dumps(JSONL) + "\n", "jsonl"),
        ("a.json", json.dumps(GLINER), "gliner"),
        ("a.tsv", IOB, "iob"),
        ("a.tsv", BIOES, "bioes"),
        ("a.tsv", "Lung\tB-Disease\tB-X\ncancer\tI-Disease\tO\n", "iob-layered"),  # layered IOB: several tag columns
        ("a.txt", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", "iob"),  # CoNLL-2003 space-separated columns
        ("a.txt", "T1\tDisease 0 11\tLung cancer\n", "brat"),
        ("a.txt", "\ufeff" + PUBTATOR, "pubtator"),  # a BOM is not content
    ],
)
def test_sniff_recognises_each_format(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert sniff(_write(tmp_path, name, content)) == expected
    assert expected in FORMATS


@pytest.mark.parametrize(
    "content",
    [
        "Just some prose.\nAnother line.\n",
        "word\tNOUN\nother\tVERB\n",  # columns, but not tags
        "a\tB-X\nb\tc\tI-X\n",  # column count changes
        '{"name": "x"}\n',
        "[1, 2, 3]\n",
        "<html><body>no</body></html>\n",
        "",
        "\n\n  \n",
    ],
)
def test_sniff_returns_none_for_other_content(tmp_path: Path, content: str) -> None:
    assert sniff(_write(tmp_path, "x.dat", content)) is None


def test_sniff_missing_file_is_none(tmp_path: Path) -> None:
    # the reader reports E210 itself, with its own message
    assert sniff(tmp_path / "missing.txt") is None


def test_sniff_reads_only_the_head(tmp_path: Path) -> None:
    # valid IOB for well over HEAD_BYTES, then garbage: only the head decides
    good = "token\tO\n" * (HEAD_BYTES // 8 + 100)
    p = _write(tmp_path, "big.tsv", good + "garbage line with no tag\n" * 10)
    assert sniff(p) == "iob"


def test_sniff_large_pretty_json_by_its_head(tmp_path: Path) -> None:
    big_bioc = dict(BIOC_JSON, documents=[{"id": str(i), "infons": {}, "passages": [{"text": "x" * 100}]} for i in range(500)])
    assert sniff(_write(tmp_path, "big.json", json.dumps(big_bioc, indent=1))) == "bioc-json"
    big_cblue = CBLUE * 2000
    assert sniff(_write(tmp_path, "big2.json", json.dumps(big_cblue, ensure_ascii=False, indent=4))) == "cblue"
    long_line = dict(JSONL, text="x" * (2 * HEAD_BYTES), entities=[])
    assert sniff(_write(tmp_path, "big3.json", json.dumps(long_line) + "\n")) == "jsonl"


def test_sniff_cut_multibyte_character_is_harmless(tmp_path: Path) -> None:
    # a multi-byte character straddling the head boundary must not break decoding
    line = json.dumps({"id": "d", "text": "发" * (HEAD_BYTES // 3 + 5)}, ensure_ascii=False) + "\n"
    assert sniff(_write(tmp_path, "zh.json", line * 2)) == "jsonl"


def test_sniff_brat_text_file_by_its_annotation_file(tmp_path: Path) -> None:
    txt = _write(tmp_path, "doc.txt", "Lung cancer is common.\n")
    assert sniff(txt) is None
    _write(tmp_path, "doc.ann", "T1\tDisease 0 11\tLung cancer\n")
    assert sniff(txt) == "brat"


# -- detect_format: extension first, content for ambiguous suffixes -----------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("corpus.txt", PUBTATOR, "pubtator"),
        ("corpus.xml", BIOC_XML, "bioc-xml"),
        ("GENIAcorpus3.02.xml", GENIA_XML, "genia-xml"),
        ("corpus.json", json.dumps(BIOC_JSON), "bioc-json"),
        ("CMeEE_dev.json", json.dumps(CBLUE, ensure_ascii=False), "cblue"),
        ("train.tsv", IOB, "iob"),
        ("train.tsv", BIOES, "bioes"),
        ("train.txt", IOB, "iob"),
        # unambiguous (compound) extensions win over content
        ("x.bioc.xml", GENIA_XML, "bioc-xml"),
        ("x.pubtator.txt", "anything\n", "pubtator"),
        ("x.jsonl", json.dumps(NESTED) + "\n", "jsonl"),
        ("x.jsonlines", json.dumps(NESTED) + "\n", "nested-jsonl"),
        # IOB-family suffixes: the tags decide between iob, bioes and layered
        ("x.iob2", BIOES, "bioes"),
        # ambiguous extension and unknown content: the extension's format
        ("x.tsv", "some\tthing\n", "iob"),
        ("x.xml", "<root/>\n", "bioc-xml"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert detect_format(_write(tmp_path, name, content)).name == expected


@pytest.mark.parametrize(
    ("name", "content", "entities"),
    [
        ("a.txt", PUBTATOR, 1),
        ("a.xml", BIOC_XML, 1),
        ("GENIA.xml", GENIA_XML, 1),
        ("a.json", json.dumps(BIOC_JSON), 1),
        ("a.json", json.dumps(CBLUE, ensure_ascii=False), 1),
        ("a.json", json.dumps(NESTED) + "\n", 1),
        ("a.json", json.dumps(JSONL) + "\n", 1),
        ("a.tsv", IOB, 1),
        ("a.tsv", BIOES, 2),
    ],
)
def test_sniffed_format_reads_the_file(tmp_path: Path, name: str, content: str, entities: int) -> None:
    # what sniffing names must be what the reader accepts
    docs = list(read(_write(tmp_path, name, content)))
    assert sum(len(d.entities) for d in docs) == entities


def test_detect_format_directory_is_brat(tmp_path: Path) -> None:
    assert detect_format(tmp_path).name == "brat"


@pytest.mark.parametrize(("name", "content"), [("notes.txt", "Plain prose.\n"), ("data.json", '{"a": 1}\n'), ("x.unknown", "")])
def test_detect_format_unknown_raises_e207(tmp_path: Path, name: str, content: str) -> None:
    with pytest.raises(BionerError) as info:
        detect_format(_write(tmp_path, name, content))
    assert info.value.code == "E207"
    assert name in str(info.value)
