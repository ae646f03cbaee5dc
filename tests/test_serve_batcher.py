"""The micro-batcher: concurrent requests share backend calls, each caller gets its own
answer, failures reach every caller of the batch, and shutdown fails waiting requests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

from mllmkit.backends.base import Message, Request, Response, TextPart
from mllmkit.serve.batcher import (
    BackendFailureError,
    BatcherClosedError,
    MicroBatcher,
    QueueFullError,
)
from test_serve_fixtures import EchoBackend


def _req(text: str) -> Request:
    return Request([Message("user", [TextPart(text)])])


def test_concurrent_requests_are_batched_and_answered_in_order() -> None:
    backend = EchoBackend(delay_s=0.05)
    batcher = MicroBatcher(backend, max_batch_size=4, max_wait_ms=50)
    futures = [batcher.submit(_req(f"q{i}")) for i in range(10)]
    texts = [f.result(timeout=10).text for f in futures]
    batcher.close()
    assert texts == [f"echo:q{i}|images=0|" for i in range(10)]
    assert sum(backend.batches) == 10
    assert max(backend.batches) == 4 and len(backend.batches) == 3  # 4 + 4 + 2
    assert batcher.stats.batches == 3 and batcher.stats.requests == 10
    assert batcher.stats.sizes == {4: 2, 2: 1}


def test_batch_size_one_serves_one_at_a_time() -> None:
    backend = EchoBackend()
    batcher = MicroBatcher(backend, max_batch_size=1, max_wait_ms=50)
    futures = [batcher.submit(_req(str(i))) for i in range(5)]
    assert [f.result(timeout=10).text for f in futures][-1] == "echo:4|images=0|"
    batcher.close()
    assert backend.batches == [1] * 5


def test_a_lone_request_waits_at_most_max_wait() -> None:
    backend = EchoBackend()
    batcher = MicroBatcher(backend, max_batch_size=8, max_wait_ms=30)
    start = time.perf_counter()
    batcher.submit(_req("x")).result(timeout=10)
    elapsed = time.perf_counter() - start
    batcher.close()
    assert 0.025 <= elapsed < 1.0
    assert backend.batches == [1]


def test_requests_from_many_threads_are_batched() -> None:
    backend = EchoBackend(delay_s=0.05)
    batcher = MicroBatcher(backend, max_batch_size=8, max_wait_ms=20)
    results: dict[int, str] = {}
    barrier = threading.Barrier(16)

    def client(i: int) -> None:
        barrier.wait()
        results[i] = batcher.submit(_req(f"c{i}")).result(timeout=10).text

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert results == {i: f"echo:c{i}|images=0|" for i in range(16)}
    assert len(backend.batches) < 16 and sum(backend.batches) == 16


def test_backend_crash_reaches_every_caller_of_the_batch_only() -> None:
    backend = EchoBackend()
    batcher = MicroBatcher(backend, max_batch_size=2, max_wait_ms=200)
    bad = [batcher.submit(_req("crash")), batcher.submit(_req("ok"))]
    for f in bad:
        with pytest.raises(BackendFailureError, match="RuntimeError: boom"):
            f.result(timeout=10)
    assert batcher.submit(_req("after")).result(timeout=10).text == "echo:after|images=0|"
    batcher.close()


def test_wrong_number_of_responses_is_a_backend_failure() -> None:
    class Short(EchoBackend):
        def generate(self, requests: list[Request]) -> list[Response]:
            return super().generate(requests)[:-1]

    batcher = MicroBatcher(Short(), max_batch_size=1, max_wait_ms=0)
    with pytest.raises(BackendFailureError, match="0 responses for 1 requests"):
        batcher.submit(_req("x")).result(timeout=10)
    batcher.close()


class _Gate(EchoBackend):
    """Blocks inside `generate` until released, so requests pile up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, requests: list[Request]) -> list[Response]:
        self.entered.set()
        self.release.wait(10)
        return super().generate(requests)


def test_cancelled_requests_are_dropped_and_queue_limit_applies() -> None:
    backend = _Gate()
    batcher = MicroBatcher(backend, max_batch_size=8, max_wait_ms=0, max_queue=3)
    first = batcher.submit(_req("first"))
    assert backend.entered.wait(10)
    waiting = [batcher.submit(_req(f"w{i}")) for i in range(3)]
    with pytest.raises(QueueFullError):
        batcher.submit(_req("one too many"))
    assert waiting[1].cancel()
    backend.release.set()
    assert first.result(timeout=10).text.startswith("echo:first")
    assert waiting[0].result(timeout=10).text.startswith("echo:w0")
    assert waiting[2].result(timeout=10).text.startswith("echo:w2")
    batcher.close()
    assert [r.text() for r in backend.seen] == ["first", "w0", "w2"]
    assert backend.batches == [1, 2]


def test_close_fails_waiting_requests_and_refuses_new_ones() -> None:
    backend = _Gate()
    batcher = MicroBatcher(backend, max_batch_size=1, max_wait_ms=0)
    running = batcher.submit(_req("running"))
    assert backend.entered.wait(10)
    waiting: Future[Response] = batcher.submit(_req("waiting"))
    closer = threading.Thread(target=batcher.close)
    closer.start()
    deadline = time.monotonic() + 10
    while not batcher.closed and time.monotonic() < deadline:
        time.sleep(0.001)
    backend.release.set()
    closer.join(10)
    assert running.result(timeout=10).text.startswith("echo:running")
    with pytest.raises(BatcherClosedError):
        waiting.result(timeout=10)
    with pytest.raises(BatcherClosedError):
        batcher.submit(_req("late"))
    assert backend.batches == [1]


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        MicroBatcher(EchoBackend(), max_batch_size=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        MicroBatcher(EchoBackend(), max_wait_ms=-1)


def test_fill_window_opens_when_the_worker_is_free() -> None:
    """A request that queued during a long batch still waits for a follow-up request
    that arrives just after that batch ends (as a client answered by it would send)."""
    backend = _Gate()
    batcher = MicroBatcher(backend, max_batch_size=8, max_wait_ms=300)
    first = batcher.submit(_req("first"))
    assert backend.entered.wait(10)
    queued = batcher.submit(_req("queued"))
    time.sleep(0.4)  # longer than max_wait: counted from its arrival, its wait is over
    backend.release.set()
    first.result(timeout=10)
    time.sleep(0.05)  # the worker is free now and holds "queued"
    follow_up = batcher.submit(_req("follow-up"))
    for f in (queued, follow_up):
        f.result(timeout=10)
    batcher.close()
    assert backend.batches == [1, 2]
