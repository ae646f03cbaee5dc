"""CircularEval: rotations and vanilla/circular accuracy, golden values by hand."""

from __future__ import annotations

import pytest

from mllmkit.eval.metrics.circular import CircularRecord, rotations, score_circular
from mllmkit.eval.metrics.records import MetricInputError


def test_rotations_four_options() -> None:
    opts = {"A": "red", "B": "blue", "C": "green", "D": "pink"}
    rots = rotations(opts, "C")  # correct text: "green"
    # rotation k gives letter i the text of letter i+k: ABCD, BCDA, CDAB, DABC
    assert [list(o.values()) for o, _ in rots] == [
        ["red", "blue", "green", "pink"],
        ["blue", "green", "pink", "red"],
        ["green", "pink", "red", "blue"],
        ["pink", "red", "blue", "green"],
    ]
    # "green" sits at C, B, A, D
    assert [answer for _, answer in rots] == ["C", "B", "A", "D"]
    for options, answer in rots:
        assert options[answer] == "green"


def test_rotations_two_options_and_errors() -> None:
    assert rotations({"A": "yes", "B": "no"}, "A") == [
        ({"A": "yes", "B": "no"}, "A"),
        ({"A": "no", "B": "yes"}, "B"),
    ]
    with pytest.raises(ValueError, match="not one of the option letters"):
        rotations({"A": "x"}, "B")
    with pytest.raises(ValueError, match="non-empty"):
        rotations({}, "A")


def _question(qid: str, category: str, flags: list[bool], n: int | None = None):
    return [CircularRecord(qid, k, category, ok, n) for k, ok in enumerate(flags)]


def test_score_circular_golden() -> None:
    records = (
        _question("q1", "color", [True, True, True, True])  # circular right
        + _question("q2", "color", [True, False, True, True])  # vanilla right only
        + _question("q3", "count", [False, True, True, True])  # both wrong
        + _question("q4", "count", [True, True, True, True])  # circular right
    )
    result = score_circular(records)
    # vanilla: q1, q2, q4 right of 4 = 0.75; circular: q1, q4 of 4 = 0.5
    assert result["vanilla_accuracy"] == 0.75
    assert result["circular_accuracy"] == 0.5
    assert result["n_questions"] == 4
    assert result["incomplete"] == 0
    # color: vanilla 2/2 = 1.0, circular 1/2 = 0.5; count: vanilla 1/2, circular 1/2
    assert result["per_category"]["color"]["vanilla_accuracy"] == 1.0
    assert result["per_category"]["color"]["circular_accuracy"] == 0.5
    assert result["per_category"]["count"]["vanilla_accuracy"] == 0.5
    assert result["per_category"]["count"]["circular_accuracy"] == 0.5


def test_missing_rotation_is_incomplete_and_wrong() -> None:
    records = [
        CircularRecord("q1", 0, "c", True, 4),
        CircularRecord("q1", 1, "c", True, 4),
        CircularRecord("q1", 2, "c", True, 4),  # rotation 3 missing
        *_question("q2", "c", [True, True], 2),
    ]
    result = score_circular(records)
    # q1 incomplete: counted wrong for circular (1/2), right for vanilla (2/2)
    assert result["circular_accuracy"] == 0.5
    assert result["vanilla_accuracy"] == 1.0
    assert result["incomplete"] == 1
    assert result["incomplete_ids"] == ["q1"]


def test_missing_last_rotation_detected_only_with_n_rotations() -> None:
    records = _question("q1", "c", [True, True, True])  # 4 options, rotation 3 lost
    # without a count, 0..2 looks complete
    assert score_circular(records)["circular_accuracy"] == 1.0
    # with the function-level count it is incomplete
    assert score_circular(records, n_rotations=4)["circular_accuracy"] == 0.0


def test_gap_detected_without_n_rotations() -> None:
    records = [CircularRecord("q1", 0, "c", True), CircularRecord("q1", 2, "c", True)]
    result = score_circular(records)
    assert result["incomplete_ids"] == ["q1"]
    assert result["circular_accuracy"] == 0.0


def test_missing_rotation_zero_is_wrong_for_vanilla() -> None:
    records = [CircularRecord("q1", 1, "c", True, 2)]
    result = score_circular(records)
    assert (result["vanilla_accuracy"], result["circular_accuracy"]) == (0.0, 0.0)


def test_empty() -> None:
    result = score_circular([])
    assert result["vanilla_accuracy"] == 0.0
    assert result["circular_accuracy"] == 0.0
    assert result["n_questions"] == 0
    assert result["per_category"] == {}


def test_bad_records() -> None:
    with pytest.raises(MetricInputError, match="duplicate rotation 0"):
        score_circular([("q1", 0, "c", True), ("q1", 0, "c", True)])
    with pytest.raises(MetricInputError, match=r"record 2 \(id 'q1'\): category"):
        score_circular([("q1", 0, "c", True), ("q1", 1, "d", True)])
    with pytest.raises(MetricInputError, match="out of range"):
        score_circular([("q1", 4, "c", True, 4)])
    with pytest.raises(MetricInputError, match="'correct'"):
        score_circular([("q1", 0, "c", "yes")])
    with pytest.raises(MetricInputError, match="'rotation'"):
        score_circular([("q1", -1, "c", True)])
