"""`open_backend(spec)`: one string names any backend.

Accepted specs — an exact scheme before the first `:`, else a local folder:

| spec                          | backend                                           |
| ----------------------------- | ------------------------------------------------- |
| `replay:FILE`                 | `ReplayBackend` (predictions `.jsonl` / `.tsv`)   |
| `http://...`, `https://...`   | `OpenAIHTTPBackend` (OpenAI-compatible server)    |
| `instant:` / `instant:TEXT`   | `InstantBackend` (harness benchmarks and tests)   |
| `hf:PATH`                     | `TransformersBackend` (HF folder run by transformers) |
| `PATH` (an existing folder)   | `NativeBackend` (mllmkit or HF LLaVA checkpoint)  |

Keyword options are passed to the backend's constructor (e.g. `model=`, `concurrency=`
for HTTP). Schemes live in the explicit `SCHEMES` registry; nothing is inferred from a
substring of a path or a model name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mllmkit.backends.base import BackendError, Model

Factory = Callable[..., Model]
SCHEMES: dict[str, Factory] = {}


def register_scheme(scheme: str, factory: Factory) -> None:
    """Register `factory(spec_without_scheme_or_full_url, **options)` under an exact scheme."""
    if scheme in SCHEMES:
        raise ValueError(f"backend scheme {scheme!r} is already registered")
    SCHEMES[scheme] = factory


def _replay(rest: str, **options: Any) -> Model:
    from mllmkit.backends.replay import ReplayBackend

    if not rest:
        raise BackendError("replay: needs a file, e.g. replay:predictions.jsonl")
    if options:
        raise BackendError(f"replay backend takes no options, got {sorted(options)}")
    return ReplayBackend(rest)


def _instant(rest: str, **options: Any) -> Model:
    from mllmkit.backends.instant import InstantBackend

    if options:
        raise BackendError(f"instant backend takes no options, got {sorted(options)}")
    return InstantBackend(rest or None)


def _http(url: str, **options: Any) -> Model:
    try:
        from mllmkit.backends.openai_http import OpenAIHTTPBackend
    except ImportError as exc:  # httpx ships with the `serve` / `test` extras
        raise BackendError(
            f"the HTTP backend needs httpx ({exc}); install it with pip install 'mllmkit[serve]'"
        ) from None

    return OpenAIHTTPBackend(url, **options)


def _hf(rest: str, **options: Any) -> Model:
    from mllmkit.backends.transformers_backend import TransformersBackend

    if not rest:
        raise BackendError("hf: needs a local folder, e.g. hf:path/to/llava-hf-folder")
    return TransformersBackend(rest, **options)


register_scheme("replay", _replay)
register_scheme("hf", _hf)
register_scheme("instant", _instant)
register_scheme("http", _http)
register_scheme("https", _http)

_URL_SCHEMES = frozenset({"http", "https"})


def open_backend(spec: str, **options: Any) -> Model:
    """Open the backend a spec names (see the module docstring); errors list the valid forms."""
    scheme, sep, rest = spec.partition(":")
    if sep and scheme in SCHEMES:
        return SCHEMES[scheme](spec if scheme in _URL_SCHEMES else rest, **options)
    path = Path(spec)
    if path.is_dir():
        from mllmkit.backends.native import NativeBackend

        return NativeBackend(path, **options)
    raise BackendError(
        f"cannot open model {spec!r}: not an existing checkpoint folder and not one of "
        "replay:FILE, http(s)://URL, instant:[TEXT], hf:FOLDER"
    )
