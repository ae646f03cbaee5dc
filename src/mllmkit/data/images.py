"""Safe image loading: refuse decompression bombs cheaply and name the bad file.

Pillow reads an image's header (and so its width and height) when the file is opened
and only decodes pixels on `load()`. We check the pixel count between the two, so a
tiny file that claims to be 100k x 100k pixels is refused before any memory is spent.
Every failure (missing file, not an image, truncated data, too many pixels) becomes an
`ImageLoadError` that names the source, instead of an `OSError` from a decoder plugin.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from mllmkit.data.errors import ImageLoadError

DEFAULT_MAX_PIXELS = 64_000_000
"""Default ceiling on width x height (a 8000 x 8000 photo passes, a bomb does not)."""


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB, compositing any transparency onto white.

    Plain `convert("RGB")` keeps whatever colour hides under transparent pixels (often
    black); compositing onto white shows what a viewer shows, and matches what
    `transformers` image processors do, so both pipelines see the same pixels.
    """
    if image.mode == "RGB":
        return image
    has_alpha = "A" in image.getbands() or image.info.get("transparency") is not None
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _open_checked(fp: str | Path | BinaryIO, source: str, max_pixels: int) -> Image.Image:
    """Open, check the header's pixel count, then decode; all failures name `source`."""
    try:
        image = Image.open(fp)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(
            f"refused: image header claims more pixels than Pillow's safety limit ({exc})",
            path=source,
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError("not a readable image file", path=source) from exc
    except OSError as exc:
        raise ImageLoadError(f"cannot open image: {exc}", path=source) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"image has an empty size {width}x{height}", path=source)
    if width * height > max_pixels:
        raise ImageLoadError(
            f"refused before decoding: {width}x{height} = {width * height} pixels is above "
            f"the limit of {max_pixels} (a decompression bomb or an unreasonably large "
            "image; raise max_pixels if it is genuine)",
            path=source,
        )
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        return to_rgb(image)
    except Exception as exc:  # decoder plugins raise OSError, SyntaxError, ValueError, ...
        raise ImageLoadError(
            f"cannot decode image (truncated or corrupt): {type(exc).__name__}: {exc}",
            path=source,
        ) from exc


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Load an image file as RGB, refusing more than `max_pixels` before decoding."""
    path = Path(path)
    if not path.is_file():
        reason = "is a directory, not an image" if path.is_dir() else "file not found"
        raise ImageLoadError(reason, path=path)
    with path.open("rb") as fh:
        return _open_checked(fh, str(path), max_pixels)


def decode_image_bytes(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, source: str = "<image bytes>"
) -> Image.Image:
    """Decode encoded image bytes (PNG, JPEG, ...) as RGB with the same safety checks.

    `source` names where the bytes came from (e.g. ``bench.tsv:12 field 'image'`` or an
    HTTP request) so the error points at it.
    """
    if not data:
        raise ImageLoadError("empty image data", path=source)
    return _open_checked(io.BytesIO(data), source, max_pixels)


def read_image_size(path: str | Path) -> tuple[int, int]:
    """Return (width, height) from the header only; cheap validation of a large dataset."""
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError("file not found", path=path)
    try:
        with Image.open(path) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"refused: {exc}", path=path) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageLoadError("not a readable image file", path=path) from exc
