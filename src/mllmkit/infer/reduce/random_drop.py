"""`random`: keep a seeded random subset of image tokens — the control for every ranking."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from mllmkit.infer.reduce.base import LayerContext, Strategy, budget, check_ratio
from mllmkit.models.config import MLLMConfig


@dataclass(frozen=True)
class RandomDrop(Strategy):
    """Random token dropping, the baseline used in FastV / VisionZip ablations (Chen et al.
    2024; Yang et al. 2024): same budget as the ranked strategies, no ranking.

    Before decoder layer `k` (0 = before the first), each sample keeps `keep` of its image
    tokens, drawn by a generator seeded with `seed` per sample, so a sample's choice is the
    same alone or in any batch."""

    name = "random"
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {"keep": float, "seed": int, "k": int}
    keep: float = 0.25
    seed: int = 0
    k: int = 0

    def __post_init__(self) -> None:
        check_ratio(self.spec(), "keep", self.keep)
        if self.k < 0:
            raise ValueError(f"{self.spec()}: k={self.k} must be >= 0")

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        return (self.k,)

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        out = []
        for row in range(ctx.batch_size):
            images = ctx.image_positions(row)
            n = int(images.numel())
            gen = torch.Generator().manual_seed(self.seed)
            pick = torch.randperm(n, generator=gen)[: budget(n, self.keep)].to(images.device)
            out.append(torch.cat([ctx.other_positions(row), images[pick]]))
        return out

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        n_img = n_images * cfg.image_tokens_per_image
        reduced = seq_len - n_img + budget(n_img, self.keep)
        return [seq_len if i < self.k else reduced for i in range(cfg.lm.num_layers)]
