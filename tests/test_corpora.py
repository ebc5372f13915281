"""The corpus registry: lookup, errors, and downloads from a local file URL."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from bioner import corpora
from bioner.corpora import CorpusInfo, Source
from bioner.errors import BionerError


def test_every_corpus_declares_described_types() -> None:
    for info in corpora.CORPORA.values():
        assert info.types, info.name
        for name, desc in info.descriptions.items():
            # a definition is a sentence, not the bare name
            assert desc.endswith(".") and len(desc.split()) >= 5, (info.name, name, desc)
        assert info.sources, f"{info.name} has no download source"


def test_bc5cdr_natural_labels() -> None:
    assert corpora.get("bc5cdr").natural_labels == {"Chemical": "chemical compound or drug", "Disease": "disease"}


def test_unknown_corpus_and_split() -> None:
    with pytest.raises(BionerError) as exc:
        corpora.get("ncbi")
    assert exc.value.code == "E501" and "ncbi-disease" in str(exc.value)
    with pytest.raises(BionerError) as exc:
        corpora.load("cmeee", "train")
    assert exc.value.code == "E502"


def test_missing_files_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BionerError) as exc:
        corpora.load("ncbi-disease", "test", root=tmp_path)
    assert exc.value.code == "E503"
    assert "bioner download ncbi-disease" in str(exc.value)


def _file_url(p: Path) -> str:
    return p.resolve().as_uri()


def test_download_single_files_from_file_url(tmp_path: Path, data_dir: Path) -> None:
    # a mirror holding the upstream files under their URL paths
    mirror = tmp_path / "mirror"
    info = corpora.get("ncbi-disease")
    for src in info.sources:
        target = mirror / src.url.split("://", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((data_dir / src.dest).read_bytes())
    root = tmp_path / "data"
    got = corpora.download("ncbi-disease", root, resolve_url=lambda u: _file_url(mirror / u.split("://", 1)[1]))
    assert sorted(p.name for p in got) == ["NCBIdevelopset_corpus.txt", "NCBItestset_corpus.txt", "NCBItrainset_corpus.txt"]
    test = corpora.load("ncbi-disease", "test", root=root)
    assert len(test) == 100
    # present files are kept, not fetched again
    assert corpora.download("ncbi-disease", root, resolve_url=lambda u: "file:///nonexistent") == []


def test_download_rejects_checksum_mismatch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("not the corpus\n")
    info = corpora.get("ncbi-disease")
    with pytest.raises(BionerError) as exc:
        corpora.download("ncbi-disease", tmp_path / "data", resolve_url=lambda u: _file_url(bad))
    assert exc.value.code == "E504"
    assert not (tmp_path / "data" / info.sources[0].dest).exists()


def test_download_extracts_archive_members(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in {"repo-abc/standoff/a.txt": b"Homo sapiens\n", "repo-abc/standoff/a.ann": b"T1\tSpecies 0 12\tHomo sapiens\n", "repo-abc/README": b"x"}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(content)
            tar.addfile(ti, io.BytesIO(content))
    archive = tmp_path / "repo.tar.gz"
    archive.write_bytes(buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    corpora.register(CorpusInfo("tiny-species", "test corpus", ("Species",), lambda root, split, report: iter(()),
                                sources=(Source("https://example.org/repo.tar.gz", sha256=digest, members=(("repo-abc/standoff/", "tiny/standoff/"),)),)))
    try:
        got = corpora.download("tiny-species", tmp_path / "data", resolve_url=lambda u: _file_url(archive))
    finally:
        del corpora.CORPORA["tiny-species"]
    assert sorted(p.name for p in got) == ["a.ann", "a.txt"]
    assert (tmp_path / "data/tiny/standoff/a.ann").read_bytes().startswith(b"T1\tSpecies")
    assert not (tmp_path / "data/tiny/README").exists()


def test_a_corpus_guideline_overrides_its_types_prompt() -> None:
    # LINNAEUS counts "patients" as species mentions and S800 does not: one prompt cannot serve both
    linnaeus, s800 = corpora.get("linnaeus"), corpora.get("s800")
    assert s800.natural_labels == {"Species": "species"}
    assert linnaeus.natural_labels["Species"] != "species" and "people" in linnaeus.natural_labels["Species"]
    assert "patients" in linnaeus.descriptions["Species"] and linnaeus.entity_types[0].aliases == s800.entity_types[0].aliases


def test_predict_types_must_include_the_corpus_types() -> None:
    info = corpora.get("bc5cdr-disease")
    assert info.predict_types == ("Chemical", "Disease") and info.prediction_labels == {"Chemical": "chemical compound or drug", "Disease": "disease"}
    assert corpora.get("ncbi-disease").prediction_labels == corpora.get("ncbi-disease").natural_labels
    with pytest.raises(ValueError, match="must include"):
        corpora.register(dataclasses.replace(info, name="x-bad", predict_types=("Chemical",)))
    assert "x-bad" not in corpora.CORPORA
