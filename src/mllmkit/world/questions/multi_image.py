"""multi_image: questions about two images at once.

- "Which image has more circles, the first or the second?" (counts differ);
- "Which image contains a red circle, the first or the second?" (exactly one does);
- "Do both images contain a red circle?" → Yes/No.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import (
    ARTICLE_RE,
    COUNT_NOUN_RE,
    NO,
    ORDINAL_RE,
    QA,
    REF_RE,
    YES,
    YES_NO,
    Ability,
    Template,
    make_qa,
)
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import CATEGORIES, COLORS, SHAPES, article, plural

ORDINALS: tuple[str, str] = ("first", "second")


def _ordinal_slots(candidate: str) -> dict[str, str]:
    other = ORDINALS[1 - ORDINALS.index(candidate)]
    return {"candidate": candidate, "other": other}


MORE = Template(
    name="multi_image.more",
    ability="multi_image",
    short="Which image has more {noun}, the first or the second?",
    yorn="Does the {candidate} image have more {noun} than the {other}?",
    slots={"noun": COUNT_NOUN_RE, "candidate": ORDINAL_RE, "other": ORDINAL_RE},
    candidate_slots=_ordinal_slots,
)
WHICH = Template(
    name="multi_image.which",
    ability="multi_image",
    short="Which image contains {a} {desc}, the first or the second?",
    yorn="Does the {candidate} image contain {a} {desc}?",
    slots={"a": ARTICLE_RE, "desc": REF_RE, "candidate": ORDINAL_RE},
)
BOTH = Template(
    name="multi_image.both",
    ability="multi_image",
    short="Do both images contain {a} {desc}?",
    yorn=None,
    slots={"a": ARTICLE_RE, "desc": REF_RE},
)


def _counts(scene: Scene) -> dict[str, int]:
    counts = {plural(s): sum(o.shape == s for o in scene.objects) for s in SHAPES}
    counts.update({f"{c} objects": sum(o.color == c for o in scene.objects) for c in COLORS})
    counts["shapes"] = len(scene.objects)
    return counts


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    first, second = scenes
    c1, c2 = _counts(first), _counts(second)
    for noun in c1:
        if c1[noun] != c2[noun]:
            answer = "first" if c1[noun] > c2[noun] else "second"
            yield make_qa(MORE, {"noun": noun}, answer, ORDINALS)
    in1 = {(o.color, o.shape) for o in first.objects}
    in2 = {(o.color, o.shape) for o in second.objects}
    for color, shape in CATEGORIES:
        cat = (color, shape)
        desc = f"{color} {shape}"
        slots = {"a": article(desc), "desc": desc}
        if (cat in in1) != (cat in in2):
            yield make_qa(WHICH, slots, "first" if cat in in1 else "second", ORDINALS)
        if cat in in1 or cat in in2:
            yield make_qa(BOTH, slots, YES if (cat in in1 and cat in in2) else NO, YES_NO)


ABILITY = Ability(name="multi_image", templates=(MORE, WHICH, BOTH), generate=generate, n_images=2)
