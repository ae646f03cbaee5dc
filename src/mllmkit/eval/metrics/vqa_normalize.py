"""VQAv2 answer normalisation (the official evaluation's rules, with its period bug fixed).

Both the prediction and every human answer go through `normalize_vqa_answer` before they
are compared, so "Two dogs." and "2 dogs" are the same answer.
"""

from __future__ import annotations

import re
from itertools import product

PUNCTUATION = tuple(';/[]"{}()=+\\_-><@`,?!')
"""The official list. Periods have their own rule; apostrophes (contractions) and colons
are kept, as upstream."""

NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})

# fmt: off
_CANONICAL_CONTRACTIONS = (
    "ain't", "aren't", "can't", "could've", "couldn't", "couldn't've", "didn't", "doesn't",
    "don't", "hadn't", "hadn't've", "hasn't", "haven't", "he'd", "he'd've", "he's", "how'd",
    "how'll", "how's", "i'd've", "i'm", "i've", "isn't", "it'd", "it'd've", "it'll", "let's",
    "ma'am", "mightn't", "mightn't've", "might've", "mustn't", "must've", "needn't",
    "not've", "o'clock", "oughtn't", "shan't", "she'd've", "she's", "should've", "shouldn't",
    "shouldn't've", "somebody'd", "somebody'd've", "somebody'll", "somebody's", "someone'd",
    "someone'd've", "someone'll", "someone's", "something'd", "something'd've",
    "something'll", "that's", "there'd", "there'd've", "there're", "there's", "they'd",
    "they'd've", "they'll", "they're", "they've", "'twas", "wasn't", "we'd've", "we've",
    "weren't", "what'll", "what're", "what's", "what've", "when's", "where'd", "where's",
    "where've", "who'd", "who'd've", "who'll", "who's", "who've", "why'll", "why're",
    "why's", "won't", "would've", "wouldn't", "wouldn't've", "y'all", "y'all'll",
    "y'all'd've", "you'd", "you'd've", "you'll", "you're", "you've",
)
# fmt: on

_REAL_WORDS = frozenset(
    {"its", "well", "were", "ill", "shell", "hell", "wed", "id", "lets", "shed", "whore"}
)
"""Apostrophe-less spellings that are ordinary words; they are left alone."""


def _contraction_map() -> dict[str, str]:
    """Every spelling of a contraction with some of its apostrophes missing → the canonical.

    Upstream lists these by hand ("dont", "couldnt've", "couldn'tve", ...); generating them
    covers the same cases without typos, and `_REAL_WORDS` keeps words like "well" intact.
    """
    mapping: dict[str, str] = {}
    for canonical in _CANONICAL_CONTRACTIONS:
        parts = canonical.split("'")
        for keep in product((True, False), repeat=len(parts) - 1):
            spelled = parts[0] + "".join(
                ("'" if kept else "") + part for kept, part in zip(keep, parts[1:], strict=True)
            )
            if spelled != canonical and spelled not in _REAL_WORDS:
                mapping[spelled] = canonical
    return mapping


CONTRACTIONS = _contraction_map()

_COMMA_BETWEEN_DIGITS = re.compile(r"\d,\d")
_PERIOD_NOT_BETWEEN_DIGITS = re.compile(r"(?<!\d)\.|\.(?!\d)")


def _process_punctuation(text: str) -> str:
    # Upstream's rule, per mark: if the mark touches a space anywhere in the answer (or the
    # answer has a comma between digits, "1,000"), every occurrence of it is deleted;
    # otherwise every occurrence becomes a space ("red/blue" -> "red blue").
    out = text
    digit_comma = _COMMA_BETWEEN_DIGITS.search(text) is not None
    for mark in PUNCTUATION:
        if mark + " " in text or " " + mark in text or digit_comma:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD_NOT_BETWEEN_DIGITS.sub("", out)


def _process_digits_articles(text: str) -> str:
    words = [NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [CONTRACTIONS.get(w, w) for w in words if w not in ARTICLES]
    return " ".join(words)


def normalize_vqa_answer(text: str) -> str:
    """Normalise an answer the way the VQAv2 evaluation does.

    Steps: newlines/tabs → spaces, strip; punctuation (see `_process_punctuation`); periods;
    lower-case; number words zero–ten (and "none") → digits; drop the articles a/an/the;
    fix contractions written without their apostrophe ("dont" → "don't").

    Periods: a period is removed unless it sits between two digits ("3.5" stays, "yes."
    and "no.1" lose theirs). The official regex ``(?!<=\\d)(\\.)(?!\\d)`` means this, but
    its look-behind is mistyped as a look-ahead, so it only checks the digit *after* the
    period: it leaves ".5" and "no.1" as they are where we give "5" and "no1".
    (Upstream's contraction table also has a few capitalised keys, "Im" and "Ive", that
    can never match its lower-cased words; ours are all lower-case, so they apply.)

    >>> normalize_vqa_answer("Two dogs."), normalize_vqa_answer("the 3.5 dont")
    ('2 dogs', "3.5 don't")
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an answer string, got {type(text).__name__}")
    text = text.replace("\n", " ").replace("\t", " ").strip()
    return _process_digits_articles(_process_punctuation(text))
