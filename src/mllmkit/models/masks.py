"""Attention visibility from positions and key masks.

A query sees a key when the key is a real token and its RoPE position is not after the
query's. For an unpadded, unpruned sequence this is the usual causal mask; it stays right
when padding, a KV cache or dropped tokens make indices and positions disagree.
"""

from __future__ import annotations

import torch


def position_ids_from_mask(mask: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
    """`start + cumsum(mask) - 1`, clamped at 0: left padding takes position 0."""
    pos = mask.long().cumsum(dim=1) - 1
    if start is not None:
        pos = pos + start[:, None]
    return pos.clamp(min=0)


def visibility_mask(
    query_pos: torch.Tensor, key_pos: torch.Tensor, key_mask: torch.Tensor
) -> torch.Tensor | None:
    """Boolean [B, 1, Tq, Tk] mask for SDPA (True = attend), or None if all keys are visible.

    Padding queries (whose outputs are discarded) see the real keys at or before their
    clamped position, so no row is empty as long as a sample has one real token.
    """
    visible = (key_pos[:, None, :] <= query_pos[:, :, None]) & key_mask[:, None, :]
    if bool(visible.all()):
        return None
    return visible[:, None]


def contiguous_spans(token_mask: torch.Tensor) -> list[tuple[int, int]] | None:
    """Per row, `(start, end)` of its real tokens when they form one unbroken run (left or
    right padding); None when some row has a gap.

    Why: attention over such a batch is plain causal attention on each row's run, which SDPA
    computes without a mask and on half the key blocks (`is_causal=True`); the padded batch
    otherwise needs a [B, 1, T, T] mask and the full square of scores.
    """
    t = token_mask.shape[1]
    counts = token_mask.sum(dim=1)
    first = token_mask.int().argmax(dim=1)
    index = torch.arange(t, device=token_mask.device)
    inside = (index >= first[:, None]) & (index < (first + counts)[:, None])
    if not bool((inside == token_mask).all()):
        return None
    return [(int(s), int(s + n)) for s, n in zip(first.tolist(), counts.tolist(), strict=True)]
