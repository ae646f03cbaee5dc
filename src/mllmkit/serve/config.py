"""`ServeConfig`: every knob of `mllm serve`, as one dataclass.

Limits have safe defaults because the server parses untrusted input: a request that is
too big, carries too many images, asks for too many tokens or claims a huge image is
answered with a 4xx before any expensive work happens. The API key itself is never
stored here, only the *name* of the environment variable that holds it, so a config can
be logged or written to disk without leaking the secret.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServeConfig:
    """Server settings; see `docs/serving.md` for what each limit protects against.

    - `model_name`: the id shown by `/v1/models` and echoed in responses (default: the
      backend's `name`). Requests may name any model: a server serves exactly one.
    - `max_batch_size` / `max_wait_ms`: the micro-batcher waits at most `max_wait_ms`
      after the first queued request to fill a batch of up to `max_batch_size`.
    - `max_queue`: requests waiting beyond this are refused with 503 (back-pressure).
    - `max_tokens_limit`: the largest `max_tokens` a client may ask for;
      `default_max_tokens` (capped at the limit) applies when a request names none.
    - `max_images` (per request), `max_pixels` (per image, checked from the header
      before decoding), `max_body_bytes` (whole request body), `max_messages`.
    - `allow_remote_images`: fetch `http(s)://` image URLs (off: 400). Only for trusted
      clients: the server then makes requests on a client's behalf.
    - `allow_local_images`: a folder from which `file://` URLs and plain paths may be
      read (off: 400); paths that resolve outside it are refused.
    """

    host: str = DEFAULT_HOST
    port: int = 8000
    model_name: str | None = None
    api_key_env: str | None = None
    max_batch_size: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 256
    max_tokens_limit: int = 1024
    default_max_tokens: int = 256
    max_images: int = 8
    max_pixels: int = 16_000_000
    max_body_bytes: int = 20 * 1024 * 1024
    max_messages: int = 64
    allow_remote_images: bool = False
    allow_local_images: str | None = None
    remote_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        positive = (
            "max_batch_size",
            "max_queue",
            "max_tokens_limit",
            "default_max_tokens",
            "max_images",
            "max_pixels",
            "max_body_bytes",
            "max_messages",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ServeConfig.{name} must be an integer >= 1, got {value!r}")
        if self.max_wait_ms < 0:
            raise ValueError(f"ServeConfig.max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.remote_timeout_s <= 0:
            raise ValueError(
                f"ServeConfig.remote_timeout_s must be > 0, got {self.remote_timeout_s}"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"ServeConfig.port must be in 0..65535, got {self.port}")

    @property
    def effective_default_max_tokens(self) -> int:
        """`default_max_tokens`, never above `max_tokens_limit`."""
        return min(self.default_max_tokens, self.max_tokens_limit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (holds no secret: only the key's variable name)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServeConfig:
        """Inverse of `to_dict`; unknown keys raise so typos are caught."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown ServeConfig field(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**data)
