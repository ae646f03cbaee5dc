"""spatial: "Is the <A> to the left or to the right of the <B>?" / "... above or below ...".

Objects sit in distinct grid cells, so a relation is asked only along an axis where
their columns (or rows) differ — then exactly one answer is right.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import QA, REF_RE, Ability, Template, make_qa
from mllmkit.world.refer import FULL, refer
from mllmkit.world.scene import Scene

HORIZONTAL_ANSWERS: tuple[str, str] = ("left", "right")
VERTICAL_ANSWERS: tuple[str, str] = ("above", "below")

HORIZONTAL = Template(
    name="spatial.horizontal",
    ability="spatial",
    short="Is the {ref_a} to the left or to the right of the {ref_b}?",
    yorn="Is the {ref_a} to the {candidate} of the {ref_b}?",
    slots={"ref_a": REF_RE, "ref_b": REF_RE, "candidate": "(?:left|right)"},
)
VERTICAL = Template(
    name="spatial.vertical",
    ability="spatial",
    short="Is the {ref_a} above or below the {ref_b}?",
    yorn="Is the {ref_a} {candidate} the {ref_b}?",
    slots={"ref_a": REF_RE, "ref_b": REF_RE, "candidate": "(?:above|below)"},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    refs = [refer(scene.objects, i, FULL) for i in range(len(scene.objects))]
    for i, a in enumerate(scene.objects):
        for j, b in enumerate(scene.objects):
            if i == j or refs[i] is None or refs[j] is None:
                continue
            slots = {"ref_a": refs[i], "ref_b": refs[j]}
            if a.col != b.col:
                answer = "left" if a.col < b.col else "right"
                yield make_qa(HORIZONTAL, slots, answer, HORIZONTAL_ANSWERS)
            if a.row != b.row:
                answer = "above" if a.row < b.row else "below"
                yield make_qa(VERTICAL, slots, answer, VERTICAL_ANSWERS)


ABILITY = Ability(name="spatial", templates=(HORIZONTAL, VERTICAL), generate=generate)
