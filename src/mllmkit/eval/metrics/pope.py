"""POPE scoring: object-hallucination probes scored as binary classification, yes = positive.

The yes-ratio tells whether a model is biased towards agreeing. It is the share of the
model's *predictions* that are "yes". lmms-eval computes it over the ground-truth labels,
where it is a constant of the dataset (0.5 for POPE) and says nothing about the model; we
never do that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mllmkit.eval.metrics.records import (
    MetricInputError,
    category_name,
    check_unique,
    coerce_records,
    ratio,
    require_str,
    where,
)
from mllmkit.eval.metrics.yesno import extract_yes_no_pope


@dataclass(frozen=True)
class PopeRecord:
    """One answered POPE probe: `prediction` is the raw model text, `answer` is yes/no."""

    sample_id: Any
    category: str | None
    prediction: str | None
    answer: str


def _binary_metrics(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """pairs = (predicted, gold), both "yes"/"no"."""
    tp = sum(1 for p, g in pairs if p == "yes" and g == "yes")
    fp = sum(1 for p, g in pairs if p == "yes" and g == "no")
    tn = sum(1 for p, g in pairs if p == "no" and g == "no")
    fn = sum(1 for p, g in pairs if p == "no" and g == "yes")
    precision = ratio(tp, tp + fp)
    recall = ratio(tp, tp + fn)
    return {
        "accuracy": ratio(tp + tn, len(pairs)),
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * precision * recall, precision + recall),
        "yes_ratio": ratio(tp + fp, len(pairs)),
        "n": len(pairs),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def score_pope(records: Iterable[PopeRecord | tuple]) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 (yes = positive) and yes-ratio, overall and per category.

    Predictions are read with the original POPE rule (`extract_yes_no_pope`), which always
    gives yes or no; a None prediction (backend error) is read as the empty answer, which
    that rule calls "yes". ``yes_ratio`` = predicted yes / all predictions. Zero divisions
    are defined as 0.0 (precision with no predicted yes, recall with no gold yes, F1 when
    precision + recall is 0, everything on empty input). Fractions in [0, 1].

    Returns ``{"accuracy", "precision", "recall", "f1", "yes_ratio", "n", "tp", "fp",
    "tn", "fn", "per_category": {cat: {same keys}}}``.
    """
    rows = coerce_records(records, PopeRecord)
    check_unique((r.sample_id for r in rows), "sample_id")
    by_category: dict[str, list[tuple[str, str]]] = defaultdict(list)
    pairs: list[tuple[str, str]] = []
    for position, r in enumerate(rows, start=1):
        gold = require_str(r.answer, position, r.sample_id, "answer").strip().lower()
        if gold not in ("yes", "no"):
            raise MetricInputError(
                f"{where(position, r.sample_id)}: field 'answer' must be yes or no, "
                f"got {r.answer!r}"
            )
        text = "" if r.prediction is None else r.prediction
        predicted = extract_yes_no_pope(require_str(text, position, r.sample_id, "prediction"))
        pairs.append((predicted, gold))
        by_category[category_name(r.category, position, r.sample_id)].append((predicted, gold))
    result = _binary_metrics(pairs)
    result["per_category"] = {c: _binary_metrics(by_category[c]) for c in sorted(by_category)}
    return result
