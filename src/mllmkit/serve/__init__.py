"""mllmkit.serve: an OpenAI-compatible chat-completions server over any `Model` backend.

`create_app(backend, ServeConfig(...))` builds the FastAPI app (`serve.app`); requests
are validated (`serve.protocol`, `serve.images`), gathered into batches by the
micro-batcher (`serve.batcher`) and answered by one `backend.generate` call per batch.
`run_server` runs it in the foreground (`mllm serve`), `BackgroundServer` in a thread.
Importing this package needs FastAPI and uvicorn (`pip install 'mllmkit[serve]'`).
"""

from mllmkit.serve.app import create_app
from mllmkit.serve.auth import ServeSetupError
from mllmkit.serve.batcher import MicroBatcher
from mllmkit.serve.config import ServeConfig
from mllmkit.serve.server import BackgroundServer, run_server

__all__ = [
    "BackgroundServer",
    "MicroBatcher",
    "ServeConfig",
    "ServeSetupError",
    "create_app",
    "run_server",
]
