"""Helpers for strategies that choose image tokens next to the vision tower."""

from __future__ import annotations

import math


def image_grid(n_tokens: int, has_class_token: bool, spec: str) -> tuple[int, int]:
    """(offset of the first patch token, patches per side) of one image's tokens."""
    offset = 1 if has_class_token else 0
    side = math.isqrt(n_tokens - offset)
    if side * side != n_tokens - offset:
        raise ValueError(
            f"{spec}: {n_tokens - offset} image tokens per image do not form a square grid"
        )
    return offset, side
