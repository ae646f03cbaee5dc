"""The strategy registry (exact names) and strict spec parsing: `name:key=value,key=value`."""

from __future__ import annotations

from mllmkit.infer.reduce.base import Strategy
from mllmkit.infer.reduce.fastv import FastV
from mllmkit.infer.reduce.none import NoReduction
from mllmkit.infer.reduce.pdrop import PyramidDrop
from mllmkit.infer.reduce.pool import Pool
from mllmkit.infer.reduce.random_drop import RandomDrop
from mllmkit.infer.reduce.visionzip import VisionZip

STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its exact `name`; a duplicate name is an error."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in STRATEGIES:
        raise ValueError(f"a reduction strategy named {cls.name!r} is already registered")
    STRATEGIES[cls.name] = cls
    return cls


for _cls in (NoReduction, FastV, PyramidDrop, VisionZip, Pool, RandomDrop):
    register(_cls)


def parse_reduction(spec: str) -> Strategy:
    """`"fastv:k=2,r=0.5"` -> a strategy. Unknown names, unknown or repeated keys and bad
    values raise ValueError naming the spec and the key."""
    text = spec.strip()
    name, _, rest = text.partition(":")
    name = name.strip()
    if name not in STRATEGIES:
        raise ValueError(
            f"unknown reduction strategy {name!r} in {spec!r}; known: {', '.join(STRATEGIES)}"
        )
    cls = STRATEGIES[name]
    values: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not raw.strip():
            raise ValueError(f"{spec!r}: {item!r} is not key=value")
        if key not in cls.PARAMS:
            known = ", ".join(cls.PARAMS) or "none"
            raise ValueError(f"{spec!r}: unknown key {key!r} for {name} (keys: {known})")
        if key in values:
            raise ValueError(f"{spec!r}: key {key!r} given twice")
        try:
            values[key] = cls.PARAMS[key](raw.strip())
        except ValueError:
            raise ValueError(f"{spec!r}: bad value {raw.strip()!r} for {key!r}") from None
    return cls(**values)  # type: ignore[arg-type]
