"""Safe image loading: good images, and every way a file can be bad."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmkit.data.errors import DataError, ImageLoadError
from mllmkit.data.images import decode_image_bytes, load_image, read_image_size


def _png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels but which holds no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")


def test_load_rgb_png(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    _noise(7, 5).save(path)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.size == (7, 5)
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(path).convert("RGB")))


def test_transparency_is_composited_onto_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (10, 20, 30, 255))
    path = tmp_path / "t.png"
    rgba.save(path)
    pixels = np.asarray(load_image(path))
    assert pixels[0, 0].tolist() == [255, 255, 255]  # transparent → white, not black
    assert pixels[0, 1].tolist() == [10, 20, 30]


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(ImageLoadError, match="file not found") as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)
    assert isinstance(info.value, DataError)


def test_not_an_image_names_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is text, not a PNG")
    with pytest.raises(ImageLoadError, match="not a readable image") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_truncated_image_names_path(tmp_path: Path) -> None:
    data = _png_bytes(_noise(64, 64))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="truncated or corrupt") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    # 9000 x 9000 = 81M pixels: above our 64M default, below Pillow's own 89M warning,
    # so only our header check can refuse it. The file has no pixel data at all: had we
    # tried to decode, the error would be about truncation, not the pixel count.
    path = tmp_path / "bomb.png"
    path.write_bytes(_header_only_png(9000, 9000))
    start = time.perf_counter()
    with pytest.raises(ImageLoadError, match="refused before decoding") as info:
        load_image(path)
    assert time.perf_counter() - start < 1.0
    assert "9000x9000" in str(info.value)
    assert str(path) in str(info.value)


def test_giant_header_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_header_only_png(100_000, 100_000))
    with pytest.raises(ImageLoadError, match="refused") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_max_pixels_boundary(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    _noise(100, 100).save(path)
    assert load_image(path, max_pixels=10_000).size == (100, 100)  # equal is allowed
    with pytest.raises(ImageLoadError, match="above the limit of 9999"):
        load_image(path, max_pixels=9_999)


def test_decode_image_bytes_names_source() -> None:
    good = decode_image_bytes(_png_bytes(_noise(3, 4)))
    assert good.size == (3, 4) and good.mode == "RGB"
    with pytest.raises(ImageLoadError, match=r"bench\.tsv:7 field 'image'"):
        decode_image_bytes(b"garbage", source="bench.tsv:7 field 'image'")
    with pytest.raises(ImageLoadError, match="empty image data"):
        decode_image_bytes(b"")
    with pytest.raises(ImageLoadError, match="refused before decoding"):
        decode_image_bytes(_header_only_png(9000, 9000))


def test_read_image_size_reads_header_only(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_header_only_png(300, 200))
    assert read_image_size(path) == (300, 200)
    with pytest.raises(ImageLoadError, match="file not found"):
        read_image_size(tmp_path / "missing.png")


def test_error_survives_pickling() -> None:
    import pickle

    err = ImageLoadError("bad", path="x.png", row=3, row_id="r", field="image")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is ImageLoadError
    assert (again.path, again.row, again.row_id, again.field) == ("x.png", 3, "r", "image")
    assert str(again) == "x.png:3 (id=r): field 'image': bad"
