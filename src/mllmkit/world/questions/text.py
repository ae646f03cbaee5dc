"""text: "What is written on the sign?" → the sign's text (only when there is a sign)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.questions.base import QA, TEXT_RE, Ability, Template, make_qa
from mllmkit.world.scene import Scene

READ = Template(
    name="text.read",
    ability="text",
    short="What is written on the sign?",
    yorn='Does the sign read "{candidate}"?',
    slots={"candidate": TEXT_RE},
)


def generate(scenes: Sequence[Scene], rng: np.random.Generator, cfg: WorldConfig) -> Iterator[QA]:
    (scene,) = scenes
    if scene.sign is None:
        return
    texts = cfg.sign_texts
    if scene.sign.text not in texts:  # a scene file written with another alphabet
        texts = (*texts, scene.sign.text)
    yield make_qa(READ, {}, scene.sign.text, texts)


ABILITY = Ability(name="text", templates=(READ,), generate=generate)
