"""`none`: no reduction — the baseline every other strategy is compared with."""

from __future__ import annotations

from dataclasses import dataclass

from mllmkit.infer.reduce.base import Strategy


@dataclass(frozen=True)
class NoReduction(Strategy):
    """Keep every token (the unreduced model)."""

    name = "none"
