"""CircularEval (MMBench): ask each multiple-choice question once per rotation of its options.

A model that picks a position ("always B") or guesses gets lucky on one ordering but not on
all of them, so circular accuracy — a question counts only if *every* rotation is right —
measures understanding where vanilla accuracy (the original ordering only) measures luck too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mllmkit.eval.metrics.records import (
    MetricInputError,
    category_name,
    coerce_records,
    ratio,
    where,
)


def rotations(options: Mapping[str, str], answer: str) -> list[tuple[dict[str, str], str]]:
    """The N circular shifts of the option texts over the letters, with each correct letter.

    Letters stay in the order of `options`; rotation k gives letter i the text that letter
    (i + k) mod N had, as MMBench does (ABCD, BCDA, CDAB, DABC for four options). Rotation 0
    is the original question. The correct letter of rotation k is the letter now holding the
    original answer's text: index (a - k) mod N, where a is the answer's index.

    >>> rotations({"A": "x", "B": "y"}, "B")
    [({'A': 'x', 'B': 'y'}, 'B'), ({'A': 'y', 'B': 'x'}, 'A')]
    """
    if not isinstance(options, Mapping) or not options:
        raise ValueError(f"options must be a non-empty mapping letter -> text, got {options!r}")
    letters = list(options)
    if answer not in options:
        raise ValueError(f"answer {answer!r} is not one of the option letters {letters}")
    texts = [options[letter] for letter in letters]
    n = len(letters)
    a = letters.index(answer)
    return [
        (
            {letter: texts[(i + k) % n] for i, letter in enumerate(letters)},
            letters[(a - k) % n],
        )
        for k in range(n)
    ]


@dataclass(frozen=True)
class CircularRecord:
    """One answered rotation of one question.

    `n_rotations` is how many rotations the question was asked in (its number of options).
    Give it whenever you can: without it a missing *last* rotation cannot be detected.
    """

    question_id: Any
    rotation: int
    category: str | None
    correct: bool
    n_rotations: int | None = None


@dataclass
class _Question:
    category: str
    expected: int | None
    answers: dict[int, bool]


def _collect(rows: list[CircularRecord], expected_default: int | None) -> dict[Any, _Question]:
    questions: dict[Any, _Question] = {}
    for position, r in enumerate(rows, start=1):
        here = where(position, r.question_id)
        if isinstance(r.rotation, bool) or not isinstance(r.rotation, int) or r.rotation < 0:
            raise MetricInputError(f"{here}: field 'rotation' must be an int >= 0")
        if isinstance(r.correct, str) or r.correct not in (True, False):
            raise MetricInputError(f"{here}: field 'correct' must be a bool, got {r.correct!r}")
        expected = r.n_rotations if r.n_rotations is not None else expected_default
        if expected is not None and (not isinstance(expected, int) or expected < 1):
            raise MetricInputError(f"{here}: field 'n_rotations' must be an int >= 1")
        category = category_name(r.category, position, r.question_id)
        q = questions.setdefault(r.question_id, _Question(category, expected, {}))
        if q.category != category:
            raise MetricInputError(
                f"{here}: category {category!r} differs from {q.category!r} given earlier "
                "for the same question"
            )
        if q.expected != expected:
            raise MetricInputError(
                f"{here}: n_rotations {expected!r} differs from {q.expected!r} given earlier "
                "for the same question"
            )
        if expected is not None and r.rotation >= expected:
            raise MetricInputError(
                f"{here}: rotation {r.rotation} out of range for {expected} rotations"
            )
        if r.rotation in q.answers:
            raise MetricInputError(f"{here}: duplicate rotation {r.rotation}")
        q.answers[r.rotation] = bool(r.correct)
    return questions


def _complete(q: _Question) -> bool:
    n = q.expected if q.expected is not None else max(q.answers) + 1
    return set(q.answers) == set(range(n))


def _summary(questions: list[_Question]) -> dict[str, Any]:
    n = len(questions)
    vanilla = sum(1 for q in questions if q.answers.get(0, False))
    circular = sum(1 for q in questions if _complete(q) and all(q.answers.values()))
    return {
        "vanilla_accuracy": ratio(vanilla, n),
        "circular_accuracy": ratio(circular, n),
        "n_questions": n,
        "incomplete": sum(1 for q in questions if not _complete(q)),
    }


def score_circular(
    records: Iterable[CircularRecord | tuple], n_rotations: int | None = None
) -> dict[str, Any]:
    """Vanilla and circular accuracy, overall and per category.

    - ``vanilla_accuracy``: share of questions whose rotation 0 (original order) is right.
    - ``circular_accuracy``: share of questions with *all* rotations present and right.
    - ``incomplete`` / ``incomplete_ids``: questions missing at least one rotation. They are
      counted in the denominator and scored wrong for circular accuracy (a question we could
      not fully test has not passed); a missing rotation 0 also makes it wrong for vanilla.

    The expected rotations of a question are ``0 .. n-1`` with n taken from the records'
    `n_rotations`, else this function's `n_rotations`, else ``max(rotation seen) + 1`` for
    that question (which detects gaps but not a missing last rotation; MMBench questions
    have 2 to 4 options, so no global count can be assumed).

    Returns ``{"vanilla_accuracy", "circular_accuracy", "n_questions", "incomplete",
    "incomplete_ids", "per_category": {cat: {"vanilla_accuracy", "circular_accuracy",
    "n_questions", "incomplete"}}}``; fractions in [0, 1], 0.0 on empty input.
    """
    rows = coerce_records(records, CircularRecord)
    questions = _collect(rows, n_rotations)
    result = _summary(list(questions.values()))
    result["incomplete_ids"] = [qid for qid, q in questions.items() if not _complete(q)]
    by_category: dict[str, list[_Question]] = defaultdict(list)
    for q in questions.values():
        by_category[q.category].append(q)
    result["per_category"] = {c: _summary(by_category[c]) for c in sorted(by_category)}
    return result
