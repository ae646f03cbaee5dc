"""Referring expressions: name an object by the shortest description that fits only it.

A description is a subset of its attributes, always written ``size color shape`` with
``object`` standing in for a missing shape ("the large red object"). Questions that
ask about an attribute use a ladder without it, so the question never contains its
own answer. If no rung of the ladder is unique, the object is not asked about.
"""

from __future__ import annotations

from collections.abc import Sequence

from mllmkit.world.scene import SceneObject

Ladder = tuple[tuple[str, ...], ...]

#: Ladders of attribute sets, shortest first.
FULL: Ladder = (("shape",), ("color", "shape"), ("size", "color", "shape"))
NO_COLOR: Ladder = (("shape",), ("size", "shape"))
NO_SHAPE: Ladder = (("color",), ("size", "color"))
NO_SIZE: Ladder = (("shape",), ("color", "shape"))

_ORDER = ("size", "color", "shape")


def describe(attrs: dict[str, str]) -> str:
    """``{"color": "red"}`` → ``"red object"``; ``{"size": "large", "shape": "cross"}`` →
    ``"large cross"``."""
    words = [attrs[a] for a in _ORDER[:2] if a in attrs]
    words.append(attrs.get("shape", "object"))
    return " ".join(words)


def matches(obj: SceneObject, attrs: dict[str, str]) -> bool:
    return all(getattr(obj, name) == value for name, value in attrs.items())


def refer(objects: Sequence[SceneObject], index: int, ladder: Ladder) -> str | None:
    """The shortest description on ``ladder`` that picks out ``objects[index]`` alone."""
    target = objects[index]
    for rung in ladder:
        attrs = {name: getattr(target, name) for name in rung}
        if sum(1 for o in objects if matches(o, attrs)) == 1:
            return describe(attrs)
    return None
