"""Reduction spec strings: exact names, strict keys, round trips, config checks."""

from __future__ import annotations

import pytest

from mllmkit.infer.reduce import STRATEGIES, Strategy, parse_reduction, register
from mllmkit.infer.reduce.fastv import FastV
from mllmkit.infer.reduce.pdrop import PyramidDrop
from mllmkit.models import tiny_config


def test_registry_has_exact_names() -> None:
    assert set(STRATEGIES) == {"none", "fastv", "pdrop", "visionzip", "pool", "random"}
    with pytest.raises(ValueError, match="already registered"):
        register(FastV)


@pytest.mark.parametrize(
    "spec",
    [
        "fastv:k=2,r=0.5",
        "pdrop:layers=2/4,keep=0.5/0.25",
        "visionzip:keep=0.25,merge=4",
        "pool:keep=0.25",
        "random:keep=0.25,seed=0,k=0",
        "none",
    ],
)
def test_round_trip(spec: str) -> None:
    s = parse_reduction(spec)
    assert isinstance(s, Strategy)
    assert s.spec() == spec
    assert parse_reduction(s.spec()) == s


def test_values_are_parsed() -> None:
    assert parse_reduction("fastv:k=3,r=0.75") == FastV(k=3, r=0.75)
    assert parse_reduction("pdrop:layers=2/4,keep=0.5/0.25") == PyramidDrop((2, 4), (0.5, 0.25))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fastv:k=2,ratio=0.5", "unknown key 'ratio'"),
        ("fast:k=2", "unknown reduction strategy 'fast'"),
        ("FastV:k=2", "unknown reduction strategy"),
        ("fastv:k=2,k=3", "given twice"),
        ("fastv:k", "not key=value"),
        ("fastv:k=two", "bad value 'two'"),
        ("fastv:r=1", r"must be in \[0, 1\)"),
        ("random:keep=0", r"must be in \(0, 1\]"),
        ("pool:keep=0.3", "1/s²"),
        ("pdrop:layers=2/4,keep=0.5", "2 layers but 1 keep"),
        ("pdrop:layers=4/2,keep=0.5/0.25", "increasing"),
        ("pdrop:keep=0.25/0.5", "must not increase"),
        ("visionzip:keep=0.25,merge=-1", "merge=-1"),
        ("none:k=1", "keys: none"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reduction(spec)


def test_check_against_a_config() -> None:
    cfg = tiny_config()  # 2 decoder layers, 16 image tokens
    with pytest.raises(ValueError, match="outside the model's 2 decoder layers"):
        parse_reduction("fastv:k=2,r=0.5").check(cfg)
    with pytest.raises(ValueError, match="leaves no dominant token"):
        parse_reduction("visionzip:keep=0.25,merge=4").check(cfg)
    with pytest.raises(ValueError, match="one to one"):
        parse_reduction("visionzip:keep=0.25").check(tiny_config(connector="pixel_shuffle"))
    parse_reduction("fastv:k=1,r=0.5").check(cfg)
