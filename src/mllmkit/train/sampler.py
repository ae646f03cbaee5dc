"""Deterministic, resumable sample order.

The order is a pure function of (seed, sample cursor): epoch e uses a permutation drawn
from a generator seeded with `seed + e`. Resuming needs only the cursor, and every process
of a data-parallel run computes the same global order without communication.
"""

from __future__ import annotations

import torch


class EpochSampler:
    """Maps a global sample cursor to a dataset index."""

    def __init__(self, n: int, seed: int) -> None:
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.n = n
        self.seed = seed
        self._epoch = -1
        self._perm: list[int] = []

    def _permutation(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed + epoch)
            self._perm = torch.randperm(self.n, generator=g).tolist()
            self._epoch = epoch
        return self._perm

    def indices(self, cursor: int, count: int) -> list[int]:
        """Dataset indices of samples `cursor .. cursor+count-1` of the infinite stream."""
        out = []
        for c in range(cursor, cursor + count):
            out.append(self._permutation(c // self.n)[c % self.n])
        return out
