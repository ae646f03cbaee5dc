"""`run_judge` with a deterministic fake judge: agreement by hand, unparsed verdicts
counted, failures reported, and an interrupted run resumed from the cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from judge_fakes import (
    FakeJudge,
    batch_items,
    image_folder,
    item,
    pair_items,
    score_items,
    write_items,
)
from mllmkit.backends.base import Request, Response
from mllmkit.judge.runner import run_judge


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return image_folder(tmp_path / "data")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_pearson_per_source_by_hand(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", score_items())
    m = run_judge(FakeJudge(), data, "score", tmp_path / "out", batch_size=3, progress=False)
    r1 = 6 / math.sqrt(8 * 14 / 3)  # human (5,3,1) vs judge (4,3,1)
    assert m["agreement"]["per_source"]["s1"] == pytest.approx(r1)
    assert m["agreement"]["per_source"]["s2"] == pytest.approx(1.0)
    assert m["headline"] == pytest.approx((r1 + 1) / 2)
    assert m["counts"] == {
        "items": 7,
        "parsed": 6,
        "unparsed": 1,
        "errors": 0,
        "bad_rows": 0,
        "other_mode_rows": 0,
    }
    assert m["agreement"]["by_human_score"]["5"] == {"mean_judge": 4.5, "n": 2}
    preds = _lines(tmp_path / "out" / "predictions.jsonl")
    assert [p["judge"] for p in preds] == [4, 3, 1, 4, 2, 5, None]
    assert preds[-1]["status"] == "unparsed" and "not sure" in preds[-1]["raw"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Pearson r (mean over sources)" in report and "unparsed" in report


def test_pair_accuracy_with_and_without_ties_by_hand(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    m = run_judge(FakeJudge(), data, "pair", tmp_path / "out", progress=False)
    a = m["agreement"]
    # judge: A, B, C, A, C, (unparsed) vs human A, B, C, B, A, A
    assert a["accuracy"] == pytest.approx(3 / 5)
    assert a["accuracy_no_ties"] == pytest.approx(2 / 3)  # items 1, 2, 4
    assert a["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert a["n_unparsed"] == 1 and m["counts"]["unparsed"] == 1
    assert a["confusion"]["B"] == {"A": 1, "B": 1, "C": 0}
    assert m["headline"] == pytest.approx(0.6)


def test_pair_accuracy_per_pair_of_kinds_by_hand(root: Path, tmp_path: Path) -> None:
    """Kinds group pairs whatever their order; the unparsed verdict is dropped from its
    group as from the headline; the report shows the groups."""
    kinds = [
        ["correct", "wrong"],
        ["wrong", "correct"],
        ["verbose", "verbose"],
        ["correct", "verbose"],
        ["verbose", "correct"],
        ["correct", "wrong"],
    ]
    items = [{**it, "kinds": k} for it, k in zip(pair_items(), kinds, strict=True)]
    data = write_items(root / "pair.jsonl", items)
    m = run_judge(FakeJudge(), data, "pair", tmp_path / "out", progress=False)
    # judge: A, B, C, A, C, (unparsed) vs human A, B, C, B, A, A
    assert m["agreement"]["by_kinds"] == {
        "correct|verbose": {"accuracy": 0.0, "n": 2},
        "correct|wrong": {"accuracy": 1.0, "n": 2},
        "verbose|verbose": {"accuracy": 1.0, "n": 1},
    }
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Accuracy by the kinds of the two answers" in report
    assert "| correct vs verbose | 0" in report


def test_batch_normalised_levenshtein_by_hand(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "batch.jsonl", batch_items())
    m = run_judge(FakeJudge(), data, "batch", tmp_path / "out", progress=False)
    # distances 0, lev(ABC, CBA) = 2, 0 over length 3
    assert m["agreement"]["levenshtein_norm"] == pytest.approx(2 / 9)
    assert m["agreement"]["levenshtein_raw"] == pytest.approx(2 / 3)
    assert m["agreement"]["exact"] == pytest.approx(2 / 3)
    assert m["headline"] == pytest.approx(2 / 9)


def test_batch_size_does_not_change_results(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    run_judge(FakeJudge(), data, "pair", tmp_path / "b1", batch_size=1, progress=False)
    run_judge(FakeJudge(), data, "pair", tmp_path / "b4", batch_size=4, progress=False)
    for name in ("predictions.jsonl", "metrics.json"):
        assert (tmp_path / "b1" / name).read_text() == (tmp_path / "b4" / name).read_text()


class DiesAfter(FakeJudge):
    """Answers `n_batches` batches, then the 'process' dies."""

    def __init__(self, n_batches: int) -> None:
        super().__init__()
        self.n_batches = n_batches

    def generate(self, requests: list[Request]) -> list[Response]:
        if self.batches >= self.n_batches:
            raise KeyboardInterrupt  # not an Exception: nothing may swallow it
        return super().generate(requests)


def test_interrupted_run_resumes_without_recomputing(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    out = tmp_path / "out"
    dying = DiesAfter(n_batches=2)
    with pytest.raises(KeyboardInterrupt):
        run_judge(dying, data, "pair", out, batch_size=2, probes="position", progress=False)
    assert dying.calls == 4 and not (out / "metrics.json").exists()

    rerun = FakeJudge()
    m = run_judge(rerun, data, "pair", out, batch_size=2, probes="position", progress=False)
    assert rerun.calls == 12 - 4  # 6 items x (as given + swapped); 4 were answered
    clean = FakeJudge()
    run_judge(
        clean, data, "pair", tmp_path / "clean", batch_size=2, probes="position", progress=False
    )
    assert clean.calls == 12
    for name in ("predictions.jsonl", "metrics.json"):
        assert (out / name).read_text() == (tmp_path / "clean" / name).read_text().replace(
            str(tmp_path / "clean"), str(out)
        )
    assert m["counts"]["errors"] == 0

    again = FakeJudge()
    run_judge(again, data, "pair", out, batch_size=2, probes="position", progress=False)
    assert again.calls == 0  # everything finished: nothing is asked twice

    other_model = FakeJudge(tag="v2")
    run_judge(other_model, data, "pair", out, batch_size=2, probes="position", progress=False)
    assert other_model.calls == 12  # a different judge never reuses answers


class FailsOnSome(FakeJudge):
    """A backend whose requests about 'ans 4' fail (as an HTTP timeout would)."""

    def generate(self, requests: list[Request]) -> list[Response]:
        self.calls += len(requests)
        return [
            Response("", error="timeout") if "ans 4" in r.text() else Response(self.verdict(r))
            for r in requests
        ]


def test_backend_errors_are_counted_then_retried(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", score_items())
    out = tmp_path / "out"
    m = run_judge(FailsOnSome(), data, "score", out, progress=False)
    assert m["counts"]["errors"] == 2 and m["counts"]["parsed"] == 4
    assert any(msg.startswith("error: id=score0: timeout") for msg in m["issues"])
    healthy = FakeJudge()
    m = run_judge(healthy, data, "score", out, progress=False)
    assert healthy.calls == 2 and m["counts"]["errors"] == 0 and m["counts"]["parsed"] == 6


class WrongCount(FakeJudge):
    def generate(self, requests: list[Request]) -> list[Response]:
        return [Response("x")]


def test_backend_breaking_its_contract_fails_only_its_batch(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", score_items())
    m = run_judge(WrongCount(), data, "score", tmp_path / "out", batch_size=3, progress=False)
    assert m["counts"]["errors"] == 6  # two full batches of 3; the last has one request
    assert m["counts"]["unparsed"] == 1


def test_unreadable_image_is_a_bad_row_not_a_crash(root: Path, tmp_path: Path) -> None:
    (root / "images" / "broken.png").write_bytes(b"not a png")
    bad = item(9, "score", ["ans 3"], 3)
    bad["images"] = ["images/broken.png"]
    data = write_items(root / "score.jsonl", [*score_items(), bad])
    m = run_judge(FakeJudge(), data, "score", tmp_path / "out", progress=False)
    assert m["counts"]["bad_rows"] == 1 and m["counts"]["parsed"] == 6
    assert any("broken.png" in msg for msg in m["issues"])


def test_limit_keeps_the_first_items(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", score_items())
    m = run_judge(FakeJudge(), data, "score", tmp_path / "out", limit=3, progress=False)
    assert m["counts"]["items"] == 3
    assert m["agreement"]["per_source"] == {"s1": pytest.approx(6 / math.sqrt(8 * 14 / 3))}


def test_bad_arguments_raise(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", score_items())
    with pytest.raises(ValueError, match="unknown judge mode"):
        run_judge(FakeJudge(), data, "rank", tmp_path / "o")
    with pytest.raises(ValueError, match="unknown probe"):
        run_judge(FakeJudge(), data, "score", tmp_path / "o", probes="length")
    with pytest.raises(ValueError, match="batch_size"):
        run_judge(FakeJudge(), data, "score", tmp_path / "o", batch_size=0)


class ConstrainingJudge(FakeJudge):
    """A fake judge that says it applies decoding constraints and records what it was asked."""

    supports_constraints = True

    def __init__(self) -> None:
        super().__init__()
        self.constraints: set[str | None] = set()

    def generate(self, requests: list[Request]) -> list[Response]:
        self.constraints |= {r.gen.constraint for r in requests}
        return super().generate(requests)


@pytest.mark.parametrize(
    ("mode", "judge", "constrain", "expected"),
    [
        ("batch", ConstrainingJudge, True, "distinct_ranking_letters"),
        ("batch", ConstrainingJudge, False, None),
        ("pair", ConstrainingJudge, True, None),
        ("batch", FakeJudge, True, None),  # cannot constrain: asked without one
    ],
)
def test_batch_rankings_are_decoded_under_the_modes_constraint(
    root: Path, tmp_path: Path, mode: str, judge: type, constrain: bool, expected: str | None
) -> None:
    items = {"batch": batch_items, "pair": pair_items}[mode]()
    data = write_items(root / f"{mode}.jsonl", items)
    backend = judge()
    out = tmp_path / "out"
    m = run_judge(backend, data, mode, out, progress=False, constrain=constrain)
    if isinstance(backend, ConstrainingJudge):
        assert backend.constraints == {expected}
    assert m["gen"].get("constraint") == expected
    assert json.loads((out / "run.json").read_text())["gen"].get("constraint") == expected
