"""Pieces shared by the commands that open backends (`mllm eval`, `mllm judge`)."""

from __future__ import annotations

import logging
from typing import Any


def setup_logging() -> None:
    """Our own progress notes at INFO; other libraries (e.g. httpx per request) only warn."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mllmkit").setLevel(logging.INFO)


def http_options(
    api_model: str | None, api_key_env: str | None, concurrency: int | None, timeout: float | None
) -> dict[str, Any]:
    """The HTTP backend's keyword arguments for the flags the user gave (others keep the
    backend's defaults)."""
    given = (
        ("model", api_model),
        ("api_key_env", api_key_env),
        ("concurrency", concurrency),
        ("timeout_s", timeout),
    )
    return {k: v for k, v in given if v is not None}
