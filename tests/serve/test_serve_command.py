"""``bioner serve`` as a command: option checks, and a real process that serves and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from bioner.cli.serve import serve_command

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("other")(lambda: None)  # two commands, so "serve" is addressed by name as under `bioner`
    return app


def test_llm_options_need_llm() -> None:
    r = runner.invoke(_app(), ["serve", "--adapter", "x"])
    assert r.exit_code == 2 and "--llm" in r.output


def test_inconsistent_limits_are_refused_before_loading_anything() -> None:
    r = runner.invoke(_app(), ["serve", "--max-queue", "8", "--max-texts", "64"])
    assert r.exit_code == 2 and "E815" in r.output and "max_queue" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_process_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "bioner.serve", "--port", str(port), "--threads", "1", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, Path(log.name).read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.post(f"{base}/extract", json={"text": "Aspirin-induced asthma.", "labels": ["disease", "chemical"]}, timeout=30)
        assert r.status_code == 200 and {e["text"] for e in r.json()["results"][0]["entities"]} >= {"Aspirin"}
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status still says "terminated"
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = Path(log.name).read_text()
    assert f"127.0.0.1:{port}" in output and "Application shutdown complete" in output
