"""Picking a subset of sequence positions per sample.

The last decoder layer only needs queries at the positions whose outputs are used (the
supervised tokens in training, the last token when generating); keys and values still cover
every position. Indices are [B, K] and may differ per sample.
"""

from __future__ import annotations

import torch


def take_positions(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x [B, T, ...] -> [B, K, ...] at `index` [B, K]."""
    shape = index.shape + x.shape[2:]
    expanded = index.reshape(index.shape + (1,) * (x.dim() - 2)).expand(shape)
    return x.gather(1, expanded)


def selected_positions(select: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From a boolean [B, T] selection, indices [B, K] (each row's selected positions in
    order, then filler positions) and the [B, K] mask of real entries. K >= 1."""
    counts = select.sum(dim=1)
    k = max(int(counts.max()) if select.numel() else 0, 1)
    order = torch.sort((~select).to(torch.uint8), dim=1, stable=True).indices[:, :k]
    valid = torch.arange(k, device=select.device)[None, :] < counts[:, None]
    return order, valid
