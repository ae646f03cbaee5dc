"""What every ability shares: the `QA` record, question `Template`s and slot patterns.

A template is written once as a format string (``"What color is the {ref}?"``) and
used twice: generators fill it in, and `world.verify` turns it into a regular
expression (each slot constrained to its vocabulary) to read the question back and
recompute the answer independently. Each template may also have a yes/no form that
states one candidate answer (``"Is the {ref} {candidate}?"``); templates whose
question already is yes/no ("native") have none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from mllmkit.world.config import WorldConfig
from mllmkit.world.scene import Scene
from mllmkit.world.vocab import CELL_PHRASES, CELLS, COLORS, SHAPES, SIZES, plural

YES, NO = "Yes", "No"
YES_NO: tuple[str, str] = (YES, NO)


def _alternation(words: Iterable[str]) -> str:
    # Longest first so that "top left" wins over "top".
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


COLOR_RE = _alternation(COLORS)
SHAPE_RE = _alternation(SHAPES)
SIZE_RE = _alternation(SIZES)
#: ``[size] [color] shape|object`` — every referring expression and category phrase.
REF_RE = f"(?:{SIZE_RE} )?(?:{COLOR_RE} )?(?:{SHAPE_RE}|object)"
ARTICLE_RE = "(?:a|an)"
#: What can be counted: a shape (plural), a colour's objects, or all shapes.
COUNT_NOUN_RE = _alternation(
    [plural(s) for s in SHAPES] + [f"{c} objects" for c in COLORS] + ["shapes"]
)
DIGIT_RE = "[0-9]"
CELL_RE = _alternation(CELLS)
PLACE_RE = _alternation(CELL_PHRASES.values())
TEXT_RE = '[^"]+'
ORDINAL_RE = "(?:first|second)"


def default_candidate_slots(candidate: str) -> dict[str, str]:
    return {"candidate": candidate}


@dataclass(frozen=True)
class Template:
    """One question form of one ability.

    ``slots`` maps every slot name used by ``short`` and ``yorn`` to its regular
    expression. ``candidate_slots`` turns a candidate answer into the values of the
    yes/no form's extra slots.
    """

    name: str
    ability: str
    short: str
    yorn: str | None
    slots: dict[str, str]
    candidate_slots: Callable[[str], dict[str, str]] = default_candidate_slots

    @property
    def native(self) -> bool:
        """True when the question itself is answered Yes/No (no separate yes/no form)."""
        return self.yorn is None

    def render(self, slots: dict[str, str]) -> str:
        return self.short.format(**slots)

    def render_yorn(self, slots: dict[str, str], candidate: str) -> str:
        if self.yorn is None:
            raise ValueError(f"template {self.name!r} is already a yes/no question")
        return self.yorn.format(**slots, **self.candidate_slots(candidate))

    @cached_property
    def short_regex(self) -> re.Pattern[str]:
        return _compile(self.short, self.slots, self.name)

    @cached_property
    def yorn_regex(self) -> re.Pattern[str] | None:
        return None if self.yorn is None else _compile(self.yorn, self.slots, self.name)


_SLOT = re.compile(r"\{(\w+)\}")


def _compile(text: str, slots: dict[str, str], name: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    pos = 0
    for m in _SLOT.finditer(text):
        parts.append(re.escape(text[pos : m.start()]))
        slot = m.group(1)
        if slot not in slots:
            raise ValueError(f"template {name!r}: slot {{{slot}}} has no pattern")
        if slot in seen:
            parts.append(f"(?P={slot})")
        else:
            parts.append(f"(?P<{slot}>{slots[slot]})")
            seen.add(slot)
        pos = m.end()
    parts.append(re.escape(text[pos:]))
    return re.compile("".join(parts))


@dataclass(frozen=True)
class QA:
    """A question in its free-answer form, with its answer space.

    ``candidates`` is the ability's answer space for this template (distractors for
    MCQ and false statements for yes/no come from it); ``template`` and ``slots`` let
    the other formats be rendered without re-deriving anything.
    """

    ability: str
    question: str
    answer: str
    candidates: tuple[str, ...]
    template: Template = field(repr=False, compare=False)
    slots: tuple[tuple[str, str], ...] = ()

    @property
    def slot_dict(self) -> dict[str, str]:
        return dict(self.slots)


def make_qa(
    template: Template, slots: dict[str, str], answer: str, candidates: Sequence[str]
) -> QA:
    """Fill a template in; the answer must belong to the answer space."""
    if answer not in candidates:
        raise ValueError(f"{template.name}: answer {answer!r} not among {list(candidates)}")
    return QA(
        ability=template.ability,
        question=template.render(slots),
        answer=answer,
        candidates=tuple(candidates),
        template=template,
        slots=tuple(slots.items()),
    )


Generator = Callable[[Sequence[Scene], np.random.Generator, WorldConfig], Iterator[QA]]


@dataclass(frozen=True)
class Ability:
    """A named ability: its templates, how many images it looks at, and its generator.

    ``generate(scenes, rng, cfg)`` yields every valid question of the ability for the
    scenes (``len(scenes) == n_images``); callers sample from what it yields.
    """

    name: str
    templates: tuple[Template, ...]
    generate: Generator
    n_images: int = 1


def build_registry(abilities: Iterable[Ability]) -> dict[str, Ability]:
    """An exact-name registry; a repeated ability or template name is an error."""
    registry: dict[str, Ability] = {}
    template_names: set[str] = set()
    for ability in abilities:
        if ability.name in registry:
            raise ValueError(f"ability {ability.name!r} registered twice")
        for template in ability.templates:
            if template.name in template_names:
                raise ValueError(f"template {template.name!r} registered twice")
            if template.ability != ability.name:
                raise ValueError(
                    f"template {template.name!r} belongs to {template.ability!r}, "
                    f"not {ability.name!r}"
                )
            template_names.add(template.name)
        registry[ability.name] = ability
    return registry
