"""Judge verdict parsing (tolerant, never guessing) and agreement metrics (golden values)."""

from __future__ import annotations

import math

import pytest

from mllmkit.judge.agreement import (
    PairItem,
    RankItem,
    ScoreItem,
    SwapPair,
    levenshtein,
    pair_agreement,
    pearson,
    pearson_by_source,
    position_consistency,
    ranking_distance,
)
from mllmkit.judge.parse import parse_pair, parse_ranking, parse_score

# --- parse_score --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"Judgement": "[[4]]"}', 4),
        ('{"Reason": "fine", "Judgement": "[[5]]"}', 5),
        ('The answer is good.\n{"Judgement": "[[3]]"}\nThanks!', 3),
        ('```json\n{"Judgement": "[[2]]"}\n```', 2),
        ("{'Judgement': '[[1]]', 'Reason': \"it's wrong\"}", 1),  # single quotes
        ('{"judgment": "[[4]]"}', 4),  # American spelling, lower case
        ('{"Judgement": 4}', 4),
        ('{"Judgement": "4"}', 4),
        ('{"Judgement": "[[ 4 ]]"}', 4),
        ("Rating: [[4]]", 4),  # no JSON, lone marker
        ('{"Reason": "multi\nline", "Judgement": "[[5]]"}', 5),  # raw newline in string
        ('{"result": {"Judgement": "[[2]]"}}', 2),  # nested
        ('Score [[3]].\n{"Judgement": "[[3]]"}', 3),  # prose and JSON agree
        ("[[4]] ... as said, [[4]]", 4),
        ('{"Judgement": "[[4]]", "Reason": "a {curly} brace"}', 4),
    ],
)
def test_parse_score_accepts(text: str, expected: int) -> None:
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "The answer is decent, I would say four.",  # no verdict
        '{"Judgement": "[[4]]"} Actually, [[2]].',  # two different verdicts
        "[[3]] or maybe [[4]]",
        '{"Judgement": "[[4]]"} {"Judgement": "[[5]]"}',  # two JSON verdicts
        "[[6]]",  # out of range
        "[[0]]",
        "[[4.5]]",
        "[[4/5]]",
        '{"Judgement": "good"}',  # prose in the field
        '{"Judgement": 7}',
        '{"Judgement": true}',
        '{"Judgement": null}',
        '{"Judgement": "[[4]]"} also [[A]]',  # a malformed marker in the prose
        "[[]]",
        "[4]",  # single brackets are not a verdict
    ],
)
def test_parse_score_refuses(text: str) -> None:
    assert parse_score(text) is None


def test_parse_score_broken_json_falls_back_to_marker() -> None:
    # unbalanced braces: no JSON object, the marker in the text is still the one verdict
    assert parse_score('{"Judgement": "[[4]]", "Reason": "ok"') == 4


def test_parse_score_non_string() -> None:
    assert parse_score(None) is None
    assert parse_score(4) is None  # type: ignore[arg-type]


# --- parse_pair ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"Judgement": "[[A]]"}', "A"),
        ('{"Judgement": "[[B]]", "Reason": "B is detailed"}', "B"),
        ('{"Judgement": "[[C]]"}', "C"),
        ("[[b]]", "B"),
        ('{"Judgement": "A"}', "A"),
        ("Both are fine, so it is a tie: [[C]]", "C"),
        ("```\n{'Judgement': '[[A]]'}\n```", "A"),
    ],
)
def test_parse_pair_accepts(text: str, expected: str) -> None:
    assert parse_pair(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[[A]] or [[B]]",
        '{"Judgement": "[[A]]"} but on reflection [[B]]',
        "[[D]]",
        "[[Tie]]",
        "[[A or B]]",
        '{"Judgement": "Answer A"}',
        '{"Judgement": ["A"]}',
        "Answer A is better.",  # no marker, no JSON
    ],
)
def test_parse_pair_refuses(text: str) -> None:
    assert parse_pair(text) is None


# --- parse_ranking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"Judgement": "[[B]], [[A]], [[C]]"}', ["B", "A", "C"]),
        ('{"Judgement": "[[C]] > [[A]] > [[B]]"}', ["C", "A", "B"]),
        ('{"Judgement": "[[B, C, A]]"}', ["B", "C", "A"]),
        ('{"Judgement": "B, A, C"}', ["B", "A", "C"]),
        ('{"Judgement": ["[[A]]", "[[C]]", "[[B]]"]}', ["A", "C", "B"]),
        ('{"Judgement": ["c", "b", "a"]}', ["C", "B", "A"]),
        ("My ranking: [[B]], [[A]], [[C]]", ["B", "A", "C"]),
        ('Ranking [[B]],[[A]],[[C]]\n{"Judgement": "[[B]], [[A]], [[C]]"}', ["B", "A", "C"]),
    ],
)
def test_parse_ranking_accepts(text: str, expected: list[str]) -> None:
    assert parse_ranking(text, 3) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[[B]], [[A]]",  # missing C
        "[[B]], [[A]], [[A]]",  # repeated
        "[[B]], [[A]], [[C]], [[D]]",  # extra letter
        "[[B]], [[A]], [[D]]",  # D is not among the first 3 letters
        '{"Judgement": "BAC"}',  # letters need separators
        "[[B]], [[A]], [[C]] and I really like [[B]]",  # a second, different ordering
        '{"Judgement": "[[B]], [[A]], [[C]]"} [[A]], [[B]], [[C]]',
        "[[B]], [[A]] and [[C]]",  # not one run of markers
        '{"Judgement": [1, 2, 3]}',
        "no ranking here",
    ],
)
def test_parse_ranking_refuses(text: str) -> None:
    assert parse_ranking(text, 3) is None


def test_parse_ranking_n() -> None:
    assert parse_ranking("[[B]], [[A]]", 2) == ["B", "A"]
    assert parse_ranking("[[A]]", 1) == ["A"]
    with pytest.raises(ValueError, match="between 1 and 26"):
        parse_ranking("[[A]]", 0)


# --- Pearson ------------------------------------------------------------------------------


def test_pearson_by_source_golden() -> None:
    items = [
        ScoreItem("s1", 1, 1),
        ScoreItem("s1", 2, 2),
        ScoreItem("s1", 3, 3),
        ScoreItem("s1", 5, None),  # unparsed: dropped, counted
        # s2: x = 1,2,3,4 ; y = 2,1,4,3 ; means 2.5
        # dx = -1.5,-.5,.5,1.5 ; dy = -.5,-1.5,1.5,.5 ; sxy = .75*4 = 3 ; sxx = syy = 5
        # r = 3 / 5 = 0.6
        ("s2", 1, 2),
        ("s2", 2, 1),
        ("s2", 3, 4),
        ("s2", 4, 3),
        # s3: the judge always says 3 -> r undefined
        ("s3", 1, 3),
        ("s3", 5, 3),
    ]
    r = pearson_by_source(items)
    assert r["per_source"]["s1"] == pytest.approx(1.0)
    assert r["per_source"]["s2"] == pytest.approx(0.6)
    assert r["per_source"]["s3"] is None
    assert r["undefined_sources"] == ["s3"]
    # average over defined sources only: (1 + 0.6) / 2 = 0.8 (with s3 as 0 it would be 0.533)
    assert r["average"] == pytest.approx(0.8)
    assert r["n_unparsed"] == 1
    assert r["n_per_source"] == {"s1": 3, "s2": 4, "s3": 2}


def test_pearson_undefined_cases() -> None:
    assert pearson([1.0], [2.0]) is None
    assert pearson([2, 2, 2], [1, 2, 3]) is None
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    r = pearson_by_source([("s", 3, None), ("s", 4, None)])
    assert r["average"] is None
    assert r["per_source"] == {"s": None}
    assert r["n_unparsed"] == 2
    assert pearson_by_source([])["average"] is None
    with pytest.raises(ValueError, match="item 1: field 'human'"):
        pearson_by_source([("s", "high", 3)])


# --- pairs --------------------------------------------------------------------------------


def test_pair_agreement_golden() -> None:
    items = [
        PairItem("A", "A"),
        PairItem("A", "A"),
        PairItem("A", "B"),
        PairItem("B", "B"),
        PairItem("C", "C"),
        PairItem("C", "A"),
        PairItem("B", "C"),
        PairItem("A", None),  # unparsed
    ]
    r = pair_agreement(items)
    # parsed 7, agreeing 4 (A,A ×2, B,B, C,C) -> 4/7
    assert r["accuracy"] == pytest.approx(4 / 7)
    # no ties: drop (C,C), (C,A), (B,C) -> (A,A) (A,A) (A,B) (B,B): 3/4
    assert r["accuracy_no_ties"] == pytest.approx(3 / 4)
    # F1_A: TP 2, FP 1 (C,A), FN 1 (A,B) -> 4/6;  F1_B: TP 1, FP 1 (A,B), FN 1 (B,C) -> 2/4
    # F1_C: TP 1, FP 1 (B,C), FN 1 (C,A) -> 2/4;  macro = (2/3 + 1/2 + 1/2) / 3 = 5/9
    assert r["per_class_f1"] == pytest.approx({"A": 2 / 3, "B": 0.5, "C": 0.5})
    assert r["macro_f1"] == pytest.approx(5 / 9)
    assert (r["n"], r["n_no_ties"], r["n_unparsed"]) == (7, 4, 1)


def test_pair_agreement_absent_class_and_empty() -> None:
    # C never occurs: macro over A and B only -> 1.0 (counting C as 0 would give 2/3)
    r = pair_agreement([("A", "A"), ("B", "B")])
    assert r["macro_f1"] == 1.0
    assert "C" not in r["per_class_f1"]
    empty = pair_agreement([("A", None)])
    assert (empty["accuracy"], empty["accuracy_no_ties"], empty["macro_f1"]) == (0.0, 0.0, 0.0)
    assert empty["n_unparsed"] == 1
    with pytest.raises(ValueError, match="item 1: field 'judge'"):
        pair_agreement([("A", "D")])


# --- rankings -----------------------------------------------------------------------------


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein(["A", "B", "C"], ["B", "A", "C"]) == 2  # no transposition op
    assert levenshtein([], ["A"]) == 1
    assert levenshtein("abc", "abc") == 0


def test_ranking_distance_is_normalised() -> None:
    items = [
        RankItem(["A", "B", "C"], ["B", "A", "C"]),  # 2 / 3
        RankItem(["A", "B", "C", "D"], ["A", "B", "C", "D"]),  # 0 / 4
        RankItem(["A", "B"], None),  # unparsed
    ]
    r = ranking_distance(items)
    assert r["levenshtein_norm"] == pytest.approx((2 / 3 + 0) / 2)  # 1/3
    # the released code's unnormalised mean: (2 + 0) / 2 = 1 -- differs
    assert r["levenshtein_raw"] == 1.0
    assert not math.isclose(r["levenshtein_norm"], r["levenshtein_raw"])
    assert (r["n"], r["n_unparsed"]) == (2, 1)
    # a full reversal of 4: distance 4 -> normalised 1.0
    assert ranking_distance([(list("ABCD"), list("DCBA"))])["levenshtein_norm"] == 1.0


def test_ranking_distance_empty() -> None:
    r = ranking_distance([(["A", "B"], None)])
    assert r["levenshtein_norm"] is None and r["levenshtein_raw"] is None
    with pytest.raises(ValueError, match="item 1: field 'human'"):
        ranking_distance([("AB", ["A", "B"])])


# --- position consistency -----------------------------------------------------------------


def test_position_consistency() -> None:
    pairs = [
        SwapPair("A", "B"),  # first answer both times: consistent
        SwapPair("A", "A"),  # always the first position: inconsistent
        SwapPair("C", "C"),  # tie both times: consistent
        SwapPair("B", "A"),  # second answer both times: consistent
        SwapPair("C", "A"),  # tie then an answer: inconsistent
        SwapPair("A", None),  # unparsed: dropped
    ]
    assert position_consistency(pairs) == pytest.approx(3 / 5)
    assert position_consistency([]) == 0.0
    with pytest.raises(ValueError, match="item 1: field 'verdict_ba'"):
        position_consistency([("A", "X")])
