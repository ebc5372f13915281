"""``bioner serve``: the HTTP service (``bioner.serve.serve``) on loopback unless told otherwise."""

from __future__ import annotations

from typing import Annotated

import typer

from bioner.errors import BionerError

from ._common import QUANTIZE_HELP, handles_errors, parse_quantize


@handles_errors
def serve_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help=(
        "Span model folder or Hub name; repeat to serve several (requests pick one by name). "
        "Default: $BIONER_MODEL or the shipped bioner-span-minilm."))] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on. 127.0.0.1 (default): this machine only; 0.0.0.0: every interface (no authentication!).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8000,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="Torch threads (default: torch's choice; 1 on a machine shared with other jobs).")] = None,
    quantize: Annotated[str, typer.Option("--quantize", "-q", help=QUANTIZE_HELP)] = "none",
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Most texts (over all waiting requests) in one model call; 1 turns micro-batching off.")] = 32,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", min=0.0, help="How long the oldest waiting request may wait for others to join its model call.")] = 5.0,
    max_queue: Annotated[int, typer.Option("--max-queue", min=1, help="Most texts waiting for the model; past it requests get 503 with Retry-After.")] = 1024,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per forward pass inside a model call.")] = 8,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Largest request body.")] = 1_000_000,
    max_texts: Annotated[int, typer.Option("--max-texts", min=1, help="Most texts in one request.")] = 64,
    max_chars: Annotated[int, typer.Option("--max-chars", min=1, help="Longest text, in characters.")] = 20_000,
    drain_timeout: Annotated[float, typer.Option("--drain-timeout", min=0.0, help="Seconds shutdown waits for requests in flight and queued.")] = 30.0,
    llm: Annotated[bool, typer.Option("--llm", help="Also load an LLM engine (requests with engine llm).")] = False,
    llm_model: Annotated[str | None, typer.Option("--llm-model", help="With --llm: the causal LM (default: the adapter's base model).")] = None,
    adapter: Annotated[str | None, typer.Option("--adapter", help="With --llm: LoRA adapter folder (default: the shipped one, when present).")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="With --llm: json or tags (default: what the adapter was tuned for).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="With --llm: an OpenAI-compatible server serving --llm-model, instead of a local model.")] = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="With --llm: longest answer per sentence, in tokens.")] = 256,
    selector: Annotated[str | None, typer.Option("--selector", help="Verify every entity of every model with this selector folder, or 'default' (the shipped one).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level: critical, error, warning, info, debug.")] = "info",
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log one line per request.")] = True,
) -> None:
    """Serve entity extraction over HTTP: POST /extract, GET /health, GET /models, docs at /docs."""
    if not llm and (llm_model or adapter or scheme or url):
        raise typer.BadParameter("--llm-model, --adapter, --scheme and --url apply with --llm", param_hint="--llm")
    quantized = parse_quantize(quantize)
    try:
        from bioner.models import LLMOptions
        from bioner.serve import ServeSettings, serve  # serve warns when the host is not loopback
    except ImportError as exc:  # fastapi / uvicorn are in the llm extra
        raise BionerError("E814", f"cannot start the service: {exc}", hint="pip install 'bioner[llm]'") from None
    try:
        settings = ServeSettings(max_body_bytes=max_body_bytes, max_texts=max_texts, max_chars=max_chars, max_batch=max_batch,
                                 max_wait_ms=max_wait_ms, max_queue=max_queue, batch_size=batch_size, drain_timeout=drain_timeout)
    except ValueError as exc:
        raise BionerError("E815", str(exc)) from None
    serve(model or [None], host=host, port=port, settings=settings, threads=threads, quantize=quantized, llm=llm, llm_model=llm_model,
          llm_options=LLMOptions(scheme=scheme, adapter=adapter, url=url, max_new_tokens=max_new_tokens), selector=selector, log_level=log_level,
          access_log=access_log)
