"""One scored answer: the row of `predictions.jsonl`, and what every metric reads.

Extraction happens here, once per sample, with the task's declared rule, so the
`extracted`/`correct` columns a user reads in `predictions.jsonl` are exactly what the
metrics counted. Status values (one per sample, first that applies):

- `bad_row`  the sample could not be sent (e.g. its image is missing); excluded from
  metrics and counted under `bad_rows`;
- `missing`  no answer was recorded for it (only after merging incomplete shards);
  scored as a failed request;
- `error`    the backend failed (timeout, HTTP error, garbage response); the text is
  empty and it is scored as such — wrong under every rule except POPE's original one,
  which reads an empty answer as "yes" (kept, since that is POPE's published rule);
- `empty`    the model answered with nothing (scored like `error`, counted apart);
- `unmatched` no answer could be read (no option letter, neither yes nor no); wrong;
- `ok`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mllmkit.eval.metrics.mcq import extract_choice
from mllmkit.eval.metrics.vqa import normalize_vqa_answer, vqa_accuracy
from mllmkit.eval.metrics.yesno import extract_yes_no_mme, extract_yes_no_pope
from mllmkit.eval.task import Sample, TaskSpec

STATUSES = ("ok", "unmatched", "empty", "error", "missing", "bad_row")


@dataclass
class Prediction:
    """A sample's outcome. `score` is 1/0 (or VQA's partial credit); None for captions."""

    task: str
    id: str
    question: str
    raw: str
    extracted: str | None
    gold: str | list[str]
    correct: bool | None
    score: float | None
    category: str
    status: str
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """False when the backend gave no answer (error or missing)."""
        return self.status not in ("error", "missing", "bad_row")

    def to_json(self) -> dict[str, Any]:
        row = {
            "task": self.task,
            "id": self.id,
            "question": self.question,
            "raw": self.raw,
            "extracted": self.extracted,
            "gold": self.gold,
            "correct": self.correct,
            "score": self.score,
            "category": self.category,
            "status": self.status,
            "error": self.error,
        }
        row.update(self.extra)
        return row


def _extract(spec: TaskSpec, sample: Sample, text: str) -> tuple[str | None, float | None]:
    """(extracted answer, per-sample score) under the task's declared rule."""
    gold = sample.answer
    if spec.format == "mcq":
        letter = extract_choice(text, sample.options)
        return letter, float(letter == gold)
    if spec.format == "yorn":
        rule = extract_yes_no_pope if spec.yes_no_rule == "pope" else extract_yes_no_mme
        word = rule(text)
        return word, float(word is not None and word == str(gold).lower())
    if spec.format == "vqa":
        refs = [gold] if isinstance(gold, str) else list(gold)
        return normalize_vqa_answer(text), vqa_accuracy(text, refs)
    return text.strip(), None  # caption: scored at corpus level


def score_sample(spec: TaskSpec, sample: Sample, text: str | None, error: str | None) -> Prediction:
    """Score one answer; `error` set means the backend failed, `text is None` means missing."""
    if text is None and error is None:
        status, error = "missing", "no answer recorded for this sample"
    elif error is not None:
        status = "error"
    else:
        status = "ok"
    raw = text if (text is not None and error is None) else ""
    extracted, score = _extract(spec, sample, raw)
    if status == "ok":
        if not raw.strip():
            status = "empty"
        elif extracted is None:
            status = "unmatched"
    correct = None if score is None else score >= 1.0
    return Prediction(
        task=spec.name,
        id=sample.id,
        question=sample.question,
        raw=raw,
        extracted=extracted,
        gold=sample.answer,
        correct=correct,
        score=score,
        category=sample.category,
        status=status,
        error=error,
        extra=dict(sample.extra),
    )


def bad_row_prediction(spec: TaskSpec, sample: Sample, message: str) -> Prediction:
    """A sample that could not be sent (e.g. unreadable image)."""
    return Prediction(
        task=spec.name,
        id=sample.id,
        question=sample.question,
        raw="",
        extracted=None,
        gold=sample.answer,
        correct=None,
        score=None,
        category=sample.category,
        status="bad_row",
        error=message,
        extra=dict(sample.extra),
    )
