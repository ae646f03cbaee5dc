"""Turn an OpenAI `image_url.url` into a PIL image, safely.

Accepted by default: `data:image/...;base64,...` URLs only. The bytes are decoded by
`mllmkit.data.images.decode_image_bytes`, which reads the image header first and refuses
more than `max_pixels` before decoding, so a tiny PNG claiming 100k x 100k pixels costs
nothing. Remote URLs (`http(s)://`) are fetched only when the server was started with
`allow_remote_images` (bounded by a timeout and by `max_body_bytes`), and local files
(`file://` URLs or plain paths) only from inside the `allow_local_images` folder. Every
failure is an `APIError` (400) naming the field, never an exception from a decoder.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image

from mllmkit.data.errors import ImageLoadError
from mllmkit.data.images import decode_image_bytes, load_image
from mllmkit.serve.config import ServeConfig
from mllmkit.serve.errors import bad_request

_DATA_URL = re.compile(r"data:(?P<mediatype>[^,;]*)(?P<params>(?:;[^,;]*)*),(?P<data>.*)", re.S)
_REMOTE_SCHEMES = frozenset({"http", "https"})
_MAX_REDIRECTS = 3


def load_image_url(url: str, config: ServeConfig, param: str) -> Image.Image:
    """Resolve and decode one image URL under the server's policy (see module docstring)."""
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    if scheme == "data":
        return _from_data_url(url, config, param)
    if scheme in _REMOTE_SCHEMES:
        if not config.allow_remote_images:
            raise bad_request(
                "remote image URLs are refused by this server; send the image inline as a "
                "data URL (data:image/png;base64,...) or start the server with "
                "--allow-remote-images",
                param,
                "remote_images_disabled",
            )
        return _decode(_fetch(url, config, param), config, param)
    if scheme in ("", "file"):
        return _from_local(url, scheme, config, param)
    raise bad_request(
        f"unsupported image URL scheme {scheme!r}; use a data:image/...;base64 URL",
        param,
        "unsupported_image_url",
    )


def _decode(data: bytes, config: ServeConfig, param: str) -> Image.Image:
    try:
        return decode_image_bytes(data, max_pixels=config.max_pixels, source=param)
    except ImageLoadError as exc:
        raise bad_request(str(exc), param, "invalid_image") from None


def _from_data_url(url: str, config: ServeConfig, param: str) -> Image.Image:
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise bad_request(
            "malformed data URL; expected data:image/png;base64,<base64 bytes>",
            param,
            "invalid_image_url",
        )
    mediatype = match["mediatype"].strip().lower()
    params = [p.strip().lower() for p in match["params"].split(";") if p.strip()]
    if mediatype and not mediatype.startswith("image/"):
        raise bad_request(
            f"data URL media type is {mediatype!r}, expected image/* (e.g. image/png)",
            param,
            "invalid_image_url",
        )
    if "base64" not in params:
        raise bad_request(
            "data URL must be base64-encoded (data:image/png;base64,...)",
            param,
            "invalid_image_url",
        )
    payload = "".join(match["data"].split())  # tolerate line-wrapped base64
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(
            f"data URL is not valid base64 ({exc})", param, "invalid_base64"
        ) from None
    return _decode(data, config, param)


def _fetch(url: str, config: ServeConfig, param: str) -> bytes:
    """GET a remote image, refusing bodies larger than `max_body_bytes` while streaming."""
    import httpx

    limit = config.max_body_bytes
    try:
        with (
            httpx.Client(
                timeout=config.remote_timeout_s,
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise bad_request(
                    f"could not fetch image: HTTP {response.status_code}",
                    param,
                    "image_fetch_failed",
                )
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise bad_request(
                        f"remote image is larger than {limit} bytes", param, "image_too_large"
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise bad_request(
            f"could not fetch image: {type(exc).__name__}: {exc}", param, "image_fetch_failed"
        ) from None
    return b"".join(chunks)


def _from_local(url: str, scheme: str, config: ServeConfig, param: str) -> Image.Image:
    if config.allow_local_images is None:
        raise bad_request(
            "local image paths are refused by this server; send the image inline as a data "
            "URL (data:image/png;base64,...) or start the server with "
            "--allow-local-images DIR",
            param,
            "local_images_disabled",
        )
    root = Path(config.allow_local_images).resolve()
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise bad_request(
                f"file URL names host {parts.netloc!r}; only local files can be read",
                param,
                "invalid_image_url",
            )
        raw = Path(unquote(parts.path))
    else:
        raw = Path(url)
    path = (raw if raw.is_absolute() else root / raw).resolve()
    if not path.is_relative_to(root):
        raise bad_request(
            f"image path {url!r} is outside the folder this server may read images from",
            param,
            "image_path_forbidden",
        )
    try:
        return load_image(path, max_pixels=config.max_pixels)
    except ImageLoadError as exc:
        detail = str(exc).replace(str(path), url)  # do not reveal the server's folder layout
        raise bad_request(detail, param, "invalid_image") from None
