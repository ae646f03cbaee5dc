"""Deterministic, resumable sample order.

The order is a pure function of (seed, sample cursor): epoch e uses a permutation drawn
from a generator seeded with `seed + e`. Resuming needs only the cursor, and every process
of a data-parallel run computes the same global order without communication.

With `lengths`, each epoch's permutation is grouped by length (as `transformers`'
`group_by_length` and LLaVA's length-grouped sampler do): it is cut into chunks of
`group_batches` batches, each chunk is sorted by sample length and cut into batches, and
the full batches of a chunk are shuffled. A batch then holds samples of similar length, so
right-padding wastes little compute (on the world's conversations, ~27% of a batch's
tokens were padding), while which samples meet in an epoch stays random.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class EpochSampler:
    """Maps a global sample cursor to a dataset index."""

    def __init__(
        self,
        n: int,
        seed: int,
        lengths: Sequence[int] | None = None,
        batch_size: int = 1,
        group_batches: int = 64,
    ) -> None:
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"got {len(lengths)} lengths for {n} samples")
        if batch_size <= 0 or group_batches <= 0:
            raise ValueError("batch_size and group_batches must be positive")
        self.n = n
        self.seed = seed
        self.lengths = None if lengths is None else list(lengths)
        self.batch_size = batch_size
        self.group_batches = group_batches
        self._epoch = -1
        self._perm: list[int] = []

    def _permutation(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed + epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
            if self.lengths is not None:
                perm = self._group(perm, g)
            self._perm = perm
            self._epoch = epoch
        return self._perm

    def _group(self, perm: list[int], g: torch.Generator) -> list[int]:
        """`perm` with each chunk of `group_batches` batches sorted by length, then its
        batches shuffled (the generator continues from the permutation's draw)."""
        assert self.lengths is not None
        lengths, bs = self.lengths, self.batch_size
        chunk = bs * self.group_batches
        out: list[int] = []
        for start in range(0, len(perm), chunk):
            part = sorted(perm[start : start + chunk], key=lambda i: -lengths[i])
            full = len(part) // bs
            batches = [part[k * bs : (k + 1) * bs] for k in range(full)]
            for b in torch.randperm(full, generator=g).tolist():
                out.extend(batches[b])
            out.extend(part[full * bs :])  # an epoch's short last batch stays last
        return out

    def indices(self, cursor: int, count: int) -> list[int]:
        """Dataset indices of samples `cursor .. cursor+count-1` of the infinite stream."""
        out = []
        for c in range(cursor, cursor + count):
            out.append(self._permutation(c // self.n)[c % self.n])
        return out
