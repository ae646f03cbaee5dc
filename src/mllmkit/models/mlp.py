"""SwiGLU feed-forward block with Llama parameter names."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models.linear import Linear


class SwiGLU(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.gate_proj = Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        # Without autograd nothing keeps the gate's output, so the activation and the
        # product overwrite it: at prefill (thousands of tokens x intermediate width) each
        # avoided allocation is tens of MB of fresh pages. Same operations, same order:
        # the result is bit-identical to the expression above.
        h = self.gate_proj(x)
        F.silu(h, inplace=True)
        return self.down_proj(h.mul_(self.up_proj(x)))
