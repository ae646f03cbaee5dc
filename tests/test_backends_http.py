"""The OpenAI-compatible HTTP backend against a tiny local server (127.0.0.1, random port).

The server's behaviour is chosen by the request's text: `ok:<x>` answers `<x>`,
`flaky` fails with 500 once then answers, `slow` sleeps past the client timeout,
`garbage` answers 200 with a non-JSON body, `nochoices` with JSON lacking `choices`,
`bad` answers 400, `busy` always 429.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from mllmkit.backends import GenerationArgs, ImagePart, Message, Request, TextPart
from mllmkit.backends.openai_http import OpenAIHTTPBackend


class _Server:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.payloads: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()


def _handler(state: _Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            payload = json.loads(self.rfile.read(length))
            parts = payload["messages"][-1]["content"]
            text = next(p["text"] for p in parts if p["type"] == "text")
            with state.lock:
                state.hits[text] += 1
                state.payloads.append(payload)
                state.headers.append(dict(self.headers))
                n = state.hits[text]
            if self.path != "/v1/chat/completions":
                self._send(404, b'{"error": "not found"}')
            elif text.startswith("ok:"):
                self._ok(text[3:])
            elif text == "flaky":
                if n == 1:
                    self._send(500, b'{"error": "boom"}')
                else:
                    self._ok("recovered")
            elif text == "slow":
                time.sleep(1.0)
                self._ok("too late")
            elif text == "garbage":
                self._send(200, b"<html>definitely not json", "text/html")
            elif text == "nochoices":
                self._send(200, b'{"id": "x", "object": "chat.completion"}')
            elif text == "bad":
                self._send(400, b'{"error": "bad request"}')
            elif text == "busy":
                self._send(429, b'{"error": "rate limited"}')
            else:
                self._send(500, b"unexpected")

        def _ok(self, content: str) -> None:
            body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
            self._send(200, json.dumps(body).encode())

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the `slow` handler writes after the client gave up: a broken pipe, expected


@pytest.fixture()
def server() -> Iterator[tuple[str, _Server]]:
    state = _Server()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _req(text: str, image: Image.Image | None = None, **gen: Any) -> Request:
    parts: list = [ImagePart(image)] if image is not None else []
    parts.append(TextPart(text))
    return Request([Message("user", parts)], gen=GenerationArgs(**gen))


def _backend(url: str, **kw: Any) -> OpenAIHTTPBackend:
    opts = {"backoff_s": 0.01, "max_retries": 2, "timeout_s": 5.0, "model": "tiny"}
    opts.update(kw)
    return OpenAIHTTPBackend(url, **opts)


def test_success_sends_openai_payload_with_png_data_url_and_key(
    server: tuple[str, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.setenv("MY_TEST_KEY", "sekret-123")
    b = _backend(url, api_key_env="MY_TEST_KEY")
    img = Image.new("RGB", (5, 3), (10, 20, 30))
    [resp] = b.generate([_req("ok:hello", img, max_new_tokens=7, stop=("\n",), seed=4)])
    assert resp.text == "hello" and resp.error is None
    payload = state.payloads[0]
    assert payload["model"] == "tiny"
    assert payload["max_tokens"] == 7 and payload["stop"] == ["\n"] and payload["seed"] == 4
    assert payload["temperature"] == 0.0
    image_part, text_part = payload["messages"][0]["content"]
    assert text_part == {"type": "text", "text": "ok:hello"}
    prefix = "data:image/png;base64,"
    data_url = image_part["image_url"]["url"]
    assert image_part["type"] == "image_url" and data_url.startswith(prefix)
    decoded = Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :])))
    assert decoded.format == "PNG" and decoded.size == (5, 3)
    assert decoded.convert("RGB").getpixel((0, 0)) == (10, 20, 30)
    assert state.headers[0]["Authorization"] == "Bearer sekret-123"
    assert "sekret" not in b.name and "sekret" not in b.fingerprint()  # key never leaks
    b.close()


def test_no_key_in_environment_sends_no_authorization(
    server: tuple[str, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert _backend(url).generate([_req("ok:x")])[0].text == "x"
    assert "Authorization" not in state.headers[0]


def test_500_then_success_is_retried(server: tuple[str, _Server]) -> None:
    url, state = server
    [resp] = _backend(url).generate([_req("flaky")])
    assert resp.text == "recovered" and resp.error is None
    assert state.hits["flaky"] == 2


def test_timeout_becomes_error_after_retries(server: tuple[str, _Server]) -> None:
    url, state = server
    start = time.perf_counter()
    [resp] = _backend(url, timeout_s=0.2, max_retries=1).generate([_req("slow")])
    assert resp.text == "" and resp.error is not None
    assert "timeout" in resp.error and "gave up after 2 tries" in resp.error
    assert state.hits["slow"] == 2
    assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize(
    ("text", "message"),
    [("garbage", "not JSON"), ("nochoices", "no choices[0].message.content")],
)
def test_garbage_responses_become_errors_without_retry(
    server: tuple[str, _Server], text: str, message: str
) -> None:
    url, state = server
    [resp] = _backend(url).generate([_req(text)])
    assert resp.text == "" and resp.error is not None and message in resp.error
    assert state.hits[text] == 1


def test_client_error_is_not_retried_but_429_is(server: tuple[str, _Server]) -> None:
    url, state = server
    bad, busy = _backend(url, max_retries=2).generate([_req("bad"), _req("busy")])
    assert bad.error is not None and "HTTP 400" in bad.error
    assert state.hits["bad"] == 1
    assert busy.error is not None and "HTTP 429" in busy.error and "3 tries" in busy.error
    assert state.hits["busy"] == 3


def test_concurrent_batch_keeps_order_and_isolates_failures(server: tuple[str, _Server]) -> None:
    url, _ = server
    texts = [f"ok:{i}" for i in range(12)]
    texts[5] = "garbage"
    out = _backend(url, concurrency=4).generate([_req(t) for t in texts])
    assert [r.text for r in out] == [str(i) if i != 5 else "" for i in range(12)]
    assert [r.error is None for r in out] == [i != 5 for i in range(12)]


def test_connection_refused_is_an_error_not_an_exception() -> None:
    b = OpenAIHTTPBackend("http://127.0.0.1:9/v1", backoff_s=0.0, max_retries=1, timeout_s=1.0)
    [resp] = b.generate([_req("ok:x")])
    assert resp.error is not None and "connection error" in resp.error


def test_fingerprint_depends_on_url_and_model() -> None:
    a = OpenAIHTTPBackend("http://h/v1", model="m1")
    assert a.fingerprint() == OpenAIHTTPBackend("http://h/v1/", model="m1").fingerprint()
    assert a.fingerprint() != OpenAIHTTPBackend("http://h/v1", model="m2").fingerprint()
