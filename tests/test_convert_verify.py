"""`compare_with_transformers` on a tiny random native model: both sides agree, and a
broken export would be caught (the report carries the ids it compared)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")

from convert_fixtures import images, make_native
from mllmkit.convert.verify import ItemComparison, VerifyReport, compare_with_transformers


def test_native_and_transformers_answer_identically(tmp_path: Path) -> None:
    native = make_native(tmp_path / "native", qkv_bias=True, tie=False)
    pics = images(3, seed=2)
    questions = ["what colour is the circle?", "how many squares?", "is there a star?"]
    report = compare_with_transformers(
        native, questions, [pics[0], [pics[1], pics[2]], None], max_new_tokens=5
    )
    assert len(report.items) == 3
    assert any(item.ours_ids for item in report.items)
    assert report.n_agree == 3, report.to_dict()
    assert report.agreement == 1.0
    assert report.max_abs_logit_diff < 1e-4
    assert report.summary().startswith("3/3 answers identical")


def test_report_counts_disagreement() -> None:
    report = VerifyReport(
        [
            ItemComparison("q1", "a", "a", [5], [5], 0.0),
            ItemComparison("q2", "a", "b", [5], [6], 0.5),
        ]
    )
    assert (report.n_agree, report.agreement, report.max_abs_logit_diff) == (1, 0.5, 0.5)
    assert report.to_dict()["items"][1]["agree"] is False
