"""position: "Where is the <A>?" → one of the nine cell names ("top left", "center", ...).

A corner object is also, loosely, "at the top" and "on the left"; those two names are
left out of its answer space so that no distractor or false yes/no statement is partly
true.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import PLACE_RE, QA, REF_RE, Ability, Template, make_qa
from mllmkit.world.refer import FULL, refer
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import CELL_PHRASES, CELLS

WHERE = Template(
    name="position.where",
    ability="position",
    short="Where is the {ref}?",
    yorn="Is the {ref} {place}?",
    slots={"ref": REF_RE, "place": PLACE_RE},
    candidate_slots=lambda cell: {"place": CELL_PHRASES[cell]},
)


def candidates(cell: str) -> tuple[str, ...]:
    """Cell names that are either ``cell`` or plainly wrong for an object in ``cell``."""
    words = set(cell.split())
    return tuple(c for c in CELLS if c == cell or not set(c.split()) < words)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    for i, obj in enumerate(scene.objects):
        ref = refer(scene.objects, i, FULL)
        if ref is not None:
            yield make_qa(WHERE, {"ref": ref}, obj.cell, candidates(obj.cell))


ABILITY = Ability(name="position", templates=(WHERE,), generate=generate)
