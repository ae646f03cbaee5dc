"""Vision-tower outputs kept per image file, for a stage that keeps the tower frozen.

A frozen tower gives the same output for an image every time it is seen, so a stage that
shows each image many times (the demo's instruct stage sees each world image ~10 times)
need run it only once per image. On the demo's question-first config the tower was ~20% of
an instruct step.

Each image is encoded on its own (a batch of one), so its cached output does not depend on
which other images shared its first batch: a resumed run refills the cache with exactly the
values the interrupted run used, and resume stays exact.

Memory is the price: one [tokens, width] float tensor per distinct image (the world's
8,000 images at 37 x 128: ~150 MB), which is why a stage asks for it by name
(`cache_vision_features: true`) instead of getting it by default: at LLaVA scale (576 x
1024 per image) it would not fit.
"""

from __future__ import annotations

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

    def __call__(self, path: Path) -> torch.Tensor:
        cached = self._cache.get(path)
        if cached is None:
            pixels = self.processor.preprocess_images([load_image(path)])
            param = next(self.tower.parameters())
            with torch.no_grad():
                cached = self.tower(pixels.to(param.device, param.dtype))[0]
            self._cache[path] = cached
        return cached
