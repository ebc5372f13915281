"""Peak memory of `bioner extract` on a 1 MB plain-text file, and proof that its entities reach the end.

Run: .venv/bin/python bench/extract_memory.py [--size 1000000] [--quantize int8|none] [--model PATH]

The file is built at run time from the test-split abstracts of NCBI-disease and BC5CDR
(then BC2GM sentences if more text is needed), joined by blank lines, cut at a paragraph
boundary near ``--size`` bytes, and read by `bioner extract -i FILE.txt` as ONE document
of about a million characters (the hardest case: nothing is split for the tool). The
command runs in a child process; its peak resident memory comes from the kernel
(``ru_maxrss`` of the child). Proof of coverage:

1. the last entity ends within the last paragraphs of the file, and entities are spread
   over every tenth of it;
2. the last ten paragraphs, extracted on their own, gives the same entities (same text, same
   labels, offsets shifted by the paragraph's start) as in the whole-file run: no
   window was dropped or misplaced at the end.

Writes bench/results/extract_memory.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bioner import corpora  # noqa: E402

LABELS = "disease,chemical,gene"
TAIL = 10  # paragraphs at the end of the file that are also extracted on their own


def build_text(size: int) -> str:
    paragraphs: list[str] = []
    total = 0
    for name in ("ncbi-disease", "bc5cdr", "bc2gm"):
        for doc in corpora.load(name, "test"):
            if total >= size:
                break
            paragraphs.append(doc.text.strip())
            total += len(doc.text.encode("utf-8")) + 2
    text = "\n\n".join(paragraphs)
    while len(text.encode("utf-8")) > size and "\n\n" in text:
        text = text.rsplit("\n\n", 1)[0]
    return text + "\n"


def run_extract(args: list[str]) -> tuple[float, int]:
    """Wall seconds and the child's peak RSS in MiB."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bioner", "extract", *args], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"bioner extract failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    # KiB on Linux, the largest of all children so far: call this for the big file first
    return dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--quantize", default="none", help="int8 scores depend on the batch (activation scales are per batch), so the tail check may differ")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    text = build_text(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        big.write_text(text, encoding="utf-8")
        common = ["-l", LABELS, "--quantize", args.quantize, "--threads", str(args.threads)] + (["-m", args.model] if args.model else [])
        out = Path(tmp) / "big.jsonl"
        dt, peak = run_extract(["-i", str(big), "-o", str(out), *common])
        [doc] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert doc["text"] == text, "the output document's text differs from the input file"
        ents = doc["entities"]
        assert all(0 <= e["start"] < e["end"] <= len(text) and text[e["start"] : e["end"]].strip() for e in ents)
        body = text.rstrip("\n")
        last_par = "\n\n".join(body.split("\n\n")[-TAIL:])
        par_start = len(body) - len(last_par)
        small = Path(tmp) / "last.txt"
        small.write_text(last_par, encoding="utf-8")
        small_out = Path(tmp) / "last.jsonl"
        run_extract(["-i", str(small), "-o", str(small_out), *common])
        [alone] = [json.loads(line) for line in small_out.read_text(encoding="utf-8").splitlines()]
    n = len(text)
    tenths = [sum(1 for e in ents if k * n / 10 <= e["start"] < (k + 1) * n / 10) for k in range(10)]
    in_whole = sorted((e["start"] - par_start, e["end"] - par_start, e["label"]) for e in ents if e["start"] >= par_start)
    on_own = sorted((e["start"], e["end"], e["label"]) for e in alone["entities"])
    last = max(ents, key=lambda e: e["end"])
    lines = [
        f"Command: `.venv/bin/python bench/extract_memory.py --size {args.size} --quantize {args.quantize} --threads {args.threads}`",
        "",
        f"Input: one plain-text document of {n:,} characters ({len(text.encode('utf-8')):,} bytes; test abstracts of NCBI-disease, BC5CDR, BC2GM), "
        f"labels {LABELS}, `bioner extract -i big.txt -o big.jsonl --quantize {args.quantize} --threads {args.threads}`.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| wall time | {dt:.0f} s ({n / dt:,.0f} characters/s) |",
        f"| peak RSS of the extract process | {peak:,} MiB |",
        f"| entities | {len(ents):,} |",
        f"| entities per tenth of the file | {' / '.join(map(str, tenths))} |",
        f"| last entity | {last['label']!r} at {last['start']:,}-{last['end']:,} ({n - last['end']:,} characters before the end of the file) |",
        f"| last {TAIL} paragraphs ({len(last_par):,} characters from {par_start:,}) | whole-file run: {len(in_whole)} entities; on its own: {len(on_own)}; "
        f"identical: {in_whole == on_own} |",
    ]
    table = "\n".join(lines)
    print(table)
    (ROOT / "bench" / "results" / "extract_memory.md").write_text(table + "\n")
    if in_whole != on_own or min(tenths) == 0:
        raise SystemExit("coverage check failed: see the table")


if __name__ == "__main__":
    main()
