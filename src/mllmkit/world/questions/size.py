"""size: "Is the <A> larger or smaller than the <B>?" and "What size is the <A>?".

Objects are described without their size (the description must not give the answer
away); comparisons are asked only between objects of different sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import QA, REF_RE, SIZE_RE, Ability, Template, make_qa
from mllmkit.world.refer import NO_SIZE, refer
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import SIZES

COMPARISONS: tuple[str, str] = ("larger", "smaller")

COMPARE = Template(
    name="size.compare",
    ability="size",
    short="Is the {ref_a} larger or smaller than the {ref_b}?",
    yorn="Is the {ref_a} {candidate} than the {ref_b}?",
    slots={"ref_a": REF_RE, "ref_b": REF_RE, "candidate": "(?:larger|smaller)"},
)
WHAT_SIZE = Template(
    name="size.what",
    ability="size",
    short="What size is the {ref}?",
    yorn="Is the {ref} {candidate}?",
    slots={"ref": REF_RE, "candidate": SIZE_RE},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    refs = [refer(scene.objects, i, NO_SIZE) for i in range(len(scene.objects))]
    for i, obj in enumerate(scene.objects):
        if refs[i] is not None:
            yield make_qa(WHAT_SIZE, {"ref": refs[i]}, obj.size, SIZES)
    for i, a in enumerate(scene.objects):
        for j, b in enumerate(scene.objects):
            if i == j or a.size == b.size or refs[i] is None or refs[j] is None:
                continue
            answer = "larger" if a.size == "large" else "smaller"
            yield make_qa(COMPARE, {"ref_a": refs[i], "ref_b": refs[j]}, answer, COMPARISONS)


ABILITY = Ability(name="size", templates=(COMPARE, WHAT_SIZE), generate=generate)
