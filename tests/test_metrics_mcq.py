"""Multiple-choice extraction ladder and accuracy: golden values computed by hand."""

from __future__ import annotations

import pytest

from mllmkit.eval.metrics.mcq import MCQResult, extract_choice, score_mcq
from mllmkit.eval.metrics.records import MetricInputError

OPTS = {"A": "red cube", "B": "blue sphere", "C": "green cone", "D": "yellow ring"}


# --- rung 1: a lone option letter ---------------------------------------------------------


@pytest.mark.parametrize(
    "prediction, expected",
    [
        ("B", "B"),
        ("B.", "B"),
        ("(C)", "C"),
        ("[D]", "D"),
        ("**A**", "A"),
        ("Option: B", "B"),  # 2 tokens: short
        ("C) green cone", "C"),  # 3 tokens (C, green, cone): short
        ("I think the answer should be D.", "D"),  # long, D is the last token
        ("Looking closely, I choose C here", "C"),  # C among the last 3 tokens
    ],
)
def test_letter_rung(prediction: str, expected: str) -> None:
    assert extract_choice(prediction, OPTS) == expected


def test_article_a_in_a_long_sentence_is_not_option_a() -> None:
    # "A" is the first of 9 tokens: not short, not among the last 3 -> rung 1 declines;
    # no "answer is", and no option text appears -> unmatched. Upstream would say "A".
    assert extract_choice("A small object sits near the left edge there", OPTS) is None


def test_letter_rung_needs_exactly_one_letter() -> None:
    # Two letters (A and B) -> rung 1 declines; no other rung fires.
    assert extract_choice("A or B", OPTS) is None


def test_letters_are_case_sensitive() -> None:
    # lower-case "b" is not an option letter; nothing else matches.
    assert extract_choice("b", OPTS) is None


def test_letter_not_in_options_is_ignored() -> None:
    # E is not an option: only D counts as a letter token.
    assert extract_choice("E or D", {"C": "x", "D": "y"}) == "D"


# --- rung 2: "answer is X" ----------------------------------------------------------------


def test_answer_is_in_the_middle_of_a_long_text() -> None:
    text = "After looking at every shape, the answer is (C) because it is green and pointy."
    # C is token 9 of 16: rung 1 declines (not short, not in last 3); rung 2 reads C.
    assert extract_choice(text, OPTS) == "C"


def test_answer_is_resolves_two_letters() -> None:
    # tokens contain A (article) and B -> rung 1 declines; rung 2 gives B.
    assert extract_choice("A cube is red, so the answer is B, clearly, without doubt", OPTS) == "B"


def test_answer_is_case_rules() -> None:
    assert extract_choice("ANSWER IS: **D** and nothing else is right", OPTS) == "D"
    # lower-case letter after "answer is" does not match; no option text -> unmatched
    assert extract_choice("the answer is b I would say so strongly", OPTS) is None
    # a capital that starts a word is not a letter choice
    assert extract_choice("the answer is Blue I would say so strongly", OPTS) is None


def test_answer_is_conflict_is_unmatched() -> None:
    text = "One could say the answer is A, but another says the answer is B, hmm well"
    assert extract_choice(text, OPTS) is None


# --- rung 3: option text ------------------------------------------------------------------


def test_option_text_case_insensitive() -> None:
    assert extract_choice("It is the Blue Sphere.", OPTS) == "B"


def test_option_text_substring_of_another_option() -> None:
    opts = {"A": "red", "B": "dark red", "C": "blue"}
    # "dark red" contains "red", but that occurrence lies inside the longer option.
    assert extract_choice("it looks dark red to me", opts) == "B"
    assert extract_choice("it looks red to me", opts) == "A"
    # a free-standing "red" AND "dark red": two options -> unmatched
    assert extract_choice("red, not dark red", opts) is None


def test_option_text_whole_words_only() -> None:
    opts = {"A": "1", "B": "10", "C": "cat", "D": "dog"}
    # "10" contains "1" only as part of a number: B only
    assert extract_choice("there are 10 of them", opts) == "B"
    # "category" does not contain the word "cat"
    assert extract_choice("wrong category entirely", opts) is None


def test_two_option_texts_is_unmatched() -> None:
    assert extract_choice("either the red cube or the green cone", OPTS) is None


def test_unmatched_and_empty() -> None:
    assert extract_choice("", OPTS) is None
    assert extract_choice("I cannot tell.", OPTS) is None
    assert extract_choice(None, OPTS) is None


def test_deterministic_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Upstream changes behaviour when VERBOSE is set; we must not.
    text = "A big red cube sits on the floor near the B"
    before = extract_choice(text, OPTS)
    monkeypatch.setenv("VERBOSE", "1")
    assert extract_choice(text, OPTS) == before


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="single capital letter"):
        extract_choice("A", {"a": "x"})
    with pytest.raises(ValueError, match="non-empty"):
        extract_choice("A", {})
    with pytest.raises(ValueError, match="option B"):
        extract_choice("A", {"A": "x", "B": None})  # type: ignore[dict-item]


# --- scoring ------------------------------------------------------------------------------


def test_score_mcq_golden() -> None:
    records = [
        MCQResult("1", "color", "A", "A"),  # right
        MCQResult("2", "color", None, "B"),  # unmatched -> wrong
        MCQResult("3", "count", "C", "C"),  # right
        ("4", "count", "D", "A"),  # wrong (tuple form)
        MCQResult("5", "count", "B", "B"),  # right
    ]
    result = score_mcq(records)
    # overall: 3 right of 5 = 0.6; 1 unmatched
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert (result["n"], result["correct"], result["unmatched"]) == (5, 3, 1)
    # color: 1 of 2 = 0.5, 1 unmatched; count: 2 of 3
    assert result["per_category"]["color"] == {
        "accuracy": 0.5,
        "n": 2,
        "correct": 1,
        "unmatched": 1,
    }
    assert result["per_category"]["count"]["accuracy"] == pytest.approx(2 / 3)


def test_score_mcq_empty_and_all_unmatched() -> None:
    assert score_mcq([]) == {
        "accuracy": 0.0,
        "n": 0,
        "correct": 0,
        "unmatched": 0,
        "per_category": {},
    }
    result = score_mcq([MCQResult(i, None, None, "A") for i in range(3)])
    assert (result["accuracy"], result["unmatched"]) == (0.0, 3)
    assert list(result["per_category"]) == ["(none)"]


def test_score_mcq_bad_records_name_the_row() -> None:
    with pytest.raises(MetricInputError, match=r"record 2 \(id 'q2'\).*'answer'"):
        score_mcq([("q1", "c", "A", "A"), ("q2", "c", "A", "red")])
    with pytest.raises(MetricInputError, match="duplicate sample_id 'q1'"):
        score_mcq([("q1", "c", "A", "A"), ("q1", "c", "A", "A")])
    with pytest.raises(MetricInputError, match="record 1: expected 4 to 4 fields"):
        score_mcq([("q1", "A", "A")])
