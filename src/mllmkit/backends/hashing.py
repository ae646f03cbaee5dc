"""Content hashes used for fingerprints (models, prediction files, benchmark data).

Hashes are of file *contents*, never of names or modification times, so copying a
checkpoint or dataset elsewhere keeps its cache entries valid and editing it in place
invalidates them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (large weights stay cheap)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def sha256_file_cached(path: str | Path) -> str:
    """`sha256_file` memoised per (path, size, mtime) within the process.

    Why: a multi-GB safetensors file is hashed once per process, not once per task or
    per call to `fingerprint()`; a rewritten file has a new mtime/size and is re-hashed.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _cached(str(p), st.st_size, st.st_mtime_ns)


def sha256_text(*parts: str) -> str:
    """Hex SHA-256 of several strings, unambiguously separated."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
