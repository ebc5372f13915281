"""`bioner stats` for every registered corpus and split, beside the counts in the data README.

Run: .venv/bin/python bench/corpus_stats.py   (reads $BIONER_DATA, default ../shared/data)
Prints a markdown table and writes it to bench/results/corpus_stats.md.

The reference numbers are copied from shared/data/README.md (its tables); "—" where it
gives none. bioner reads the offset-bearing originals (PubTator, standoff, XML, BC2
format), so sentences there come from bioner's splitter, not from the IOB files.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))

from bioner import corpora  # noqa: E402
from bioner.stats import corpus_stats  # noqa: E402

# (corpus, split) -> (documents, sentences, mentions, {type: count}, nested) from the data README
README: dict[tuple[str, str], tuple[int | None, int | None, int | None, dict[str, int], int | None]] = {
    ("ncbi-disease", "train"): (592, 5424, 5145, {}, None),
    ("ncbi-disease", "dev"): (100, 923, 787, {}, None),
    ("ncbi-disease", "test"): (100, 940, 960, {}, None),
    ("bc5cdr", "train"): (500, 4560, 9385, {"Chemical": 5203, "Disease": 4182}, None),
    ("bc5cdr", "dev"): (500, 4581, 9591, {"Chemical": 5347, "Disease": 4244}, None),
    ("bc5cdr", "test"): (500, 4797, 9809, {"Chemical": 5385, "Disease": 4424}, None),
    ("bc5cdr-chem", "train"): (500, 4560, 5203, {}, None),
    ("bc5cdr-chem", "dev"): (500, 4581, 5347, {}, None),
    ("bc5cdr-chem", "test"): (500, 4797, 5385, {}, None),
    ("bc5cdr-disease", "train"): (500, 4560, 4182, {}, None),
    ("bc5cdr-disease", "dev"): (500, 4581, 4244, {}, None),
    ("bc5cdr-disease", "test"): (500, 4797, 4424, {}, None),
    ("bc2gm", "train"): (None, 12500, 15204, {}, None),
    ("bc2gm", "dev"): (None, 2500, 3061, {}, None),
    ("bc2gm", "test"): (None, 5000, 6331, {}, None),
    ("jnlpba", "train"): (2000, 18546, 51301, {"protein": 30269, "DNA": 9533, "RNA": 951, "cell_line": 3830, "cell_type": 6718}, None),
    ("jnlpba", "dev"): (None, 1739, 4551, {"protein": 2466, "DNA": 1052, "RNA": 107, "cell_line": 400, "cell_type": 526}, None),
    ("jnlpba", "test"): (404, 3856, 8662, {"protein": 5067, "DNA": 1056, "RNA": 118, "cell_line": 500, "cell_type": 1921}, None),
    ("linnaeus", "train"): (50, 11935, 2119, {}, None),
    ("linnaeus", "dev"): (17, 4078, 708, {}, None),
    ("linnaeus", "test"): (33, 7142, 1432, {}, None),
    ("s800", "train"): (560, None, 2557, {}, None),
    ("s800", "dev"): (80, None, 384, {}, None),
    ("s800", "test"): (160, None, 767, {}, None),
    ("genia", "train"): (1601, 15038, 46203, {}, None),
    ("genia", "dev"): (199, 1765, 4714, {"DNA": 1161, "RNA": 139, "protein": 2466, "cell_line": 372, "cell_type": 576}, 444),
    ("genia", "test"): (199, 1732, 5119, {"DNA": 1132, "RNA": 106, "protein": 2900, "cell_line": 403, "cell_type": 578}, 603),
    ("cmeee", "dev"): (None, 5000, 20300, {"bod": 5883, "dis": 4935, "sym": 4130, "pro": 2057, "dru": 1440, "ite": 923, "mic": 584, "equ": 238, "dep": 110}, None),
    ("cmeee", "test"): (None, 3000, 0, {}, None),
}


def cell(ours: int | None, ref: int | None) -> str:
    if ours is None:
        return "—"
    if ref is None:
        return f"{ours:,}"
    return f"{ours:,}" if ours == ref else f"**{ours:,}** ({ref:,})"


def main() -> None:
    lines = [
        "| corpus | split | documents | sentences | mentions | per type (README in parentheses where different) | nested | skipped / warnings | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, info in corpora.CORPORA.items():
        for split in info.splits:
            t0 = time.perf_counter()
            (row,) = corpus_stats(name, split)
            dt = time.perf_counter() - t0
            ref = README.get((name, split), (None, None, None, {}, None))
            types = ", ".join(f"{t} {cell(n, ref[3].get(t))}" for t, n in sorted(row.by_type.items())) or "—"
            issues = ", ".join(f"{c}×{n}" for c, n in row.issues.items()) or "—"
            lines.append(
                f"| {name} | {split} | {cell(row.documents, ref[0])} | {cell(row.sentences, ref[1])} | {cell(row.mentions, ref[2])} "
                f"| {types} | {cell(row.nested, ref[4])} | {issues} | {dt:.1f} |"
            )
            print(lines[-1], flush=True)
    out = ROOT / "bench" / "results" / "corpus_stats.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "Counts by `bioner stats`; where a number differs from shared/data/README.md it is bold with the README's in parentheses.\n\n"
    out.write_text(header + "\n".join(lines) + "\n")
    print("\n".join(lines[:2]))


if __name__ == "__main__":
    main()
