"""The response cache: an append-only JSONL log of finished samples in the output folder.

Why a log and not a database: appending one line per sample and flushing once per batch
is the cheapest write that survives `kill -9` at any point (the bytes are the kernel's
once written); on restart the log is replayed and only the samples without a finished
entry are sent again. Against power loss the log is also fsync'd, at most once per
`fsync_every_s` seconds (default 1) and on close: a lost second of answers is recomputed,
while an fsync per batch cost ~1% of an evaluation's wall time on a small model.

- Key: SHA-256 of (task fingerprint = declaration + data-file hash, sample id,
  generation args, model fingerprint), so a changed model, file, prompt or decoding
  setting never reuses a stale answer.
- Line: `{"key", "task", "id", "status": "ok"|"error"|"bad_row", "text", "error"}`.
  Only `ok` counts as finished; failed requests and unreadable samples are logged (so a
  merge can report them) but retried by the next run. For one key an `ok` line wins over
  any other, otherwise the last line wins.
- A crash can leave a torn last line (no trailing newline). It is ignored on reload and
  cut off before the next append, so the log stays one JSON object per line.
- One writer per folder: an exclusive `flock` on the log (where the OS has it) turns a
  second concurrent run into a clear error instead of interleaved lines.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mllmkit.backends.base import GenerationArgs
from mllmkit.backends.hashing import sha256_text

try:  # POSIX only; elsewhere the single-writer check is skipped
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

FINISHED = "ok"


def key_prefix(task_fingerprint: str, gen: GenerationArgs, model_fp: str) -> str:
    """The part of the key shared by every sample of a task (computed once per task)."""
    gen_json = json.dumps(gen.to_dict(), sort_keys=True)
    return sha256_text(task_fingerprint, gen_json, model_fp)


def cache_key(task_fingerprint: str, sample_id: str, gen: GenerationArgs, model_fp: str) -> str:
    """The cache key of one (task, sample, decoding, model) combination."""
    return sample_key(key_prefix(task_fingerprint, gen, model_fp), sample_id)


def sample_key(prefix: str, sample_id: str) -> str:
    """Key of one sample given its task's `key_prefix`."""
    return sha256_text(prefix, sample_id)


@dataclass
class CacheEntry:
    key: str
    task: str
    id: str
    status: str
    text: str = ""
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    def to_line(self) -> str:
        d = {"key": self.key, "task": self.task, "id": self.id, "status": self.status}
        d["text"] = self.text
        d["error"] = self.error
        return json.dumps(d, ensure_ascii=False) + "\n"


class CacheLockedError(RuntimeError):
    """Another process is writing to the same output folder."""


def read_entries(path: Path) -> tuple[list[CacheEntry], int, int]:
    """(entries, torn_lines, corrupt_lines) of a log; a missing file is an empty log."""
    if not path.is_file():
        return [], 0, 0
    data = path.read_bytes()
    torn = 0
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        torn = 1
    entries, corrupt = [], 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            d: dict[str, Any] = json.loads(raw)
            entries.append(
                CacheEntry(
                    key=d["key"],
                    task=d["task"],
                    id=d["id"],
                    status=d["status"],
                    text=d.get("text") or "",
                    error=d.get("error"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            corrupt += 1
    return entries, torn, corrupt


class ResponseCache:
    """Append-only, crash-safe store of per-sample answers (see the module docstring)."""

    def __init__(
        self, path: str | Path, *, fsync: bool = True, fsync_every_s: float = 1.0
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.fsync_every_s = fsync_every_s
        self.syncs = 0  # fsyncs done (observable for tests and diagnostics)
        self._last_sync = time.monotonic()
        self._index: dict[str, CacheEntry] = {}
        self._fh: BinaryIO | None = None
        entries, self.torn_lines, self.corrupt_lines = read_entries(self.path)
        for e in entries:
            self._remember(e)

    def _remember(self, entry: CacheEntry) -> None:
        old = self._index.get(entry.key)
        if old is None or entry.finished or not old.finished:
            self._index[entry.key] = entry

    def __len__(self) -> int:
        return len(self._index)

    def get(self, key: str) -> CacheEntry | None:
        """The best entry for `key` (finished if any), or None."""
        return self._index.get(key)

    def is_finished(self, key: str) -> bool:
        e = self._index.get(key)
        return e is not None and e.finished

    def entries(self) -> list[CacheEntry]:
        return list(self._index.values())

    def open(self) -> ResponseCache:
        """Open for appending: take the writer lock and cut a torn last line."""
        if self._fh is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "ab+")  # noqa: SIM115  (closed in close())
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise CacheLockedError(
                    f"{self.path} is locked: another evaluation is writing to this folder"
                ) from None
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size:
            fh.seek(max(0, size - 1))
            if fh.read(1) != b"\n":
                fh.seek(0)
                data = fh.read()
                fh.truncate(data.rfind(b"\n") + 1)
        fh.seek(0, os.SEEK_END)
        self._fh = fh
        return self

    def append(self, entries: list[CacheEntry]) -> None:
        """Write entries as one block and flush (call once per batch); fsync when the last
        fsync is `fsync_every_s` old."""
        if not entries:
            return
        if self._fh is None:
            self.open()
        assert self._fh is not None
        self._fh.write("".join(e.to_line() for e in entries).encode("utf-8"))
        self._fh.flush()
        if time.monotonic() - self._last_sync >= self.fsync_every_s:
            self._sync()
        for e in entries:
            self._remember(e)

    def _sync(self) -> None:
        if self.fsync and self._fh is not None:
            os.fsync(self._fh.fileno())
            self.syncs += 1
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fh is not None:
            self._sync()
            self._fh.close()  # releases the lock
            self._fh = None

    def __enter__(self) -> ResponseCache:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
