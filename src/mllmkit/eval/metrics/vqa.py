"""VQA accuracy (VQAv2 official rule): agreement with the human answers, not exact match.

Ten annotators answer each VQAv2 question; an answer given by at least three of them is
fully right, one given by fewer gets partial credit. Averaging over the ten
leave-one-annotator-out subsets makes a human's own answer score like a model's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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
from mllmkit.eval.metrics.vqa_normalize import normalize_vqa_answer

__all__ = ["VQARecord", "normalize_vqa_answer", "score_vqa", "vqa_accuracy"]


def vqa_accuracy(prediction: str, human_answers: Sequence[str]) -> float:
    """VQAv2 accuracy of one prediction: mean over leave-one-out subsets of min(1, matches/3).

    Prediction and human answers are all normalised with `normalize_vqa_answer` (upstream
    normalises the human answers only when they disagree, relying on the dataset being
    pre-normalised; ours are not, so we always do). For n answers, subset i drops answer i
    and counts how many of the remaining n - 1 equal the prediction; the score is the mean
    of min(1, count / 3) over the n subsets. With VQAv2's 10 answers, 1/2/3/4 matches give
    0.3/0.6/0.9/1.0.

    Fewer than 10 answers: the same rule over whatever is there (so with 2–3 answers even a
    unanimous match scores below 1: 2 of 2 matching gives 1/3). A single reference cannot
    be left out, so it is exact match after normalisation (1.0 or 0.0). No answers raises.
    """
    if isinstance(human_answers, str):
        raise ValueError("human_answers must be a list of strings, not one string")
    if len(human_answers) == 0:
        raise ValueError("human_answers is empty: at least one reference answer is needed")
    predicted = normalize_vqa_answer(prediction)
    answers = [normalize_vqa_answer(a) for a in human_answers]
    if len(answers) == 1:
        return float(predicted == answers[0])
    total_matches = sum(1 for a in answers if a == predicted)
    scores = [
        min(1.0, (total_matches - (1 if left_out == predicted else 0)) / 3.0)
        for left_out in answers
    ]
    return sum(scores) / len(scores)


@dataclass(frozen=True)
class VQARecord:
    """One answered open question; `answers` holds the human answers (or one string)."""

    sample_id: Any
    category: str | None
    prediction: str | None
    answers: Sequence[str] | str


def score_vqa(records: Iterable[VQARecord | tuple]) -> dict[str, Any]:
    """Mean `vqa_accuracy` overall and per category (fractions in [0, 1]).

    A single answer string is one reference (exact match after normalisation); a None
    prediction scores 0. Empty input gives accuracy 0.0 with ``n`` 0.

    Returns ``{"accuracy", "n", "per_category": {cat: {"accuracy", "n"}}}``.
    """
    rows = coerce_records(records, VQARecord)
    check_unique((r.sample_id for r in rows), "sample_id")
    scored: dict[str, list[float]] = defaultdict(list)
    for position, r in enumerate(rows, start=1):
        answers = [r.answers] if isinstance(r.answers, str) else r.answers
        if not isinstance(answers, Sequence) or not answers:
            raise MetricInputError(
                f"{where(position, r.sample_id)}: field 'answers' must be a non-empty list "
                f"of strings, got {r.answers!r}"
            )
        for answer in answers:
            require_str(answer, position, r.sample_id, "answers")
        if r.prediction is None:
            value = 0.0
        else:
            prediction = require_str(r.prediction, position, r.sample_id, "prediction")
            value = vqa_accuracy(prediction, list(answers))
        scored[category_name(r.category, position, r.sample_id)].append(value)
    everything = [v for values in scored.values() for v in values]
    return {
        "accuracy": ratio(sum(everything), len(everything)),
        "n": len(everything),
        "per_category": {
            c: {"accuracy": ratio(sum(scored[c]), len(scored[c])), "n": len(scored[c])}
            for c in sorted(scored)
        },
    }
