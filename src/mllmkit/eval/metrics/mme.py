"""MME scoring: per-subtask acc + acc+, summed into group totals (perception, cognition).

acc+ asks for *both* questions about an image to be right (MME pairs a "yes" and a "no"
question per image), which punishes a model that answers "yes" to everything: it gets
50 % acc but 0 % acc+.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mllmkit.eval.metrics.records import (
    MetricInputError,
    coerce_records,
    ratio,
    require_str,
    where,
)
from mllmkit.eval.metrics.yesno import extract_yes_no_mme

MME_PERCEPTION = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
)
MME_COGNITION = (
    "commonsense_reasoning",
    "numerical_calculation",
    "text_translation",
    "code_reasoning",
)
MME_SUBTASK_GROUPS: Mapping[str, str] = MappingProxyType(
    {**{s: "perception" for s in MME_PERCEPTION}, **{s: "cognition" for s in MME_COGNITION}}
)
"""MME's subtask → group mapping (exact names as in the MME release)."""


@dataclass(frozen=True)
class MMERecord:
    """One answered MME question; `prediction` is the model's raw text (or None on error)."""

    image_id: Any
    subtask: str
    prediction: str | None
    answer: str


def _gold(answer: Any, position: int, image_id: Any) -> str:
    text = require_str(answer, position, image_id, "answer").strip().lower()
    if text not in ("yes", "no"):
        raise MetricInputError(
            f"{where(position, image_id)}: field 'answer' must be Yes or No, got {answer!r}"
        )
    return text


def score_mme(
    records: Iterable[MMERecord | tuple], groups: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """MME scores with the MME rule for reading answers.

    Per subtask (percentages, as MME reports them):
    - ``acc`` = 100 × questions right / questions;
    - ``acc_plus`` = 100 × images whose questions are *all* right / images (MME has exactly
      two questions per image, so "all" is "both"; an image is keyed by (subtask, image_id));
    - ``score`` = acc + acc_plus (max 200).

    Predictions are read with `extract_yes_no_mme`; unknown answers (and None) count as
    wrong and are counted in ``unknown``. `groups` maps each subtask to its group name
    (default `MME_SUBTASK_GROUPS`: perception = 10 subtasks, max 2000; cognition = 4, max
    800); a group's total is the sum of its subtasks' scores, over the subtasks present in
    the records (``missing_subtasks`` lists the others so a partial run is visible). A
    subtask not in `groups` raises: silently dropping it would change the totals.

    Returns ``{"per_subtask": {name: {"acc", "acc_plus", "score", "n_questions",
    "n_images", "unknown"}}, "per_group": {group: total score}, "missing_subtasks":
    {group: [names]}, "n": questions, "unknown": count}``.
    """
    mapping = MME_SUBTASK_GROUPS if groups is None else groups
    rows = coerce_records(records, MMERecord)
    # (subtask, image_id) -> list of correct flags; subtask -> unknown count
    images: dict[str, dict[Any, list[bool]]] = defaultdict(lambda: defaultdict(list))
    unknown: dict[str, int] = defaultdict(int)
    for position, r in enumerate(rows, start=1):
        subtask = require_str(r.subtask, position, r.image_id, "subtask")
        if subtask not in mapping:
            raise MetricInputError(
                f"{where(position, r.image_id)}: subtask {subtask!r} is not in the subtask "
                f"groups ({', '.join(sorted(mapping))})"
            )
        gold = _gold(r.answer, position, r.image_id)
        if r.prediction is None:
            predicted = None
        else:
            predicted = extract_yes_no_mme(
                require_str(r.prediction, position, r.image_id, "prediction")
            )
        if predicted is None:
            unknown[subtask] += 1
        images[subtask][r.image_id].append(predicted == gold)

    per_subtask: dict[str, dict[str, Any]] = {}
    for subtask in sorted(images):
        flags = images[subtask]
        n_questions = sum(len(v) for v in flags.values())
        acc = 100.0 * ratio(sum(sum(v) for v in flags.values()), n_questions)
        acc_plus = 100.0 * ratio(sum(1 for v in flags.values() if all(v)), len(flags))
        per_subtask[subtask] = {
            "acc": acc,
            "acc_plus": acc_plus,
            "score": acc + acc_plus,
            "n_questions": n_questions,
            "n_images": len(flags),
            "unknown": unknown[subtask],
        }

    per_group: dict[str, float] = {}
    missing: dict[str, list[str]] = {}
    for group in sorted(set(mapping.values())):
        members = [s for s, g in mapping.items() if g == group]
        per_group[group] = sum(per_subtask[s]["score"] for s in members if s in per_subtask)
        missing[group] = [s for s in members if s not in per_subtask]
    return {
        "per_subtask": per_subtask,
        "per_group": per_group,
        "missing_subtasks": missing,
        "n": len(rows),
        "unknown": sum(unknown.values()),
    }
