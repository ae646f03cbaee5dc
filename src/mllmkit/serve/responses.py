"""OpenAI response bodies: `chat.completion`, `chat.completion.chunk` and the SSE stream.

Streaming sends the final text in word-sized pieces *after* generation has finished:
the `Model` protocol returns whole answers, so this is not token-by-token streaming,
but clients that only speak the streaming API work unchanged. The pieces always join
back to exactly the non-streamed text. `finish_reason` is always `"stop"` because the
protocol does not say whether generation hit `max_tokens`; `usage` is not reported
because it does not give token counts either.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

# split before every run of non-space that follows whitespace: pieces are "word " units
_PIECE_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def completion_id() -> str:
    """A fresh `chatcmpl-...` id."""
    return "chatcmpl-" + uuid.uuid4().hex


def completion_body(
    cid: str, model: str, text: str, system_fingerprint: str, created: int | None = None
) -> dict[str, Any]:
    """A non-streamed `chat.completion` object with one choice."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "system_fingerprint": system_fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


def split_for_stream(text: str) -> list[str]:
    """Word-sized pieces of `text` whose concatenation is `text` (none for empty text)."""
    return [p for p in _PIECE_BOUNDARY.split(text) if p]


def _chunk(
    cid: str, created: int, model: str, fp: str, delta: dict[str, Any], finish: str | None
) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": fp,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def stream_events(cid: str, model: str, text: str, system_fingerprint: str) -> Iterator[str]:
    """Server-sent events: a role chunk, content chunks, a finish chunk, `data: [DONE]`."""
    created = int(time.time())
    yield _chunk(
        cid, created, model, system_fingerprint, {"role": "assistant", "content": ""}, None
    )
    for piece in split_for_stream(text):
        yield _chunk(cid, created, model, system_fingerprint, {"content": piece}, None)
    yield _chunk(cid, created, model, system_fingerprint, {}, "stop")
    yield "data: [DONE]\n\n"
