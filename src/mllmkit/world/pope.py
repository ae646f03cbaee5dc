"""POPE probes over the world: "Is there a <colour shape> in the image?".

For each test image, every category present is a positive probe, and the same number
of absent categories are negatives, chosen by one of three settings (as in POPE):
- ``random``: uniformly among absent categories (seeded);
- ``popular``: the absent categories that appear in the most *training* scenes;
- ``adversarial``: the absent categories that co-occur most, in training scenes, with
  the categories present in this image.
Ties are broken by the fixed category order, so every setting is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mllmkit.world.questions.existence import exists_qa
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import CATEGORIES, category_name

SETTINGS: tuple[str, ...] = ("random", "popular", "adversarial")
ALL_CATEGORIES: tuple[str, ...] = tuple(category_name(c, s) for c, s in CATEGORIES)
_PARTS: dict[str, tuple[str, str]] = {category_name(c, s): (c, s) for c, s in CATEGORIES}
_ORDER = {name: i for i, name in enumerate(ALL_CATEGORIES)}


@dataclass
class CategoryStats:
    """How often each category appears, and appears together, in a set of scenes."""

    frequency: Counter[str] = field(default_factory=Counter)
    cooccurrence: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def from_scenes(cls, scenes: Iterable[Scene]) -> CategoryStats:
        stats = cls()
        for scene in scenes:
            present = sorted({o.category for o in scene.objects})
            stats.frequency.update(present)
            for a in present:
                row = stats.cooccurrence.setdefault(a, Counter())
                row.update(b for b in present if b != a)
        return stats


@dataclass(frozen=True)
class Probe:
    question: str
    answer: str
    category: str


def negatives(
    scene: Scene, setting: str, stats: CategoryStats, rng: np.random.Generator
) -> list[str]:
    """The absent categories to probe, as many as there are present ones."""
    present = sorted({o.category for o in scene.objects}, key=_ORDER.__getitem__)
    absent = [c for c in ALL_CATEGORIES if c not in set(present)]
    k = min(len(present), len(absent))
    if setting == "random":
        return [absent[int(i)] for i in rng.choice(len(absent), size=k, replace=False)]
    if setting == "popular":
        ranked = sorted(absent, key=lambda c: (-stats.frequency[c], _ORDER[c]))
    elif setting == "adversarial":

        def together(c: str) -> int:
            return sum(stats.cooccurrence.get(p, Counter())[c] for p in present)

        ranked = sorted(absent, key=lambda c: (-together(c), -stats.frequency[c], _ORDER[c]))
    else:
        raise ValueError(f"unknown POPE setting {setting!r}; expected one of {SETTINGS}")
    return ranked[:k]


def probes(
    scene: Scene, setting: str, stats: CategoryStats, rng: np.random.Generator
) -> list[Probe]:
    """Balanced probes for one image, in a seeded random order."""
    present = sorted({o.category for o in scene.objects}, key=_ORDER.__getitem__)
    absent = negatives(scene, setting, stats, rng)
    items = [(c, True) for c in present[: len(absent)]] + [(c, False) for c in absent]
    order = rng.permutation(len(items))
    out = []
    for k in order:
        category, is_present = items[int(k)]
        color, shape = _PARTS[category]
        qa = exists_qa({"color": color, "shape": shape}, is_present)
        out.append(Probe(qa.question, qa.answer, category))
    return out
