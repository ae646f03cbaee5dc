"""Key/value cache for incremental decoding.

Each layer keeps its own keys, values, a boolean `key_mask` [B, T] (True = a real token) and
the RoPE position of every cached key `key_pos` [B, T]. Keeping mask and positions *per
layer* is what lets a token-reduction strategy drop different tokens per sample from some
layer on: layer L's cache may then be shorter than layer L-1's, dropped slots inside a row
are simply masked, and attention visibility is decided from positions, not from indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LayerCache:
    key: torch.Tensor  # [B, kv_heads, T, head_dim], RoPE already applied
    value: torch.Tensor  # [B, kv_heads, T, head_dim]
    key_mask: torch.Tensor  # [B, T] bool
    key_pos: torch.Tensor  # [B, T] long

    @property
    def length(self) -> int:
        return self.key.shape[2]


class KVCache:
    """Per-layer caches plus, per sample, the position the next real token takes."""

    def __init__(self) -> None:
        self.layers: list[LayerCache | None] = []
        self.next_position: torch.Tensor | None = None  # [B] long

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def is_empty(self) -> bool:
        return self.next_position is None

    @property
    def batch_size(self) -> int | None:
        return None if self.next_position is None else int(self.next_position.shape[0])

    def layer(self, index: int) -> LayerCache | None:
        return self.layers[index] if index < len(self.layers) else None

    def past_length(self, index: int) -> int:
        entry = self.layer(index)
        return 0 if entry is None else entry.length

    def append(
        self,
        index: int,
        key: torch.Tensor,
        value: torch.Tensor,
        key_mask: torch.Tensor,
        key_pos: torch.Tensor,
    ) -> LayerCache:
        """Add this step's keys/values to layer `index`; return the layer's full cache."""
        while len(self.layers) <= index:
            self.layers.append(None)
        old = self.layers[index]
        if old is None:
            new = LayerCache(key, value, key_mask, key_pos)
        else:
            new = LayerCache(
                torch.cat([old.key, key], dim=2),
                torch.cat([old.value, value], dim=2),
                torch.cat([old.key_mask, key_mask], dim=1),
                torch.cat([old.key_pos, key_pos], dim=1),
            )
        self.layers[index] = new
        return new

    def replace(self, index: int, entry: LayerCache) -> None:
        """Swap a layer's cache (e.g. after dropping tokens); shapes are checked."""
        b = entry.key.shape[0]
        t = entry.key.shape[2]
        if (
            entry.value.shape[:3] != entry.key.shape[:3]
            or tuple(entry.key_mask.shape) != (b, t)
            or tuple(entry.key_pos.shape) != (b, t)
        ):
            raise ValueError("LayerCache tensors disagree on batch size or length")
        self.layers[index] = entry

    def advance(self, token_mask: torch.Tensor, position_ids: torch.Tensor) -> None:
        """Record the tokens just processed: the next real token goes after the last one."""
        after = torch.where(token_mask, position_ids + 1, torch.zeros_like(position_ids))
        nxt = after.amax(dim=1) if after.shape[1] else torch.zeros_like(after[:, 0])
        self.next_position = (
            nxt if self.next_position is None else torch.maximum(self.next_position, nxt)
        )

    def select(self, rows: torch.Tensor) -> None:
        """Keep only the given batch rows (e.g. drop finished samples), in place."""
        for i, e in enumerate(self.layers):
            if e is not None:
                self.layers[i] = LayerCache(
                    e.key[rows], e.value[rows], e.key_mask[rows], e.key_pos[rows]
                )
        if self.next_position is not None:
            self.next_position = self.next_position[rows]
