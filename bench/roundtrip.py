"""Round-trip identity: every corpus, written in every format, read back.

Run: .venv/bin/python bench/roundtrip.py [--corpus NAME ...] [--split SPLIT]
Prints a markdown matrix and writes bench/results/roundtrip.md.

A cell says
- `=`            the Documents read back are identical (==) to the ones written;
- `= (adds ...)` identical once what the format had to add is removed (BioC needs a passage
                 and annotation ids; it records its collection header);
- `lossy: ...`   the writer reported what the format cannot hold (codes with counts);
                 `ents=` then says whether every entity (label + surface text, in order) survived;
- `E...`         the writer refused the corpus (e.g. a line break in PubTator text);
- `MISMATCH`     read-back differs although nothing was reported: a bug.
The native format of each corpus is marked with `*`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))

from bioner import corpora, io  # noqa: E402
from bioner.doc import Document  # noqa: E402
from bioner.errors import BionerError, Report  # noqa: E402

FORMATS = ["jsonl", "pubtator", "bioc-xml", "bioc-json", "brat", "iob", "bioes", "nested-jsonl", "cblue", "bc2", "gliner"]
SUFFIX = {"jsonl": ".jsonl", "pubtator": ".pubtator", "bioc-xml": ".bioc.xml", "bioc-json": ".bioc.json", "brat": "", "iob": ".iob2",
          "bioes": ".bioes", "nested-jsonl": ".jsonlines", "cblue": ".cblue.json", "bc2": ".in", "gliner": ".gliner.json"}
NATIVE = {"ncbi-disease": "pubtator", "bc5cdr": "pubtator", "bc5cdr-chem": "pubtator", "bc5cdr-disease": "pubtator", "bc2gm": "bc2",
          "jnlpba": "brat", "linnaeus": "", "s800": "brat", "genia": "", "cmeee": "cblue"}


def surface(docs: list[Document]) -> dict[str, list[tuple[str, str]]]:
    """Entities as (label, text without whitespace) per document, keyed by id when ids survive."""
    return {d.id: [(e.label, "".join(e.text_in(d.text).split())) for e in sorted(d.entities, key=lambda e: (e.start, -e.end, e.label))] for d in docs}


def same_entities(a: list[Document], b: list[Document]) -> bool:
    sa, sb = surface(a), surface(b)
    if sa.keys() == sb.keys():
        return sa == sb
    return list(sa.values()) == list(sb.values())  # formats that make their own ids: by position


def out_path(docs: list[Document], fmt: str, tmp: Path) -> Path:
    # formats that derive ids from the file name (<stem>:<n>) get the original stem back
    stems = {d.id.rsplit(":", 1)[0] for d in docs if ":" in d.id}
    stem = stems.pop() if len(stems) == 1 else "out"
    return tmp / f"{stem}{SUFFIX[fmt]}" if SUFFIX[fmt] else tmp / "brat"


def without_additions(back: list[Document], docs: list[Document]) -> tuple[list[Document], set[str]]:
    """``back`` with what the writer added (and the original lacked) removed, and what that was.

    Some formats must add structure: BioC needs a passage and annotation ids, and
    records its collection header. That is not a loss, so it is reported apart.
    """
    added: set[str] = set()
    out = []
    for b, d in zip(back, docs):
        meta = {k: v for k, v in b.metadata.items() if k in d.metadata}
        added |= {f"metadata {k}" for k in b.metadata if k not in d.metadata}
        passages = b.passages if d.passages else []
        if b.passages and not d.passages:
            added.add("passages")
        ents = []
        for eb, ed in zip(b.entities, d.entities):
            extra = set(eb.attrs) - set(ed.attrs)
            added |= {f"attr {k}" for k in extra}
            ents.append(eb.with_(attrs={k: v for k, v in eb.attrs.items() if k not in extra}) if extra else eb)
        ents += b.entities[len(ents):]
        out.append(b.copy(metadata=meta, passages=passages, entities=ents))
    return out, added


def one(docs: list[Document], fmt: str, tmp: Path) -> str:
    out = out_path(docs, fmt, tmp)
    report = Report()
    try:
        io.write(docs, out, fmt, report=report)
    except BionerError as exc:
        return exc.code
    back = list(io.read(out, fmt))
    if back == docs:
        return "="
    trimmed, added = without_additions(back, docs)
    if len(back) == len(docs) and trimmed == docs:
        return "= (adds " + ", ".join(sorted(added)) + ")"
    lost = {c: n for c, n in sorted(report.counts.items()) if c.startswith(("W3", "E3"))}
    if not lost:
        return "MISMATCH"
    kept = "yes" if same_entities(back, docs) else "no"
    return "lossy: " + " ".join(f"{c}×{n}" for c, n in lost.items()) + f"; ents={kept}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", nargs="*", default=list(corpora.CORPORA))
    ap.add_argument("--split", default=None)
    args = ap.parse_args()
    lines = ["| corpus | split | " + " | ".join(FORMATS) + " |", "|---|---|" + "---|" * len(FORMATS)]
    for name in args.corpus:
        info = corpora.get(name)
        for split in [args.split] if args.split else info.splits:
            docs = list(corpora.load(name, split))
            cells = []
            t0 = time.perf_counter()
            for fmt in FORMATS:
                with tempfile.TemporaryDirectory() as tmp:
                    res = one(docs, fmt, Path(tmp))
                native = "iob" if (name, split) == ("jnlpba", "dev") else NATIVE.get(name)
                cells.append(("*" if native == fmt else "") + res)
            lines.append(f"| {name} | {split} | " + " | ".join(cells) + " |")
            print(lines[-1], f"({time.perf_counter() - t0:.0f}s)", flush=True)
    out = ROOT / "bench" / "results" / "roundtrip.md"
    out.write_text(__doc__.split("\n\n", 1)[1] + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
