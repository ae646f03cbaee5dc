"""Yes/no extraction: the MME rule and the original POPE rule."""

from __future__ import annotations

import pytest

from mllmkit.eval.metrics.yesno import extract_yes_no_mme, extract_yes_no_pope


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes", "yes"),
        ("yes.", "yes"),
        ("YES, there is a dog", "yes"),
        ("No", "no"),
        ("no!", "no"),
        ("No, there isn't.", "no"),
        ("Yes and no", None),  # both
        ("yes/no", None),  # slash becomes a space: both words
        ("There is a dog", None),  # neither
        ("nothing here", None),  # "nothing" is not "no"
        ("yesterday", None),  # "yesterday" is not "yes"
        ("", None),
    ],
)
def test_mme_rule(text: str, expected: str | None) -> None:
    assert extract_yes_no_mme(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes", "yes"),
        ("No", "no"),
        ("No, there is no dog.", "no"),
        ("There is not a dog", "no"),
        ("Yes, there is a dog. No cat though.", "yes"),  # only the first sentence counts
        ("There is a dog. No doubt.", "yes"),
        ("no,", "no"),  # comma dropped, word "no"
        ("No.", "no"),
        ("NO", "yes"),  # case-sensitive, as the original script
        ("Not really", "yes"),  # "Not" (capital) is not in the list
        ("No! None.", "yes"),  # "No!" keeps its "!", so it is not the word "No"
        ("", "yes"),  # empty answer reads as yes under this rule
        ("I don't know", "yes"),
        ("No\nthere is none", "no"),  # whitespace split (see docstring)
    ],
)
def test_pope_rule(text: str, expected: str) -> None:
    assert extract_yes_no_pope(text) == expected


def test_non_string_raises() -> None:
    with pytest.raises(ValueError, match="string"):
        extract_yes_no_mme(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="string"):
        extract_yes_no_pope(3)  # type: ignore[arg-type]
