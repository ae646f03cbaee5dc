"""Bias probes: position (answers swapped / reversed) and verbosity (one answer padded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge_fakes import FakeJudge, batch_items, image_folder, item, pair_items, write_items
from mllmkit.judge.asks import Verdict
from mllmkit.judge.data import JudgeItem
from mllmkit.judge.probes import PAD_PREFIX, PAD_SUFFIX, PROBES, pad, resolve_probes
from mllmkit.judge.runner import run_judge


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return image_folder(tmp_path / "data")


def _item(mode: str, answers: tuple[str, ...], human: object) -> JudgeItem:
    return JudgeItem("x", mode, (), "Q?", answers, human)


def test_position_ask_reverses_and_remembers_the_permutation() -> None:
    ask = PROBES["position"].ask(_item("batch", ("a", "b", "c"), ["A", "B", "C"]))
    assert ask is not None
    assert ask.answers == ("c", "b", "a") and ask.perm == (2, 1, 0)
    assert '[A] "c"\n[B] "b"\n[C] "a"' in ask.prompt()


def test_verbosity_pads_the_worse_answer_and_skips_ties() -> None:
    probe = PROBES["verbosity"]
    ask = probe.ask(_item("pair", ("good", "bad"), "A"))
    assert ask is not None and ask.answers == ("good", pad("bad"))
    assert probe.ask(_item("pair", ("x", "y"), "C")) is None
    ask = probe.ask(_item("batch", ("a", "b", "c"), ["C", "A", "B"]))
    assert ask is not None and ask.answers == ("a", pad("b"), "c")  # B is ranked last
    assert pad("red") == f"{PAD_PREFIX}red{PAD_SUFFIX}"


def test_position_consistency_of_an_order_blind_judge_is_one(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    m = run_judge(FakeJudge(), data, "pair", tmp_path / "o", probes="position", progress=False)
    result = m["probes"]["position"]
    assert result["consistency"] == 1.0
    assert result["n"] == 5 and result["n_unparsed"] == 1 and result["n_asked"] == 6
    # non-tie verdicts as shown: A, B, A (+ swapped: B, A, B) -> half name the first slot
    assert result["first_slot_rate"] == 0.5


def test_position_bias_is_caught(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    m = run_judge("baseline:first", data, "pair", tmp_path / "o", probes="position", progress=False)
    assert m["probes"]["position"]["consistency"] == 0.0
    assert m["probes"]["position"]["first_slot_rate"] == 1.0
    batch = write_items(root / "batch.jsonl", batch_items())
    m = run_judge(
        "baseline:first", batch, "batch", tmp_path / "b", probes="position", progress=False
    )
    assert m["probes"]["position"]["consistency"] == 0.0  # reversed order each time
    assert m["probes"]["position"]["levenshtein_norm"] == pytest.approx(2 / 3)


def test_verbosity_bias_of_a_length_loving_judge(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", [item(0, "pair", ["ok", "a bit longer"], "A")])
    m = run_judge(
        "baseline:longer", data, "pair", tmp_path / "p", probes="verbosity", progress=False
    )
    v = m["probes"]["verbosity"]
    assert v["prefers_padded_before"] == 1.0  # "a bit longer" already wins on length
    assert v["prefers_padded_after"] == 1.0 and v["flipped_to_padded"] == 0.0
    rows = [item(0, "score", ["red"], 5), item(1, "score", ["one two three four"], 4)]
    data = write_items(root / "score.jsonl", rows)
    m = run_judge(
        "baseline:longer", data, "score", tmp_path / "s", probes="verbosity", progress=False
    )
    v = m["probes"]["verbosity"]
    assert v["n"] == 2 and v["increased"] == 1.0 and v["mean_delta"] > 0


def test_a_content_judge_ignores_padding(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "pair.jsonl", pair_items())
    m = run_judge(FakeJudge(), data, "pair", tmp_path / "p", probes="verbosity", progress=False)
    v = m["probes"]["verbosity"]
    assert v["n_asked"] == 5  # the tie is skipped
    assert v["flipped_to_padded"] == 0.0
    batch = write_items(root / "batch.jsonl", batch_items())
    m = run_judge(FakeJudge(), batch, "batch", tmp_path / "b", probes="verbosity", progress=False)
    assert m["probes"]["verbosity"]["mean_rank_gain"] == 0.0


def test_probe_summaries_from_verdicts() -> None:
    probe = PROBES["verbosity"]
    it = _item("batch", ("a", "b", "c"), ["A", "B", "C"])  # C is padded
    before = Verdict("ok", original=["A", "B", "C"])
    after = Verdict("ok", original=["C", "A", "B"])
    result = probe.summarise("batch", [(it, before, after)])
    assert result["mean_rank_gain"] == 2.0 and result["moved_up"] == 1.0
    unparsed = Verdict("unparsed", raw="?")
    result = probe.summarise("batch", [(it, before, unparsed)])
    assert result["n"] == 0 and result["n_unparsed"] == 1 and result["mean_rank_gain"] is None


def test_position_does_not_apply_to_scores(root: Path, tmp_path: Path) -> None:
    data = write_items(root / "score.jsonl", [item(0, "score", ["ans 3"], 3)])
    judge = FakeJudge()
    m = run_judge(judge, data, "score", tmp_path / "o", probes="position", progress=False)
    assert "skipped" in m["probes"]["position"]
    assert judge.calls == 1


def test_resolve_probes() -> None:
    assert [p.name for p in resolve_probes("verbosity, position,verbosity")] == [
        "verbosity",
        "position",
    ]
    assert resolve_probes(None) == []
    with pytest.raises(ValueError, match="unknown probe"):
        resolve_probes(["Position"])
