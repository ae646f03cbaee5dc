"""Next-token choice: greedy, or temperature + nucleus (top-p) sampling.

Sampling draws one uniform number per row and inverts the row's cumulative distribution.
With one seed per row (`RowRandom([s0, s1, ...])`) each row's draws come from its own
generator, so a sample's output does not depend on which other samples share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class RowRandom:
    """Uniform draws for a batch: one generator for all rows (int seed) or one per row."""

    def __init__(self, seed: int | Sequence[int | None] | None, batch_size: int) -> None:
        """`None` (alone or in the list) means seed 0: unseeded sampling does not exist here."""
        if seed is None or isinstance(seed, int):
            self.generators = [torch.Generator().manual_seed(seed or 0)]
        else:
            seeds = list(seed)
            if len(seeds) != batch_size:
                raise ValueError(f"got {len(seeds)} seeds for a batch of {batch_size} samples")
            self.generators = [torch.Generator().manual_seed(int(s or 0)) for s in seeds]
        self.batch_size = batch_size

    def uniform(self) -> torch.Tensor:
        """[B] float64 in [0, 1); every row draws on every call, active or not."""
        if len(self.generators) == 1 and self.batch_size != 1:
            return torch.rand(self.batch_size, generator=self.generators[0], dtype=torch.float64)
        return torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in self.generators])


def check_sampling_args(temperature: float, top_p: float) -> None:
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def select_next(
    logits: torch.Tensor,
    temperature: float = 0.0,
    top_p: float = 1.0,
    uniforms: torch.Tensor | None = None,
) -> torch.Tensor:
    """Token ids [B] from logits [B, V]. Greedy when `temperature == 0`.

    Top-p keeps the smallest set of most likely tokens whose probability reaches `top_p`
    (the most likely token is always kept), then renormalises.
    """
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    if uniforms is None:
        raise ValueError("sampling (temperature > 0) needs uniform draws")
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of strictly more likely tokens
    kept = torch.where(before < top_p, sorted_probs, torch.zeros_like(sorted_probs))
    cdf = kept.cumsum(dim=-1)
    target = uniforms.to(device=cdf.device, dtype=cdf.dtype)[:, None] * cdf[:, -1:]
    index = (cdf <= target).sum(dim=-1).clamp(max=logits.shape[-1] - 1)
    return order.gather(-1, index[:, None]).squeeze(-1)
