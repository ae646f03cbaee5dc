"""Learning-rate schedules: a multiplier on each group's base rate per optimizer step.

`cosine`: linear warm-up then half a cosine down (the LLaVA recipe). `wsd`
(warm-up, stable, decay; Hu et al. 2024, MiniCPM): linear warm-up, the full rate for most
of the stage, then a linear decay over the last `decay_ratio` of the steps. For the same
number of steps WSD spends about 1.8x the learning-rate mass of a cosine (0.9 vs 0.5 of
peak x steps), which matters when a run underfits and its steps are what is scarce.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def _warmup_steps(total: int, warmup_ratio: float) -> int:
    return math.ceil(total * warmup_ratio)


def cosine_with_warmup(
    step: int, total: int, warmup_ratio: float, min_ratio: float = 0.0, decay_ratio: float = 1.0
) -> float:
    """Multiplier on the base learning rate at optimizer step `step` (0-based).

    Warm-up lasts `ceil(total * warmup_ratio)` steps (LLaVA uses 3%), rising linearly from
    1/warmup to 1; the rest follows half a cosine down to `min_ratio`. (`decay_ratio` is
    not used: the cosine decays over every step after warm-up.)
    """
    warmup = _warmup_steps(total, warmup_ratio)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def wsd_with_warmup(
    step: int, total: int, warmup_ratio: float, min_ratio: float = 0.0, decay_ratio: float = 0.2
) -> float:
    """Warm-up as in `cosine_with_warmup`, then 1.0, then a linear decay to `min_ratio`
    over the last `ceil(total * decay_ratio)` steps (the last step is at `min_ratio`)."""
    warmup = _warmup_steps(total, warmup_ratio)
    if step < warmup:
        return (step + 1) / warmup
    decay = math.ceil(total * decay_ratio)
    start = total - decay
    if decay <= 0 or step < start:
        return 1.0
    progress = min(max((step - start + 1) / decay, 0.0), 1.0)
    return 1.0 - (1.0 - min_ratio) * progress


Schedule = Callable[[int, int, float, float, float], float]

# exact names used by a stage's `schedule` field
SCHEDULES: dict[str, Schedule] = {"cosine": cosine_with_warmup, "wsd": wsd_with_warmup}
