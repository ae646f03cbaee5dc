"""existence: "Is there a red circle in the image?" → Yes/No.

Asks about colour+shape categories, shapes alone and colours alone; negatives are the
categories absent from the scene, so every pool holds both answers. The three are
separate templates because their answer mixes differ: a scene holds a few of the 30
categories but most of the 5 shapes, so sampled as one pool, shape-only questions were
mostly "Yes" and a model could answer them without looking (`world.select` samples
templates first and balances yes/no per template).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import (
    ARTICLE_RE,
    COLOR_RE,
    NO,
    QA,
    SHAPE_RE,
    YES,
    YES_NO,
    Ability,
    Template,
    make_qa,
)
from mllmkit.world.refer import describe
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import COLORS, SHAPES, article


def _template(name: str, desc: str) -> Template:
    return Template(
        name=f"existence.{name}",
        ability="existence",
        short="Is there {a} {desc} in the image?",
        yorn=None,
        slots={"a": ARTICLE_RE, "desc": desc},
    )


#: "Is there a red circle …": a colour+shape category.
EXISTS_CATEGORY = _template("category", f"{COLOR_RE} {SHAPE_RE}")
#: "Is there a circle …": a shape of any colour.
EXISTS_SHAPE = _template("shape", SHAPE_RE)
#: "Is there a red object …": a colour on any shape.
EXISTS_COLOR = _template("color", f"{COLOR_RE} object")
TEMPLATES = (EXISTS_CATEGORY, EXISTS_SHAPE, EXISTS_COLOR)
TEMPLATE_NAMES: frozenset[str] = frozenset(t.name for t in TEMPLATES)
_BY_ATTRIBUTES = {
    frozenset({"color", "shape"}): EXISTS_CATEGORY,
    frozenset({"shape"}): EXISTS_SHAPE,
    frozenset({"color"}): EXISTS_COLOR,
}


def exists_qa(attrs: dict[str, str], present: bool) -> QA:
    """The existence question about a colour and/or shape (also used for POPE probes)."""
    template = _BY_ATTRIBUTES.get(frozenset(attrs))
    if template is None:
        raise ValueError(f"an existence question needs a colour and/or a shape, got {attrs}")
    desc = describe(attrs)
    return make_qa(template, {"a": article(desc), "desc": desc}, YES if present else NO, YES_NO)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    categories = {(o.color, o.shape) for o in scene.objects}
    for color in COLORS:
        for shape in SHAPES:
            yield exists_qa({"color": color, "shape": shape}, (color, shape) in categories)
    shapes = {o.shape for o in scene.objects}
    for shape in SHAPES:
        yield exists_qa({"shape": shape}, shape in shapes)
    colors = {o.color for o in scene.objects}
    for color in COLORS:
        yield exists_qa({"color": color}, color in colors)


ABILITY = Ability(name="existence", templates=TEMPLATES, generate=generate)
