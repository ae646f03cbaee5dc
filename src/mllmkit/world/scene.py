"""`Scene`, `SceneObject` and `Sign`: the structured truth every question is asked about.

Objects and the sign each own one cell of a 3×3 grid, so position and left/right/
above/below relations are never ambiguous. ``jitter`` is a relative offset in
[-1, 1]² that the renderer scales to the free space left in the cell; it is part of
the picture but not of the content ``key()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mllmkit.world.vocab import CELLS, COLORS, SHAPES, SIZES


def _field(d: dict[str, Any], name: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{where}: expected an object, got {type(d).__name__}")
    if name not in d:
        raise ValueError(f"{where}: missing field {name!r}")
    return d[name]


def _choice(d: dict[str, Any], name: str, allowed: tuple[str, ...], where: str) -> str:
    value = _field(d, name, where)
    if value not in allowed:
        raise ValueError(f"{where}: field {name!r} is {value!r}, expected one of {list(allowed)}")
    return value


def _jitter(d: dict[str, Any], where: str) -> tuple[float, float]:
    value = d.get("jitter", [0.0, 0.0])
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    if ok:
        try:
            jx, jy = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            ok = False
    if not ok or not (-1.0 <= jx <= 1.0 and -1.0 <= jy <= 1.0):
        raise ValueError(f"{where}: field 'jitter' must be two numbers in [-1, 1], got {value!r}")
    return (jx, jy)


@dataclass(frozen=True)
class SceneObject:
    """One coloured shape in one cell."""

    shape: str
    color: str
    size: str
    cell: str
    jitter: tuple[float, float] = (0.0, 0.0)

    @property
    def row(self) -> int:
        return CELLS.index(self.cell) // 3

    @property
    def col(self) -> int:
        return CELLS.index(self.cell) % 3

    @property
    def category(self) -> str:
        return f"{self.color} {self.shape}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "color": self.color,
            "size": self.size,
            "cell": self.cell,
            "jitter": [self.jitter[0], self.jitter[1]],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "object") -> SceneObject:
        return cls(
            shape=_choice(d, "shape", SHAPES, where),
            color=_choice(d, "color", COLORS, where),
            size=_choice(d, "size", SIZES, where),
            cell=_choice(d, "cell", CELLS, where),
            jitter=_jitter(d, where),
        )


@dataclass(frozen=True)
class Sign:
    """A white square showing a short text. Not a shape: shape/colour/count ignore it."""

    text: str
    cell: str
    jitter: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "cell": self.cell, "jitter": [self.jitter[0], self.jitter[1]]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "sign") -> Sign:
        text = _field(d, "text", where)
        if not isinstance(text, str) or not text or '"' in text:
            raise ValueError(f"{where}: field 'text' must be a non-empty string without quotes")
        return cls(text=text, cell=_choice(d, "cell", CELLS, where), jitter=_jitter(d, where))


@dataclass(frozen=True)
class Scene:
    """A whole picture: its objects (in sampling order), an optional sign and an id."""

    id: str
    objects: tuple[SceneObject, ...]
    sign: Sign | None = None

    def __post_init__(self) -> None:
        cells = [o.cell for o in self.objects] + ([self.sign.cell] if self.sign else [])
        if len(set(cells)) != len(cells):
            raise ValueError(f"scene {self.id!r}: two items share a cell ({sorted(cells)})")
        if not self.objects:
            raise ValueError(f"scene {self.id!r}: needs at least one object")

    def key(self) -> str:
        """Content identity: what the picture shows, ignoring id and jitter.

        Two scenes with equal keys have the same answers to every question, so the
        train/test split is made leak-free on this key.
        """
        parts = sorted(f"{o.cell}:{o.size}:{o.color}:{o.shape}" for o in self.objects)
        if self.sign is not None:
            parts.append(f"sign:{self.sign.cell}:{self.sign.text}")
        return "|".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "objects": [o.to_dict() for o in self.objects],
            "sign": self.sign.to_dict() if self.sign else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "scene") -> Scene:
        scene_id = _field(d, "id", where)
        objects = _field(d, "objects", where)
        if not isinstance(objects, list):
            raise ValueError(f"{where}: field 'objects' must be a list")
        sign = d.get("sign")
        return cls(
            id=str(scene_id),
            objects=tuple(
                SceneObject.from_dict(o, f"{where}: objects[{i}]") for i, o in enumerate(objects)
            ),
            sign=Sign.from_dict(sign, f"{where}: sign") if sign is not None else None,
        )
