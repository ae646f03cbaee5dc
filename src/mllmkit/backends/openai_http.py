"""Client for any OpenAI-compatible `/v1/chat/completions` server (vLLM, llama.cpp, `mllm serve`).

Uses `httpx` directly (no SDK) so the wire format is explicit: images go as base64 PNG
data URLs, requests run on a thread pool, and transient failures (HTTP 429, 5xx,
timeouts, dropped connections) are retried with exponential backoff. Anything else —
a 4xx, a body that is not JSON, JSON without `choices[0].message.content` — becomes a
`Response(error=...)` for that request only. The API key is read from an environment
variable whose *name* the user chooses; the key itself is never logged or stored.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from mllmkit.backends.base import (
    BackendError,
    ImagePart,
    Message,
    Request,
    Response,
    TextPart,
    truncate_at_stop,
)
from mllmkit.backends.hashing import sha256_text

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HTTPOptions:
    """Client settings. `backoff_s * 2**attempt` (capped at `max_backoff_s`) between tries."""

    model: str = "default"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise BackendError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise BackendError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0:
            raise BackendError(f"timeout_s must be > 0, got {self.timeout_s}")


def image_to_data_url(image: Any) -> str:
    """PNG-encode a PIL image as a `data:image/png;base64,...` URL."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def message_to_openai(message: Message) -> dict[str, Any]:
    """Convert one `Message` to the OpenAI chat format (content as a list of parts)."""
    content: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = image_to_data_url(part.image)
            content.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": message.role, "content": content}


def build_payload(request: Request, model: str) -> dict[str, Any]:
    """The JSON body for one request."""
    gen = request.gen
    payload: dict[str, Any] = {
        "model": model,
        "messages": [message_to_openai(m) for m in request.messages],
        "max_tokens": gen.max_new_tokens,
        "temperature": gen.temperature,
        "top_p": gen.top_p,
        "seed": gen.seed,
    }
    if gen.stop:
        payload["stop"] = list(gen.stop)
    return payload


def parse_completion(body: bytes) -> str:
    """Extract `choices[0].message.content`; raise ValueError describing what was wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        snippet = body[:80].decode("utf-8", errors="replace")
        raise ValueError(f"response is not JSON: {snippet!r}") from None
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("response JSON has no choices[0].message.content") from None
    if isinstance(content, list):  # some servers return content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        content = "".join(t for t in texts if isinstance(t, str))
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise ValueError(f"choices[0].message.content is {type(content).__name__}, not a string")
    return content


def _endpoint(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions"


class OpenAIHTTPBackend:
    """OpenAI-compatible HTTP backend; see the module docstring."""

    def __init__(self, url: str, options: HTTPOptions | None = None, **kwargs: Any) -> None:
        if options is None:
            options = HTTPOptions(**kwargs)
        elif kwargs:
            raise BackendError("pass either options= or keyword options, not both")
        self.options = options
        self.url = _endpoint(url)
        self.name = f"{self.url}#{options.model}"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(options.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            timeout=options.timeout_s,
            headers=headers,
            limits=httpx.Limits(max_connections=options.concurrency),
        )

    def _sleep_before_retry(self, attempt: int, response: httpx.Response | None) -> None:
        delay = self.options.backoff_s * (2**attempt)
        if response is not None:
            retry_after = response.headers.get("retry-after")
            if retry_after is not None:
                with contextlib.suppress(ValueError):
                    delay = max(delay, float(retry_after))
        time.sleep(min(delay, self.options.max_backoff_s))

    def _one(self, request: Request) -> Response:
        if request.gen.constraint is not None:
            return Response(
                "",
                error=f"{self.url}: decoding constraints ({request.gen.constraint!r}) "
                "cannot be sent over the OpenAI API",
            )
        try:
            body = json.dumps(build_payload(request, self.options.model)).encode("utf-8")
        except Exception as exc:  # e.g. an image that cannot be encoded
            return Response("", error=f"could not encode request: {exc}")
        last_error = "no attempt made"
        for attempt in range(self.options.max_retries + 1):
            response: httpx.Response | None = None
            try:
                response = self._client.post(self.url, content=body)
            except httpx.TimeoutException:
                last_error = f"timeout after {self.options.timeout_s:g} s"
            except httpx.TransportError as exc:
                last_error = f"connection error: {type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    try:
                        text = parse_completion(response.content)
                    except ValueError as exc:
                        return Response("", error=f"{self.url}: {exc}")
                    return Response(truncate_at_stop(text, request.gen.stop))
                snippet = response.text[:200]
                last_error = f"HTTP {response.status_code}: {snippet}"
                if response.status_code not in _RETRY_STATUS:
                    return Response("", error=f"{self.url}: {last_error}")
            if attempt < self.options.max_retries:
                self._sleep_before_retry(attempt, response)
        tries = self.options.max_retries + 1
        return Response("", error=f"{self.url}: {last_error} (gave up after {tries} tries)")

    def generate(self, requests: list[Request]) -> list[Response]:
        if len(requests) <= 1 or self.options.concurrency == 1:
            return [self._one(r) for r in requests]
        workers = min(self.options.concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._one, requests))

    def fingerprint(self) -> str:
        """Server URL + model name: the server's weights are not visible to us."""
        return "http-" + sha256_text(self.url, self.options.model)

    def close(self) -> None:
        self._client.close()
