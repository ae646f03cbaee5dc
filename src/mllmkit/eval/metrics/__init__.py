"""Evaluation metrics with exact, documented rules (see each module's docstring).

`METRICS` maps an exact name to a scorer that takes a list of records (the dataclass in
`RECORD_TYPES[name]`, or plain tuples in its field order) and returns a JSON-ready dict.
Tasks name their metrics; nothing here is chosen from a substring of a task or file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mllmkit.eval.metrics.caption import CaptionRecord, score_captions
from mllmkit.eval.metrics.circular import CircularRecord, rotations, score_circular
from mllmkit.eval.metrics.mcq import MCQResult, extract_choice, score_mcq
from mllmkit.eval.metrics.mme import MME_SUBTASK_GROUPS, MMERecord, score_mme
from mllmkit.eval.metrics.pope import PopeRecord, score_pope
from mllmkit.eval.metrics.records import MetricInputError
from mllmkit.eval.metrics.vqa import VQARecord, normalize_vqa_answer, score_vqa, vqa_accuracy
from mllmkit.eval.metrics.yesno import extract_yes_no_mme, extract_yes_no_pope

Scorer = Callable[[Iterable[Any]], dict[str, Any]]

METRICS: dict[str, Scorer] = {}
RECORD_TYPES: dict[str, type] = {}


def register_metric(name: str, scorer: Scorer, record_type: type) -> None:
    """Add a scorer under an exact name; a name already taken raises ValueError."""
    if name in METRICS:
        raise ValueError(f"metric {name!r} is already registered")
    METRICS[name] = scorer
    RECORD_TYPES[name] = record_type


def _only(key: str) -> Scorer:
    def scorer(records: Iterable[Any]) -> dict[str, Any]:
        full = score_captions(records)
        return {key: full[key], "n": full["n"]}

    scorer.__name__ = f"score_{key}"
    scorer.__doc__ = f"Corpus {key} over caption records (see `score_captions`)."
    return scorer


register_metric("mcq", score_mcq, MCQResult)
register_metric("circular", score_circular, CircularRecord)
register_metric("mme", score_mme, MMERecord)
register_metric("pope", score_pope, PopeRecord)
register_metric("vqa", score_vqa, VQARecord)
register_metric("caption", score_captions, CaptionRecord)
register_metric("bleu4", _only("bleu4"), CaptionRecord)
register_metric("cider_d", _only("cider_d"), CaptionRecord)

__all__ = [
    "METRICS",
    "MME_SUBTASK_GROUPS",
    "RECORD_TYPES",
    "CaptionRecord",
    "CircularRecord",
    "MCQResult",
    "MMERecord",
    "MetricInputError",
    "PopeRecord",
    "VQARecord",
    "extract_choice",
    "extract_yes_no_mme",
    "extract_yes_no_pope",
    "normalize_vqa_answer",
    "register_metric",
    "rotations",
    "score_captions",
    "score_circular",
    "score_mcq",
    "score_mme",
    "score_pope",
    "score_vqa",
    "vqa_accuracy",
]
