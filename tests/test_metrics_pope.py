"""POPE scoring: golden confusion-matrix metrics and the yes-ratio definition."""

from __future__ import annotations

import pytest

from mllmkit.eval.metrics.pope import PopeRecord, score_pope
from mllmkit.eval.metrics.records import MetricInputError


def test_score_pope_golden() -> None:
    records = [
        PopeRecord("1", "random", "Yes, there is.", "yes"),  # TP
        PopeRecord("2", "random", "Yes", "yes"),  # TP
        PopeRecord("3", "random", "No", "yes"),  # FN
        PopeRecord("4", "random", "Yes", "no"),  # FP
        PopeRecord("5", "adversarial", "There is no cat.", "no"),  # TN
        PopeRecord("6", "adversarial", "Yes", "no"),  # FP
    ]
    r = score_pope(records)
    # TP=2 FP=2 TN=1 FN=1
    assert (r["tp"], r["fp"], r["tn"], r["fn"]) == (2, 2, 1, 1)
    assert r["accuracy"] == pytest.approx(3 / 6)  # (TP+TN)/n
    assert r["precision"] == pytest.approx(2 / 4)  # TP/(TP+FP)
    assert r["recall"] == pytest.approx(2 / 3)  # TP/(TP+FN)
    # F1 = 2PR/(P+R) = 2*(1/2)(2/3)/(1/2+2/3) = (2/3)/(7/6) = 4/7
    assert r["f1"] == pytest.approx(4 / 7)
    assert r["yes_ratio"] == pytest.approx(4 / 6)  # predicted yes: 1,2,4,6
    adv = r["per_category"]["adversarial"]
    # adversarial: TN=1 FP=1 -> acc 1/2, precision 0/1 = 0, recall 0/0 -> 0, F1 0
    assert (adv["accuracy"], adv["precision"], adv["recall"], adv["f1"]) == (0.5, 0, 0, 0)
    assert adv["yes_ratio"] == 0.5


def test_yes_ratio_is_over_predictions_not_ground_truth() -> None:
    # Ground truth is balanced 50/50, the model always answers yes.
    records = [PopeRecord(i, "random", "Yes", "yes" if i % 2 else "no") for i in range(10)]
    r = score_pope(records)
    # Correct definition: 10 of 10 predictions are yes -> 1.0.
    # The lmms-eval definition (share of gold "yes") would give 0.5 here.
    assert r["yes_ratio"] == 1.0
    assert r["accuracy"] == 0.5


def test_zero_divisions_are_zero() -> None:
    # the model never says yes and there is no gold yes
    r = score_pope([PopeRecord("1", "c", "No", "no")])
    assert (r["accuracy"], r["precision"], r["recall"], r["f1"], r["yes_ratio"]) == (
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
    )
    empty = score_pope([])
    assert (empty["accuracy"], empty["n"], empty["per_category"]) == (0.0, 0, {})


def test_none_prediction_reads_as_empty_answer_yes() -> None:
    r = score_pope([PopeRecord("1", "c", None, "no")])
    assert (r["fp"], r["yes_ratio"]) == (1, 1.0)


def test_bad_records() -> None:
    with pytest.raises(MetricInputError, match=r"record 1 \(id 'x'\): field 'answer'"):
        score_pope([("x", "c", "Yes", "maybe")])
    with pytest.raises(MetricInputError, match="duplicate sample_id"):
        score_pope([("x", "c", "Yes", "yes"), ("x", "c", "Yes", "yes")])
    # gold answers are case-insensitive ("Yes" in the TSVs)
    assert score_pope([("x", "c", "Yes", "Yes")])["tp"] == 1
