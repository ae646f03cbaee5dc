"""Convolutional patch stem: an option for vision towers trained from scratch.

CLIP cuts the image into patches with one strided convolution (kernel = stride = patch).
Trained from scratch on little data, such a ViT learns colour and size at once but shapes
slowly: an object straddles several patches in ways that change with its position. A stack
of stride-2 3x3 convolutions ("Early Convolutions Help Transformers See Better", Xiao et al.
2021) gives each token translation-equivariant local features first; on the synthetic world
a 4-layer ViT with this stem reaches ~97% per-cell shape accuracy where the patch stem is at
~70% after the same steps. The token grid is unchanged (image_size / patch_size per side),
so everything downstream (connector, token reduction, FLOPs of the encoder) is the same.

GroupNorm, not BatchNorm: a sample's features must not depend on the rest of its batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_stem_widths(patch_size: int, hidden_size: int) -> list[int]:
    """Output channels of the log2(patch_size) stride-2 convolutions: doubling up to the
    hidden size (e.g. 16, 32, 64, 128 for patch 16 and hidden 128), at least 8."""
    n = patch_size.bit_length() - 1
    return [max(8, hidden_size >> (n - 1 - i)) for i in range(n)]


def conv_stem_flops(num_channels: int, patch_size: int, hidden_size: int, image_size: int) -> int:
    """FLOPs (2 x multiply-adds) of the stem's convolutions for one image."""
    total, side, c_in = 0, image_size, num_channels
    for c_out in conv_stem_widths(patch_size, hidden_size):
        side = (side + 1) // 2
        total += 2 * side * side * c_out * c_in * 9
        c_in = c_out
    return total + 2 * side * side * c_in * hidden_size


def _groups(channels: int) -> int:
    for g in (8, 4, 2):
        if channels % g == 0:
            return g
    return 1


class ConvStem(nn.Module):
    """`[N, C, H, W] -> [N, hidden, H / patch, W / patch]`, as CLIP's patch convolution."""

    def __init__(self, num_channels: int, patch_size: int, hidden_size: int) -> None:
        super().__init__()
        widths = conv_stem_widths(patch_size, hidden_size)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = num_channels
        for c_out in widths:
            self.convs.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False))
            self.norms.append(nn.GroupNorm(_groups(c_out), c_out))
            c_in = c_out
        self.proj = nn.Conv2d(c_in, hidden_size, 1)

    @property
    def weight(self) -> torch.Tensor:
        """The first convolution's weight: its dtype is the stem's input dtype."""
        return self.convs[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.gelu(norm(conv(x)))
        return self.proj(x)
