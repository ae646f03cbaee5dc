"""Question generators, one module per ability, in an explicit exact-name registry."""

from __future__ import annotations

from mllmkit.world.questions import (
    color,
    count,
    existence,
    multi_image,
    position,
    shape,
    size,
    spatial,
    text,
)
from mllmkit.world.questions.base import QA, Ability, Template, build_registry

ABILITIES: dict[str, Ability] = build_registry(
    [
        existence.ABILITY,
        count.ABILITY,
        color.ABILITY,
        shape.ABILITY,
        size.ABILITY,
        spatial.ABILITY,
        position.ABILITY,
        text.ABILITY,
        multi_image.ABILITY,
    ]
)

#: Every template by its exact name (used by the verifier to read questions back).
TEMPLATES: dict[str, Template] = {t.name: t for a in ABILITIES.values() for t in a.templates}


def resolve_abilities(names: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Validate a user's ability list; ``None`` means all, in registry order."""
    if names is None:
        return tuple(ABILITIES)
    unknown = [n for n in names if n not in ABILITIES]
    if unknown:
        raise ValueError(f"unknown abilities {unknown}; expected some of {list(ABILITIES)}")
    if not names:
        raise ValueError(f"no abilities given; expected some of {list(ABILITIES)}")
    chosen = set(names)
    return tuple(n for n in ABILITIES if n in chosen)


__all__ = ["ABILITIES", "QA", "TEMPLATES", "Ability", "Template", "resolve_abilities"]
