"""`mllm serve --model SPEC` — an OpenAI-compatible HTTP server over any backend.

Thin: builds a `ServeConfig`, opens the backend and calls `mllmkit.serve.run_server`.
"""

from __future__ import annotations

from pathlib import Path

import typer


def serve_command(
    model: str = typer.Option(
        ..., "--model", help="Checkpoint folder, http(s)://URL, replay:FILE or instant:[TEXT]."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    model_name: str = typer.Option(
        None, "--served-model-name", help="Model id shown by /v1/models (default: backend name)."
    ),
    api_key_env: str = typer.Option(
        None,
        "--api-key-env",
        help="Require 'Authorization: Bearer <key>', the key read from this env variable.",
    ),
    max_batch_size: int = typer.Option(8, "--max-batch-size", min=1, help="Requests per batch."),
    max_wait_ms: float = typer.Option(
        10.0, "--max-wait-ms", min=0.0, help="Longest wait to fill a batch, in milliseconds."
    ),
    max_queue: int = typer.Option(256, "--max-queue", min=1, help="Waiting requests before 503."),
    max_tokens_limit: int = typer.Option(
        1024, "--max-tokens-limit", min=1, help="Largest max_tokens a request may ask for."
    ),
    default_max_tokens: int = typer.Option(
        256, "--default-max-tokens", min=1, help="max_tokens when a request names none."
    ),
    max_images: int = typer.Option(8, "--max-images", min=1, help="Images per request."),
    max_pixels: int = typer.Option(
        16_000_000, "--max-pixels", min=1, help="Pixels per image (checked before decoding)."
    ),
    max_body_bytes: int = typer.Option(
        20 * 1024 * 1024, "--max-body-bytes", min=1, help="Largest request body, in bytes."
    ),
    max_messages: int = typer.Option(64, "--max-messages", min=1, help="Messages per request."),
    allow_remote_images: bool = typer.Option(
        False, "--allow-remote-images", help="Fetch http(s):// image URLs (trusted clients only)."
    ),
    allow_local_images: Path = typer.Option(
        None,
        "--allow-local-images",
        exists=True,
        file_okay=False,
        help="Folder from which file:// URLs and plain image paths may be read.",
    ),
    reduce: str = typer.Option(
        None,
        "--reduce",
        help="Visual-token reduction for a checkpoint folder, e.g. fastv:k=2,r=0.5 "
        "(see docs/token-reduction.md); every request is answered with it.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve MODEL at http://HOST:PORT/v1 (chat completions, streaming, /v1/models, /health).

    Example: `MLLM_KEY=secret mllm serve --model runs/demo/train/model --api-key-env MLLM_KEY`,
    then point any OpenAI client at http://127.0.0.1:8000/v1. See docs/serving.md.
    """
    from mllmkit.backends.base import BackendError
    from mllmkit.backends.registry import open_backend

    try:
        from mllmkit.serve import ServeConfig, ServeSetupError, run_server
        from mllmkit.serve.auth import resolve_api_key
        from mllmkit.serve.server import prefer_passive_openmp
    except ImportError as exc:
        typer.echo(
            f"error: mllm serve needs FastAPI and uvicorn ({exc}); "
            "install them with pip install 'mllmkit[serve]'",
            err=True,
        )
        raise typer.Exit(2) from None

    try:
        config = ServeConfig(
            host=host,
            port=port,
            model_name=model_name,
            api_key_env=api_key_env,
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            max_tokens_limit=max_tokens_limit,
            default_max_tokens=default_max_tokens,
            max_images=max_images,
            max_pixels=max_pixels,
            max_body_bytes=max_body_bytes,
            max_messages=max_messages,
            allow_remote_images=allow_remote_images,
            allow_local_images=None if allow_local_images is None else str(allow_local_images),
        )
        resolve_api_key(api_key_env)  # refuse before spending minutes loading a model
        prefer_passive_openmp()  # before torch loads; see its docstring
        if reduce is not None and not Path(model).is_dir():
            raise ValueError("--reduce needs a local checkpoint folder as --model")
        backend = open_backend(model, **({"reduction": reduce} if reduce is not None else {}))
    except (BackendError, ServeSetupError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    run_server(backend, config, log_level=log_level)
