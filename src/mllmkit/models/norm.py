"""RMSNorm as in Llama: statistics in float32 whatever the activation dtype."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = x.float()
        h = (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)).to(dtype)
        if self.weight.dtype != dtype:
            return self.weight * h  # type promotion decides the output dtype, as in Llama
        # the normalised tensor is fresh and no backward formula reads it: scale in place
        return h.mul_(self.weight)
