"""The strategy interface the model calls, and the context it hands over.

A strategy is asked at named points of a prefill pass and answers, per sample, which token
indices to keep:

- `after_connector(features, class_attention, ...)`: image features [N, P, D] per image, before
  they enter the language model (encoder-side selection; may rewrite features, e.g. merged
  tokens). Returns (features, kept indices per image) or None.
- `at_layer(...)` before each decoder layer listed by `reduction_layers(num_layers)`: gets a
  `LayerContext` (hidden states, token mask, position ids, image mask, attention score source)
  and returns kept sequence indices per sample, or None.

`tokens_per_layer(cfg, seq_len, n_images)` states analytically how many tokens each decoder
layer processes for one request; FLOPs and KV-cache accounting use it, and tests check it
against what the model actually caches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch

from mllmkit.models.config import MLLMConfig


def budget(n: int, keep: float) -> int:
    """Tokens kept out of `n` at ratio `keep`: round half up, at least 1 (if n > 0), at most n.

    The one rounding rule shared by the strategies and the FLOPs accounting."""
    if n <= 0:
        return 0
    return min(n, max(1, int(n * keep + 0.5)))


@dataclass
class LayerContext:
    """What a strategy sees before decoder layer `layer` (all tensors for the whole batch)."""

    layer: int
    num_layers: int
    hidden: torch.Tensor  # [B, T, D]
    token_mask: torch.Tensor  # [B, T] bool, False = padding
    position_ids: torch.Tensor  # [B, T] original RoPE positions
    image_mask: torch.Tensor  # [B, T] bool, True = image token
    attention: Callable[[torch.Tensor], torch.Tensor]  # query index [B, Q] -> [B, H, Q, T]

    @property
    def batch_size(self) -> int:
        return int(self.hidden.shape[0])

    def image_positions(self, row: int) -> torch.Tensor:
        """Indices of the real image tokens of sample `row`."""
        return (self.image_mask[row] & self.token_mask[row]).nonzero().flatten()

    def other_positions(self, row: int) -> torch.Tensor:
        """Indices of the real non-image tokens of sample `row` (always kept)."""
        return (~self.image_mask[row] & self.token_mask[row]).nonzero().flatten()

    def last_index(self) -> torch.Tensor:
        """[B] index of each sample's last real token (the last prompt token)."""
        t = self.token_mask.shape[1]
        idx = torch.arange(t, device=self.token_mask.device).expand_as(self.token_mask)
        return torch.where(self.token_mask, idx, torch.full_like(idx, -1)).amax(dim=1)

    def last_token_attention(self) -> torch.Tensor:
        """[B, T] attention of each sample's last real token over all tokens, mean over heads
        (computed from this layer's q/k, as FastV and PyramidDrop rank tokens)."""
        probs = self.attention(self.last_index()[:, None])
        return probs.mean(dim=1)[:, 0]

    def keep_top_images(self, scores: torch.Tensor, keep: float) -> list[torch.Tensor]:
        """Per sample: all non-image tokens plus the `budget(n_image, keep)` best-scored image
        tokens (scores [B, T]); ties go to the earlier token."""
        out = []
        for row in range(self.batch_size):
            images = self.image_positions(row)
            k = budget(int(images.numel()), keep)
            s = scores[row, images].float()
            # stable descending sort: equal scores keep sequence order
            order = torch.sort(-s, stable=True).indices[:k]
            out.append(torch.cat([self.other_positions(row), images[order]]))
        return out


class Strategy:
    """Base class: keeps everything. Subclasses set `name`, `PARAMS` and override hooks.

    `PARAMS` maps each spec key to its parser, e.g. `{"k": int, "r": float}`; the dataclass
    fields of the subclass have the same names, so `spec()` round-trips through
    `parse_reduction`."""

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Callable[[str], Any]]] = {}
    needs_class_attention: ClassVar[bool] = False

    def reduction_layers(self, num_layers: int) -> tuple[int, ...]:
        """Decoder layers before which `at_layer` is called."""
        return ()

    def scoring_layers(self, num_layers: int) -> tuple[int, ...]:
        """Layers where the strategy computes an attention score row (counted in FLOPs)."""
        return ()

    def at_layer(self, **context: Any) -> list[torch.Tensor] | None:
        """Hook called by the decoder; wraps its keyword arguments in a `LayerContext`."""
        return self.select_at_layer(LayerContext(**context))

    def select_at_layer(self, ctx: LayerContext) -> list[torch.Tensor] | None:
        return None

    def after_connector(
        self,
        *,
        features: torch.Tensor,
        class_attention: torch.Tensor | None,
        has_class_token: bool,
        same_tokens: bool,
    ) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
        """Encoder-side hook: features [N, P, D] -> (features, kept indices per image)."""
        return None

    def check(self, cfg: MLLMConfig) -> None:
        """Raise ValueError if this strategy cannot run on a model of config `cfg`."""
        for layer in self.reduction_layers(cfg.lm.num_layers):
            if not 0 <= layer < cfg.lm.num_layers:
                raise ValueError(
                    f"{self.spec()}: layer {layer} is outside the model's "
                    f"{cfg.lm.num_layers} decoder layers"
                )

    def tokens_per_layer(self, cfg: MLLMConfig, seq_len: int, n_images: int) -> list[int]:
        """Tokens each decoder layer processes for one request of `seq_len` tokens."""
        return [seq_len] * cfg.lm.num_layers

    def spec(self) -> str:
        """The spec string that `parse_reduction` turns back into this strategy."""
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value == ():
                continue  # an empty tuple means "the default rule", e.g. pdrop's layers
            if isinstance(value, tuple):
                value = "/".join(_fmt(v) for v in value)
            else:
                value = _fmt(value)
            parts.append(f"{f.name}={value}")
        return self.name + (":" + ",".join(parts) if parts else "")


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_ratio(spec: str, key: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise a spec error unless `value` is in (0, 1] (or [0, 1) for drop ratios)."""
    ok = (0.0 <= value < 1.0) if allow_zero else (0.0 < value <= 1.0)
    if not ok:
        span = "[0, 1)" if allow_zero else "(0, 1]"
        raise ValueError(f"{spec}: {key}={value:g} must be in {span}")
