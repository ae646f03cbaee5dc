"""`create_app(backend, config)`: the OpenAI-compatible FastAPI application.

Routes: `POST /v1/chat/completions` (plain or `stream: true`), `GET /v1/models`,
`GET /v1/models/{id}` and `GET /health` (no key needed; says whether the server is up).
Work per request, cheapest refusal first: API key (401) → declared body size (413) →
body read with a running byte cap (413) → JSON (400) → field validation and limits
(400) → image decoding in a worker thread (400 for bad base64, non-images, decompression
bombs) → the micro-batcher (503 when its queue is full) → one `backend.generate` per
batch. A request the backend could not answer becomes 422 with the backend's message;
a backend that crashes on a whole batch becomes 500. Every error body is OpenAI-shaped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from mllmkit.backends.base import Model, Response
from mllmkit.serve.auth import check_authorization, resolve_api_key
from mllmkit.serve.batcher import (
    BackendFailureError,
    BatcherClosedError,
    MicroBatcher,
    QueueFullError,
)
from mllmkit.serve.config import ServeConfig
from mllmkit.serve.errors import SERVER_ERROR, APIError
from mllmkit.serve.protocol import parse_chat, parse_json_body, to_request
from mllmkit.serve.responses import completion_body, completion_id, stream_events

logger = logging.getLogger(__name__)

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"request body is larger than this server's limit of {limit} bytes",
        code="request_too_large",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes.

    The declared `Content-Length` is checked first so an oversized upload is refused
    without reading it; chunked bodies are counted while they arrive.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise APIError(400, f"invalid Content-Length header {declared!r}")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _overloaded(reason: str) -> APIError:
    return APIError(
        503,
        f"server busy: {reason}",
        type=SERVER_ERROR,
        code="server_overloaded",
        headers={"Retry-After": "1"},
    )


async def _async_events(events: Iterator[str]) -> AsyncIterator[str]:
    """The events as an async iterator: the text is already known, so sending a piece
    needs no worker thread (Starlette runs plain iterators in its thread pool)."""
    for event in events:
        yield event


def _answer_or_raise(response: Response) -> str:
    if response.error is not None:
        raise APIError(
            422,
            f"the model could not answer this request: {response.error}",
            code="generation_failed",
        )
    return response.text


def _install_error_handlers(app: FastAPI) -> None:
    """Render every error, including the framework's own 404/405, in OpenAI's shape."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = SERVER_ERROR if exc.status_code >= 500 else "invalid_request_error"
        error = APIError(exc.status_code, str(exc.detail), type=kind, code=None)
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return APIError(400, f"invalid request: {exc.errors()}").response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error while serving a request")
        error = APIError(500, "internal server error", type=SERVER_ERROR, code="internal_error")
        return error.response()


def create_app(backend: Model, config: ServeConfig | None = None) -> FastAPI:
    """Build the server app for `backend` under `config` (defaults: `ServeConfig()`).

    Raises `ServeSetupError` when `config.api_key_env` names an unset variable. The
    micro-batcher's worker thread starts with the first request and stops (failing any
    waiting requests with 503) when the app shuts down.
    """
    config = config or ServeConfig()
    api_key = resolve_api_key(config.api_key_env)
    batcher = MicroBatcher(backend, config.max_batch_size, config.max_wait_ms, config.max_queue)
    model_name = config.model_name or backend.name
    system_fingerprint = "fp_" + backend.fingerprint()[-16:]
    started = int(time.time())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(batcher.close)

    app = FastAPI(
        title="mllmkit serve",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.batcher = batcher
    app.state.config = config
    _install_error_handlers(app)

    def model_card() -> dict[str, Any]:
        return {"id": model_name, "object": "model", "created": started, "owned_by": "mllmkit"}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "queued": batcher.queued, **batcher.stats.to_dict()}

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict[str, Any]:
        check_authorization(request.headers.get("authorization"), api_key)
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> dict[str, Any]:
        check_authorization(request.headers.get("authorization"), api_key)
        if model_id != model_name:
            raise APIError(
                404,
                f"model {model_id!r} not found; this server serves {model_name!r}",
                param="model",
                code="model_not_found",
            )
        return model_card()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        check_authorization(request.headers.get("authorization"), api_key)
        body = await read_body(request, config.max_body_bytes)
        call = parse_chat(parse_json_body(body), config)
        if batcher.queued >= config.max_queue:  # refuse before decoding any image
            raise _overloaded(f"{config.max_queue} requests are already waiting; retry later")
        backend_request = await run_in_threadpool(to_request, call, config)
        try:
            future = batcher.submit(backend_request)
        except (QueueFullError, BatcherClosedError) as exc:
            raise _overloaded(str(exc)) from None
        try:
            response = await asyncio.wrap_future(future)
        except BatcherClosedError as exc:
            raise APIError(503, str(exc), type=SERVER_ERROR, code="shutting_down") from None
        except BackendFailureError as exc:
            raise APIError(500, str(exc), type=SERVER_ERROR, code="backend_failure") from None
        text = _answer_or_raise(response)
        cid = completion_id()
        if call.stream:
            events = _async_events(stream_events(cid, model_name, text, system_fingerprint))
            return StreamingResponse(events, media_type="text/event-stream", headers=_SSE_HEADERS)
        return JSONResponse(completion_body(cid, model_name, text, system_fingerprint))

    return app
