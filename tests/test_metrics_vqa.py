"""VQAv2 normalisation and accuracy, golden values by hand."""

from __future__ import annotations

import re

import pytest

from mllmkit.eval.metrics.records import MetricInputError
from mllmkit.eval.metrics.vqa import VQARecord, normalize_vqa_answer, score_vqa, vqa_accuracy
from mllmkit.eval.metrics.vqa_normalize import CONTRACTIONS


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Two", "2"),
        ("none", "0"),
        ("The dog", "dog"),
        ("a red ball", "red ball"),
        ("An apple", "apple"),
        ("Yes.", "yes"),
        ("3.5", "3.5"),  # period between digits stays
        ("dont", "don't"),
        ("isnt it", "isn't it"),
        ("couldnt've", "couldn't've"),
        ("well", "well"),  # an ordinary word is not turned into "we'll"
        ("red/blue", "red blue"),  # "/" touches no space -> replaced by a space
        ("red / blue", "red blue"),  # "/" touches a space -> deleted, spaces collapse
        ("1,000", "1000"),  # comma between digits -> every mark deleted
        ("hot-dog", "hot dog"),
        ("hot - dog", "hot dog"),
        ("what?!", "what"),
        ("  Ten\tcats\n", "10 cats"),
        ("it's 5 o'clock", "it's 5 o'clock"),  # apostrophes are kept
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize_vqa_answer(text) == expected


def test_period_rule_is_the_intended_one_not_the_official_regex() -> None:
    # Official regex: (?!<=\d)(\.)(?!\d) -- the look-behind is mistyped, so only a digit
    # *after* the period protects it. Intended rule: only a period between digits stays.
    official = re.compile(r"(?!<=\d)(\.)(?!\d)")
    for text, ours in [(".5", "5"), ("no.1", "no1")]:
        assert official.sub("", text) == text  # the buggy rule keeps the period
        assert normalize_vqa_answer(text) == ours
    # where both agree
    assert normalize_vqa_answer("2.") == official.sub("", "2.") == "2"


def test_contraction_table_has_no_ordinary_words() -> None:
    for word in ("its", "well", "were", "ill", "shell", "hell", "lets", "shed"):
        assert word not in CONTRACTIONS
    assert CONTRACTIONS["im"] == "i'm"  # upstream's "Im" key can never match; ours does


def test_accuracy_ten_answers_golden() -> None:
    others = ["no"] * 10

    def with_matches(m: int) -> list[str]:
        return ["yes"] * m + others[m:]

    # m matches among 10: a left-out matching answer leaves m-1, a non-matching one m.
    # m=1: (1*min(1,0/3) + 9*min(1,1/3)) / 10 = 3/10
    assert vqa_accuracy("yes", with_matches(1)) == pytest.approx(0.3)
    # m=2: (2*(1/3) + 8*(2/3)) / 10 = (2/3 + 16/3)/10 = 6/10
    assert vqa_accuracy("yes", with_matches(2)) == pytest.approx(0.6)
    # m=3: (3*(2/3) + 7*1) / 10 = 9/10
    assert vqa_accuracy("yes", with_matches(3)) == pytest.approx(0.9)
    # m=4: (4*1 + 6*1) / 10 = 1
    assert vqa_accuracy("yes", with_matches(4)) == pytest.approx(1.0)
    assert vqa_accuracy("yes", with_matches(0)) == 0.0
    assert vqa_accuracy("maybe", with_matches(10)) == 0.0


def test_accuracy_normalises_both_sides() -> None:
    # "Two." -> "2"; answers "2", "two", "2 " all normalise to "2": 3 of 3 match.
    # 3 answers, 3 matches: each subset leaves 2 matches -> 2/3 each -> 2/3
    assert vqa_accuracy("Two.", ["2", "two", "2 "]) == pytest.approx(2 / 3)


def test_accuracy_fewer_than_ten() -> None:
    # 2 references, both match: each subset has 1 match -> 1/3 (documented)
    assert vqa_accuracy("cat", ["cat", "cat"]) == pytest.approx(1 / 3)
    # 5 references, 4 match: left-out match -> 3 -> 1; left-out non-match -> 4 -> 1
    assert vqa_accuracy("cat", ["cat"] * 4 + ["dog"]) == 1.0
    # 4 references, 2 match: (2*(1/3) + 2*(2/3)) / 4 = 2/4 = 0.5
    assert vqa_accuracy("cat", ["cat", "cat", "dog", "cow"]) == pytest.approx(0.5)


def test_accuracy_single_reference_is_exact_match() -> None:
    assert vqa_accuracy("The Cat.", ["cat"]) == 1.0
    assert vqa_accuracy("cats", ["cat"]) == 0.0


def test_accuracy_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        vqa_accuracy("x", [])
    with pytest.raises(ValueError, match="not one string"):
        vqa_accuracy("x", "x")  # type: ignore[arg-type]


def test_score_vqa_golden() -> None:
    records = [
        VQARecord("1", "count", "2", ["two"]),  # 1.0
        VQARecord("2", "count", "3", "4"),  # 0.0 (single string = one reference)
        ("3", "color", "red", ["red"] * 3 + ["blue"] * 7),  # 0.9
        VQARecord("4", "color", None, ["red"]),  # error -> 0
    ]
    r = score_vqa(records)
    # overall (1 + 0 + 0.9 + 0) / 4 = 0.475
    assert r["accuracy"] == pytest.approx(0.475)
    assert r["n"] == 4
    assert r["per_category"]["count"] == {"accuracy": 0.5, "n": 2}
    assert r["per_category"]["color"]["accuracy"] == pytest.approx(0.45)
    assert score_vqa([]) == {"accuracy": 0.0, "n": 0, "per_category": {}}


def test_score_vqa_bad_rows() -> None:
    with pytest.raises(MetricInputError, match=r"record 1 \(id '1'\): field 'answers'"):
        score_vqa([("1", "c", "x", [])])
    with pytest.raises(MetricInputError, match="field 'answers' must be a string"):
        score_vqa([("1", "c", "x", ["a", 3])])
