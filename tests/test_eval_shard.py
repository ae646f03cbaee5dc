"""`--shard i/n` + merge gives exactly a single process's predictions and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmkit.eval.merge import MergeError, merge_runs
from mllmkit.eval.runner import evaluate
from mllmkit.eval.shard import Shard
from mllmkit.eval.task import TaskSpec
from test_eval_fixtures import FakeBackend, mcq_tsv, yorn_tsv


def test_shard_parse_and_select() -> None:
    s = Shard.parse("1/3")
    assert (s.index, s.count, str(s)) == (1, 3, "1/3")
    assert s.select(list(range(8))) == [1, 4, 7]
    for bad in ("3/3", "-1/2", "1", "a/b", "1/0"):
        with pytest.raises(ValueError, match="i/n"):
            Shard.parse(bad)


def _tasks(root: Path) -> list[TaskSpec]:
    # one bad row too: shards and merge must count it once, like a single process
    mcq = mcq_tsv(root, n=9)
    with mcq.open("a") as f:
        f.write("99\timages/0.png\tq?\tZ\ta\tb\tc\td\teven\n")
    return [
        TaskSpec(name="mcq-c", loader="tsv", path=str(mcq), format="mcq", circular=True),
        TaskSpec(name="yorn", loader="tsv", path=str(yorn_tsv(root, n=11)), format="yorn"),
    ]


def _files(out: Path) -> tuple[str, dict]:
    metrics = json.loads((out / "metrics.json").read_text())
    return (out / "predictions.jsonl").read_text(), metrics["tasks"]


def test_three_shards_merge_to_the_single_process_result(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    evaluate(FakeBackend(), tasks, tmp_path / "single", batch_size=4, progress=False)
    calls = []
    for i in range(3):
        b = FakeBackend()
        m = evaluate(b, tasks, tmp_path / f"s{i}", batch_size=4, shard=f"{i}/3", progress=False)
        assert m["shard"] == f"{i}/3"
        calls.append(b.calls)
    assert sum(calls) == 9 * 4 + 11  # every sample sent exactly once across shards
    merged = merge_runs([tmp_path / f"s{i}" for i in (2, 0, 1)], tmp_path / "merged")
    assert merged["shard"] is None
    assert _files(tmp_path / "merged") == _files(tmp_path / "single")
    assert merged["tasks"]["mcq-c"]["counts"]["bad_rows"] == 1


def test_merge_refuses_mismatched_or_incomplete_shards(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    for i in range(2):
        evaluate(FakeBackend(), tasks, tmp_path / f"s{i}", shard=f"{i}/2", progress=False)
    with pytest.raises(MergeError, match=r"missing \[1\]"):
        merge_runs([tmp_path / "s0"], tmp_path / "m")
    with pytest.raises(MergeError, match="repeated"):
        merge_runs([tmp_path / "s0", tmp_path / "s0"], tmp_path / "m")
    with pytest.raises(MergeError, match="must be a new folder"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "s0")
    with pytest.raises(MergeError, match=r"no run\.json"):
        merge_runs([tmp_path / "s0", tmp_path], tmp_path / "m")

    class Other(FakeBackend):
        def fingerprint(self) -> str:
            return "other"

    evaluate(Other(), tasks, tmp_path / "o1", shard="1/2", progress=False)
    with pytest.raises(MergeError, match="model_fingerprint"):
        merge_runs([tmp_path / "s0", tmp_path / "o1"], tmp_path / "m")
    evaluate(FakeBackend(), tasks, tmp_path / "whole", progress=False)
    with pytest.raises(MergeError, match="not a shard run"):
        merge_runs([tmp_path / "s0", tmp_path / "whole"], tmp_path / "m")


def test_merge_refuses_changed_data(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    for i in range(2):
        evaluate(FakeBackend(), tasks, tmp_path / f"s{i}", shard=f"{i}/2", progress=False)
    yorn = Path(tasks[1].path)
    yorn.write_text(yorn.read_text().replace("Is the image", "Is this image"))
    with pytest.raises(MergeError, match="changed since the shards ran"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m")
