"""`--shard i/n`: split one evaluation across processes or machines.

Shard i of n takes the samples whose position p in the task's sample list (see
`mllmkit.eval.samples`) has `p % n == i`. Positions interleave, so every shard gets a
similar mix of categories and a similar amount of work. Each shard writes its own output
folder; `mllmkit.eval.merge.merge_runs` recombines them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard must be i/n with 0 <= i < n, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Parse `"i/n"` (e.g. `"0/4"`)."""
        i, sep, n = text.partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(i), int(n))
        except ValueError:
            raise ValueError(
                f"--shard must look like i/n with 0 <= i < n (e.g. 0/4), got {text!r}"
            ) from None

    def select(self, items: Sequence[T]) -> list[T]:
        return [x for p, x in enumerate(items) if p % self.count == self.index]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
