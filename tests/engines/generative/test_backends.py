"""Backends: batched greedy decoding with a local model, and an OpenAI-compatible server over HTTP.

The HTTP tests run against a real server on loopback: ``transformers serve`` (needs
transformers' serving extras: fastapi, uvicorn, openai) serving the tiny test model,
started once for this module as a subprocess. Retry paths use real sockets too: a port
nobody listens on, a port that accepts but never answers, a relay opened late, and a
minimal stdlib HTTP server for the 429/5xx answers the real server does not give.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch

from bioner.engines.generative.backends import Generation, HttpBackend, LocalBackend, cut_at_stop
from bioner.engines.generative.model import LoadedLM, load_causal_lm
from bioner.engines.generative.serving import free_port, transformers_server
from bioner.errors import BionerError

torch.set_num_threads(1)


@dataclass
class Prompt:
    """The fields of prompts.Prompt that backends read."""

    text: str
    messages: list[dict[str, str]] = field(default_factory=list)


TEXTS = [
    "Germline mutations in BRCA1 predispose to early-onset breast cancer.",
    "Tamoxifen",
    "disease: Germline mutations in",
    "急性肺炎 患者 发热",
    "Tamoxifen reduced the risk of [[CD28] surface receptor] loss in mice. none []",
    "a",
    "BRCA1 and breast cancer",
]


def prompts(texts: list[str] = TEXTS) -> list[Prompt]:
    return [Prompt(t, [{"role": "user", "content": t}]) for t in texts]


@pytest.fixture(scope="module")
def lm(tiny_lm_dir: Path) -> LoadedLM:
    return load_causal_lm(tiny_lm_dir, device="cpu")


@pytest.fixture(scope="module")
def reference(lm: LoadedLM) -> list[Generation]:
    """One prompt at a time, no early stop: what every batched run must reproduce."""
    return LocalBackend(lm, batch_size=1).generate(prompts(), max_new_tokens=12)


def test_cut_at_stop() -> None:
    assert cut_at_stop("abc]\nxyz", ["\n", "]"]) == ("abc", True)
    assert cut_at_stop("abc", ["x", ""]) == ("abc", False)
    assert cut_at_stop("", []) == ("", False)


# ---------------------------------------------------------------------------
# LocalBackend


def test_batched_generation_equals_one_at_a_time(lm: LoadedLM, reference: list[Generation]) -> None:
    tok = lm.tokenizer
    for g, text in zip(reference, TEXTS):
        assert g.prompt_tokens == len(tok(text)["input_ids"])
        assert g.completion_tokens == 12 and g.finish_reason == "length"
        assert g.text and "<pad>" not in g.text and "<eos>" not in g.text
    for batch_size in (3, 8):
        got = LocalBackend(lm, batch_size=batch_size).generate(prompts(), max_new_tokens=12)
        assert [g.text for g in got] == [g.text for g in reference], batch_size
        assert [g.prompt_tokens for g in got] == [g.prompt_tokens for g in reference]
        assert sum(g.seconds for g in got) > 0


def test_early_stop_is_per_sequence_and_saves_tokens(lm: LoadedLM, reference: list[Generation]) -> None:
    calls = []
    hook = lm.model.register_forward_hook(lambda *a: calls.append(1))
    try:
        backend = LocalBackend(lm, batch_size=8)
        backend.generate(prompts(), max_new_tokens=12)
        full_calls, calls[:] = len(calls), []
        got = backend.generate(prompts(), max_new_tokens=12, is_complete=lambda t: len(t) >= 6)
        early_calls = len(calls)
    finally:
        hook.remove()
    assert full_calls == 12  # prefill + 11 decoding steps
    for g, ref in zip(got, reference):
        assert g.finish_reason == "stop"
        assert len(g.text) >= 6 and ref.text.startswith(g.text)
        assert g.completion_tokens < 12
    # each row stopped at its own step, and the batch ended when the last one did
    assert len({g.completion_tokens for g in got}) > 1
    assert early_calls == max(g.completion_tokens for g in got) < full_calls


def test_stop_string_cuts_the_text(lm: LoadedLM, reference: list[Generation]) -> None:
    stop = reference[0].text[4:6]
    got = LocalBackend(lm, batch_size=4).generate(prompts(), max_new_tokens=12, stop=[stop])
    for g, ref in zip(got, reference):
        expected, hit = cut_at_stop(ref.text, [stop])
        assert g.text == expected
        assert g.finish_reason == ("stop" if hit else "length")
    assert got[0].finish_reason == "stop" and got[0].completion_tokens < 12


def test_eos_stops_a_sequence_and_is_not_in_the_text(lm: LoadedLM) -> None:
    tok = lm.tokenizer
    ids = tok(TEXTS[0], return_tensors="pt")
    out = lm.model.generate(**ids, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id)
    generated = out[0, ids["input_ids"].shape[1]:].tolist()
    token = generated[5]
    first = generated.index(token)
    backend = LocalBackend(lm, batch_size=4)
    backend.eos_ids = {token}  # pretend this token ends the answer
    got = backend.generate(prompts(), max_new_tokens=12)[0]
    assert got.finish_reason == "stop"
    assert got.completion_tokens == first + 1
    assert got.text == tok.decode(generated[:first], skip_special_tokens=True)


def test_threads_are_restored_and_arguments_checked(lm: LoadedLM) -> None:
    before = torch.get_num_threads()
    assert LocalBackend(lm, threads=1).generate([], max_new_tokens=4) == []
    LocalBackend(lm, threads=2).generate(prompts(["a"]), max_new_tokens=2)
    assert torch.get_num_threads() == before
    for bad in ({"batch_size": 0}, {"threads": 0}):
        with pytest.raises(BionerError) as err:
            LocalBackend(lm, **bad)
        assert err.value.code == "E721"


def test_a_checker_that_raises_does_not_stop_generation(lm: LoadedLM) -> None:
    def boom(text: str) -> bool:
        raise ValueError("odd output")

    got = LocalBackend(lm).generate(prompts(["Tamoxifen"]), max_new_tokens=3, is_complete=boom)
    assert got[0].finish_reason == "length" and got[0].completion_tokens == 3


# ---------------------------------------------------------------------------
# A real OpenAI-compatible server: transformers serve on the tiny model


@dataclass
class Served:
    url: str
    model: str
    port: int
    lm: LoadedLM


CHAT_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"


@pytest.fixture(scope="module")
def served(tiny_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("served")
    folder = root / "tiny-chat"
    shutil.copytree(tiny_lm_dir, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = CHAT_TEMPLATE  # so /v1/chat/completions works too
    tok.save_pretrained(folder)
    log_path = root / "server.log"
    try:
        with transformers_server(folder, log=log_path, threads=1, start_timeout=180) as url:
            yield Served(url, str(folder), int(url.rsplit(":", 1)[1]), load_causal_lm(folder, device="cpu"))
    except BionerError as exc:
        if exc.code != "E722":
            raise
        pytest.fail(f"{exc}:\n{log_path.read_text()[-3000:]}")


def test_http_completions_in_order_with_token_counts(served: Served) -> None:
    texts = TEXTS[:5]
    with HttpBackend(served.url, served.model, concurrency=2, timeout=60) as backend:
        got = backend.generate(prompts(texts), max_new_tokens=8)
    local = LocalBackend(served.lm, batch_size=8).generate(prompts(texts), max_new_tokens=8)
    # the server decodes greedily with the same weights: same texts, in input order
    assert [g.text for g in got] == [g.text for g in local]
    assert [g.prompt_tokens for g in got] == [g.prompt_tokens for g in local]
    for g in got:
        assert g.error is None and g.finish_reason == "length"
        assert g.completion_tokens == 8 and g.seconds > 0


def test_http_stop_strings_and_is_complete(served: Served) -> None:
    local = LocalBackend(served.lm).generate(prompts(TEXTS[:2]), max_new_tokens=10)
    stop = local[1].text[2:4]
    backend = HttpBackend(served.url + "/v1/", served.model, concurrency=2)
    got = backend.generate(prompts(TEXTS[:2]), max_new_tokens=10, stop=[stop])
    # transformers serve matches stop strings against prompt + completion (the tiny model repeats its
    # prompt's tail), so it may stop before the first match inside the completion: a prefix, never the stop
    assert local[1].text.startswith(got[1].text) and stop not in got[1].text
    assert got[1].finish_reason == "stop" and got[1].completion_tokens < 10
    # the server ran to max_tokens, but the answer counts as closed: reported, nothing trimmed
    done = backend.generate(prompts(TEXTS[1:2]), max_new_tokens=4, is_complete=lambda t: True)[0]
    assert done.finish_reason == "stop" and done.completion_tokens == 4 and done.text == local[1].text[:len(done.text)]
    backend.close()


def test_http_chat_api_sends_messages(served: Served) -> None:
    messages = [{"role": "user", "content": "Tamoxifen reduced the risk"}]
    rendered = served.lm.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    local = LocalBackend(served.lm).generate([Prompt(rendered, messages)], max_new_tokens=6)[0]
    got = HttpBackend(served.url, served.model, api="chat").generate([Prompt("ignored by the chat api", messages)], max_new_tokens=6)[0]
    assert got.error is None and got.prompt_tokens == local.prompt_tokens
    assert got.text == local.text


def test_http_wrong_model_name_raises_at_once(served: Served) -> None:
    backend = HttpBackend(served.url, "no-such-model", retries=3, backoff=5)
    started = time.perf_counter()
    with pytest.raises(BionerError) as err:
        backend.generate(prompts(TEXTS[:3]), max_new_tokens=4)
    assert time.perf_counter() - started < 5  # no backoff waited
    assert err.value.code == "E720"
    assert f"{served.url}/v1/completions" in err.value.message and "no-such-model" in err.value.message


class Relay:
    """A TCP relay from ``port`` to the server, opened late: until then the server is unreachable there."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def test_http_retries_until_the_server_is_reachable(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    direct = HttpBackend(served.url, served.model).generate(prompts(TEXTS[1:2]), max_new_tokens=4)[0]
    relay = Relay(free_port(), served.port)
    opener = threading.Timer(0.6, relay.open)
    caplog.set_level(logging.WARNING, logger="bioner.engines.generative.backends")
    try:
        opener.start()
        got = HttpBackend(f"http://127.0.0.1:{relay.port}", served.model, retries=4, backoff=0.4).generate(prompts(TEXTS[1:2]), max_new_tokens=4)[0]
    finally:
        opener.cancel()
        relay.close()
    assert got.error is None and got.text == direct.text
    assert "retry 1 of 4" in caplog.text and "ConnectError" in caplog.text


def test_http_unreachable_server_gives_error_generations_after_retries() -> None:
    backend = HttpBackend(f"http://127.0.0.1:{free_port()}", "m", retries=2, backoff=0.05, timeout=2, concurrency=2)
    started = time.perf_counter()
    got = backend.generate(prompts(TEXTS[:3]), max_new_tokens=4)
    assert time.perf_counter() - started >= 0.05 + 0.1  # two backoffs waited
    assert [g.finish_reason for g in got] == ["error"] * 3
    assert all(g.text == "" and "ConnectError" in (g.error or "") and "after 3 attempts" in (g.error or "") for g in got)


def test_http_timeout_is_retried() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        port = silent.getsockname()[1]
        got = HttpBackend(f"http://127.0.0.1:{port}", "m", retries=1, backoff=0.05, timeout=0.3).generate(prompts(["a"]), max_new_tokens=2)[0]
    assert got.finish_reason == "error" and "Timeout" in (got.error or "") and "after 2 attempts" in (got.error or "")


class _Scripted(BaseHTTPRequestHandler):
    """Answers from a script: (status, headers, body) per request, the last repeated."""

    script: list[tuple[int, dict[str, str], Any]] = []
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        status, headers, payload = self.script[min(len(self.seen), len(self.script)) - 1]
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


# a server that ignores stop strings: the client cuts the text itself
OK = {"choices": [{"text": "[]\n\nmore", "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}


def test_http_429_and_5xx_are_retried_respecting_retry_after(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script = [(503, {"Retry-After": "1"}, {"error": {"message": "loading"}}), (429, {}, "slow down"), (200, {}, OK)]
    started = time.perf_counter()
    got = HttpBackend(url, "m", retries=3, backoff=0.05, api_key="sk-test").generate(prompts(["a"]), max_new_tokens=5, stop=["\n"])[0]
    assert time.perf_counter() - started >= 1.0  # waited as the server asked
    assert (got.text, got.prompt_tokens, got.completion_tokens, got.finish_reason) == ("[]", 7, 2, "stop")
    assert len(handler.seen) == 3
    sent = handler.seen[0]
    assert sent["path"] == "/v1/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"] == {"model": "m", "prompt": "a", "max_tokens": 5, "temperature": 0, "stop": ["\n"]}


def test_http_malformed_answer_is_an_error_generation(scripted: tuple[str, type[_Scripted]]) -> None:
    url, handler = scripted
    handler.script = [(200, {}, "not json")]
    got = HttpBackend(url, "m").generate(prompts(["a"]), max_new_tokens=5)[0]
    assert got.finish_reason == "error" and "malformed" in (got.error or "")
    assert len(handler.seen) == 1  # not retried: the server would answer the same


def test_http_arguments_are_checked() -> None:
    with pytest.raises(BionerError) as err:
        HttpBackend("http://127.0.0.1:1", "m", api="responses")
    assert err.value.code == "E721" and "completions" in (err.value.hint or "")
    with pytest.raises(BionerError):
        HttpBackend("http://127.0.0.1:1", "m", concurrency=0)
    assert HttpBackend("http://h:1/v1/", "m", api="chat").url == "http://h:1/v1/chat/completions"
