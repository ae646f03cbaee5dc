"""Expected scores (`score_by="expected"`): the arithmetic by hand, the runner with a fake
judge whose probabilities are known, the cache, the errors, and a real native judge."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from judge_fakes import UNREADABLE, FakeJudge, image_folder, pair_items, score_items, write_items
from mllmkit.backends.base import ImagePart, Message, Request, TextPart
from mllmkit.data.images import load_image
from mllmkit.judge.expected import (
    decode_logprobs,
    encode_logprobs,
    expected_score,
    score_distribution,
    score_replies,
)
from mllmkit.judge.prompts import read_prompt, render_prompt
from mllmkit.judge.runner import run_judge


def test_expected_score_by_hand() -> None:
    probs = [0.1, 0.2, 0.3, 0.3, 0.1]
    logprobs = [math.log(p) - 7.0 for p in probs]  # any common offset cancels
    assert score_distribution(logprobs) == pytest.approx(probs)
    assert expected_score(logprobs) == pytest.approx(0.1 + 0.4 + 0.9 + 1.2 + 0.5)
    assert expected_score([-math.inf, -math.inf, 0.0, -math.inf, -math.inf]) == 3.0
    with pytest.raises(ValueError, match="need 5"):
        expected_score([0.0, 0.0])
    with pytest.raises(ValueError, match="probability 0"):
        expected_score([-math.inf] * 5)
    with pytest.raises(ValueError, match="finite"):
        expected_score([0.0, math.nan, 0.0, 0.0, 0.0])


def test_logprobs_round_trip_through_the_cache_text() -> None:
    values = [-0.5, -math.inf, -3.25, -1e-9, -40.0]
    assert decode_logprobs(encode_logprobs(values)) == values
    assert decode_logprobs("[1, 2]") is None
    assert decode_logprobs("not json") is None
    assert decode_logprobs('[0, 0, 0, 0, "x"]') is None
    assert decode_logprobs("[0, 0, 0, 0, true]") is None


def test_replies_are_the_verdicts_a_judge_is_trained_to_write() -> None:
    assert score_replies()[3] == '{"Judgement": "[[4]]"}'
    assert len(set(score_replies())) == 5


class LikelihoodJudge(FakeJudge):
    """Gives the perceived score probability 0.6 and 0.1 to each other score; so the
    expected score is 0.6 v + 0.1 (15 - v) = 1.5 + 0.5 v. Unreadable answers get -inf
    everywhere (no verdict possible)."""

    def __init__(self) -> None:
        super().__init__("likelihood")
        self.asked: list[list[str]] = []

    def loglikelihood(self, requests: list[Request], continuations: list[list[str]]):
        self.calls += len(requests)
        self.asked.extend(continuations)
        out = []
        for r in requests:
            answer = read_prompt(r.text()).answers[0]  # type: ignore[union-attr]
            if UNREADABLE in answer:
                out.append([-math.inf] * 5)
                continue
            v = int(answer.split()[-1])
            out.append([math.log(0.6 if s == v else 0.1) for s in range(1, 6)])
        return out


def test_runner_reads_scores_as_expectations(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "data")
    data = write_items(root / "score.jsonl", score_items())
    judge = LikelihoodJudge()
    out = tmp_path / "out"
    m = run_judge(judge, data, "score", out, batch_size=3, progress=False, score_by="expected")
    assert judge.asked == [score_replies()] * 7
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    perceived = [4, 3, 1, 4, 2, 5]
    got = [p["judge"] for p in preds]
    assert got[:6] == pytest.approx([1.5 + 0.5 * v for v in perceived])
    assert got[6] is None and preds[6]["status"] == "unparsed"
    # a linear map of the text verdicts: the same Pearson as reading the text
    text = run_judge(FakeJudge(), data, "score", tmp_path / "text", progress=False)
    assert m["headline"] == pytest.approx(text["headline"])
    assert m["score_by"] == "expected" and text["score_by"] == "text"
    assert json.loads((out / "run.json").read_text())["score_by"] == "expected"
    # resumed from the cache: nothing asked again
    calls = judge.calls
    again = run_judge(judge, data, "score", out, progress=False, score_by="expected")
    assert judge.calls == calls and again["headline"] == m["headline"]
    # decoding settings do not split likelihood entries, nor are they recorded as used
    again = run_judge(
        judge, data, "score", out, progress=False, score_by="expected", max_new_tokens=5
    )
    assert judge.calls == calls and again["headline"] == m["headline"]
    assert json.loads((out / "run.json").read_text())["gen"] is None
    # text verdicts in the same folder are other cache entries, never the log-likelihoods
    fake = FakeJudge("likelihood")  # same fingerprint as `judge`
    as_text = run_judge(fake, data, "score", out, progress=False)
    assert fake.calls == 7 and as_text["headline"] == pytest.approx(text["headline"])


def test_expected_scores_need_score_mode_and_a_loglikelihood(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "data")
    scores = write_items(root / "score.jsonl", score_items())
    pairs = write_items(root / "pair.jsonl", pair_items())
    with pytest.raises(ValueError, match="mode 'score' only"):
        run_judge(LikelihoodJudge(), pairs, "pair", tmp_path / "o", score_by="expected")
    with pytest.raises(ValueError, match="no loglikelihood"):
        run_judge(FakeJudge(), scores, "score", tmp_path / "o", score_by="expected")
    with pytest.raises(ValueError, match="score_by must be one of"):
        run_judge(FakeJudge(), scores, "score", tmp_path / "o", score_by="mean")


def test_native_judge_expected_scores_match_its_loglikelihoods(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from mllmkit.backends.native import NativeBackend
    from test_serve_fixtures import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", ["Rate the answer 1 2 3 4 5"] * 4)
    judge = NativeBackend(ckpt)
    root = image_folder(tmp_path / "data")
    rows = score_items()[:3]
    data = write_items(root / "score.jsonl", rows)
    m = run_judge(judge, data, "score", tmp_path / "out", progress=False, score_by="expected")
    assert m["counts"]["parsed"] == 3
    preds = [
        json.loads(line)
        for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()
    ]
    for row, pred in zip(rows, preds, strict=True):
        prompt = render_prompt("score", row["question"], row["answers"])
        image = load_image(root / row["images"][0])
        req = Request([Message("user", [ImagePart(image), TextPart(prompt)])])
        [logprobs] = judge.loglikelihood([req], [score_replies()])
        assert 1.0 <= pred["judge"] <= 5.0
        assert pred["judge"] == pytest.approx(expected_score(logprobs), abs=1e-6)
