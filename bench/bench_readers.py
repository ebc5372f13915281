"""Reading speed of bioner's PubTator and BioC readers against the ``bioc`` package.

For each BC5CDR split, times (best of N runs) reading the whole file into a list:

* bioner ``pubtator.read`` and the ``bioc`` package's PubTator parser (``bioc.pubtator.load``),
* bioner ``bioc.read`` (BioC XML, streamed, validated, to Documents) and the ``bioc``
  package's bare parse of the same file into its own objects (``bioc.biocxml.load``),
  plus its document iterator (``BioCXMLDocumentReader``).

Prints a markdown table (documents/s and the ratio to ``bioc.biocxml.load``) and writes it
to bench/results/readers.md. Data come from $BIONER_DATA (default: ../shared/data next to
the repository). Usage: ``python bench/bench_readers.py [--repeat 3] [--splits Test Training]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sized
from importlib import metadata
from pathlib import Path
from typing import Any

from bioc import biocxml
from bioc import pubtator as bioc_pubtator

from bioner.io import bioc as bioner_bioc
from bioner.io import pubtator as bioner_pubtator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "readers.md"
BASELINE = "bioc.biocxml.load (bare parse)"


def data_dir() -> Path:
    return Path(os.environ.get("BIONER_DATA") or ROOT.parent / "shared" / "data")


def readers(split: str, root: Path) -> dict[str, tuple[Path, Callable[[Path], Sized]]]:
    """name -> (file, function reading the whole file and returning its documents)."""
    xml = root / "bc5cdr" / "original" / f"CDR_{split}Set.BioC.xml"
    pub = root / "bc5cdr" / "original" / f"CDR_{split}Set.PubTator.txt"

    def bioc_load(p: Path) -> Sized:
        with p.open("rb") as fh:
            return biocxml.load(fh).documents  # type: ignore[no-any-return]

    def bioc_iter(p: Path) -> Sized:
        with biocxml.iterparse(str(p)) as reader:
            return list(reader)

    def bioc_pub(p: Path) -> Sized:
        with p.open(encoding="utf-8") as fh:
            return bioc_pubtator.load(fh)  # type: ignore[no-any-return]

    return {
        "bioner pubtator.read": (pub, lambda p: list(bioner_pubtator.read(p))),
        "bioc.pubtator.load": (pub, bioc_pub),
        # skip_invalid: BC5CDR train/dev BioC hold 3/1 annotations whose offsets miss their text (E202)
        "bioner bioc.read (XML)": (xml, lambda p: list(bioner_bioc.read(p, skip_invalid=True))),
        BASELINE: (xml, bioc_load),
        "bioc BioCXMLDocumentReader": (xml, bioc_iter),
    }


def best_of(fns: dict[str, tuple[Path, Callable[[Path], Sized]]], repeat: int) -> dict[str, tuple[float, int]]:
    """name -> (best seconds, documents read); runs interleave so load changes hit all readers alike."""
    best: dict[str, tuple[float, int]] = {}
    for _ in range(repeat):
        for name, (path, fn) in fns.items():
            start = time.perf_counter()
            n = len(fn(path))
            secs = time.perf_counter() - start
            best[name] = min(best.get(name, (secs, n)), (secs, n))
    return best


def run(splits: list[str], repeat: int) -> list[dict[str, Any]]:
    rows = []
    root = data_dir()
    for split in splits:
        fns = readers(split, root)
        timed = best_of(fns, repeat)
        base_secs, base_docs = timed[BASELINE]
        for name, (secs, docs) in timed.items():
            rows.append({
                "split": split,
                "reader": name,
                "file": fns[name][0].name,
                "docs": docs,
                "secs": secs,
                "docs_s": docs / secs,
                "ratio": (docs / secs) / (base_docs / base_secs),
            })
    return rows


def table(rows: list[dict[str, Any]], repeat: int) -> str:
    lines = [
        f"# Reader speed on BC5CDR (best of {repeat}; ratio = docs/s relative to {BASELINE})",
        "",
        f"Python {platform.python_version()}, bioc {metadata.version('bioc')}, {os.cpu_count()} CPUs, {platform.machine()}",
        "",
        "| split | reader | file | docs | best s | docs/s | ratio |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['split']} | {r['reader']} | {r['file']} | {r['docs']} | {r['secs']:.3f} | {r['docs_s']:,.0f} | {r['ratio']:.2f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--splits", nargs="+", default=["Test", "Training"], choices=["Training", "Development", "Test"])
    args = ap.parse_args(argv)
    out = table(run(args.splits, args.repeat), args.repeat)
    print(out)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(out, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
