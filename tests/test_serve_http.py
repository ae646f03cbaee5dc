"""The server over real HTTP on loopback (uvicorn in a background thread, free port).

The official `openai` client talks to it (plain and streaming); bad input of every kind
gets a 4xx with an OpenAI-style JSON error and leaves the server healthy; concurrent
requests are batched into fewer backend calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mllmkit.serve import BackgroundServer, ServeConfig, ServeSetupError, create_app
from test_serve_fixtures import EchoBackend, bomb_png, data_url, png_bytes, user_message

openai = pytest.importorskip("openai")

KEY_ENV = "MLLMKIT_TEST_SERVE_KEY"
KEY = "s3cret-key"
LIMITS = ServeConfig(
    model_name="echo-model",
    api_key_env=KEY_ENV,
    max_batch_size=8,
    max_wait_ms=20,
    max_tokens_limit=64,
    max_images=2,
    max_pixels=1_000_000,
    max_body_bytes=64 * 1024,
    max_messages=4,
)
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BackgroundServer, EchoBackend]]:
    mp = pytest.MonkeyPatch()
    mp.setenv(KEY_ENV, KEY)
    backend = EchoBackend(delay_s=0.05)
    try:
        with BackgroundServer(create_app(backend, LIMITS)) as srv:
            yield srv, backend
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def client(server: tuple[BackgroundServer, EchoBackend]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=30) as c:
        yield c


def _chat(client: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/v1/chat/completions",
        content=content,
        headers={**AUTH, "Content-Type": "application/json", **(headers or {})},
    )


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def _healthy(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert _chat(client, {"messages": [user_message("still there?")]}).status_code == 200


def test_openai_client_plain_and_streaming(server: tuple[BackgroundServer, EchoBackend]) -> None:
    srv, backend = server
    api = openai.OpenAI(base_url=srv.url + "/v1", api_key=KEY, max_retries=0)
    models = api.models.list()
    assert [m.id for m in models.data] == ["echo-model"]
    assert api.models.retrieve("echo-model").id == "echo-model"
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": data_url(png_bytes((9, 5)))}},
                {"type": "text", "text": "What is shown here?"},
            ],
        },
    ]
    out = api.chat.completions.create(
        model="anything", messages=messages, max_tokens=8, temperature=0, seed=5, stop=["\n"]
    )
    expected = "echo:be brief\nWhat is shown here?|images=1|9x5"
    assert out.choices[0].message.content == expected
    assert out.choices[0].finish_reason == "stop" and out.model == "echo-model"
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-")
    seen = backend.seen[-1]
    assert (seen.gen.max_new_tokens, seen.gen.temperature, seen.gen.seed) == (8, 0.0, 5)
    assert seen.gen.stop == ("\n",) and seen.messages[0].role == "system"

    stream = api.chat.completions.create(
        model="anything", messages=messages, max_tokens=8, temperature=0, stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == expected and len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_ends_with_done(client: httpx.Client) -> None:
    body = {"messages": [user_message("a b c")], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=AUTH) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    pieces = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in lines[:-1]]
    assert "".join(p or "" for p in pieces) == "echo:a b c|images=0|"


def test_api_key(client: httpx.Client) -> None:
    body = {"messages": [user_message("hi")]}
    _assert_error(_chat(client, body, headers={"Authorization": ""}), 401, "missing_api_key")
    wrong = {"Authorization": "Bearer not-the-key"}
    error = _assert_error(_chat(client, body, headers=wrong), 401, "invalid_api_key")
    assert error["type"] == "authentication_error"
    _assert_error(_chat(client, body, headers={"Authorization": f"Basic {KEY}"}), 401)
    _assert_error(client.get("/v1/models"), 401, "missing_api_key")
    assert client.get("/v1/models", headers=AUTH).status_code == 200
    assert client.get("/health").status_code == 200  # health needs no key
    _healthy(client)


def test_refused_without_the_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLLMKIT_TEST_UNSET_KEY", raising=False)
    with pytest.raises(ServeSetupError, match="MLLMKIT_TEST_UNSET_KEY"):
        create_app(EchoBackend(), ServeConfig(api_key_env="MLLMKIT_TEST_UNSET_KEY"))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"messages": [', 400, "invalid_json"),
        (b"not json at all", 400, "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', 400, None),
        ({"messages": [user_message("x", "data:image/png;base64,%%%%")]}, 400, "invalid_base64"),
        ({"messages": [user_message("x", data_url(b"plain text bytes"))]}, 400, "invalid_image"),
        ({"messages": [user_message("x", data_url(bomb_png()))]}, 400, "invalid_image"),
        ({"messages": [user_message("x", data_url(bomb_png(2000, 2000)))]}, 400, "invalid_image"),
        ({"messages": [user_message("x", "https://example.com/a.png")]}, 400, None),
        ({"messages": [user_message("x", "/etc/hosts")]}, 400, "local_images_disabled"),
        ({"messages": [user_message("x", *[data_url(png_bytes())] * 3)]}, 400, "too_many_images"),
        ({"messages": [user_message("x")], "max_tokens": 65}, 400, "max_tokens_exceeded"),
        ({"messages": [user_message("x")] * 5}, 400, "too_many_messages"),
        ({"messages": [user_message("x")], "n": 3}, 400, "unsupported_n"),
        ({"messages": [user_message("fail")]}, 422, "generation_failed"),
        ({"messages": [user_message("crash")]}, 500, "backend_failure"),
    ],
)
def test_bad_requests_get_json_errors_and_server_stays_healthy(
    client: httpx.Client, body: Any, status: int, code: str | None
) -> None:
    _assert_error(_chat(client, body), status, code)
    _healthy(client)


def test_body_size_limit(client: httpx.Client) -> None:
    big = {"messages": [user_message("x" * (70 * 1024))]}
    _assert_error(_chat(client, big), 413, "request_too_large")
    _healthy(client)

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}]}'

    r = client.post("/v1/chat/completions", content=chunked(), headers=AUTH)
    _assert_error(r, 413, "request_too_large")
    _healthy(client)


def test_unknown_routes_and_methods(client: httpx.Client) -> None:
    _assert_error(client.get("/v1/nothing-here"), 404)
    _assert_error(client.get("/v1/chat/completions"), 405)
    error = _assert_error(client.get("/v1/models/other", headers=AUTH), 404, "model_not_found")
    assert error["param"] == "model"


def test_concurrent_requests_are_batched(server: tuple[BackgroundServer, EchoBackend]) -> None:
    srv, backend = server
    n = 16
    calls_before = len(backend.batches)
    results: dict[int, str] = {}
    errors: list[str] = []
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            barrier.wait()
            r = _chat(c, {"messages": [user_message(f"client {i}")]})
            if r.status_code != 200:
                errors.append(r.text)
            else:
                results[i] = r.json()["choices"][0]["message"]["content"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {i: f"echo:client {i}|images=0|" for i in range(n)}
    calls = backend.batches[calls_before:]
    assert sum(calls) == n and len(calls) < n, calls
    assert max(calls) > 1


def test_remote_images_when_enabled() -> None:
    png = png_bytes((6, 3))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, body = (200, png) if self.path == "/img.png" else (404, b"no")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    images = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=images.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{images.server_address[1]}"
    config = ServeConfig(allow_remote_images=True, max_wait_ms=0)
    try:
        with (
            BackgroundServer(create_app(EchoBackend(), config)) as srv,
            httpx.Client(base_url=srv.url, timeout=30) as c,
        ):
            r = c.post(
                "/v1/chat/completions", json={"messages": [user_message("r", base + "/img.png")]}
            )
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "echo:r|images=1|6x3"
            r = c.post("/v1/chat/completions", json={"messages": [user_message("r", base + "/x")]})
            assert "HTTP 404" in _assert_error(r, 400, "image_fetch_failed")["message"]
    finally:
        images.shutdown()
        images.server_close()


class _GatedEcho(EchoBackend):
    """Blocks in `generate` until released, so requests pile up in the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, requests: list) -> list:
        self.entered.set()
        self.release.wait(30)
        return super().generate(requests)


def test_full_queue_answers_503_then_recovers() -> None:
    backend = _GatedEcho()
    config = ServeConfig(max_batch_size=1, max_wait_ms=0, max_queue=1)
    with (
        BackgroundServer(create_app(backend, config)) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as c,
    ):
        answers: dict[str, int] = {}

        def send(name: str) -> None:
            with httpx.Client(base_url=srv.url, timeout=30) as own:
                r = own.post("/v1/chat/completions", json={"messages": [user_message(name)]})
                answers[name] = r.status_code

        running = threading.Thread(target=send, args=("running",))
        running.start()
        assert backend.entered.wait(10)
        waiting = threading.Thread(target=send, args=("waiting",))
        waiting.start()
        deadline = time.monotonic() + 10
        while c.get("/health").json()["queued"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        r = c.post("/v1/chat/completions", json={"messages": [user_message("third")]})
        _assert_error(r, 503, "server_overloaded")
        assert r.headers["retry-after"] == "1"
        backend.release.set()
        running.join(30)
        waiting.join(30)
        assert answers == {"running": 200, "waiting": 200}
        _healthy(c)
