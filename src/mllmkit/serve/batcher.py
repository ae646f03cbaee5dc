"""`MicroBatcher`: gather concurrent requests into one batched `backend.generate` call.

Why: a model decodes a batch of 8 prompts in little more time than one (the per-step
cost is dominated by fixed overhead and weight reads), so a server that answered HTTP
requests one at a time would waste most of the machine. Callers `submit` a `Request`
and get a `concurrent.futures.Future`; one worker thread takes the oldest waiting
request, waits at most `max_wait_ms` for others (up to `max_batch_size`), then runs one
`backend.generate(batch)` and hands each caller its own `Response`. The wait is counted
from the moment the worker has a request *and* is free (the later of that request's
arrival and the end of the previous batch): under load, requests that queued during a
batch go into the next one, and clients just answered by the previous batch, whose
follow-up requests arrive a few milliseconds later, can still join it instead of
forming a small batch of their own.

A caller that gave up (its future was cancelled, e.g. the HTTP client disconnected) is
dropped before its batch runs. Only one batch runs at a time: the backend (and torch)
already use every core, and backends need not be thread-safe.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from mllmkit.backends.base import Model, Request, Response


class QueueFullError(RuntimeError):
    """More requests are waiting than the batcher accepts (back-pressure: retry later)."""


class BatcherClosedError(RuntimeError):
    """The batcher was closed (the server is shutting down)."""


class BackendFailureError(RuntimeError):
    """The backend raised, or broke the protocol, for a whole batch."""


@dataclass
class _Item:
    request: Request
    future: Future[Response]
    enqueued: float


@dataclass
class BatchStats:
    """What the batcher has done so far (for `/health`, tests and benchmarks)."""

    batches: int = 0
    requests: int = 0
    sizes: Counter[int] = field(default_factory=Counter)
    busy_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "requests": self.requests,
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
            "busy_s": round(self.busy_s, 6),
        }


_STOP = object()


class MicroBatcher:
    """Micro-batching queue in front of one backend; see the module docstring."""

    def __init__(
        self,
        backend: Model,
        max_batch_size: int = 8,
        max_wait_ms: float = 10.0,
        max_queue: int = 256,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.backend = backend
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._free_since = 0.0  # monotonic time the last batch finished
        self.stats = BatchStats()

    @property
    def queued(self) -> int:
        """Requests waiting for a batch (approximate, for monitoring)."""
        return self._queue.qsize()

    def submit(self, request: Request) -> Future[Response]:
        """Queue a request; raises `QueueFullError` or `BatcherClosedError` at once."""
        future: Future[Response] = Future()
        with self._lock:
            if self._closed:
                raise BatcherClosedError("the server is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="mllmkit-batcher", daemon=True
                )
                self._thread.start()
            try:
                self._queue.put_nowait(_Item(request, future, time.monotonic()))
            except queue.Full:
                raise QueueFullError(
                    f"{self._queue.maxsize} requests are already waiting; retry later"
                ) from None
        return future

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the running batch, fail every waiting request, stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            # wakes an idle worker; a busy one sees `_closed` after its batch and stops
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_STOP)
            thread.join(timeout)
        self._fail_waiting()

    @property
    def closed(self) -> bool:
        """True once `close` was called (new requests are refused)."""
        return self._closed

    def _fail_waiting(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item.future.set_running_or_notify_cancel():
                item.future.set_exception(BatcherClosedError("the server is shutting down"))

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Item] = []
            if first.future.set_running_or_notify_cancel():
                batch.append(first)
            # the fill window opens when the worker has a request *and* is free
            opened = max(first.enqueued, self._free_since)
            stop = self._fill(batch, deadline=opened + self.max_wait_s)
            if batch:
                self._run(batch)
            if stop or self._closed:
                return

    def _fill(self, batch: list[_Item], deadline: float) -> bool:
        """Add waiting requests to `batch` until it is full or `deadline`; True on stop."""
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    item = self._queue.get(timeout=remaining)
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            if item.future.set_running_or_notify_cancel():
                batch.append(item)
        return False

    def _run(self, batch: list[_Item]) -> None:
        start = time.perf_counter()
        try:
            responses = self.backend.generate([item.request for item in batch])
            if len(responses) != len(batch):
                raise BackendFailureError(
                    f"backend {self.backend.name!r} returned {len(responses)} responses "
                    f"for {len(batch)} requests"
                )
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, BackendFailureError)
                else BackendFailureError(
                    f"backend {self.backend.name!r} failed: {type(exc).__name__}: {exc}"
                )
            )
            for item in batch:
                item.future.set_exception(error)
        else:
            for item, response in zip(batch, responses, strict=True):
                item.future.set_result(response)
        finally:
            self._free_since = time.monotonic()
            with self._lock:
                self.stats.batches += 1
                self.stats.requests += len(batch)
                self.stats.sizes[len(batch)] += 1
                self.stats.busy_s += time.perf_counter() - start
