"""Load test of ``bioner serve`` on loopback: micro-batching ON against one request per model call, in one run.

Starts two real servers (``python -m bioner.serve``, uvicorn, the shipped span model,
1 torch thread): one with ``--max-batch B`` (micro-batching on) and one with
``--max-batch 1`` (every request its own model call). Fires the same bounded load at
each — ``--requests`` POST /extract of one short biomedical sentence each (sentences of
NCBI-disease test, from $BIONER_DATA), ``--concurrency`` in flight, httpx async
client — alternating ``--rounds`` times between the two so that drift in the
machine's load hits both alike. Prints a markdown table: requests/s, p50 and p99
latency, 5xx and other failures, texts per model call, and the throughput ratio.

Usage: ``python bench/serve_load.py [--requests 2000] [--concurrency 32] [--save bench/results/serve_load.md]``.
The client runs on the same machine as the server and takes some of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def sentences(limit: int = 200) -> list[str]:
    """Sentences of NCBI-disease test with 6-40 words, in corpus order."""
    os.environ.setdefault("BIONER_DATA", str(ROOT.parent / "shared" / "data"))
    from bioner import corpora
    from bioner.text import split_sentences

    out = []
    for doc in corpora.load("ncbi-disease", "test"):
        for s, e in split_sentences(doc.text):
            text = doc.text[s:e].strip()
            if 6 <= len(text.split()) <= 40:
                out.append(text)
    return out[:limit]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    max_batch: int
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, args: argparse.Namespace, logdir: Path) -> None:
        self.port = free_port()
        self.log = logdir / f"serve-{self.name}.log"
        cmd = [sys.executable, "-m", "bioner.serve", "--port", str(self.port), "--threads", str(args.threads), "--max-batch", str(self.max_batch),
               "--max-wait-ms", str(args.max_wait_ms), "--batch-size", str(args.batch_size), "--no-access-log", "--log-level", "warning"]
        if args.model:
            cmd += ["--model", args.model]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server {self.name} exited: {self.log.read_text() if self.log else ''}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server {self.name} not ready after {timeout} s")

    def stats(self) -> dict[str, float]:
        return httpx.get(f"{self.base}/health", timeout=10).json()["batches"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    ok: int = 0
    server_errors: int = 0  # 5xx
    other_errors: int = 0  # 4xx, transport errors
    calls: float = 0.0
    texts: float = 0.0

    def add(self, other: Result) -> None:
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.ok += other.ok
        self.server_errors += other.server_errors
        self.other_errors += other.other_errors
        self.calls += other.calls
        self.texts += other.texts

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def load(base: str, texts: list[str], n: int, concurrency: int, labels: list[str] | None, offset: int) -> Result:
    """``n`` requests, ``concurrency`` at a time; request i sends sentence (offset + i)."""
    result = Result()
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=600) as client:

        async def worker() -> None:
            for i in counter:
                body: dict[str, object] = {"text": texts[(offset + i) % len(texts)]}
                if labels:
                    body["labels"] = labels
                t0 = time.perf_counter()
                try:
                    r = await client.post("/extract", json=body)
                    status = r.status_code
                except httpx.TransportError:
                    status = 0
                result.latencies.append(time.perf_counter() - t0)
                if status == 200:
                    result.ok += 1
                elif status >= 500:
                    result.server_errors += 1
                else:
                    result.other_errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def measure(server: Server, texts: list[str], n: int, concurrency: int, labels: list[str] | None, offset: int) -> Result:
    before = server.stats()
    res = asyncio.run(load(server.base, texts, n, concurrency, labels, offset))
    after = server.stats()
    res.calls = after["calls"] - before["calls"]
    res.texts = after["texts"] - before["texts"]
    return res


def table(results: dict[str, Result], servers: list[Server]) -> str:
    rows = ["| micro-batching | max batch | requests | requests/s | p50 ms | p99 ms | 5xx | other failures | texts per model call |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in servers:
        r = results[s.name]
        per_call = r.texts / r.calls if r.calls else float("nan")
        rows.append(f"| {s.name} | {s.max_batch} | {len(r.latencies)} | {r.rps:.2f} | {r.pct(0.5):.0f} | {r.pct(0.99):.0f} | {r.server_errors} | "
                    f"{r.other_errors} | {per_call:.1f} |")
    on, off = results[servers[0].name], results[servers[1].name]
    ratio = on.rps / off.rps if off.rps else float("nan")
    return "\n".join(rows) + f"\n\nThroughput ratio, micro-batching on / off: **{ratio:.2f}x**\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per mode (split over the rounds)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2, help="alternations between the two servers")
    ap.add_argument("--max-batch", type=int, default=32, help="texts per model call with micro-batching on")
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--batch-size", type=int, default=8, help="windows per forward pass inside a call")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per server")
    ap.add_argument("--model", default=None, help="span model (default: the shipped bioner-span-minilm)")
    ap.add_argument("--labels", default=None, help="comma-separated labels to send (default: none, the model's six default types)")
    ap.add_argument("--warmup", type=int, default=32, help="unmeasured requests per server first")
    ap.add_argument("--save", type=Path, default=None, help="also write the table, command and date to this markdown file")
    args = ap.parse_args()

    texts = sentences()
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    logdir = Path(os.environ.get("TMPDIR", "/tmp"))
    servers = [Server("on", args.max_batch), Server("off", 1)]
    load_start = os.getloadavg()
    started = time.perf_counter()
    try:
        for s in servers:
            s.start(args, logdir)
        for s in servers:
            s.wait_ready()
        for s in servers:
            measure(s, texts, args.warmup, args.concurrency, labels, 10_000)
        results = {s.name: Result() for s in servers}
        per_round = max(1, args.requests // args.rounds)
        for k in range(args.rounds):
            order = servers if k % 2 == 0 else servers[::-1]
            for s in order:
                r = measure(s, texts, per_round, args.concurrency, labels, k * per_round)
                print(f"round {k + 1} {s.name}: {r.rps:.2f} req/s, p50 {r.pct(0.5):.0f} ms, {r.texts / max(r.calls, 1):.1f} texts/call", file=sys.stderr)
                results[s.name].add(r)
    finally:
        for s in servers:
            s.stop()
    load_end = os.getloadavg()
    out = table(results, servers)
    setting = (f"{args.requests} requests per mode in {args.rounds} alternating rounds, concurrency {args.concurrency}, one sentence per request "
               f"({len(texts)} NCBI-disease test sentences), labels: {args.labels or 'the six defaults (one prompt each)'}; "
               f"server: uvicorn, {args.threads} torch thread(s), max wait {args.max_wait_ms} ms, batch size {args.batch_size}; "
               f"{os.cpu_count()} CPUs, load average {load_start[0]:.1f} at start / {load_end[0]:.1f} at end; "
               f"{time.perf_counter() - started:.0f} s in all; Python {platform.python_version()}.")
    print(out)
    print(setting)
    if args.save:
        cmd = " ".join(shlex.quote(a) for a in ["python", "bench/serve_load.py", *sys.argv[1:]])
        args.save.write_text(f"# bioner serve: load test, micro-batching on vs off\n\n`{cmd}` — {dt.datetime.now():%Y-%m-%d %H:%M}\n\n"
                             f"{out}\n{setting}\n")


if __name__ == "__main__":
    main()
