"""API-key check: `Authorization: Bearer <key>`, compared in constant time.

The key is read once from an environment variable whose *name* the operator chooses
(`--api-key-env NAME`), so it never appears on a command line, in a config file or in a
process listing. A server told to require a key refuses to start when that variable is
unset or empty, instead of silently running open.
"""

from __future__ import annotations

import hmac
import os

from mllmkit.serve.errors import AUTHENTICATION, APIError

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class ServeSetupError(ValueError):
    """The server cannot start as configured (e.g. the API-key variable is not set)."""


def resolve_api_key(env_name: str | None) -> bytes | None:
    """The key held by environment variable `env_name` (None: no key required)."""
    if env_name is None:
        return None
    key = os.environ.get(env_name, "")
    if not key.strip():
        raise ServeSetupError(
            f"--api-key-env {env_name}: environment variable {env_name} is not set or empty; "
            f"export {env_name}=<secret> first (the server will not run without the key it "
            "was told to require)"
        )
    return key.encode("utf-8")


def check_authorization(header: str | None, key: bytes | None) -> None:
    """Raise a 401 `APIError` unless `header` is `Bearer <key>` (no-op without a key)."""
    if key is None:
        return
    if not header:
        raise APIError(
            401,
            "missing API key: send the header 'Authorization: Bearer <key>'",
            type=AUTHENTICATION,
            code="missing_api_key",
            headers=_CHALLENGE,
        )
    scheme, _, token = header.strip().partition(" ")
    # compare_digest runs in time independent of where the strings differ
    matches = hmac.compare_digest(token.strip().encode("utf-8"), key)
    if scheme.lower() != "bearer" or not matches:
        raise APIError(
            401,
            "invalid API key",
            type=AUTHENTICATION,
            code="invalid_api_key",
            headers=_CHALLENGE,
        )
