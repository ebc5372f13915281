"""Loading models and running the app under uvicorn: ``serve`` (what ``bioner serve`` calls) and ``running`` (a server in a thread).

uvicorn handles SIGINT/SIGTERM gracefully: it stops accepting connections, lets
requests in flight finish (up to ``drain_timeout``), then runs the app's lifespan
shutdown, which drains the micro-batcher. One process, one model copy: the model
thread keeps the cores busy, and more uvicorn workers would each load the model.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .predictors import LLMPredictor, Predictor, SelectedPredictor, SpanPredictor
from .settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bioner.models import LLMOptions

log = logging.getLogger("bioner.serve")
LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_predictors(
    models: Sequence[str | None] = (None,),
    *,
    settings: ServeSettings | None = None,
    threads: int | None = None,
    quantize: str | None = None,
    llm: bool = False,
    llm_model: str | None = None,
    llm_options: LLMOptions | None = None,
    selector: str | os.PathLike[str] | None = None,
) -> list[Predictor]:
    """Load the span models (None: the default model) and, with ``llm``, an LLM engine; raise BionerError (E601, E71x) when one cannot load.

    ``selector``: a selector folder that verifies every entity of every model (E620 when it is not one).
    """
    from bioner.models import load_llm, load_model
    from bioner.selector import load_selector

    settings = settings or ServeSettings()
    stage = load_selector(selector)
    out: list[Predictor] = [SpanPredictor(load_model(m, threads=threads, quantize=quantize), batch_size=settings.batch_size) for m in models]
    if llm:
        out.append(LLMPredictor(load_llm(llm_model, llm_options, threads=threads, batch_size=min(settings.batch_size, 16))))
    return out if stage is None else [SelectedPredictor(p, stage) for p in out]


def uvicorn_config(app: FastAPI, *, host: str = LOOPBACK, port: int = 8000, settings: ServeSettings | None = None,
                   log_level: str = "info", access_log: bool = True) -> Any:
    """A ``uvicorn.Config`` whose graceful-shutdown wait matches the service's drain timeout."""
    import uvicorn

    settings = settings or ServeSettings()
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log, workers=1, lifespan="on",
                          timeout_graceful_shutdown=math.ceil(settings.drain_timeout), server_header=False)


def serve(
    models: Sequence[str | None] = (None,),
    *,
    host: str = LOOPBACK,
    port: int = 8000,
    settings: ServeSettings | None = None,
    threads: int | None = None,
    quantize: str | None = None,
    llm: bool = False,
    llm_model: str | None = None,
    llm_options: LLMOptions | None = None,
    selector: str | os.PathLike[str] | None = None,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Load the models, then serve them on ``host:port`` until SIGINT/SIGTERM (blocking)."""
    import uvicorn

    from .app import create_app

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer's own threads fight torch's on a small machine
    settings = settings or ServeSettings()
    predictors = load_predictors(models, settings=settings, threads=threads, quantize=quantize, llm=llm, llm_model=llm_model, llm_options=llm_options,
                                 selector=selector)
    if not is_loopback(host):
        log.warning("listening on %s: the service has no authentication; anyone who can reach this address can use it", host)
    app = create_app(predictors, settings)
    uvicorn.Server(uvicorn_config(app, host=host, port=port, settings=settings, log_level=log_level, access_log=access_log)).run()


@contextmanager
def running(app: FastAPI, *, host: str = LOOPBACK, port: int = 0, settings: ServeSettings | None = None,
            log_level: str = "warning", startup_timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with real uvicorn in a background thread; yields the base URL (``port=0``: a free port).

    On exit the server shuts down gracefully, as on SIGTERM: requests in flight finish first.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, host=host, port=bound_port, settings=settings, log_level=log_level, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="bioner-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {host}:{bound_port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
