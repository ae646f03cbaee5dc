"""The metric registry: exact names, duplicates refused, every scorer runs on its records."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mllmkit.eval.metrics import METRICS, RECORD_TYPES, register_metric, score_mcq

TINY = {
    "mcq": [("q1", "c", "A", "A")],
    "circular": [("q1", 0, "c", True, 1)],
    "mme": [("i1", "color", "Yes", "Yes")],
    "pope": [("p1", "random", "Yes", "yes")],
    "vqa": [("v1", "c", "2", ["two"])],
    "caption": [("c1", "a cat", ["a cat"]), ("c2", "a dog", ["a dog"])],
    "bleu4": [("c1", "a red cube on the left", ["a red cube on the left"])],
    "cider_d": [("c1", "a cat", ["a cat"]), ("c2", "a dog", ["a dog"])],
}


def test_registry_names_are_exact() -> None:
    assert sorted(METRICS) == sorted(TINY)
    assert set(RECORD_TYPES) == set(METRICS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_scorer_runs_on_tuples_and_dataclasses(name: str) -> None:
    scorer, record_type = METRICS[name], RECORD_TYPES[name]
    from_tuples = scorer(TINY[name])
    from_records = scorer([record_type(*row) for row in TINY[name]])
    assert from_tuples == from_records
    assert isinstance(from_tuples, dict) and from_tuples


def test_perfect_tiny_inputs_score_top() -> None:
    assert METRICS["mcq"](TINY["mcq"])["accuracy"] == 1.0
    assert METRICS["circular"](TINY["circular"])["circular_accuracy"] == 1.0
    assert METRICS["mme"](TINY["mme"])["per_group"]["perception"] == 200.0
    assert METRICS["pope"](TINY["pope"])["accuracy"] == 1.0
    assert METRICS["vqa"](TINY["vqa"])["accuracy"] == 1.0
    assert METRICS["bleu4"](TINY["bleu4"])["bleu4"] == pytest.approx(1.0)
    assert METRICS["cider_d"](TINY["cider_d"])["cider_d"] == pytest.approx(5.0)


def test_duplicate_name_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_metric("mcq", score_mcq, tuple)
    assert METRICS["mcq"] is score_mcq


def test_metrics_and_judge_do_not_import_torch() -> None:
    code = (
        "import sys, mllmkit.eval.metrics, mllmkit.judge.parse, mllmkit.judge.agreement;"
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
