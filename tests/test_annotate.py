"""``bioner annotate`` (bioner.annotate): shards, manifest, resume after a crash, option and input checks.

Real runs of the shipped span model on a few short documents made here.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: never touch the network
os.environ.setdefault("OMP_NUM_THREADS", "1")

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import bioner.io
from bioner.annotate import MANIFEST, annotate, estimate_documents, folder_fingerprint, ids_checksum, make_options, plan_inputs, read_output
from bioner.cli.annotate import annotate_command
from bioner.doc import Document
from bioner.errors import BionerError
from bioner.models import DEFAULT_MODEL_NAME, LLMOptions

LABELS = "disease,chemical"  # one prompt, two types: quicker than the six default types

SENTENCES = [
    ("Cystic fibrosis in children.", "Aspirin caused renal failure in rats."),
    ("BRCA1 mutations and breast cancer.", "Tamoxifen reduced tumour growth."),
    ("Lung cancer in smokers.", "Cisplatin was given to patients with lung cancer."),
    ("Parkinson disease and dopamine.", "Levodopa improved the symptoms."),
    ("Insulin in type 2 diabetes.", "Metformin lowered glucose."),
    ("Alzheimer disease and donepezil.", "Memory loss was reduced."),
]


def _pubtator(path: Path, n: int, start: int = 1000) -> list[str]:
    """``n`` PubTator documents (PMIDs ``start``...) cycling through SENTENCES; returns their ids."""
    lines, ids = [], []
    for i in range(n):
        title, abstract = SENTENCES[i % len(SENTENCES)]
        pmid = str(start + i)
        ids.append(pmid)
        lines += [f"{pmid}|t|{title}", f"{pmid}|a|{abstract} Case {i}.", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


@pytest.fixture()
def inputs(tmp_path: Path) -> list[Path]:
    """A PubTator file (4 docs), a JSONL file (2 docs) and a plain-text file (1 doc): 7 documents."""
    src = tmp_path / "in"
    src.mkdir()
    _pubtator(src / "a.pubtator", 4)
    bioner.io.write([Document("j1", "Crohn disease and ibuprofen."), Document("j2", "Asthma was treated with salbutamol.")], src / "b.jsonl")
    (src / "c.txt").write_text("Hepatitis C patients received ribavirin.\n", encoding="utf-8")
    return [src / "a.pubtator", src / "b.jsonl", src / "c.txt"]


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("shard-*"))}


def _manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text(encoding="utf-8"))


def _listed(out: Path) -> int:
    """Shards the manifest lists (0 before it exists; it is replaced atomically, so never read half-written)."""
    return len(_manifest(out)["shards"]) if (out / MANIFEST).exists() else 0


def _app() -> typer.Typer:
    """``bioner``'s app when annotate is registered there, else an app with just this command."""
    from bioner.cli import app

    if any(c.name == "annotate" for c in app.registered_commands):
        return app
    local = typer.Typer(add_completion=False)
    local.command("annotate")(annotate_command)
    local.command("noop", hidden=True)(lambda: None)  # two commands, so "annotate" stays a subcommand
    return local


# the CLI in a subprocess (so it can be killed), registered or not
_CLI = (
    "import typer\nfrom bioner.cli import app\nfrom bioner.cli.annotate import annotate_command\n"
    "if not any(c.name == 'annotate' for c in app.registered_commands):\n    app.command('annotate')(annotate_command)\n"
    "app(prog_name='bioner')\n"
)


# -- shards and manifest -----------------------------------------------------------------


def test_shards_and_manifest(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = annotate([inputs[0].parent], out, labels=LABELS, shard_size=3)  # the folder: walked in sorted order
    assert (res.shards, res.shards_written, res.shards_skipped, res.documents) == (3, 3, 0, 7)
    assert list(_files(out)) == ["shard-000000.jsonl", "shard-000001.jsonl", "shard-000002.jsonl"]
    docs = list(read_output(out))
    assert [d.id for d in docs] == ["1000", "1001", "1002", "1003", "j1", "j2", "c"]  # input order, across shard borders
    assert docs[-1].text == "Hepatitis C patients received ribavirin.\n"  # plain text kept as it is
    assert sum(len(d.entities) for d in docs) == res.entities > 5
    for d in docs:
        for e in d.entities:
            assert e.label in ("disease", "chemical") and e.source == DEFAULT_MODEL_NAME  # provenance on every entity
    assert {d.text[e.start:e.end] for d in docs for e in d.entities} >= {"Cystic fibrosis", "Aspirin", "breast cancer"}

    m = _manifest(out)
    assert m["complete"] is True and m["documents"] == 7
    assert [(i["path"], i["format"], i["size"]) for i in m["inputs"]] == [(str(p.resolve()), f, p.stat().st_size) for p, f in
                                                                          zip(inputs, ["pubtator", "jsonl", "txt"])]
    o = m["options"]
    # the manifest records the prompts: "chemical" goes to the model as the registered type's label, as in `bioner extract`
    assert (o["engine"], o["labels"], o["threshold"], o["format"], o["shard_size"]) == ("span", [["disease", "disease"], ["chemical", "chemical compound or drug"]], None, "jsonl", 3)
    assert o["model"].endswith(DEFAULT_MODEL_NAME) and o["model_fingerprint"].startswith("sha256:")
    ids = [d.id for d in docs]
    for k, s in enumerate(m["shards"]):
        data = (out / s["file"]).read_bytes()
        assert s["index"] == k and s["documents"] == len(ids[3 * k: 3 * k + 3])
        assert s["ids_sha256"] == ids_checksum(ids[3 * k: 3 * k + 3]) and s["first_id"] == ids[3 * k]
        assert s["bytes"] == len(data) and s["sha256"] == hashlib.sha256(data).hexdigest()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_other_formats_lines_and_estimates(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text("Crohn disease and aspirin.\n\nLung cancer and cisplatin.\nNo entity here.\n", encoding="utf-8")
    files = plan_inputs([raw])
    assert files[0].format == "txt"
    assert estimate_documents(files, "line") == 4 and estimate_documents(files, "file") == 1  # newlines: an estimate for the ETA
    out = tmp_path / "out"
    res = annotate([raw], out, labels=LABELS, shard_size=2, text_unit="line", out_format="pubtator")
    assert list(_files(out)) == ["shard-000000.pubtator", "shard-000001.pubtator"] and res.documents == 3
    first = (out / "shard-000000.pubtator").read_text(encoding="utf-8")
    assert first.startswith("raw:1|t|Crohn disease and aspirin.\n") and "raw:3|t|Lung cancer" in first  # id <stem>:<line>
    assert "\tdisease\t" in first
    with pytest.raises(BionerError) as exc:
        annotate([raw], tmp_path / "brat", out_format="brat")
    assert exc.value.code == "E827"


# -- resume ------------------------------------------------------------------------------


def test_resume_after_a_simulated_crash_gives_identical_output(inputs: list[Path], tmp_path: Path) -> None:
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    annotate(inputs, clean, labels=LABELS, shard_size=2)
    annotate(inputs, crashed, labels=LABELS, shard_size=2)
    # a crash: the last shard never finished (no entry, no file, a half-written temp file left); the one before
    # was renamed into place but the manifest was not saved yet (a file, no entry; garbage here, so a redo shows);
    # and a listed shard was cut short on disk after the fact
    m = _manifest(crashed)
    last, before = m["shards"].pop(), m["shards"].pop()
    m["complete"] = False
    (crashed / MANIFEST).write_text(json.dumps(m), encoding="utf-8")
    (crashed / last["file"]).unlink()
    (crashed / f".{last['file']}.999.tmp").write_bytes(b'{"id": "1000", "te')
    (crashed / before["file"]).write_bytes(b"garbage\n")
    (crashed / "shard-000001.jsonl").write_bytes(b"{}\n")

    res = annotate(inputs, crashed, labels=LABELS, shard_size=2)
    assert (res.shards_written, res.shards_skipped, res.documents, res.documents_annotated) == (3, 1, 7, 5)
    assert res.read_report.counts["W830"] == 1  # the damaged shard was noticed and annotated again
    assert _files(crashed) == _files(clean)
    assert not [p for p in crashed.iterdir() if p.name.startswith(".")]  # the stale temp file is gone
    strip = lambda m: [{k: v for k, v in s.items() if k != "finished"} for s in m["shards"]]  # noqa: E731
    assert strip(_manifest(crashed)) == strip(_manifest(clean)) and _manifest(crashed)["complete"] is True
    # once done, a rerun annotates nothing
    again = annotate(inputs, crashed, labels=LABELS, shard_size=2)
    assert (again.shards_written, again.shards_skipped) == (0, 4)


def test_resume_after_sigkill_of_the_cli(tmp_path: Path) -> None:
    """kill -9 the CLI once the first shard is listed, resume with the same command, compare with a run that was never stopped."""
    src = tmp_path / "in.pubtator"
    _pubtator(src, 40)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    args = ["annotate", "-i", str(src), "-l", LABELS, "--shard-size", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _CLI, *args, "-o", str(killed)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _listed(killed):  # the first shard is on disk and in the manifest
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no shard after 120 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    m = _manifest(killed)
    assert m["complete"] is False and 1 <= len(m["shards"]) < 20  # stopped mid-run
    r = CliRunner().invoke(_app(), [*args, "-o", str(killed)])
    assert r.exit_code == 0, r.output
    assert "already done" in r.stdout
    annotate([src], clean, labels=LABELS, shard_size=2)
    assert len(_files(clean)) == 20 and _files(killed) == _files(clean)
    assert [d.id for d in read_output(killed)] == [str(1000 + i) for i in range(40)]  # nothing lost, nothing twice


# -- errors ------------------------------------------------------------------------------


def test_other_options_or_inputs_are_refused_and_force_starts_over(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    annotate(inputs, out, labels=LABELS, shard_size=3)
    with pytest.raises(BionerError) as exc:
        annotate(inputs, out, labels=LABELS, shard_size=3, threshold=0.9)
    assert exc.value.code == "E821" and "threshold: null in the manifest, 0.9 now" in str(exc.value) and "--force" in str(exc.value)
    with pytest.raises(BionerError, match=r"shard_size: 3 in the manifest, 2 now"):
        annotate(inputs, out, labels=LABELS, shard_size=2)
    with pytest.raises(BionerError, match=r"labels"):
        annotate(inputs, out, shard_size=3)
    with pytest.raises(BionerError, match=r"abbreviations: true in the manifest, null now"):
        annotate(inputs, out, labels=LABELS, shard_size=3, abbreviations=False)
    with inputs[1].open("a", encoding="utf-8") as fh:
        fh.write('{"id": "j3", "text": "Gout and allopurinol."}\n')
    with pytest.raises(BionerError) as exc:
        annotate(inputs, out, labels=LABELS, shard_size=3)
    assert exc.value.code == "E821" and f"input {inputs[1].resolve()} changed (size" in str(exc.value)
    with pytest.raises(BionerError, match="is no longer given"):
        annotate(inputs[:2], out, labels=LABELS, shard_size=3)
    res = annotate(inputs, out, labels=LABELS, shard_size=3, threshold=0.9, force=True)
    assert res.documents == 8 and _manifest(out)["options"]["threshold"] == 0.9
    # the CLI: exit 2, the message on one line
    r = CliRunner().invoke(_app(), ["annotate", "-i", *map(str, inputs), "-o", str(out), "-l", LABELS, "--shard-size", "3"])
    assert r.exit_code == 2 and "[E821]" in r.output and "threshold" in r.output


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.pubtator"
    _pubtator(src, 3)
    lines = src.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "1001\t0\t5\tBRCA1")  # line 6: a mention line of 4 columns, in the second document
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(_app(), ["annotate", "-i", str(src), "-o", str(tmp_path / "out"), "-l", LABELS])
    assert r.exit_code == 2 and f"{src.resolve()}:6:" in r.output and "[E201]" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "Gout."}\n{"id": "y", "text": \n', encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        annotate([bad], tmp_path / "out2", labels=LABELS)
    assert (exc.value.code, exc.value.file, exc.value.line) == ("E208", str(bad.resolve()), 2)
    # skipped and counted when asked
    res = annotate([bad], tmp_path / "out3", labels=LABELS, skip_invalid=True)
    assert res.documents == 1 and res.read_report.counts["E208"] == 1
    with pytest.raises(BionerError) as exc:
        annotate([tmp_path / "missing.jsonl"], tmp_path / "out4")
    assert exc.value.code == "E210" and "missing.jsonl" in str(exc.value)


def test_duplicate_ids_across_inputs(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a, b = tmp_path / "x" / "a.jsonl", tmp_path / "y" / "b.jsonl"
    bioner.io.write([Document("d1", "Gout."), Document("d2", "Asthma.")], a)
    bioner.io.write([Document("d3", "Lupus."), Document("d2", "Sepsis.")], b)
    with pytest.raises(BionerError) as exc:
        annotate([a, b], tmp_path / "out", labels=LABELS)
    assert exc.value.code == "E824" and exc.value.file == str(b.resolve())
    assert f"'d2' is already in {a.resolve()}" in str(exc.value) and "--prefix-ids" in str(exc.value)
    res = annotate([a, b], tmp_path / "out2", labels=LABELS, prefix_ids=True)
    assert [d.id for d in read_output(tmp_path / "out2")] == ["x/a.jsonl:d1", "x/a.jsonl:d2", "y/b.jsonl:d3", "y/b.jsonl:d2"]
    assert res.documents == 4


def test_output_folder_checks(inputs: list[Path], tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        annotate(inputs, busy, labels=LABELS)
    assert exc.value.code == "E822"
    (busy / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(BionerError) as exc:
        annotate(inputs, busy, labels=LABELS)
    assert exc.value.code == "E823"
    with pytest.raises(BionerError) as exc:
        annotate(inputs, tmp_path / "o", labels=LABELS, engine="nope")
    assert exc.value.code == "E829"
    with pytest.raises(BionerError) as exc:
        annotate(inputs, tmp_path / "o", model=tmp_path / "no-model")
    assert exc.value.code == "E601"
    with pytest.raises(BionerError) as exc:
        annotate(inputs, tmp_path / "o", llm=LLMOptions(scheme="json"))  # LLM options with the span engine
    assert exc.value.code == "E829"
    assert not (tmp_path / "o").exists()  # settings are checked before anything is written


def test_llm_engine_options_are_part_of_the_record(tmp_path: Path) -> None:
    """The engine option teacher annotation builds on: an LLM run's manifest names the LM, its settings and its files."""
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text("{}", encoding="utf-8")
    o = make_options(engine="llm", model=lm, labels="disease", llm=LLMOptions(scheme="json", max_new_tokens=32)).record()
    assert (o["engine"], o["model"], o["labels"], o["llm"]["scheme"], o["llm"]["max_new_tokens"]) == ("llm", str(lm), [["disease", "disease"]], "json", 32)
    assert o["model_fingerprint"] == folder_fingerprint(lm)
    assert o["abbreviations"] is True
    # off is not recorded: a manifest from before the option (its output made without it) resumes with --no-abbreviations
    assert "abbreviations" not in make_options(engine="llm", model=lm, labels="disease", abbreviations=False).record()
    (lm / "config.json").write_text('{"changed": 1}', encoding="utf-8")
    assert folder_fingerprint(lm) != o["model_fingerprint"]  # retrained in place: a resume would be refused


def test_ray_missing_names_the_extra(inputs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    with pytest.raises(BionerError) as exc:
        annotate(inputs, tmp_path / "out", ray=True)
    assert exc.value.code == "E820" and "bioner[ray]" in str(exc.value)
    r = CliRunner().invoke(_app(), ["annotate", "-i", str(inputs[0]), "-o", str(tmp_path / "out"), "--engine", "ray"])
    assert r.exit_code == 2 and "[E820]" in r.output
