"""Vision-tower outputs kept per image file, for a stage that keeps the tower frozen.

A frozen tower gives the same output for an image every time it is seen, so a stage that
shows each image many times (the demo's instruct stage sees each world image ~10 times)
need run it only once per image. On the demo's question-first config the tower was ~20% of
an instruct step.

A stage fills the cache up front (`fill`) with every image its data names, sorted by path
and encoded in fixed chunks: batched, the tower costs ~5x less per image than one image at a
time (on the demo, ~85 s of an instruct stage went into encoding images one by one), and
because the chunks depend only on the stage's own image list, a resumed run refills the
cache with exactly the values the interrupted run used, so resume stays exact. An image
asked for that `fill` did not cover is encoded on its own.

Memory is the price: one [tokens, width] float tensor per distinct image (the world's
8,000 images at 37 x 128: ~150 MB), which is why a stage asks for it by name
(`cache_vision_features: true`) instead of getting it by default: at LLaVA scale (576 x
1024 per image) it would not fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from mllmkit.data.images import load_image
from mllmkit.data.processor import Processor
from mllmkit.models.vision import VisionTower


class VisionFeatureCache:
    """`cache(path) -> [tokens, vision hidden]`: the tower's output for one image file."""

    def __init__(self, tower: VisionTower, processor: Processor) -> None:
        if any(p.requires_grad for p in tower.parameters()):
            raise ValueError("the vision feature cache needs a frozen vision tower")
        self.tower = tower
        self.processor = processor
        self._cache: dict[Path, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def fill(self, paths: Iterable[Path], chunk_size: int = 64) -> int:
        """Encode every not-yet-cached image of `paths` (sorted, de-duplicated) in chunks of
        `chunk_size`. Returns how many were encoded."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        todo = sorted(set(paths) - self._cache.keys())
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            pixels = self.processor.preprocess_images([load_image(p) for p in chunk])
            for path, out in zip(chunk, self._encode(pixels), strict=True):
                self._cache[path] = out
        return len(todo)

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        param = next(self.tower.parameters())
        with torch.no_grad():
            return self.tower(pixels.to(param.device, param.dtype))

    def __call__(self, path: Path) -> torch.Tensor:
        cached = self._cache.get(path)
        if cached is None:
            cached = self._encode(self.processor.preprocess_images([load_image(path)]))[0]
            self._cache[path] = cached
        return cached
