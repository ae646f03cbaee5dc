"""`fastv`: drop image tokens at one decoder layer by last-token attention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from mllmkit.infer.reduce.base import LayerContext, Strategy, budget, check_ratio
from mllmkit.models.config import MLLMConfig


@dataclass(frozen=True)
class FastV(Strategy):
    """Chen et al. 2024, "An Image is Worth 1/2 Tokens After Layer 2" (FastV, ECCV 2024).

    Before decoder layer `k`, rank each sample's image tokens by the attention the last prompt
    token pays them (mean over heads, from layer k's own q/k), keep the top (1 - r) share and
    drop the rest for layer k and every later layer.
    """

    name = "fastv"
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {"k": int, "r": float}
    k: int = 2
    r: float = 0.5

    def __post_init__(self) -> None:
        check_ratio(self.spec(), "r", self.r, allow_zero=True)
        if self.k < 0:
            raise ValueError(f"{self.spec()}: k={self.k} must be >= 0")

    def scoring_layers(self, num_layers: int) -> tuple[int, ...]:
        return () if self.r == 0 else (self.k,)

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        return (self.k,)

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        if self.r == 0:
            return None
        return ctx.keep_top_images(ctx.last_token_attention(), 1.0 - self.r)

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        n_img = n_images * cfg.image_tokens_per_image
        reduced = seq_len - n_img + budget(n_img, 1.0 - self.r)
        return [seq_len if i < self.k else reduced for i in range(cfg.lm.num_layers)]
