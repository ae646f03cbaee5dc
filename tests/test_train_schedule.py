"""Learning-rate schedules: hand-computed values at the boundaries, and stage validation."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from mllmkit.train.config import SCHEDULE_NAMES, ConfigError, StageConfig
from mllmkit.train.schedule import SCHEDULES, cosine_with_warmup, wsd_with_warmup


def test_registry_names_match_config() -> None:
    assert tuple(SCHEDULES) == SCHEDULE_NAMES


def test_cosine_hand_values() -> None:
    # 100 steps, 10 of warm-up: 0.1 .. 1.0, then half a cosine over the other 90
    assert cosine_with_warmup(0, 100, 0.1) == pytest.approx(0.1)
    assert cosine_with_warmup(9, 100, 0.1) == pytest.approx(1.0)
    assert cosine_with_warmup(10, 100, 0.1) == pytest.approx(1.0)
    assert cosine_with_warmup(55, 100, 0.1) == pytest.approx(0.5)
    assert cosine_with_warmup(100, 100, 0.1, min_ratio=0.2) == pytest.approx(0.2)


def test_wsd_hand_values() -> None:
    # 100 steps: 10 warm-up, stable until step 79, then 20 steps down to 0 at step 99
    f = wsd_with_warmup
    assert f(0, 100, 0.1) == pytest.approx(0.1)
    assert f(9, 100, 0.1) == pytest.approx(1.0)
    assert f(10, 100, 0.1) == 1.0
    assert f(79, 100, 0.1) == 1.0
    assert f(80, 100, 0.1) == pytest.approx(1 - 1 / 20)
    assert f(89, 100, 0.1) == pytest.approx(0.5)
    assert f(99, 100, 0.1) == pytest.approx(0.0)
    assert f(99, 100, 0.1, min_ratio=0.1) == pytest.approx(0.1)
    assert f(59, 100, 0.1, decay_ratio=0.5) == pytest.approx(1 - 10 / 50)
    # no step exceeds the base rate, and the multiplier never rises after warm-up
    vals = [f(s, 1000, 0.02) for s in range(1000)]
    assert max(vals) == 1.0
    assert all(b <= a for a, b in pairwise(vals[20:]))


def test_wsd_spends_more_rate_than_cosine() -> None:
    """Why the schedule exists: ~0.9 vs ~0.5 of peak rate x steps."""
    n = 8000
    wsd = sum(wsd_with_warmup(s, n, 0.02) for s in range(n)) / n
    cos = sum(cosine_with_warmup(s, n, 0.02) for s in range(n)) / n
    assert math.isclose(wsd, 0.89, abs_tol=0.01)
    assert math.isclose(cos, 0.5, abs_tol=0.01)


def _stage(**kw: object) -> StageConfig:
    base = {"name": "s", "data": ["x.jsonl"], "trainable": ["lm"], "lr": {"lm": 1e-3}, "steps": 1}
    return StageConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_stage_schedule_validation() -> None:
    assert _stage().schedule == "cosine"
    assert _stage(schedule="wsd", decay_ratio=0.1).decay_ratio == 0.1
    with pytest.raises(ConfigError, match=r"stage 's': unknown schedule 'linear'"):
        _stage(schedule="linear")
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ConfigError, match="decay_ratio"):
            _stage(schedule="wsd", decay_ratio=bad)
