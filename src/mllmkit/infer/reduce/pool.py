"""`pool`: average-pool the image token grid (s×s blocks), the simplest compression."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from mllmkit.infer.reduce.base import Strategy, check_ratio
from mllmkit.infer.reduce.encoder_side import image_grid
from mllmkit.models.config import MLLMConfig


@dataclass(frozen=True)
class Pool(Strategy):
    """Spatial average pooling of visual tokens, as in LLaVA-NeXT-style 2×2 pooling
    (e.g. Chen et al. 2024 FastV's pooling baseline; Yao et al. 2024 DeCo).

    `keep` = 1/s² picks s×s blocks (0.25 -> 2×2). Each block's average replaces the block's
    top-left token, which keeps that token's RoPE position; the other tokens are dropped
    before the first decoder layer. Ragged edges pool the tokens they have. A kept class
    token stays as it is."""

    name = "pool"
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {"keep": float}
    keep: float = 0.25

    def __post_init__(self) -> None:
        check_ratio(self.spec(), "keep", self.keep)
        s = self.stride
        if abs(1.0 / (s * s) - self.keep) > 1e-6:
            raise ValueError(
                f"{self.spec()}: keep must be 1/s² for an s×s pool (1, 0.25, 0.111…); "
                f"got {self.keep:g}"
            )

    @property
    def stride(self) -> int:
        return max(1, round(1.0 / math.sqrt(self.keep)))

    def after_connector(
        self,
        *,
        features: torch.Tensor,
        class_attention: torch.Tensor | None,
        has_class_token: bool,
        same_tokens: bool,
    ) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
        n, p, d = features.shape
        offset, side = image_grid(p, has_class_token, self.spec())
        s = self.stride
        if s == 1:
            return None
        grid = features[:, offset:].transpose(1, 2).reshape(n, d, side, side)
        pooled = F.avg_pool2d(grid.float(), s, s, ceil_mode=True).to(features.dtype)
        out_side = pooled.shape[-1]
        rows = torch.arange(out_side, device=features.device) * s
        corner = (rows[:, None] * side + rows[None, :]).flatten() + offset  # top-left tokens
        new = features.clone()
        new[:, corner] = pooled.flatten(2).transpose(1, 2)
        kept = corner if not offset else torch.cat([corner.new_zeros(1), corner])
        return new, [kept] * n

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        p = cfg.image_tokens_per_image
        offset, side = image_grid(p, cfg.vision.keep_cls, self.spec())
        kept = offset + math.ceil(side / self.stride) ** 2
        return [seq_len - n_images * (p - kept)] * cfg.lm.num_layers
