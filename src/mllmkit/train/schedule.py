"""Learning-rate schedule: linear warm-up then cosine decay (the LLaVA recipe)."""

from __future__ import annotations

import math


def cosine_with_warmup(step: int, total: int, warmup_ratio: float, min_ratio: float = 0.0) -> float:
    """Multiplier on the base learning rate at optimizer step `step` (0-based).

    Warm-up lasts `ceil(total * warmup_ratio)` steps (LLaVA uses 3%), rising linearly from
    1/warmup to 1; the rest follows half a cosine down to `min_ratio`.
    """
    warmup = math.ceil(total * warmup_ratio)
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
