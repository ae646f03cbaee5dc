"""existence: "Is there a red circle in the image?" → Yes/No.

Asks about colour+shape categories, shapes alone and colours alone; negatives are the
categories absent from the scene, so every pool holds both answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import (
    ARTICLE_RE,
    NO,
    QA,
    REF_RE,
    YES,
    YES_NO,
    Ability,
    Template,
    make_qa,
)
from mllmkit.world.refer import describe
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import COLORS, SHAPES, article

EXISTS = Template(
    name="existence.any",
    ability="existence",
    short="Is there {a} {desc} in the image?",
    yorn=None,
    slots={"a": ARTICLE_RE, "desc": REF_RE},
)


def exists_qa(desc: str, present: bool) -> QA:
    """The existence question about ``desc`` (also used for POPE probes)."""
    return make_qa(EXISTS, {"a": article(desc), "desc": desc}, YES if present else NO, YES_NO)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    categories = {(o.color, o.shape) for o in scene.objects}
    for color in COLORS:
        for shape in SHAPES:
            desc = describe({"color": color, "shape": shape})
            yield exists_qa(desc, (color, shape) in categories)
    shapes = {o.shape for o in scene.objects}
    for shape in SHAPES:
        yield exists_qa(describe({"shape": shape}), shape in shapes)
    colors = {o.color for o in scene.objects}
    for color in COLORS:
        yield exists_qa(describe({"color": color}), color in colors)


ABILITY = Ability(name="existence", templates=(EXISTS,), generate=generate)
