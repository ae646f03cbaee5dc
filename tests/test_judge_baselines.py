"""Baseline judges behind the `Model` protocol, opened as `baseline:NAME`."""

from __future__ import annotations

import pytest

from mllmkit.backends.base import BackendError, Message, Request, TextPart
from mllmkit.backends.registry import open_backend
from mllmkit.judge.baselines import BaselineJudge
from mllmkit.judge.parse import parse_pair, parse_ranking, parse_score
from mllmkit.judge.prompts import render_prompt


def _ask(judge: BaselineJudge, mode: str, answers: list[str]) -> str:
    text = render_prompt(mode, "Q?", answers)
    request = Request(messages=[Message("user", [TextPart(text)])])
    (response,) = judge.generate([request])
    assert response.ok, response.error
    return response.text


@pytest.mark.parametrize(
    ("words", "score"), [(1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (10, 4), (13, 5), (40, 5)]
)
def test_longer_scores_by_word_count(words: int, score: int) -> None:
    judge = BaselineJudge("longer")
    assert parse_score(_ask(judge, "score", [" ".join(["w"] * words)])) == score


def test_longer_prefers_length_and_ties_on_equal_length() -> None:
    judge = open_backend("baseline:longer")
    assert isinstance(judge, BaselineJudge)
    assert parse_pair(_ask(judge, "pair", ["short", "much longer"])) == "B"
    assert parse_pair(_ask(judge, "pair", ["longer one", "short"])) == "A"
    assert parse_pair(_ask(judge, "pair", ["abc", "xyz"])) == "C"
    ranking = _ask(judge, "batch", ["bb", "a", "cccc", "dd"])
    assert parse_ranking(ranking, 4) == ["C", "A", "D", "B"]  # equal lengths keep order


def test_first_is_pure_position() -> None:
    judge = open_backend("baseline:first")
    assert parse_score(_ask(judge, "score", ["anything"])) == 3
    assert parse_pair(_ask(judge, "pair", ["a", "much longer"])) == "A"
    assert parse_ranking(_ask(judge, "batch", ["a", "b", "c"]), 3) == ["A", "B", "C"]


def test_non_judge_prompt_gets_an_error_not_a_guess() -> None:
    judge = BaselineJudge("longer")
    request = Request(messages=[Message("user", [TextPart("What color is it?")])])
    (response,) = judge.generate([request])
    assert not response.ok and "judge prompts" in (response.error or "")


def test_specs_and_fingerprints() -> None:
    with pytest.raises(BackendError, match="unknown baseline judge"):
        open_backend("baseline:shortest")
    with pytest.raises(BackendError, match="needs a rule name"):
        open_backend("baseline:")
    with pytest.raises(BackendError, match="no options"):
        open_backend("baseline:longer", model="x")
    assert BaselineJudge("longer").fingerprint() != BaselineJudge("first").fingerprint()
    assert BaselineJudge("longer").fingerprint() == BaselineJudge("longer").fingerprint()
