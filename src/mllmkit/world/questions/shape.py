"""shape: "What shape is the <object described without its shape>?" → a shape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import (
    ARTICLE_RE,
    QA,
    REF_RE,
    SHAPE_RE,
    Ability,
    Template,
    make_qa,
)
from mllmkit.world.refer import NO_SHAPE, refer
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import SHAPES, article

WHAT_SHAPE = Template(
    name="shape.what",
    ability="shape",
    short="What shape is the {ref}?",
    yorn="Is the {ref} {a} {candidate}?",
    slots={"ref": REF_RE, "a": ARTICLE_RE, "candidate": SHAPE_RE},
    candidate_slots=lambda c: {"a": article(c), "candidate": c},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    for i, obj in enumerate(scene.objects):
        ref = refer(scene.objects, i, NO_SHAPE)
        if ref is not None:
            yield make_qa(WHAT_SHAPE, {"ref": ref}, obj.shape, SHAPES)


ABILITY = Ability(name="shape", templates=(WHAT_SHAPE,), generate=generate)
