"""Backends turn prompts into generated text: a local transformers model, or any OpenAI-compatible server.

Both return one ``Generation`` per prompt, in input order, with the text (without the
prompt, cut before a stop string), token counts, why it ended and the time it took.

``LocalBackend`` decodes greedily in batches with the KV cache. Prompts are sorted by
length so a batch holds similar lengths (less padding), left-padded, and restored to
input order after. Each sequence stops on its own, at EOS, at a stop string, or as soon
as ``is_complete(text_so_far)`` says the answer is closed; a batch ends when all have.

``HttpBackend`` sends each prompt to ``/v1/completions`` (``prompt.text``) or
``/v1/chat/completions`` (``prompt.messages``) with greedy settings, a few requests at
a time. Connection errors, timeouts, 429 and 5xx are retried with exponential backoff
(honouring Retry-After); a prompt that still fails comes back as a Generation with
``finish_reason="error"`` so one bad request does not lose a whole corpus. A 4xx other
than 429 (wrong model name, bad request) raises at once: retrying cannot fix it.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bioner.errors import BionerError

if TYPE_CHECKING:
    from bioner.engines.generative.model import LoadedLM
    from bioner.engines.generative.prompts import Prompt

log = logging.getLogger(__name__)

APIS = ("completions", "chat")
MAX_RETRY_AFTER = 120.0  # seconds: a server asking for a longer pause is treated as this


@dataclass
class Generation:
    """What a backend made of one prompt.

    ``finish_reason``: "stop" (EOS, a stop string, or the answer was complete), "length"
    (``max_new_tokens`` reached), "error" (the request failed; ``error`` says why).
    ``completion_tokens`` counts the tokens generated, the EOS token included.
    ``seconds``: for a local batch, its wall time shared equally among its prompts (so
    the seconds of all generations add up to the total); for HTTP, the request's time.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    error: str | None = None
    seconds: float = 0.0


class Backend(ABC):
    """Generates text for prompts; see the module doc for the contract."""

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt], *, max_new_tokens: int,
                 is_complete: Callable[[str], bool] | None = None, stop: Sequence[str] = ()) -> list[Generation]:
        """One Generation per prompt, in input order."""


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to (not including) the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _check_positive(name: str, value: int | float, minimum: int | float = 1) -> None:
    if value < minimum:
        raise BionerError("E721", f"{name} must be at least {minimum}, got {value}")


# ---------------------------------------------------------------------------
# Local transformers model


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    import torch

    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _eos_ids(lm: LoadedLM) -> set[int]:
    ids: set[int] = set()
    for value in (getattr(lm.model.generation_config, "eos_token_id", None), lm.tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value is not None:
            ids.update(int(v) for v in value)
    return ids


class _Tracker:
    """Per-sequence stopping for one batch: the StoppingCriteria that ``generate`` calls after every token.

    Returns a bool per row (transformers >= 4.39 stops rows independently) and keeps,
    for each row, when and why it stopped and its text at that point.
    """

    def __init__(self, tokenizer: Any, prompt_len: int, rows: int, eos: set[int],
                 is_complete: Callable[[str], bool] | None, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.eos = eos
        self.is_complete = is_complete
        self.stop = [s for s in stop if s]
        self.done = [False] * rows
        self.tokens = [0] * rows  # completion tokens when the row stopped
        self.texts: list[str | None] = [None] * rows

    def __call__(self, input_ids: Any, scores: Any = None, **kwargs: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self.prompt_len
        last = input_ids[:, -1].tolist()
        for row, token in enumerate(last):
            if self.done[row]:
                continue
            if token in self.eos:
                self._finish(row, step, self._decode(input_ids[row, self.prompt_len:self.prompt_len + step - 1]))
                continue
            if not self.stop and self.is_complete is None:
                continue  # nothing to check on the text: skip decoding
            text = self._decode(input_ids[row, self.prompt_len:])
            cut, hit = cut_at_stop(text, self.stop)
            if hit:
                self._finish(row, step, cut)
            elif self.is_complete is not None and _safe_complete(self.is_complete, text):
                self._finish(row, step, text)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    def _decode(self, ids: Any) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _finish(self, row: int, step: int, text: str) -> None:
        self.done[row] = True
        self.tokens[row] = step
        self.texts[row] = text


def _safe_complete(is_complete: Callable[[str], bool], text: str) -> bool:
    try:
        return bool(is_complete(text))
    except Exception:  # a checker choking on odd model output must not stop the job
        log.debug("is_complete raised on %r", text[:200], exc_info=True)
        return False


class LocalBackend(Backend):
    """Batched greedy decoding with a local transformers model (see the module doc).

    ``batch_size``: prompts decoded together. ``threads``: torch CPU threads used while
    generating (None leaves torch's setting alone).
    """

    def __init__(self, lm: LoadedLM, *, batch_size: int = 8, threads: int | None = None) -> None:
        _check_positive("batch_size", batch_size)
        if threads is not None:
            _check_positive("threads", threads)
        self.lm = lm
        self.batch_size = batch_size
        self.threads = threads
        self.eos_ids = _eos_ids(lm)

    def _encode(self, text: str) -> list[int]:
        from bioner.engines.generative.prompts import prompt_ids

        return prompt_ids(self.lm.tokenizer, text)  # exactly what training saw

    def generate(self, prompts: Sequence[Prompt], *, max_new_tokens: int,
                 is_complete: Callable[[str], bool] | None = None, stop: Sequence[str] = ()) -> list[Generation]:
        import torch

        _check_positive("max_new_tokens", max_new_tokens)
        ids = [self._encode(p.text) for p in prompts]
        out: list[Generation | None] = [None] * len(ids)
        # longest first: similar lengths share a batch, and a too-long batch fails at once, not at the end
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: -len(ids[i]))
        for i in range(len(ids)):
            if not ids[i]:
                out[i] = Generation("", 0, 0, "error", error="empty prompt: nothing to condition on")
        with _torch_threads(self.threads), torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                for i, gen in zip(batch, self._batch([ids[i] for i in batch], max_new_tokens, is_complete, stop)):
                    out[i] = gen
        return [g for g in out if g is not None]

    def _batch(self, ids: list[list[int]], max_new_tokens: int,
               is_complete: Callable[[str], bool] | None, stop: Sequence[str]) -> list[Generation]:
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        started = time.perf_counter()
        tokenizer = self.lm.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids, default=0)
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=self.lm.device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=self.lm.device)
        tracker = _Tracker(tokenizer, width, len(ids), self.eos_ids, is_complete, stop)
        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, use_cache=True,
                                  eos_token_id=sorted(self.eos_ids) or None, pad_token_id=pad)
        output = self.lm.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config,
                                        stopping_criteria=StoppingCriteriaList([tracker]))
        seconds = (time.perf_counter() - started) / len(ids)
        gens: list[Generation] = []
        for row, prompt in enumerate(ids):
            if tracker.done[row]:
                text, tokens, reason = tracker.texts[row] or "", tracker.tokens[row], "stop"
            else:  # ran to max_new_tokens
                generated = output[row, width:]
                text = str(tokenizer.decode(generated, skip_special_tokens=True))
                text, hit = cut_at_stop(text, stop)
                tokens, reason = int(generated.shape[0]), "stop" if hit else "length"
            gens.append(Generation(text, len(prompt), tokens, reason, seconds=seconds))
        return gens


# ---------------------------------------------------------------------------
# OpenAI-compatible server


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds form; an HTTP date is ignored)."""
    if not value:
        return None
    try:
        return max(0.0, min(float(value), MAX_RETRY_AFTER))
    except ValueError:
        return None


def _server_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if err:
            return str(err)
        if body.get("detail"):
            return str(body["detail"])
    return str(body)[:500]


class HttpBackend(Backend):
    """Generation through an OpenAI-compatible server (vLLM, llama.cpp, transformers serve, OpenAI ...).

    ``base_url``: the server, with or without the trailing ``/v1``. ``model``: the
    served model's name. ``api``: "completions" (sends ``prompt.text``) or "chat"
    (sends ``prompt.messages``). ``api_key``: sent as a bearer token (default
    ``$OPENAI_API_KEY``). ``timeout``: seconds per request. ``retries``: further
    attempts after a retryable failure, waiting ``backoff`` * 2**attempt seconds (or the
    server's Retry-After). ``concurrency``: requests in flight at once.

    Stop strings are sent to the server and also cut here (some servers return the stop
    string, some ignore it). ``transformers serve`` matches them against prompt +
    completion, so there a stop string that the prompt's end helps to form stops early.
    """

    def __init__(self, base_url: str, model: str, *, api: str = "completions", api_key: str | None = None,
                 timeout: float = 60.0, retries: int = 3, concurrency: int = 4, backoff: float = 1.0) -> None:
        if api not in APIS:
            raise BionerError("E721", f"unknown api {api!r}", hint=f"use one of: {', '.join(APIS)}")
        _check_positive("concurrency", concurrency)
        _check_positive("retries", retries, 0)
        _check_positive("timeout", timeout, 0.001)
        url = base_url.rstrip("/")
        self.base_url = url if url.endswith("/v1") else url + "/v1"
        self.model = model
        self.api = api
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.backoff = backoff
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{self.base_url}/{'chat/completions' if self.api == 'chat' else 'completions'}"

    def _http(self) -> Any:
        import httpx

        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
                self._client = httpx.Client(timeout=self.timeout, headers=headers, limits=limits)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _payload(self, prompt: Prompt, max_new_tokens: int, stop: Sequence[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_new_tokens, "temperature": 0}
        if self.api == "chat":
            body["messages"] = prompt.messages
        else:
            body["prompt"] = prompt.text
        if stop:
            body["stop"] = list(stop)
        return body

    def generate(self, prompts: Sequence[Prompt], *, max_new_tokens: int,
                 is_complete: Callable[[str], bool] | None = None, stop: Sequence[str] = ()) -> list[Generation]:
        _check_positive("max_new_tokens", max_new_tokens)
        stop = [s for s in stop if s]
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            futures = [pool.submit(self._one, p, max_new_tokens, is_complete, stop) for p in prompts]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:  # a fatal error: do not send what has not started
                    f.cancel()
                raise

    def _one(self, prompt: Prompt, max_new_tokens: int, is_complete: Callable[[str], bool] | None,
             stop: Sequence[str]) -> Generation:
        started = time.perf_counter()
        body = self._payload(prompt, max_new_tokens, stop)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                gen = self._request(body)
                break
            except _Retryable as err:
                last = str(err)
                if attempt == self.retries:
                    return Generation("", 0, 0, "error", error=f"{last} (after {attempt + 1} attempts)",
                                      seconds=time.perf_counter() - started)
                # exponential backoff with jitter, so parallel requests do not retry in lockstep
                delay = err.retry_after if err.retry_after is not None else self.backoff * 2 ** attempt * (1 + 0.1 * random.random())
                log.warning("%s failed (%s); retry %d of %d in %.1f s", self.url, last, attempt + 1, self.retries, delay)
                time.sleep(delay)
        text, hit = cut_at_stop(gen.text, stop)
        reason = gen.finish_reason
        if hit or (reason == "length" and is_complete is not None and _safe_complete(is_complete, text)):
            reason = "stop"  # the answer is closed even if the server ran on
        gen.text, gen.finish_reason, gen.seconds = text, reason, time.perf_counter() - started
        return gen

    def _request(self, body: dict[str, Any]) -> Generation:
        import httpx

        try:
            response = self._http().post(self.url, json=body)
        except httpx.TransportError as err:  # connection refused or reset, timeouts
            raise _Retryable(f"{type(err).__name__}: {err}") from err
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {_server_message(response)[:200]}", _retry_after(response.headers.get("retry-after")))
        if status >= 400:
            raise BionerError("E720", f"{self.url} rejected the request (HTTP {status}): {_server_message(response)}",
                              hint=f"check the model name ({self.model!r}), the api ({self.api!r}) and the API key")
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] if self.api == "chat" else choice["text"]
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as err:
            return Generation("", 0, 0, "error", error=f"malformed response from {self.url}: {type(err).__name__}: {err}")
        reason = "length" if choice.get("finish_reason") == "length" else "stop"
        return Generation(str(text or ""), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), reason)
