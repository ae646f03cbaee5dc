"""`pdrop`: PyramidDrop — drop image tokens in stages, deeper layers keep fewer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from mllmkit.infer.reduce.base import LayerContext, Strategy, budget, check_ratio
from mllmkit.models.config import MLLMConfig


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("/"))


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split("/"))


@dataclass(frozen=True)
class PyramidDrop(Strategy):
    """Xing et al. 2024, "PyramidDrop: Accelerating Your Large Vision-Language Models via
    Pyramid Visual Redundancy Reduction".

    Before each stage layer `layers[j]` the image tokens still present are ranked by the
    last prompt token's attention computed from that layer's own q/k (a 1×T row, so the model
    stays on SDPA) and cut so that `keep[j]` of the *original* image tokens remain (each stage
    keeps `keep[j] / keep[j-1]` of what is left, rounded by `budget`). Without `layers`,
    stages sit at depth·j/(S+1) for S stages (8/16/24 on a 32-layer model, as in the paper),
    i.e. scaled to the model's depth.
    """

    name = "pdrop"
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {"layers": _ints, "keep": _floats}
    layers: tuple[int, ...] = ()
    keep: tuple[float, ...] = (0.5, 0.25, 0.125)

    def __post_init__(self) -> None:
        if not self.keep:
            raise ValueError("pdrop: keep needs at least one ratio")
        for k in self.keep:
            check_ratio(self.spec(), "keep", k)
        if any(b > a for a, b in zip(self.keep, self.keep[1:], strict=False)):
            raise ValueError(f"{self.spec()}: keep ratios must not increase from stage to stage")
        if self.layers:
            if len(self.layers) != len(self.keep):
                raise ValueError(
                    f"{self.spec()}: {len(self.layers)} layers but {len(self.keep)} keep ratios"
                )
            if list(self.layers) != sorted(set(self.layers)) or self.layers[0] < 0:
                raise ValueError(f"{self.spec()}: layers must be distinct, increasing, >= 0")

    def stage_layers(self, num_layers: int) -> tuple[int, ...]:
        if self.layers:
            return self.layers
        s = len(self.keep)
        out = tuple(max(1, round(num_layers * (j + 1) / (s + 1))) for j in range(s))
        if len(set(out)) != s or out[-1] >= num_layers:
            raise ValueError(
                f"pdrop: {s} stages do not fit in {num_layers} layers; give layers= explicitly"
            )
        return out

    def scoring_layers(self, num_layers: int) -> tuple[int, ...]:
        return self.stage_layers(num_layers)

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        return self.stage_layers(num_layers)

    def _stage_ratio(self, j: int) -> float:
        return self.keep[j] / (self.keep[j - 1] if j else 1.0)

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        j = self.stage_layers(ctx.num_layers).index(ctx.layer)
        return ctx.keep_top_images(ctx.last_token_attention(), self._stage_ratio(j))

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        n_img = n_images * cfg.image_tokens_per_image
        stages = dict(zip(self.stage_layers(cfg.lm.num_layers), range(len(self.keep)), strict=True))
        out, left = [], n_img
        for i in range(cfg.lm.num_layers):
            if i in stages:
                left = budget(left, self._stage_ratio(stages[i]))
            out.append(seq_len - n_img + left)
        return out
