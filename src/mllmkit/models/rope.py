"""Rotary position embeddings with explicit position ids (Llama's rotate-half convention).

Positions are passed in, never inferred from a tensor's length: with left padding, a KV cache
or dropped visual tokens the position of a token is not its index.
"""

from __future__ import annotations

import torch


class RotaryEmbedding:
    """Computes (cos, sin) [B, T, head_dim] for given position ids.

    Holds no tensors, so a model built on the meta device and then loaded needs no
    re-initialisation step.
    """

    def __init__(self, head_dim: int, theta: float) -> None:
        self.head_dim = head_dim
        self.theta = theta

    def __call__(
        self, position_ids: torch.Tensor, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor]:
        exponent = torch.arange(0, self.head_dim, 2, device=position_ids.device).float()
        inv_freq = 1.0 / (self.theta ** (exponent / self.head_dim))  # [hd/2]
        freqs = position_ids.float()[..., None] * inv_freq  # [B, T, hd/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """`x * cos + rotate_half(x) * sin` for x [B, heads, T, hd], cos/sin [B, T, hd].

    Computed as `x * cos + roll(x, hd/2) * signed_sin`: the sign of `rotate_half` moves onto
    the (heads-times smaller) sin table, saving a negation and a concatenation over x.
    """
    half = x.shape[-1] // 2
    signed_sin = torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)
    # the sum accumulates into the first product (one pass and one allocation less);
    # autograd allows it because no backward formula reads that product
    return (x * cos[:, None]).addcmul_(x.roll(half, dims=-1), signed_sin[:, None])
