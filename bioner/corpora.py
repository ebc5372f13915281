"""Registry of the standard BioNER benchmarks: where they live, their splits and types.

``load("ncbi-disease", split="test")`` reads from ``$BIONER_DATA`` (default
``~/.cache/bioner/data``), laid out like the project's shared data folder. Where a
corpus exists both as offset-bearing originals (PubTator, BioC, standoff, XML) and as
IOB, the originals are read: they keep the real text and document boundaries.

Each corpus also names its canonical download source; ``download(name)`` fetches it
into the same layout and checks what it got.
"""

from __future__ import annotations

import hashlib
import io as _io
import os
import random
import tarfile
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bioner.doc import Corpus, Document
from bioner.errors import BionerError, Report
from bioner.labels import EntityType, get_type

SPLITS = ("train", "dev", "test")


def data_dir() -> Path:
    """``$BIONER_DATA`` if set, else ``~/.cache/bioner/data``."""
    env = os.environ.get("BIONER_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bioner" / "data"


@dataclass(frozen=True)
class Source:
    """One file to fetch: ``url`` -> ``dest`` (relative to the data folder).

    With ``members``, ``url`` is a tar archive and each (archive member prefix,
    destination prefix) pair is extracted. ``sha256`` checks the downloaded file
    (or archive) when known.
    """

    url: str
    dest: str = ""
    sha256: str | None = None
    members: tuple[tuple[str, str], ...] = ()


Loader = Callable[[Path, str, Report], Iterator[Document]]


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    title: str
    types: tuple[str, ...]
    loader: Loader
    splits: tuple[str, ...] = SPLITS
    files: tuple[str, ...] = ()  # paths (relative to the data folder) that must exist
    language: str = "en"
    nested: bool = False
    sources: tuple[Source, ...] = ()
    notes: str = ""
    citation: str = ""
    label_map: Mapping[str, str] = field(default_factory=dict)
    # type -> (natural-language label, definition) for this corpus alone, where its guidelines
    # differ from the type's registered meaning (LINNAEUS counts "patients" as a species mention)
    guidelines: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # the label set a model is asked for on this corpus's texts, in order, when it is more than the
    # corpus's own types: a one-type view of a corpus (BC5CDR-disease) is predicted with its parent's
    # whole set (BC5CDR's chemicals and diseases) and scored on its own type, because a label-driven
    # model trained on the parent knows that annotation scheme by its label set ("disease" alone is
    # NCBI-disease's prompt, whose guidelines differ)
    predict_types: tuple[str, ...] = ()

    def _type(self, t: str) -> EntityType:
        base = get_type(t)
        if t in self.guidelines:
            label, definition = self.guidelines[t]
            base = EntityType(t, label, definition, base.aliases)
        return base

    @property
    def entity_types(self) -> list[EntityType]:
        """The corpus's types as its models see them: the registered type, or this corpus's own guideline for it."""
        return [self._type(t) for t in self.types]

    @property
    def prediction_labels(self) -> dict[str, str]:
        """Type -> natural-language label for every type a model is asked for (``predict_types``, else the corpus's own)."""
        return {t: self._type(t).label for t in (self.predict_types or self.types)}

    @property
    def descriptions(self) -> dict[str, str]:
        """Corpus type -> one-sentence definition, for label-driven models."""
        return {t.name: t.description for t in self.entity_types}

    @property
    def natural_labels(self) -> dict[str, str]:
        """Corpus type -> natural-language label ("Chemical" -> "chemical compound or drug")."""
        return {t.name: t.label for t in self.entity_types}


# ---------------------------------------------------------------- loaders


def _split_ids(path: Path) -> list[str]:
    from bioner.io._common import iter_lines

    return [line.strip() for _, line in iter_lines(path) if line.strip()]


def _mapped(docs: Iterable[Document], mapping: Mapping[str, str], keep: Sequence[str]) -> Iterator[Document]:
    """Rename file labels to corpus types and keep only the corpus's types."""
    wanted = set(keep)
    for d in docs:
        ents = [e if mapping.get(e.label, e.label) == e.label else e.with_(label=mapping[e.label]) for e in d.entities]
        d.entities = [e for e in ents if e.label in wanted]
        yield d


def _ncbi(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import pubtator

    name = {"train": "NCBItrainset_corpus.txt", "dev": "NCBIdevelopset_corpus.txt", "test": "NCBItestset_corpus.txt"}[split]
    docs = pubtator.read(root / "ncbi-disease/original" / name, report=report)
    return _mapped(docs, NCBI_MAP, ("Disease",))


NCBI_MAP = {"SpecificDisease": "Disease", "DiseaseClass": "Disease", "Modifier": "Disease", "CompositeMention": "Disease"}


def _bc5cdr(types: tuple[str, ...]) -> Loader:
    def load(root: Path, split: str, report: Report) -> Iterator[Document]:
        from bioner.io import pubtator

        name = {"train": "CDR_TrainingSet", "dev": "CDR_DevelopmentSet", "test": "CDR_TestSet"}[split]
        return _mapped(pubtator.read(root / "bc5cdr/original" / f"{name}.PubTator.txt", report=report), {}, types)

    return load


def _bc2gm(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import bc2

    path = {"train": "devel-split/train/train.in", "dev": "devel-split/devel/devel.in", "test": "test/test.in"}[split]
    return bc2.read(root / "bc2gm/original" / path, report=report)


def _jnlpba(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import brat, iob

    if split == "dev":
        # The MTL dev set is sentences carved out of the official train split.
        return iob.read(root / "jnlpba/iob/devel.tsv", report=report)
    return brat.read(root / "jnlpba/standoff" / split, report=report)


def _linnaeus(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import linnaeus

    ids = _split_ids(root / "linnaeus/split" / f"{'devel' if split == 'dev' else split}.txt")
    return linnaeus.read(root / "linnaeus/original/tags.tsv", doc_ids=ids, report=report)


def _s800(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import brat

    ids = _split_ids(root / "s800/split" / f"{'devel' if split == 'dev' else split}.txt")
    standoff = root / "s800/standoff"
    for doc_id in ids:
        yield from brat.read(standoff / f"{doc_id}.ann", report=report)


def _genia(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import genia

    ids = genia.load_split_ids(root / "genia/nested-jsonlines/splits")[split]
    wanted = set(ids)
    # MEDLINE:97218353 occurs twice in the XML (the reader names the second "...#2");
    # like the nested-NER preprocessing behind the split lists, the later copy is used.
    docs: dict[str, Document] = {}
    for d in genia.read(root / "genia/original-xml/GENIAcorpus3.02.xml", report=report):
        base_id = d.id.split("#", 1)[0]
        if base_id in wanted:
            docs[base_id] = d
    return (docs[i] for i in ids if i in docs)


def _cmeee(root: Path, split: str, report: Report) -> Iterator[Document]:
    from bioner.io import cblue

    return cblue.read(root / "cmeee" / {"dev": "CMeEE_dev.json", "test": "CMeEE_test.json"}[split], report=report)


# CMeEE's official train split is not available and its test split is unlabelled, so a fixed
# train/test split is carved out of the labelled dev file: a seeded shuffle of its 5,000
# sentences, the first 1,000 for test, the other 4,000 for train. Never change the seed.
CMEEE_CARVE_SEED = "cmeee-carve-v1"
CMEEE_CARVE_TEST = 1000


def _cmeee_carved(root: Path, split: str, report: Report) -> Iterator[Document]:
    docs = list(_cmeee(root, "dev", report))
    order = list(range(len(docs)))
    random.Random(CMEEE_CARVE_SEED).shuffle(order)
    chosen = sorted(order[:CMEEE_CARVE_TEST]) if split == "test" else sorted(order[CMEEE_CARVE_TEST:])
    return (docs[i] for i in chosen)


# ---------------------------------------------------------------- registry

_MTL = "https://raw.githubusercontent.com/cambridgeltl/MTL-Bioinformatics-2016/df0df02fae6dbb87d88ffcf323b9096528f06f84/data"
_GH = "https://raw.githubusercontent.com"


def _gh_archive(repo: str, commit: str, members: tuple[tuple[str, str], ...]) -> Source:
    name = repo.split("/")[1]
    return Source(f"https://github.com/{repo}/archive/{commit}.tar.gz", members=tuple((f"{name}-{commit}/{m}", d) for m, d in members))


_NCBI_C = "5a266c6fc76fb2b5184cfa397ff0a5ecdb133aec"
_CDR_C = "0b66ee9245653b622cb6c36ba13d018b21b5b80e"
_BC2_C = "018161681145daf751af037cb890f3a54f62a74d"
_JNLPBA_C = "4455122de861c6e448e2e8c7f19ef8f49dbc32b2"

# checksums of files registered in loops below (from the pinned commits)
_SHA256 = {
    "bc5cdr/original/CDR_TrainingSet.PubTator.txt": "7afcec134e3d4871e74b0398d92850d3c9ac94c0bdc780003f2d60184c012bd8",
    "bc5cdr/original/CDR_DevelopmentSet.PubTator.txt": "9e18d8e700168887a7919e62f67ac2ce2357e3f409a48ee992906abdd80fe3e5",
    "bc5cdr/original/CDR_TestSet.PubTator.txt": "a3c48d5f35bdfce20c2371778abedc9fd24d1da092207072e5181ad53c8d0e2f",
    "cmeee/CMeEE_dev.json": "bbe6be016bdb1a418362507024902b70587b951a884cf4a96a6d1246822cd07c",
    "cmeee/CMeEE_test.json": "6614b545378694687e6f45ef8d5a3f7002bcfacf7e4f476e3644a90c3ee63f7b",
}

CORPORA: dict[str, CorpusInfo] = {}


def register(info: CorpusInfo) -> CorpusInfo:
    """Add a corpus (user corpora too) to the registry under ``info.name``."""
    if info.predict_types and not set(info.types) <= set(info.predict_types):
        raise ValueError(f"corpus {info.name!r}: predict_types {info.predict_types} must include its types {info.types}")
    CORPORA[info.name] = info
    return info


register(CorpusInfo(
    "ncbi-disease", "NCBI-disease corpus (Dogan et al. 2014), official PubTator release", ("Disease",), _ncbi,
    files=("ncbi-disease/original/NCBItestset_corpus.txt",),
    label_map=NCBI_MAP,
    sources=(
        Source(f"{_GH}/spyysalo/ncbi-disease/{_NCBI_C}/original-data/train/NCBItrainset_corpus.txt", "ncbi-disease/original/NCBItrainset_corpus.txt", "f311381b28a6d0f641f57f4a963bb83619c2bdec5cd9caabb1381f894d5db817"),
        Source(f"{_GH}/spyysalo/ncbi-disease/{_NCBI_C}/original-data/devel/NCBIdevelopset_corpus.txt", "ncbi-disease/original/NCBIdevelopset_corpus.txt", "02db559974624ae9cbe6cd95d64d953e6926bb63afb6b25b63e53bd8b41a4b55"),
        Source(f"{_GH}/spyysalo/ncbi-disease/{_NCBI_C}/original-data/test/NCBItestset_corpus.txt", "ncbi-disease/original/NCBItestset_corpus.txt", "61c8050bf6979ef7b943ec1158dfc03b651ea3367d4c37356f9de4841e85c9a3"),
    ),
    notes="Fine-grained types (SpecificDisease, DiseaseClass, Modifier, CompositeMention) are mapped to Disease. "
    "PMID 8528200 occurs twice in the train release; one train mention has offsets that do not match the text.",
))

_CDR_SOURCES = tuple(
    Source(f"{_GH}/cambridgeltl/bmip-2018/{_CDR_C}/BC5-CDR/original-data/CDR_{n}Set.PubTator.txt", f"bc5cdr/original/CDR_{n}Set.PubTator.txt", _SHA256[f"bc5cdr/original/CDR_{n}Set.PubTator.txt"])
    for n in ("Training", "Development", "Test")
)
for _name, _types, _title in (
    ("bc5cdr", ("Chemical", "Disease"), "BioCreative V CDR, chemicals and diseases"),
    ("bc5cdr-chem", ("Chemical",), "BioCreative V CDR, chemicals only"),
    ("bc5cdr-disease", ("Disease",), "BioCreative V CDR, diseases only"),
):
    register(CorpusInfo(_name, _title, _types, _bc5cdr(_types), files=("bc5cdr/original/CDR_TestSet.PubTator.txt",), sources=_CDR_SOURCES,
                        predict_types=("Chemical", "Disease") if len(_types) == 1 else (),
                        notes="Read from the official PubTator files; composite mentions keep their parts in attrs."
                        + (" Models are asked for both BC5CDR types and scored on this one." if len(_types) == 1 else "")))

register(CorpusInfo(
    "bc2gm", "BioCreative II Gene Mention (sentences; GENE with ALTGENE alternatives)", ("GENE",), _bc2gm,
    files=("bc2gm/original/test/test.in",),
    sources=(_gh_archive("spyysalo/bc2gm-corpus", _BC2_C, (("devel-split/", "bc2gm/original/devel-split/"), ("original-data/test/", "bc2gm/original/test/"))),),
    notes="Sentence-level corpus without document ids; dev is the standard 2,500-sentence carve-out of the official train.",
))

register(CorpusInfo(
    "jnlpba", "JNLPBA 2004 shared task (GENIA-derived, 5 types)", ("protein", "DNA", "RNA", "cell_line", "cell_type"), _jnlpba,
    files=("jnlpba/standoff/test", "jnlpba/iob/devel.tsv"),
    sources=(
        _gh_archive("spyysalo/jnlpba", _JNLPBA_C, (("standoff/", "jnlpba/standoff/"),)),
        Source(f"{_MTL}/JNLPBA/devel.tsv", "jnlpba/iob/devel.tsv", "462b09bc79a4dd69cec2e70b6041f54383b4b94892d2ee971a587fdc74caae80"),
    ),
    notes="train = the official train (all of GENIA 3.02); dev = the MTL dev sentences, which are carved out of that train split, "
    "so do not train on train and select on dev. Never score a model trained on JNLPBA train on GENIA, or the reverse.",
))

register(CorpusInfo(
    "linnaeus", "LINNAEUS species corpus v1.1 (100 full texts)", ("Species",), _linnaeus,
    files=("linnaeus/original/tags.tsv", "linnaeus/split/test.txt"),
    sources=(
        _gh_archive("spyysalo/linnaeus-corpus-data", "274ef6ed11178320832f58f8cca158a93889aeda", (("", "linnaeus/original/"),)),
        _gh_archive("spyysalo/linnaeus-corpus", "f75269c93b887d256061faf1339628b1c7e472db", (("split/", "linnaeus/split/"),)),
    ),
    notes="Uses tags.tsv (all mentions, species clues included), like the usual IOB version. "
    "Its guidelines count people (patients, women, children) as mentions of Homo sapiens; S800's do not, "
    "so its Species prompt is its own.",
    guidelines={"Species": ("organism, including people", "A mention of an organism by scientific or common name, including people "
                            "named as such (patients, women, men, children), e.g. human, patients, mice or Escherichia coli.")},
))

register(CorpusInfo(
    "s800", "Species-800 (S800 1.0, brat conversion)", ("Species",), _s800,
    files=("s800/standoff", "s800/split/test.txt"),
    sources=(
        _gh_archive("spyysalo/s800-revision-data", "3f41fbb3e6a0d1056e939541dc35a26a8a659862", (("original-standoff/", "s800/standoff/"),)),
        _gh_archive("spyysalo/s800", "f5425e7498930757c8577828eabc41cf88d80348", (("split/", "s800/split/"),)),
    ),
))

register(CorpusInfo(
    "genia", "GENIA 3.02 term corpus, nested, 5-type mapping, document-level 8:1:1 split", ("DNA", "RNA", "protein", "cell_line", "cell_type"), _genia,
    nested=True,
    files=("genia/original-xml/GENIAcorpus3.02.xml", "genia/nested-jsonlines/splits/test.txt"),
    sources=(
        Source("http://www.nactem.ac.uk/GENIA/current/GENIA-corpus/Term/GENIAcorpus3.02.tgz", sha256="85b2aede313308c33783ba508d054d0af0ff9c7e48490f0db5168a9f88d74d1c",
               members=(("GENIAcorpus3.02.xml", "genia/original-xml/GENIAcorpus3.02.xml"),)),
        _gh_archive("yhcc/CNN_Nested_NER", "d1c9fae196e2d7692f3d5afd86694dd933b08d71", (("preprocess/splits/genia/", "genia/nested-jsonlines/splits/"),)),
    ),
    notes="All GENIA documents are in JNLPBA train: never score a JNLPBA-trained model on GENIA.",
))

_CMEEE_SOURCES = tuple(
    Source(f"{_GH}/Z-MU-Z/cmeee/3ba030cadc8055152fabe414c7e1bc94bd74ceb2/data/CBLUEDatasets/CMeEE/CMeEE_{s}.json", f"cmeee/CMeEE_{s}.json", _SHA256[f"cmeee/CMeEE_{s}.json"]) for s in ("dev", "test")
)

register(CorpusInfo(
    "cmeee", "CMeEE (CBLUE), Chinese medical NER, nested", ("dis", "sym", "dru", "equ", "pro", "bod", "ite", "mic", "dep"), _cmeee,
    splits=("dev", "test"), language="zh", nested=True,
    files=("cmeee/CMeEE_dev.json",),
    sources=_CMEEE_SOURCES,
    notes="Only the labelled dev split and the unlabelled official test are available; the official train split is not.",
))

register(CorpusInfo(
    "cmeee-carved", "CMeEE dev file carved into a fixed train (4,000 sentences) / test (1,000) split", ("dis", "sym", "dru", "equ", "pro", "bod", "ite", "mic", "dep"),
    _cmeee_carved, splits=("train", "test"), language="zh", nested=True, files=("cmeee/CMeEE_dev.json",), sources=_CMEEE_SOURCES[:1],
    notes=f"Carved from CMeEE_dev.json (seeded shuffle {CMEEE_CARVE_SEED!r}, first {CMEEE_CARVE_TEST} sentences test, the rest train), "
          "because the official train split is absent and the official test is unlabelled. Scores on it are not comparable to CBLUE's leaderboard.",
))


# ---------------------------------------------------------------- API


def get(name: str) -> CorpusInfo:
    try:
        return CORPORA[name]
    except KeyError:
        raise BionerError("E501", f"unknown corpus {name!r}", hint=f"known corpora: {', '.join(CORPORA)}") from None


def load(name: str, split: str = "test", *, root: str | os.PathLike[str] | None = None, report: Report | None = None, skip_invalid: bool = True) -> Corpus:
    """Load one split of a registered corpus as a Corpus.

    Known quirks of the releases (a mention whose offsets do not match the text) are
    skipped and counted in ``corpus.report`` by default; pass ``skip_invalid=False``
    to have them raise.
    """
    info = get(name)
    if split not in info.splits:
        raise BionerError("E502", f"corpus {name!r} has no split {split!r}", hint=f"splits: {', '.join(info.splits)}")
    base = Path(root) if root is not None else data_dir()
    missing = [f for f in info.files if not (base / f).exists()]
    if missing:
        raise BionerError("E503", f"corpus {name!r} not found under {base} (missing {missing[0]})",
                          hint=f"set BIONER_DATA to the data folder, or run: bioner download {name}")
    report = report if report is not None else Report(skip_invalid=skip_invalid)
    corpus = Corpus(info.loader(base, split, report), name=name, split=split)
    for d in corpus:
        d.sort_entities()
    corpus.report = report  # type: ignore[attr-defined]
    return corpus


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "bioner"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URLs come from the registry or the user
        return resp.read()  # type: ignore[no-any-return]


def _write_atomic(dest: Path, data: bytes) -> None:
    from bioner.io._common import temp_beside

    fd, tmp = temp_beside(dest)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, dest)


def download(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    resolve_url: Callable[[str], str] | None = None,
    force: bool = False,
) -> list[Path]:
    """Fetch a corpus from its canonical sources into ``root`` (default: the data folder).

    ``resolve_url`` rewrites each URL (a mirror, or a local ``file://`` copy). Files
    already present are kept unless ``force``. Checksums are verified where the
    registry knows them (E504 on mismatch; nothing is written then).
    """
    info = get(name)
    base = Path(root) if root is not None else data_dir()
    written: list[Path] = []
    for src in info.sources:
        url = resolve_url(src.url) if resolve_url else src.url
        if not src.members:
            dest = base / src.dest
            if dest.exists() and not force:
                continue
        try:
            data = _fetch(url)
        except OSError as exc:
            raise BionerError("E504", f"could not download {url}: {exc}", hint="check the network, or pass a mirror") from None
        if src.sha256 and hashlib.sha256(data).hexdigest() != src.sha256:
            raise BionerError("E504", f"checksum mismatch for {url}", hint="the file changed upstream or the download is corrupt")
        if not src.members:
            _write_atomic(base / src.dest, data)
            written.append(base / src.dest)
            continue
        written.extend(_extract(data, src.members, base, url))
    return written


def _extract(data: bytes, members: Sequence[tuple[str, str]], base: Path, url: str) -> list[Path]:
    out: list[Path] = []
    with tarfile.open(fileobj=_io.BytesIO(data), mode="r:*") as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            for prefix, dest_prefix in members:
                if m.name == prefix or (prefix.endswith("/") and m.name.startswith(prefix)):
                    rel = m.name[len(prefix):]
                    dest = base / (dest_prefix + rel if dest_prefix.endswith("/") else dest_prefix)
                    if ".." in Path(rel).parts:
                        raise BionerError("E504", f"unsafe path {m.name!r} in archive {url}")
                    fh = tar.extractfile(m)
                    assert fh is not None  # isfile() above
                    _write_atomic(dest, fh.read())
                    out.append(dest)
                    break
    if not out:
        raise BionerError("E504", f"archive {url} holds none of the expected files ({', '.join(p for p, _ in members)})")
    return out

