"""Key/value cache for incremental decoding.

Each layer keeps its own keys, values, a boolean `key_mask` [B, T] (True = a real token) and
the RoPE position of every cached key `key_pos` [B, T]. Keeping mask and positions *per
layer* is what lets a token-reduction strategy drop different tokens per sample from some
layer on: layer L's cache may then be shorter than layer L-1's, dropped slots inside a row
are simply masked, and attention visibility is decided from positions, not from indices.
"""

from __future__ import annotations

import torch


class LayerCache:
    """One layer's cached keys, values, key mask and key positions.

    The tensors live in storage with spare room along the time axis, and the public
    attributes are views of the filled part. Why: a decode step adds one token per row,
    and concatenating onto the cache would copy all of it every step (at 600 visual tokens,
    batch 8 and a 512-wide model that is ~80 MB of copying per step, more than the step's
    arithmetic); growing the storage geometrically makes appending amortised O(new tokens).
    """

    # spare room added when the storage grows: a quarter of the needed length, at least this
    MIN_GROWTH = 64

    def __init__(
        self,
        key: torch.Tensor,  # [B, kv_heads, T, head_dim], RoPE already applied
        value: torch.Tensor,  # [B, kv_heads, T, head_dim]
        key_mask: torch.Tensor,  # [B, T] bool
        key_pos: torch.Tensor,  # [B, T] long
    ) -> None:
        self._key, self._value, self._mask, self._pos = key, value, key_mask, key_pos
        self._length = key.shape[2]

    @property
    def length(self) -> int:
        return self._length

    @property
    def capacity(self) -> int:
        """Tokens the storage holds before it must grow."""
        return self._key.shape[2]

    @property
    def key(self) -> torch.Tensor:
        return self._key[:, :, : self._length]

    @property
    def value(self) -> torch.Tensor:
        return self._value[:, :, : self._length]

    @property
    def key_mask(self) -> torch.Tensor:
        return self._mask[:, : self._length]

    @property
    def key_pos(self) -> torch.Tensor:
        return self._pos[:, : self._length]

    def extend(
        self,
        key: torch.Tensor,
        value: torch.Tensor,
        key_mask: torch.Tensor,
        key_pos: torch.Tensor,
    ) -> None:
        """Write `t` new tokens after the filled part, growing the storage if needed."""
        t = key.shape[2]
        need = self._length + t
        if need > self.capacity:
            self._grow(need + max(self.MIN_GROWTH, need // 4))
        end = self._length + t
        self._key[:, :, self._length : end] = key
        self._value[:, :, self._length : end] = value
        self._mask[:, self._length : end] = key_mask
        self._pos[:, self._length : end] = key_pos
        self._length = end

    def _grow(self, capacity: int) -> None:
        def bigger(x: torch.Tensor, dim: int) -> torch.Tensor:
            shape = list(x.shape)
            shape[dim] = capacity
            out = x.new_empty(shape)  # the part past `length` is never read
            out.narrow(dim, 0, self._length).copy_(x.narrow(dim, 0, self._length))
            return out

        self._key, self._value = bigger(self._key, 2), bigger(self._value, 2)
        self._mask, self._pos = bigger(self._mask, 1), bigger(self._pos, 1)

    def rows(self, rows: torch.Tensor) -> LayerCache:
        """A cache of only the given batch rows (filled part only, no spare room)."""
        return LayerCache(self.key[rows], self.value[rows], self.key_mask[rows], self.key_pos[rows])


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
        entry = self.layers[index]
        if entry is None:
            entry = LayerCache(key, value, key_mask, key_pos)
            self.layers[index] = entry
        else:
            entry.extend(key, value, key_mask, key_pos)
        return entry

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
                self.layers[i] = e.rows(rows)
        if self.next_position is not None:
            self.next_position = self.next_position[rows]
