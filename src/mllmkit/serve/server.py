"""Run the app with uvicorn: in the foreground (`run_server`, what `mllm serve` calls) or
in a background thread on a free loopback port (`BackgroundServer`, for tests,
benchmarks and notebooks that need a live OpenAI-compatible endpoint).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from mllmkit.backends.base import Model
from mllmkit.serve.app import create_app
from mllmkit.serve.config import DEFAULT_HOST, ServeConfig

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def prefer_passive_openmp() -> bool:
    """Ask OpenMP worker threads to sleep, not spin, between parallel regions.

    Why: by default OpenMP workers busy-wait after every torch op. In a server the HTTP
    event loop needs a core between (and during) batches; on a 2-core machine the
    spinning workers starve it, and a tiny model served 32 concurrent clients at
    ~4 requests/s instead of ~190. The setting only takes effect if it is in the
    environment before torch loads, so call this before opening a native backend. An
    explicit `OMP_WAIT_POLICY` from the user is kept. Returns False (and warns) when
    torch is already loaded without the setting, i.e. it is too late.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return True
    if "torch" in sys.modules:
        logger.warning(
            "torch was loaded before OMP_WAIT_POLICY was set: OpenMP threads may spin and "
            "slow the server down under load; set OMP_WAIT_POLICY=PASSIVE before starting"
        )
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


def run_server(backend: Model, config: ServeConfig, log_level: str = "info") -> None:
    """Serve `backend` on `config.host:config.port` until interrupted (Ctrl-C).

    Open the backend after calling `prefer_passive_openmp()` (as `mllm serve` does).
    """
    app = create_app(backend, config)
    if config.host not in LOOPBACK_HOSTS and config.api_key_env is None:
        logger.warning(
            "serving on %s without an API key: anyone who can reach this address can use "
            "the model (set --api-key-env)",
            config.host,
        )
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level)


class BackgroundServer:
    """uvicorn running `app` in a daemon thread; a context manager.

    `port=0` (the default) lets the OS pick a free port; read it from `.port` / `.url`
    after entering. Leaving the context asks uvicorn to shut down (which also stops the
    app's micro-batcher) and waits for the thread.
    """

    def __init__(
        self,
        app: FastAPI,
        host: str = DEFAULT_HOST,
        port: int = 0,
        log_level: str = "warning",
        start_timeout_s: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, name="mllmkit-serve", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (append `/v1` for OpenAI clients)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server thread exited before listening on {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {self.start_timeout_s} s")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
