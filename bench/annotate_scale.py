"""Batch annotation at scale: kill -9 and resume, and Ray against the local run, on BC5CDR.

Run: .venv/bin/python bench/annotate_scale.py [--docs N] [--shard-size 25] [--workers 1,2] [--kill-after 2]

BC5CDR test split (the PubTator file under $BIONER_DATA, 500 abstracts; ``--docs N``: its first
N documents, cut from the file into a temporary copy), types Chemical and Disease with
their natural-language prompts (``--labels-from bc5cdr``), the shipped span model.

(a) ``bioner annotate`` runs uninterrupted (the reference); then the same command runs in
    a subprocess that is sent SIGKILL once ``--kill-after`` shards are listed in its
    manifest, and is run again to resume. Its shard files must equal the reference's,
    byte for byte, and its documents must be the input's, each once, in order.
(b) The same job with ``--workers`` local processes and on a local Ray (``--ray``) with
    each of ``--workers`` actors: shard files compared with the reference, byte for byte.

Speed is documents/s after the first shard (model loading and Ray start-up left out) and
wall-clock seconds of the whole run. Writes bench/results/annotate_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bioner.annotate import MANIFEST, AnnotateResult, annotate, read_output  # noqa: E402
from bioner.models import corpus_labels  # noqa: E402

SOURCE = "bc5cdr/original/CDR_TestSet.PubTator.txt"
RESULTS = ROOT / "bench" / "results" / "annotate_scale.md"
# the CLI in a subprocess, whether or not annotate is registered in bioner.cli yet
CLI = (
    "import typer\nfrom bioner.cli import app\nfrom bioner.cli.annotate import annotate_command\n"
    "if not any(c.name == 'annotate' for c in app.registered_commands):\n    app.command('annotate')(annotate_command)\n"
    "app(prog_name='bioner')\n"
)


def subset(src: Path, n: int | None, dest: Path) -> list[str]:
    """The first ``n`` PubTator documents of ``src`` (blank-line separated blocks) written to ``dest``; their PMIDs."""
    blocks = [b for b in src.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    blocks = blocks[:n] if n else blocks
    dest.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return [b.lstrip("\n").split("|", 1)[0] for b in blocks]


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("shard-*"))}


def listed(out: Path) -> int:
    try:
        return len(json.loads((out / MANIFEST).read_text(encoding="utf-8"))["shards"])
    except (OSError, ValueError, KeyError):
        return 0  # not written yet (it is replaced atomically, so never half-read)


def kill_and_resume(inp: Path, out: Path, args: list[str], kill_after: int) -> tuple[int, float]:
    """Run the CLI, SIGKILL it once ``kill_after`` shards are listed, run it again; (shards at the kill, resume seconds)."""
    cmd = [sys.executable, "-c", CLI, "annotate", "-i", str(inp), "-o", str(out), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while listed(out) < kill_after:
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before {kill_after} shards: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = listed(out)
    t = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"resume failed: {done.stderr}")
    return at_kill, time.monotonic() - t


def row(name: str, workers: int, res: AnnotateResult, wall: float, same: bool | str) -> str:
    return (f"| {name} | {workers} | {res.documents} | {res.shards} | {wall:.1f} | {res.documents / wall:.2f} | {res.steady_docs_per_second:.2f} | "
            f"{'yes' if same is True else same or 'NO'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=None, help="use the first N documents (default: all 500)")
    ap.add_argument("--shard-size", type=int, default=25)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for the local and Ray runs")
    ap.add_argument("--kill-after", type=int, default=2, help="shards listed in the manifest before the SIGKILL")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--note", default="", help="a line added under the table (e.g. the machine's load)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    workers = [int(w) for w in a.workers.split(",")]
    load_start = os.getloadavg()[0]  # other jobs on the machine skew docs/s: the table says how busy it was
    labels = corpus_labels("bc5cdr")
    tmp = Path(tempfile.mkdtemp(prefix="annotate-scale-"))
    try:
        inp = tmp / "bc5cdr-test.pubtator"
        ids = subset(Path(os.environ["BIONER_DATA"]) / SOURCE, a.docs, inp)
        common = dict(labels=labels, shard_size=a.shard_size)
        rows = []
        t = time.monotonic()
        ref = annotate([inp], tmp / "reference", **common)
        rows.append(row("local, uninterrupted (reference)", 1, ref, time.monotonic() - t, "-"))
        reference = shard_bytes(tmp / "reference")

        # (a) kill -9 mid-run, then resume with the same command
        cli_args = ["--labels", ",".join(f"{k}={v}" for k, v in labels.items()), "--shard-size", str(a.shard_size)]
        at_kill, resume_s = kill_and_resume(inp, tmp / "killed", cli_args, a.kill_after)
        killed = shard_bytes(tmp / "killed")
        got_ids = [d.id for d in read_output(tmp / "killed")]
        same_after_kill = killed == reference and got_ids == ids
        kill_line = (f"kill -9 after {at_kill} of {len(reference)} shards were listed in the manifest; the resumed run annotated the rest in "
                     f"{resume_s:.1f} s (subprocess, model load included): shard files identical to the reference: "
                     f"{'yes' if killed == reference else 'NO'}; documents {len(got_ids)} of {len(ids)}, each once, in input order: "
                     f"{'yes' if got_ids == ids else 'NO'}")

        # (b) worker processes and Ray actors
        for w in workers:
            if w > 1:
                t = time.monotonic()
                res = annotate([inp], tmp / f"local-{w}", workers=w, **common)
                rows.append(row("local processes", w, res, time.monotonic() - t, shard_bytes(tmp / f"local-{w}") == reference))
            if not a.no_ray:
                t = time.monotonic()
                res = annotate([inp], tmp / f"ray-{w}", ray=True, workers=w, **common)
                rows.append(row("Ray Data actors (local Ray)", w, res, time.monotonic() - t, shard_bytes(tmp / f"ray-{w}") == reference))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    head = [
        f"Command: `.venv/bin/python bench/annotate_scale.py {shlex.join(sys.argv[1:])}`",
        "",
        f"Date: {date.today().isoformat()}. BC5CDR test (`{SOURCE}`), {len(ids)} documents, shards of {a.shard_size}; "
        f"labels {', '.join(f'{k}={v}' for k, v in labels.items())}; model `bioner-span-minilm`, float32, 1 torch thread per process/actor.",
        "wall s and docs/s (run): the whole run, model loading and Ray start-up included; docs/s (steady): after the first shard "
        "came back (with several workers, shards finished beside the first one make it optimistic on short runs).",
        "",
        "| run | workers | documents | shards | wall s | docs/s (run) | docs/s (steady) | identical to reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    load = f"Machine load (1-minute load average, {os.cpu_count()} cores): {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end."
    text = "\n".join([*head, *rows, "", kill_line, "", load, *(["", a.note] if a.note else []), ""])
    print(text)
    a.out.write_text(text, encoding="utf-8")
    if not same_after_kill or any(r.endswith("| NO |") for r in rows):
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
