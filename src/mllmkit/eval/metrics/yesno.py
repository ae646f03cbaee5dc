"""Yes/no answer extraction: the MME rule and the original POPE rule.

The two benchmarks read answers differently and published numbers depend on it, so both
rules are kept, each exactly as its benchmark's users know it; a task names which one it
uses.
"""

from __future__ import annotations

import string
from typing import Literal

_PUNCT_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})


def _require_text(text: object) -> str:
    if not isinstance(text, str):
        raise ValueError(f"expected the model's answer as a string, got {type(text).__name__}")
    return text


def extract_yes_no_mme(text: str) -> Literal["yes", "no"] | None:
    """MME rule (as VLMEvalKit's `YOrN_Extraction`): "yes", "no" or None (unknown).

    Lower-case, replace every ASCII punctuation character with a space, split on
    whitespace; "yes" among the words and "no" not → "yes"; "no" and not "yes" → "no";
    both or neither → None. Whole words only: "nothing" and "yesterday" are neither.
    (VLMEvalKit's VQA-style punctuation step sometimes deletes a character instead of
    spacing it; replacing by a space never glues two words together, e.g. "yes/no" stays
    two words and is therefore unknown under both.)

    >>> extract_yes_no_mme("Yes, there is a dog."), extract_yes_no_mme("Yes or no?")
    ('yes', None)
    """
    words = _require_text(text).lower().translate(_PUNCT_TO_SPACE).split()
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes and not has_no:
        return "yes"
    if has_no and not has_yes:
        return "no"
    return None


def extract_yes_no_pope(text: str) -> Literal["yes", "no"]:
    """The original POPE rule: always "yes" or "no", never unknown.

    Keep the text before the first period, drop commas, split into words; if any word is
    exactly ``No``, ``no`` or ``not`` the answer is "no", otherwise "yes". This is
    case-sensitive on purpose, as in POPE's evaluation script: "NO" and "Not" give "yes",
    and an empty answer gives "yes". The one difference: we split on any whitespace where
    the script splits on single spaces only, so "No\\nthere is none" reads "no" here (the
    script would see the word "No\\nthere").

    >>> extract_yes_no_pope("No, there is not."), extract_yes_no_pope("There is a cat. No.")
    ('no', 'yes')
    """
    first_sentence = _require_text(text).split(".", 1)[0]
    words = first_sentence.replace(",", "").split()
    if "No" in words or "not" in words or "no" in words:
        return "no"
    return "yes"
