"""Pointwise judging (pair and batch verdicts from one score per answer) and scores asked
with the judge's own answer first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge_fakes import FakeJudge, batch_items, image_folder, item, pair_items, write_items
from mllmkit.judge.asks import Ask, Verdict, plain_ask
from mllmkit.judge.data import read_judge_file
from mllmkit.judge.pointwise import fold, score_asks, verdict_from_scores
from mllmkit.judge.runner import run_judge


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return image_folder(tmp_path / "data")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_verdicts_from_scores() -> None:
    assert verdict_from_scores("pair", [5, 3]) == "A"
    assert verdict_from_scores("pair", [2, 4]) == "B"
    assert verdict_from_scores("pair", [3, 3]) == "C"
    # best first; equal scores keep the order shown
    assert verdict_from_scores("batch", [3, 5, 3, 1]) == ["B", "A", "C", "D"]
    with pytest.raises(ValueError, match="2 scores"):
        verdict_from_scores("pair", [1, 2, 3])
    with pytest.raises(ValueError, match="pointwise"):
        verdict_from_scores("score", [1])


def _pair_ask(root: Path, perm: tuple[int, int] = (0, 1)) -> Ask:
    path = write_items(root / "p.jsonl", [item(0, "pair", ["ans 5", "ans 1"], "A")])
    it = read_judge_file(path, "pair").items[0]
    ask = plain_ask(it)
    return Ask(it, "position", tuple(ask.answers[j] for j in perm), perm)


def test_fold_maps_back_and_never_guesses(root: Path) -> None:
    ask = _pair_ask(root, (1, 0))  # shown: "ans 1", "ans 5"
    subs = score_asks(ask)
    assert [s.answers for s in subs] == [("ans 1",), ("ans 5",)]
    assert [s.prompt_mode for s in subs] == ["score", "score"]
    ok = fold(ask, [Verdict("ok", 1, 1, raw="x"), Verdict("ok", 5, 5, raw="y")])
    assert (ok.status, ok.shown, ok.original, ok.raw) == ("ok", "B", "A", "x | y")
    bad = fold(ask, [Verdict("ok", 1, 1), Verdict("unparsed", raw="hm")])
    assert bad.status == "unparsed" and bad.original is None
    err = fold(ask, [Verdict("error", error="down"), Verdict("unparsed")])
    assert err.status == "error" and err.error == "down"
    # the same answer text asks the same prompt whatever the probe: one cache id
    plain = score_asks(plain_ask(ask.item))
    assert {s.cache_id for s in plain} == {s.cache_id for s in subs}


def test_pointwise_pair_agrees_with_scores_and_is_order_free(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    judge = FakeJudge()
    m = run_judge(
        judge, data, "pair", tmp_path / "out", probes="position", pointwise=True, progress=False
    )
    # scores 5/1, 2/4, 3/3, 4/2, 1/1 -> A, B, C, A, C vs human A, B, C, B, A; one unreadable
    assert m["agreement"]["accuracy"] == pytest.approx(3 / 5)
    assert m["counts"]["unparsed"] == 1
    assert set(judge.modes) == {"score"}
    # 6 items x 2 answers, less the two items whose answers are the same text (one score
    # each); the swapped probe reuses every score
    assert judge.calls == 10
    assert m["probes"]["position"]["consistency"] == pytest.approx(1.0)
    preds = _lines(tmp_path / "out" / "predictions.jsonl")
    assert [p["judge"] for p in preds] == ["A", "B", "C", "A", "C", None]
    assert preds[0]["raw"].count("Judgement") == 2  # both score replies kept
    again = FakeJudge()  # a rerun answers from the cache
    run_judge(
        again, data, "pair", tmp_path / "out", probes="position", pointwise=True, progress=False
    )
    assert again.calls == 0


def test_pointwise_batch_ranks_by_score(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "batch.jsonl", batch_items())
    direct = run_judge(FakeJudge(), data, "batch", tmp_path / "d", progress=False)
    judge = FakeJudge()
    m = run_judge(judge, data, "batch", tmp_path / "p", pointwise=True, progress=False)
    assert judge.calls == 9 and set(judge.modes) == {"score"}
    assert m["agreement"] == direct["agreement"]
    assert m["pointwise"] is True and direct["pointwise"] is False


def test_answer_first_scores(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    judge = FakeJudge()
    m = run_judge(
        judge, data, "pair", tmp_path / "af", pointwise=True, answer_first=True, progress=False
    )
    assert set(judge.modes) == {"score+answer_first"}
    assert m["agreement"]["accuracy"] == pytest.approx(3 / 5)
    preds = _lines(tmp_path / "af" / "predictions.jsonl")
    assert '"Answer": "mine"' in preds[0]["raw"]
    # a different template: not answered from the plain pointwise run's cache
    run_judge(FakeJudge(), data, "pair", tmp_path / "af2", pointwise=True, progress=False)
    assert (
        _lines(tmp_path / "af2" / "cache.jsonl")[0]["key"]
        != _lines(tmp_path / "af" / "cache.jsonl")[0]["key"]
    )


def test_bad_combinations_raise(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    with pytest.raises(ValueError, match="pointwise judging applies"):
        run_judge(FakeJudge(), data, "score", tmp_path / "o", pointwise=True)
    with pytest.raises(ValueError, match="answer_first applies"):
        run_judge(FakeJudge(), data, "pair", tmp_path / "o", answer_first=True)
    with pytest.raises(ValueError, match="expected scores"):
        run_judge(
            FakeJudge(), data, "score", tmp_path / "o", answer_first=True, score_by="expected"
        )
