"""CLIP-style image preprocessing with Pillow + numpy (no torchvision).

Algorithm, step for step the one of `transformers`' `CLIPImageProcessor` (Pillow backend)
so a model trained here sees the same pixels as one served through Hugging Face:

1. convert to RGB (transparency composited onto white);
2. resize so the *shortest* edge is `size`; the long edge becomes `int(size * long / short)`
   (truncated, not rounded), with Pillow's filter (`bicubic` by default);
3. centre crop `size` x `size` (top/left offset `(extent - size) // 2`);
4. rescale: uint8 → float64 x (1/255) → float32;
5. normalise per channel in float32: `(x - mean) / std`; channels first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from mllmkit.data.images import to_rgb

RESAMPLE: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
"""Resampling filters by exact name."""

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resample_filter(name: str) -> Image.Resampling:
    if name not in RESAMPLE:
        raise ValueError(f"unknown resample filter {name!r}; choose from {sorted(RESAMPLE)}")
    return RESAMPLE[name]


def shortest_edge_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after resizing the shortest edge to `size`, keeping the aspect ratio."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def clip_preprocess(
    image: Image.Image,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    resample: str = "bicubic",
) -> np.ndarray:
    """One image → float32 array [3, size, size] (see the module docstring for the steps)."""
    image = to_rgb(image)
    new_w, new_h = shortest_edge_size(image.width, image.height, size)
    image = image.resize((new_w, new_h), resample=resample_filter(resample))
    pixels = np.asarray(image)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    pixels = pixels[top : top + size, left : left + size]
    scaled = (pixels.astype(np.float64) * (1 / 255)).astype(np.float32)
    normed = (scaled - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(normed.transpose(2, 0, 1))
