"""Multiple-choice answer extraction and accuracy.

Rule variant: VLMEvalKit's `can_infer_option` / `can_infer_text` ladder, made
deterministic. Upstream falls back to an LLM judge and then to an *unseeded random* letter,
and changes behaviour when the `VERBOSE` environment variable is set; we do neither: an
answer the ladder cannot read is "unmatched", scored wrong and counted separately, so the
same predictions always give the same score.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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

STRIP_CHARS = ".()[],:;!*#{}"
"""Characters replaced by a space before splitting into tokens (VLMEvalKit's list)."""

SHORT_ANSWER_TOKENS = 3
"""An answer of at most this many tokens is "short": a lone option letter in it is the choice.

Three tokens cover "B", "(B) red" and "Option B red"; VLMEvalKit's own quantifier warning
fires above three tokens, which is where a capital "A" starts to be an article.
"""

TRAILING_TOKENS = 3
"""In a longer answer the letter is accepted only if it is among the last this many tokens
("... so the answer is B." ends on the letter), never from the middle of a sentence
("A red cube sits left of ..." must not read as option A)."""

_STRIP_TABLE = str.maketrans({c: " " for c in STRIP_CHARS})

# "answer is" in any case, then optional markdown/quote/colon/paren noise, then ONE capital
# letter that is not the start of a longer word ("The answer is Blue" is not B).
_ANSWER_IS = re.compile(r"(?i:answer\s+is)[\s:*\"'(\[]*([A-Z])(?![A-Za-z0-9])")

_OPTION_KEY = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class MCQResult:
    """One scored multiple-choice sample.

    `prediction` is the extracted letter, or None when extraction failed (unmatched).
    """

    sample_id: Any
    category: str | None
    prediction: str | None
    answer: str


def _check_options(options: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(options, Mapping) or not options:
        raise ValueError(f"options must be a non-empty mapping letter -> text, got {options!r}")
    checked: dict[str, str] = {}
    for key, text in options.items():
        if not isinstance(key, str) or not _OPTION_KEY.fullmatch(key):
            raise ValueError(f"option key {key!r} is not a single capital letter A-Z")
        if not isinstance(text, str):
            raise ValueError(f"option {key}: text must be a string, got {type(text).__name__}")
        checked[key] = text
    return checked


def _by_letter_token(tokens: list[str], letters: list[str]) -> str | None:
    present = [letter for letter in letters if letter in tokens]
    if len(present) != 1:
        return None
    letter = present[0]
    last = max(i for i, token in enumerate(tokens) if token == letter)
    if len(tokens) <= SHORT_ANSWER_TOKENS or last >= len(tokens) - TRAILING_TOKENS:
        return letter
    return None


def _by_answer_is(prediction: str, letters: list[str]) -> str | None:
    found = {m.group(1) for m in _ANSWER_IS.finditer(prediction)} & set(letters)
    return found.pop() if len(found) == 1 else None


def _word_spans(haystack: str, needle: str) -> list[tuple[int, int]]:
    """Spans of `needle` in `haystack` that are not glued to letters/digits on either side."""
    spans: list[tuple[int, int]] = []
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        left_ok = start == 0 or not (needle[0].isalnum() and haystack[start - 1].isalnum())
        right_ok = end == len(haystack) or not (needle[-1].isalnum() and haystack[end].isalnum())
        if left_ok and right_ok:
            spans.append((start, end))
        start = haystack.find(needle, start + 1)
    return spans


def _by_option_text(prediction: str, options: dict[str, str]) -> str | None:
    text = " ".join(prediction.lower().split())
    spans: dict[str, list[tuple[int, int]]] = {}
    for letter, option in options.items():
        needle = " ".join(option.lower().split())
        if needle:
            spans[letter] = _word_spans(text, needle)

    def covered(span: tuple[int, int], letter: str) -> bool:
        # An occurrence inside an occurrence of a *longer* option text belongs to that one:
        # "dark red" must not also count as "red".
        length = span[1] - span[0]
        return any(
            other_start <= span[0] and span[1] <= other_end and other_end - other_start > length
            for other, other_spans in spans.items()
            if other != letter
            for other_start, other_end in other_spans
        )

    matched = [
        letter
        for letter, letter_spans in spans.items()
        if any(not covered(span, letter) for span in letter_spans)
    ]
    return matched[0] if len(matched) == 1 else None


def extract_choice(prediction: str | None, options: Mapping[str, str]) -> str | None:
    """Read the chosen option letter from a free-text answer, or None (unmatched).

    The ladder, first rung that gives exactly one answer wins:

    1. Replace each of ``.()[],:;!*#{}`` with a space and split on whitespace. If exactly
       one option letter (a key of `options`, case-sensitive) appears as a whole token, take
       it when the answer has at most `SHORT_ANSWER_TOKENS` (3) tokens or the letter's last
       occurrence is among the last `TRAILING_TOKENS` (3) tokens. Upstream accepts the letter
       anywhere; we do not, because a sentence-initial article "A" would read as option A.
    2. Regex ``answer is`` (any case) followed by optional ``:*"'([`` noise and one capital
       letter not followed by a letter or digit ("The answer is (C)", "Answer is: **B**";
       "the answer is Blue" does not match). Lower-case letters never match. If the matches
       name two different options the rung gives nothing.
    3. Option texts, case-insensitively and with whitespace collapsed: an option matches if
       its text occurs in the answer as whole words (not glued to letters/digits, so "cat"
       is not found in "category" and "1" not in "10"; upstream uses plain substrings) and
       at least one occurrence is not inside an occurrence of a *longer* option's text.
       So with options "red" / "dark red", "dark red" picks "dark red", but
       "red, not dark red" matches both and is unmatched. Exactly one match is taken.
    4. Otherwise None.

    Raises ValueError when `options` is empty or a key is not a single capital letter.
    """
    checked = _check_options(options)
    if prediction is None:
        return None
    if not isinstance(prediction, str):
        raise ValueError(f"prediction must be a string or None, got {type(prediction).__name__}")
    letters = list(checked)
    tokens = prediction.translate(_STRIP_TABLE).split()
    for found in (
        _by_letter_token(tokens, letters),
        _by_answer_is(prediction, letters),
        _by_option_text(prediction, checked),
    ):
        if found is not None:
            return found
    return None


def _tally(rows: list[tuple[str, bool, bool]]) -> dict[str, Any]:
    n = len(rows)
    correct = sum(1 for _, ok, _ in rows if ok)
    unmatched = sum(1 for _, _, miss in rows if miss)
    return {"accuracy": ratio(correct, n), "n": n, "correct": correct, "unmatched": unmatched}


def score_mcq(records: Iterable[MCQResult | tuple]) -> dict[str, Any]:
    """Accuracy of extracted letters against the gold letters, overall and per category.

    Returns ``{"accuracy", "n", "correct", "unmatched", "per_category": {cat: {same keys}}}``
    with accuracy as a fraction in [0, 1]. Unmatched predictions (None) count as wrong and
    are also counted in ``unmatched``. An empty input gives accuracy 0.0 with ``n`` 0.
    Duplicate sample ids raise: a duplicated row would silently count twice.
    """
    rows = coerce_records(records, MCQResult)
    check_unique((r.sample_id for r in rows), "sample_id")
    tallied: list[tuple[str, bool, bool]] = []
    for position, r in enumerate(rows, start=1):
        answer = require_str(r.answer, position, r.sample_id, "answer")
        if not _OPTION_KEY.fullmatch(answer):
            raise MetricInputError(
                f"{where(position, r.sample_id)}: field 'answer' must be one capital letter, "
                f"got {answer!r}"
            )
        if r.prediction is not None:
            require_str(r.prediction, position, r.sample_id, "prediction")
        category = category_name(r.category, position, r.sample_id)
        tallied.append((category, r.prediction == answer, r.prediction is None))
    result = _tally(tallied)
    categories = sorted({c for c, _, _ in tallied})
    result["per_category"] = {c: _tally([t for t in tallied if t[0] == c]) for c in categories}
    return result
