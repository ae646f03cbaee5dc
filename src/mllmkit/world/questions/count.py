"""count: "How many circles are there?" / "How many red objects are there?" → "0".."4".

Only asked when the true count is at most 4 (the answer space); zero counts are
asked too, since "none" is a real answer. The sign is never counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import COUNT_NOUN_RE, DIGIT_RE, QA, Ability, Template, make_qa
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import COLORS, SHAPES, plural

MAX_COUNT = 4
COUNTS: tuple[str, ...] = tuple(str(n) for n in range(MAX_COUNT + 1))

HOW_MANY = Template(
    name="count.how_many",
    ability="count",
    short="How many {noun} are there?",
    yorn="Is the number of {noun} {candidate}?",
    slots={"noun": COUNT_NOUN_RE, "candidate": DIGIT_RE},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    counts: list[tuple[str, int]] = []
    counts += [(plural(s), sum(o.shape == s for o in scene.objects)) for s in SHAPES]
    counts += [(f"{c} objects", sum(o.color == c for o in scene.objects)) for c in COLORS]
    counts.append(("shapes", len(scene.objects)))
    for noun, n in counts:
        if n <= MAX_COUNT:
            yield make_qa(HOW_MANY, {"noun": noun}, str(n), COUNTS)


ABILITY = Ability(name="count", templates=(HOW_MANY,), generate=generate)
