"""A local OpenAI-compatible server for a model folder: ``transformers serve`` on loopback.

Used to run and test the HTTP backend against a real server (and to serve a tuned model
whose adapter was merged into its base). Any other OpenAI-compatible server (vLLM,
llama.cpp, Ollama) works the same way from the backend's side.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bioner.errors import BionerError


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def transformers_server(model_dir: str | os.PathLike[str], *, log: str | os.PathLike[str], threads: int = 1, port: int | None = None,
                        start_timeout: float = 300.0, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run ``transformers serve MODEL_DIR`` on 127.0.0.1 and yield its base URL once ``/v1/models`` answers.

    The server gets an empty Hugging Face cache and no network (it serves the folder
    only), ``threads`` torch threads, and its output in ``log``. It is stopped on exit.
    """
    import httpx

    port = port or free_port()
    hf_home = Path(log).with_suffix(".hf")
    (hf_home / "hub").mkdir(parents=True, exist_ok=True)  # an empty Hub cache: /v1/models lists only the folder
    full_env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
                "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from transformers.cli.transformers import app; app()", "serve", os.fspath(model_dir),
                                 "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"], stdout=out, stderr=subprocess.STDOUT, env=full_env)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise BionerError("E722", f"transformers serve exited with {proc.returncode}", file=log, hint="its output is in the log file")
                try:
                    if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise BionerError("E722", f"transformers serve did not answer /v1/models in {start_timeout:.0f} s", file=log)
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
