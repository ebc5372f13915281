"""``bioner convert`` / ``bioner formats`` and the CLI's error boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bioner
import bioner.io
from bioner.cli import app
from bioner.cli.convert import convert, output_format
from bioner.errors import BionerError

runner = CliRunner()

# title "Lung cancer in mice." (20 chars) + " " + abstract
PUBTATOR = (
    "111|t|Lung cancer in mice.\n"
    "111|a|Breast cancer and flu.\n"
    "111\t0\t11\tLung cancer\tDisease\tD008175\n"
    "111\t21\t34\tBreast cancer\tDisease\tD001943\n"
    "111\t39\t42\tflu\tDisease\tD007251\n"
    "\n"
    "222|t|No entities here.\n"
    "222|a|\n"
    "\n"
)
IOB = "Lung\tB-Disease\ncancer\tI-Disease\nis\tO\nbad\tO\n.\tO\n\nFlu\tB-Disease\nspreads\tO\n"
BRAT_TXT = "Lung cancer and flu.\n"
BRAT_ANN = "T1\tDisease 0 11\tLung cancer\nT2\tDisease 16 19\tflu\n"


def _doc_line(doc_id: str, text: str, ents: list[tuple[int, int, str]]) -> str:
    return json.dumps({"id": doc_id, "text": text, "entities": [{"start": s, "end": e, "label": lab} for s, e, lab in ents]})


def _jsonl(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return p


def test_pubtator_jsonl_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"  # .txt: the format is sniffed from the content
    src.write_text(PUBTATOR, encoding="utf-8")
    mid, back = tmp_path / "mid.jsonl", tmp_path / "back.pubtator"
    r1 = runner.invoke(app, ["convert", str(src), str(mid)])
    assert r1.exit_code == 0, r1.output
    assert "Wrote 2 documents (3 entities)" in r1.stdout
    assert "[pubtator]" in r1.stdout and "[jsonl]" in r1.stdout
    r2 = runner.invoke(app, ["convert", str(mid), str(back)])
    assert r2.exit_code == 0, r2.output
    assert back.read_text(encoding="utf-8") == PUBTATOR  # byte for byte
    assert list(bioner.io.read(back)) == list(bioner.io.read(src, "pubtator")) == list(bioner.io.read(mid))


def test_iob_jsonl_round_trip(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "data.iob"
    src.write_text(IOB, encoding="utf-8")
    mid, back = tmp_path / "data.jsonl", tmp_path / "back" / "data.iob"
    assert runner.invoke(app, ["convert", str(src), str(mid)]).exit_code == 0
    r = runner.invoke(app, ["convert", str(mid), str(back), "--to", "iob"])
    assert r.exit_code == 0, r.output
    assert "Wrote 2 documents (2 entities)" in r.stdout
    original = list(bioner.io.read(src))
    assert [len(d.entities) for d in original] == [1, 1]
    assert list(bioner.io.read(back)) == original == list(bioner.io.read(mid))


def test_brat_directory_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "brat_in"
    src.mkdir()
    (src / "doc1.txt").write_text(BRAT_TXT, encoding="utf-8")
    (src / "doc1.ann").write_text(BRAT_ANN, encoding="utf-8")
    mid, out = tmp_path / "docs.jsonl", tmp_path / "brat_out"
    r1 = runner.invoke(app, ["convert", str(src), str(mid)])
    assert r1.exit_code == 0, r1.output
    assert "[brat]" in r1.stdout and "(2 entities)" in r1.stdout
    r2 = runner.invoke(app, ["convert", str(mid), str(out), "--to", "brat"])
    assert r2.exit_code == 0, r2.output
    assert (out / "doc1.txt").read_text(encoding="utf-8") == BRAT_TXT
    assert list(bioner.io.read(out)) == list(bioner.io.read(src)) == list(bioner.io.read(mid))


def test_nested_entity_dropped_for_flat_format_is_reported(tmp_path: Path) -> None:
    src = _jsonl(tmp_path, "nested.jsonl", [_doc_line("d1", "Lung cancer cells grow.", [(0, 17, "cell_type"), (0, 11, "Disease")])])
    out = tmp_path / "flat.iob"
    r = runner.invoke(app, ["convert", str(src), str(out)])
    assert r.exit_code == 0, r.output
    assert "(2 entities)" in r.stdout
    assert "W301 x1" in r.stderr  # counted, never silent
    [doc] = bioner.io.read(out)
    assert [doc.text[e.start:e.end] for e in doc.entities] == ["Lung cancer cells"]


def test_malformed_file_exits_2_with_code_and_line(tmp_path: Path) -> None:
    src = _jsonl(tmp_path, "bad.jsonl", [_doc_line("d1", "Flu.", [(0, 3, "Disease")]), "{not json", _doc_line("d3", "Flu.", [])])
    out = tmp_path / "out.pubtator"
    r = runner.invoke(app, ["convert", str(src), str(out)])
    assert r.exit_code == 2
    assert f"[E208] {src}:2:" in r.stderr
    assert "Traceback" not in r.output
    assert not out.exists()  # nothing half-written


def test_offset_mismatch_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.pubtator"
    src.write_text(PUBTATOR.replace("111\t39\t42\tflu", "111\t38\t41\tflu"), encoding="utf-8")
    r = runner.invoke(app, ["convert", str(src), str(tmp_path / "out.jsonl")])
    assert r.exit_code == 2
    assert f"[E202] {src}:5:" in r.stderr


def test_skip_invalid_reports_counts(tmp_path: Path) -> None:
    lines = [_doc_line("d1", "Flu.", [(0, 3, "Disease")]), "{not json", "[1]", _doc_line("d4", "Cold.", [(0, 4, "Disease")])]
    src = _jsonl(tmp_path, "bad.jsonl", lines)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["convert", str(src), str(out), "--skip-invalid"])
    assert r.exit_code == 0, r.output
    assert "Wrote 2 documents (2 entities)" in r.stdout
    assert "2 invalid record(s) skipped" in r.stderr
    assert "E201 x1" in r.stderr and "E208 x1" in r.stderr
    assert [d.id for d in bioner.io.read(out)] == ["d1", "d4"]


def test_convert_library_function(tmp_path: Path) -> None:
    src = _jsonl(tmp_path, "a.jsonl", [_doc_line("d1", "Lung cancer cells.", [(0, 17, "cell_type"), (0, 11, "Disease")])])
    result = convert(src, tmp_path / "a.bioes")
    assert (result.documents, result.entities, result.input_format, result.output_format) == (1, 2, "jsonl", "bioes")
    assert result.report.counts["W301"] == 1


def test_convert_registered_corpus_split(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIONER_DATA", str(data_dir))
    out = tmp_path / "ncbi_test.jsonl"
    r = runner.invoke(app, ["convert", "ncbi-disease:test", str(out)])
    assert r.exit_code == 0, r.output
    assert "Wrote 100 documents (960 entities) from ncbi-disease:test [corpus]" in r.stdout
    docs = list(bioner.io.read(out))
    assert len(docs) == 100 and sum(len(d.entities) for d in docs) == 960


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--to", "nonsense"], "E207"),
        (["--to", "genia-xml"], "E207"),  # read-only format
        (["--from", "nonsense"], "E207"),
    ],
)
def test_bad_format_options(tmp_path: Path, args: list[str], code: str) -> None:
    src = _jsonl(tmp_path, "a.jsonl", [_doc_line("d1", "Flu.", [])])
    r = runner.invoke(app, ["convert", str(src), str(tmp_path / "out.jsonl"), *args])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"[{code}]")


def test_output_format_from_extension(tmp_path: Path) -> None:
    assert output_format(tmp_path / "x.pubtator.txt").name == "pubtator"
    assert output_format(tmp_path / "x.bioc.json").name == "bioc-json"
    assert output_format(tmp_path / "x.unknown", "brat").name == "brat"
    with pytest.raises(BionerError) as info:
        output_format(tmp_path / "x.unknown")
    assert info.value.code == "E207"


def test_missing_input_and_unknown_corpus(tmp_path: Path) -> None:
    r = runner.invoke(app, ["convert", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and r.stderr.startswith("[E210]")
    r = runner.invoke(app, ["convert", "no-such-corpus:test", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and r.stderr.startswith("[E501]")
    r = runner.invoke(app, ["convert", "ncbi-disease", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and r.stderr.startswith("[E502]")  # a corpus needs a split here


def test_other_exceptions_propagate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("bioner.cli.convert.convert", boom)
    r = runner.invoke(app, ["convert", "x", "y"])
    assert r.exit_code == 1 and isinstance(r.exception, RuntimeError)


def test_formats_and_version() -> None:
    r = runner.invoke(app, ["formats"])
    assert r.exit_code == 0
    for name in bioner.io.FORMATS:
        assert name in r.stdout
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"bioner {bioner.__version__}"


def test_installed_entry_point(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "bioner"
    assert exe.exists(), "install the package: pip install -e '.[test]'"
    src = _jsonl(tmp_path, "bad.jsonl", ["{oops"])
    proc = subprocess.run([str(exe), "convert", str(src), str(tmp_path / "o.jsonl")], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"[E208] {src}:1:")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
