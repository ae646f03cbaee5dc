"""`visionzip`: keep dominant image tokens by class-token attention in the vision tower."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from mllmkit.infer.reduce.base import Strategy, budget, check_ratio
from mllmkit.infer.reduce.encoder_side import image_grid
from mllmkit.models.config import MLLMConfig


@dataclass(frozen=True)
class VisionZip(Strategy):
    """Yang et al. 2024, "VisionZip: Longer is Better but Not Necessary in Vision Language
    Models".

    Per image, `budget(patches, keep)` tokens survive: the `budget - merge` *dominant* patches
    the class token attends to most in the tower's feature layer, plus `merge` *contextual*
    tokens: targets spread evenly over the remaining patches, each the average of itself and
    the remaining patches most similar (cosine, connector features) to it. Each kept token
    keeps its RoPE position. Needs a tower with a class token (the features may drop it) and
    a connector that maps patches one to one."""

    name = "visionzip"
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {"keep": float, "merge": int}
    needs_class_attention = True
    keep: float = 0.25
    merge: int = 0

    def __post_init__(self) -> None:
        check_ratio(self.spec(), "keep", self.keep)
        if self.merge < 0:
            raise ValueError(f"{self.spec()}: merge={self.merge} must be >= 0")

    def check(self, cfg: MLLMConfig) -> None:
        super().check(cfg)
        if cfg.image_tokens_per_image != cfg.vision.num_feature_tokens:
            raise ValueError(
                f"{self.spec()}: the {cfg.connector!r} connector does not map patches to "
                "image tokens one to one; VisionZip needs one that does"
            )
        if cfg.vision.feature_index < 1:
            raise ValueError(f"{self.spec()}: the vision tower runs no layer to score with")
        self._counts(cfg.vision.num_patches)

    def _counts(self, patches: int) -> tuple[int, int]:
        """(dominant, contextual) tokens per image."""
        total = budget(patches, self.keep)
        if self.merge >= total:
            raise ValueError(
                f"{self.spec()}: merge={self.merge} leaves no dominant token in a budget of "
                f"{total} per image"
            )
        return total - self.merge, self.merge

    def after_connector(
        self,
        *,
        features: torch.Tensor,
        class_attention: torch.Tensor | None,
        has_class_token: bool,
        same_tokens: bool,
    ) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
        if class_attention is None or not same_tokens:
            raise ValueError(
                f"{self.spec()}: needs the class token's attention over patches mapped one to "
                "one to image tokens"
            )
        n, p, _ = features.shape
        offset, side = image_grid(p, has_class_token, self.spec())
        patches = side * side
        dominant, contextual = self._counts(patches)
        new = features.clone()
        kept_all = []
        for i in range(n):
            order = torch.sort(-class_attention[i].float(), stable=True).indices
            keep = order[:dominant]
            rest = torch.sort(order[dominant:]).values
            if contextual and rest.numel():
                targets = rest[torch.linspace(0, rest.numel() - 1, contextual).round().long()]
                targets = torch.unique(targets)
                feats = F.normalize(features[i, rest + offset].float(), dim=-1)
                tfeats = F.normalize(features[i, targets + offset].float(), dim=-1)
                owner = (feats @ tfeats.T).argmax(dim=1)  # each rest token -> a target
                self_index = torch.arange(targets.numel(), device=owner.device)
                owner[torch.searchsorted(rest, targets)] = self_index  # a target owns itself
                sums = features.new_zeros(targets.numel(), features.shape[-1], dtype=torch.float32)
                sums.index_add_(0, owner, features[i, rest + offset].float())
                counts = torch.bincount(owner, minlength=targets.numel()).clamp(min=1)
                new[i, targets + offset] = (sums / counts[:, None]).to(features.dtype)
                keep = torch.cat([keep, targets])
            keep = torch.sort(keep).values + offset
            if offset:
                keep = torch.cat([keep.new_zeros(1), keep])
            kept_all.append(keep)
        return new, kept_all

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        p = cfg.image_tokens_per_image
        offset = 1 if cfg.vision.keep_cls else 0
        dominant, contextual = self._counts(p - offset)
        kept = offset + dominant + contextual
        return [seq_len - n_images * (p - kept)] * cfg.lm.num_layers
