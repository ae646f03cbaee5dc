"""MME scoring: acc, acc+, score per subtask and group totals, golden values by hand."""

from __future__ import annotations

import pytest

from mllmkit.eval.metrics.mme import (
    MME_COGNITION,
    MME_PERCEPTION,
    MME_SUBTASK_GROUPS,
    MMERecord,
    score_mme,
)
from mllmkit.eval.metrics.records import MetricInputError


def test_default_groups_are_mme() -> None:
    assert len(MME_PERCEPTION) == 10 and len(MME_COGNITION) == 4
    assert MME_SUBTASK_GROUPS["OCR"] == "perception"
    assert MME_SUBTASK_GROUPS["code_reasoning"] == "cognition"
    assert set(MME_SUBTASK_GROUPS.values()) == {"perception", "cognition"}


def test_score_mme_golden() -> None:
    records = [
        # existence: img1 both right; img2 one wrong
        MMERecord("img1", "existence", "Yes", "Yes"),
        MMERecord("img1", "existence", "No, there is none.", "No"),
        MMERecord("img2", "existence", "No.", "Yes"),
        MMERecord("img2", "existence", "no", "No"),
        # count: img3 one right, one unknown (counts wrong)
        ("img3", "count", "Yes", "Yes"),
        ("img3", "count", "maybe", "No"),
        # code_reasoning: the same image id as above, but another subtask -> another image
        MMERecord("img1", "code_reasoning", "yes", "Yes"),
        MMERecord("img1", "code_reasoning", "yes", "No"),
    ]
    result = score_mme(records)
    existence = result["per_subtask"]["existence"]
    # acc = 3 right / 4 = 75 %; acc+ = 1 image of 2 = 50 %; score = 125
    assert existence["acc"] == 75.0
    assert existence["acc_plus"] == 50.0
    assert existence["score"] == 125.0
    assert (existence["n_questions"], existence["n_images"]) == (4, 2)
    # count: acc = 1/2 = 50 %, acc+ = 0/1 = 0 %, score 50, one unknown
    count = result["per_subtask"]["count"]
    assert (count["acc"], count["acc_plus"], count["score"], count["unknown"]) == (50, 0, 50, 1)
    # code_reasoning: acc 1/2 = 50, acc+ 0 -> 50
    assert result["per_subtask"]["code_reasoning"]["score"] == 50.0
    # perception = 125 + 50 = 175; cognition = 50
    assert result["per_group"] == {"cognition": 50.0, "perception": 175.0}
    assert len(result["missing_subtasks"]["perception"]) == 8
    assert "OCR" in result["missing_subtasks"]["perception"]
    assert result["missing_subtasks"]["cognition"] == [
        "commonsense_reasoning",
        "numerical_calculation",
        "text_translation",
    ]
    assert (result["n"], result["unknown"]) == (8, 1)


def test_always_yes_gets_half_acc_and_no_acc_plus() -> None:
    records = []
    for i in range(5):
        records.append(MMERecord(f"i{i}", "scene", "Yes", "Yes"))
        records.append(MMERecord(f"i{i}", "scene", "Yes", "No"))
    scene = score_mme(records)["per_subtask"]["scene"]
    # 5 of 10 right = 50 %; no image has both right = 0 %
    assert (scene["acc"], scene["acc_plus"], scene["score"]) == (50.0, 0.0, 50.0)


def test_perfect_score_is_200_per_subtask() -> None:
    records = [MMERecord("a", s, "Yes", "Yes") for s in MME_PERCEPTION] + [
        MMERecord("a", s, "no", "No") for s in MME_PERCEPTION
    ]
    assert score_mme(records)["per_group"]["perception"] == 2000.0


def test_none_prediction_is_unknown_and_wrong() -> None:
    result = score_mme([MMERecord("a", "color", None, "Yes")])
    assert result["per_subtask"]["color"]["acc"] == 0.0
    assert result["unknown"] == 1


def test_custom_groups_for_the_world_benchmark() -> None:
    groups = {"color": "world", "shape": "world", "text": "reading"}
    records = [
        MMERecord("s1", "color", "Yes", "Yes"),  # color: 100 + 100
        MMERecord("s1", "shape", "Yes", "No"),  # shape: 0 + 0
    ]
    result = score_mme(records, groups=groups)
    assert result["per_group"] == {"reading": 0.0, "world": 200.0}
    assert result["missing_subtasks"] == {"reading": ["text"], "world": []}
    with pytest.raises(MetricInputError, match=r"record 1 \(id 's1'\): subtask 'count'"):
        score_mme([MMERecord("s1", "count", "Yes", "Yes")], groups=groups)


def test_empty_and_bad_answers() -> None:
    result = score_mme([])
    assert result["per_subtask"] == {}
    assert result["per_group"] == {"cognition": 0.0, "perception": 0.0}
    with pytest.raises(MetricInputError, match="'answer' must be Yes or No"):
        score_mme([("a", "color", "Yes", "Maybe")])
    with pytest.raises(MetricInputError, match="'subtask'"):
        score_mme([("a", None, "Yes", "Yes")])
