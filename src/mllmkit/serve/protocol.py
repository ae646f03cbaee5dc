"""Parse an OpenAI chat-completions body into a `ChatCall`, checking every field.

Validation is split from image decoding on purpose: `parse_chat` is cheap (runs on the
event loop and rejects bad requests before any work), `to_request` decodes images (run
in a worker thread). Errors are `APIError`s naming the field with its path
(`messages[2].content[0].image_url.url`), so a client sees what to fix.

Accepted: `messages` (roles `system`/`developer`/`user`/`assistant`; `developer` is
treated as `system`; `content` a string or a list of `text` / `image_url` parts, images
only in user messages), `max_completion_tokens` (preferred) or `max_tokens`,
`temperature` (0..2, default 1 as in OpenAI), `top_p`, `stop` (string or up to 4
strings), `seed` (default 0, so an unseeded request is still reproducible), `n` (only 1),
`stream`, `model` (any name: the server serves one model). Features that would change
the answer's meaning and are not implemented (`tools`, `logprobs`, JSON
`response_format`) are refused with 400 rather than silently ignored; other OpenAI
fields (`user`, penalties, `stream_options`, ...) are ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from mllmkit.backends.base import GenerationArgs, ImagePart, Message, Request, TextPart
from mllmkit.serve.config import ServeConfig
from mllmkit.serve.errors import bad_request
from mllmkit.serve.images import load_image_url

ROLE_MAP = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOP = 4
MAX_SEED = 2**63 - 1
DEFAULT_TEMPERATURE = 1.0
_UNSUPPORTED_LISTS = ("tools", "functions")


@dataclass(frozen=True)
class ImageRef:
    """An image part not decoded yet: its URL and the field path for error messages."""

    url: str
    param: str


Content = list[str | ImageRef]


@dataclass(frozen=True)
class ChatCall:
    """A validated chat-completions request, images still as URLs."""

    messages: list[tuple[str, Content]]
    gen: GenerationArgs
    stream: bool
    model: str | None

    @property
    def n_images(self) -> int:
        return sum(isinstance(p, ImageRef) for _, content in self.messages for p in content)


def parse_json_body(body: bytes) -> Any:
    """Decode a JSON body; NaN/Infinity and absurd nesting are refused (400)."""

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="invalid_json",
        ) from None
    except UnicodeDecodeError:
        raise bad_request("request body is not UTF-8 text", code="invalid_json") from None
    except RecursionError:
        raise bad_request("request body JSON is nested too deeply", code="invalid_json") from None
    except ValueError as exc:
        raise bad_request(f"request body: {exc}", code="invalid_json") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _max_tokens(payload: dict[str, Any], config: ServeConfig) -> int:
    key = "max_completion_tokens" if payload.get("max_completion_tokens") is not None else None
    if key is None and payload.get("max_tokens") is not None:
        key = "max_tokens"
    if key is None:
        return config.effective_default_max_tokens
    value = payload[key]
    if not _is_int(value) or value < 1:
        raise bad_request(f"{key} must be an integer >= 1, got {value!r}", key)
    if value > config.max_tokens_limit:
        raise bad_request(
            f"{key}={value} is above this server's limit of {config.max_tokens_limit}",
            key,
            "max_tokens_exceeded",
        )
    return value


def _number(
    payload: dict[str, Any], key: str, default: float, lo: float, hi: float, *, lo_open: bool
) -> float:
    """A finite number in [lo, hi] (or (lo, hi] when `lo_open`), `default` when absent."""
    value = payload.get(key)
    if value is None:
        return default
    if not _is_number(value):
        raise bad_request(f"{key} must be a number, got {value!r}", key)
    inside = (lo < value if lo_open else lo <= value) and value <= hi
    if not inside:
        bracket = "(" if lo_open else "["
        raise bad_request(f"{key} must be in {bracket}{lo:g}, {hi:g}], got {value}", key)
    return float(value)


def _stop(payload: dict[str, Any]) -> tuple[str, ...]:
    value = payload.get("stop")
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise bad_request("stop must be a string or a list of strings", "stop")
    if len(stops) > MAX_STOP:
        raise bad_request(f"stop holds {len(stops)} strings; at most {MAX_STOP}", "stop")
    if any(s == "" for s in stops):
        raise bad_request("stop strings must not be empty", "stop")
    return tuple(stops)


def _seed(payload: dict[str, Any]) -> int:
    value = payload.get("seed")
    if value is None:
        return 0
    if not _is_int(value) or not 0 <= value <= MAX_SEED:
        raise bad_request(f"seed must be an integer in [0, 2**63 - 1], got {value!r}", "seed")
    return value


def _refuse_unsupported(payload: dict[str, Any]) -> None:
    n = payload.get("n")
    if n is not None and (not _is_int(n) or n != 1):
        raise bad_request(f"only n=1 is supported, got n={n!r}", "n", "unsupported_n")
    for key in _UNSUPPORTED_LISTS:
        if payload.get(key):
            raise bad_request(f"{key} (tool calling) is not supported by this server", key)
    if payload.get("logprobs") or payload.get("top_logprobs"):
        raise bad_request("logprobs are not supported by this server", "logprobs")
    fmt = payload.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise bad_request("only response_format {'type': 'text'} is supported", "response_format")


def _part(part: Any, role: str, where: str) -> str | ImageRef:
    if not isinstance(part, dict):
        raise bad_request("each content part must be an object with a 'type'", where)
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise bad_request("a text part needs a string 'text'", f"{where}.text")
        return text
    if kind == "image_url":
        if role != "user":
            raise bad_request(f"images are only allowed in user messages, not {role!r}", where)
        image_url = part.get("image_url")
        url = image_url.get("url") if isinstance(image_url, dict) else image_url
        if not isinstance(url, str) or not url:
            raise bad_request(
                "an image_url part needs image_url.url (a data:image/...;base64 URL)",
                f"{where}.image_url.url",
            )
        return ImageRef(url, f"{where}.image_url.url")
    raise bad_request(
        f"unsupported content part type {kind!r}; expected 'text' or 'image_url'", f"{where}.type"
    )


def _message(message: Any, i: int) -> tuple[str, Content]:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad_request("each message must be an object with 'role' and 'content'", where)
    raw_role = message.get("role")
    if raw_role not in ROLE_MAP:
        raise bad_request(
            f"unsupported role {raw_role!r}; expected one of {sorted(ROLE_MAP)}", f"{where}.role"
        )
    role = ROLE_MAP[raw_role]
    content = message.get("content")
    if isinstance(content, str):
        return role, [content]
    if not isinstance(content, list):
        raise bad_request("content must be a string or a list of content parts", f"{where}.content")
    return role, [_part(p, role, f"{where}.content[{j}]") for j, p in enumerate(content)]


def parse_chat(payload: Any, config: ServeConfig) -> ChatCall:
    """Validate a decoded JSON body against the server's limits (see module docstring)."""
    if not isinstance(payload, dict):
        raise bad_request("request body must be a JSON object", code="invalid_json")
    _refuse_unsupported(payload)
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise bad_request("model must be a string", "model")
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("stream must be true or false", "stream")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list", "messages")
    if len(messages) > config.max_messages:
        raise bad_request(
            f"{len(messages)} messages is above this server's limit of {config.max_messages}",
            "messages",
            "too_many_messages",
        )
    parsed = [_message(m, i) for i, m in enumerate(messages)]
    call = ChatCall(
        messages=parsed,
        gen=GenerationArgs(
            max_new_tokens=_max_tokens(payload, config),
            temperature=_number(
                payload, "temperature", DEFAULT_TEMPERATURE, 0.0, 2.0, lo_open=False
            ),
            top_p=_number(payload, "top_p", 1.0, 0.0, 1.0, lo_open=True),
            stop=_stop(payload),
            seed=_seed(payload),
        ),
        stream=bool(stream),
        model=model,
    )
    if call.n_images > config.max_images:
        raise bad_request(
            f"{call.n_images} images is above this server's limit of {config.max_images} "
            "per request",
            "messages",
            "too_many_images",
        )
    return call


def to_request(call: ChatCall, config: ServeConfig) -> Request:
    """Decode the images of a validated call and build the backend `Request`."""
    messages = []
    for role, content in call.messages:
        parts: list[TextPart | ImagePart] = [
            TextPart(p) if isinstance(p, str) else ImagePart(load_image_url(p.url, config, p.param))
            for p in content
        ]
        messages.append(Message(role, parts))
    return Request(messages=messages, gen=call.gen)
