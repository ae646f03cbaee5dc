"""color: "What color is the <object described without its colour>?" → a colour."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import COLOR_RE, QA, REF_RE, Ability, Template, make_qa
from mllmkit.world.refer import NO_COLOR, refer
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import COLORS

WHAT_COLOR = Template(
    name="color.what",
    ability="color",
    short="What color is the {ref}?",
    yorn="Is the {ref} {candidate}?",
    slots={"ref": REF_RE, "candidate": COLOR_RE},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    for i, obj in enumerate(scene.objects):
        ref = refer(scene.objects, i, NO_COLOR)
        if ref is not None:
            yield make_qa(WHAT_COLOR, {"ref": ref}, obj.color, COLORS)


ABILITY = Ability(name="color", templates=(WHAT_COLOR,), generate=generate)
