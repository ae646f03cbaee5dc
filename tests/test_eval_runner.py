"""The runner: batch-size independence, resume from the cache, bad input, report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mllmkit.backends import Request, Response
from mllmkit.eval.cache import CacheEntry, CacheLockedError, ResponseCache
from mllmkit.eval.runner import evaluate
from mllmkit.eval.task import TaskSpec
from test_eval_fixtures import FakeBackend, mcq_tsv, vqa_tsv, write_image, write_tsv, yorn_tsv


def _tasks(root: Path) -> list[TaskSpec]:
    return [
        TaskSpec(name="mcq", loader="tsv", path=str(mcq_tsv(root, n=10)), format="mcq"),
        TaskSpec(
            name="mcq-c",
            loader="tsv",
            path=str(mcq_tsv(root, n=6, name="mcq6.tsv")),
            format="mcq",
            circular=True,
        ),
        TaskSpec(
            name="pope", loader="tsv", path=str(yorn_tsv(root)), format="yorn", yes_no_rule="pope"
        ),
        TaskSpec(name="vqa", loader="tsv", path=str(vqa_tsv(root)), format="vqa"),
    ]


def _read(out: Path) -> tuple[list[dict], dict]:
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return preds, json.loads((out / "metrics.json").read_text())


def test_scores_do_not_depend_on_batch_size(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    b1, b8 = FakeBackend(), FakeBackend()
    m1 = evaluate(b1, tasks, tmp_path / "b1", batch_size=1, progress=False)
    m8 = evaluate(b8, tasks, tmp_path / "b8", batch_size=8, progress=False)
    assert set(b1.batches) == {1} and max(b8.batches) == 8  # batching really differed
    assert m1 == m8
    p1, _ = _read(tmp_path / "b1")
    p8, _ = _read(tmp_path / "b8")
    assert p1 == p8 and len(p1) == 10 + 24 + 12 + 8
    # the fake is right on most, wrong on some: the numbers are not trivially 0 or 1
    acc = m1["tasks"]["mcq"]["metrics"]["mcq"]["overall"]["accuracy"]
    assert 0.0 < acc < 1.0


def test_golden_counts_for_mcq_extraction(tmp_path: Path) -> None:
    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=4)), format="mcq")
    # gold letters are A, D, C, B (see the fixture)
    answers = {"0": "A", "1": "The answer is (B)", "2": "", "3": "E"}  # E: not an option
    m = evaluate(FakeBackend(answers=answers), [spec], tmp_path / "o", progress=False)
    task = m["tasks"]["m"]
    # right: id 0 only -> 1/4; unmatched (no letter read): ids 2 (empty) and 3 -> 2
    assert task["metrics"]["mcq"]["overall"]["accuracy"] == pytest.approx(1 / 4)
    assert task["metrics"]["mcq"]["overall"]["unmatched"] == 2
    assert task["counts"] == {
        "n": 4,
        "scored": 4,
        "bad_rows": 0,
        "errors": 0,
        "missing": 0,
        "unmatched": 1,
        "empty": 1,
    }
    preds, _ = _read(tmp_path / "o")
    assert [(p["extracted"], p["status"]) for p in preds] == [
        ("A", "ok"),
        ("B", "ok"),
        (None, "empty"),
        (None, "unmatched"),
    ]
    assert preds[1]["raw"] == "The answer is (B)" and preds[1]["gold"] == "D"
    assert preds[1]["correct"] is False and preds[0]["correct"] is True


def test_rerun_reuses_cache_and_changed_model_does_not(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    first = FakeBackend()
    m_first = evaluate(first, tasks, tmp_path / "o", batch_size=4, progress=False)
    again = FakeBackend()
    assert evaluate(again, tasks, tmp_path / "o", batch_size=4, progress=False) == m_first
    assert first.calls == 54 and again.calls == 0

    class OtherModel(FakeBackend):
        def fingerprint(self) -> str:
            return "another-model"

    other = OtherModel()
    evaluate(other, tasks, tmp_path / "o", batch_size=4, progress=False)
    assert other.calls == 54


class _Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing in the runner swallows it."""


class CrashingBackend(FakeBackend):
    def __init__(self, crash_after_batches: int) -> None:
        super().__init__()
        self.crash_after = crash_after_batches

    def generate(self, requests: list[Request]) -> list[Response]:
        if len(self.batches) == self.crash_after:
            raise _Crash()
        return super().generate(requests)


def test_interrupted_run_resumes_to_identical_metrics(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    reference = evaluate(FakeBackend(), tasks, tmp_path / "ref", batch_size=4, progress=False)
    crashing = CrashingBackend(crash_after_batches=5)
    with pytest.raises(_Crash):
        evaluate(crashing, tasks, tmp_path / "o", batch_size=4, progress=False)
    assert crashing.batches == [4, 4, 2, 4, 4]  # mcq (10) in 3 batches, then 2 of mcq-c
    rest = FakeBackend()
    resumed = evaluate(rest, tasks, tmp_path / "o", batch_size=4, progress=False)
    assert rest.calls == 54 - 18
    assert resumed == reference
    assert _read(tmp_path / "o")[0] == _read(tmp_path / "ref")[0]


def test_torn_last_line_is_ignored_and_cut(tmp_path: Path) -> None:
    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=6)), format="mcq")
    ref = evaluate(FakeBackend(), [spec], tmp_path / "o", progress=False)
    cache = tmp_path / "o" / "cache.jsonl"
    lines = cache.read_text().splitlines(keepends=True)
    cache.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn write
    again = FakeBackend()
    assert evaluate(again, [spec], tmp_path / "o", progress=False) == ref
    assert again.calls == 1  # only the torn sample was redone
    for line in cache.read_text().splitlines():
        json.loads(line)  # the log is clean JSONL again


def test_missing_image_is_a_bad_row_and_the_run_goes_on(tmp_path: Path) -> None:
    path = mcq_tsv(tmp_path, n=4)
    (tmp_path / "images" / "2.png").unlink()
    spec = TaskSpec(name="m", loader="tsv", path=str(path), format="mcq")
    backend = FakeBackend()
    m = evaluate(backend, [spec], tmp_path / "o", progress=False)
    task = m["tasks"]["m"]
    assert backend.calls == 3
    assert task["counts"]["bad_rows"] == 1 and task["counts"]["scored"] == 3
    assert task["metrics"]["mcq"]["overall"]["n"] == 3
    assert any("2.png" in msg and "(id=2)" in msg for msg in task["issues"])
    preds, _ = _read(tmp_path / "o")
    assert preds[2]["status"] == "bad_row" and "2.png" in preds[2]["error"]
    # the image comes back: the next run sends just that sample
    write_image(tmp_path / "images" / "2.png", "blue")
    again = FakeBackend()
    m2 = evaluate(again, [spec], tmp_path / "o", progress=False)
    assert again.calls == 1 and m2["tasks"]["m"]["counts"]["bad_rows"] == 0


def test_malformed_rows_are_counted_and_named(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", "red")
    header = ["index", "image_path", "question", "answer", "A", "B"]
    rows = [
        ["1", "a.png", "q?", "A", "red", "blue"],
        ["2", "a.png"],
        ["3", "a.png", "q?", "Z", "x", "y"],
    ]
    path = write_tsv(tmp_path / "t.tsv", header, rows)
    spec = TaskSpec(name="m", loader="tsv", path=str(path), format="mcq")
    m = evaluate(FakeBackend(), [spec], tmp_path / "o", progress=False)
    task = m["tasks"]["m"]
    assert task["counts"]["bad_rows"] == 2 and task["counts"]["n"] == 1
    assert any(f"{path}:3" in msg for msg in task["issues"])
    assert any(f"{path}:4 (id=3): field 'answer'" in msg for msg in task["issues"])
    report = (tmp_path / "o" / "report.md").read_text()
    assert "### Issues" in report and f"{path}:3" in report


def test_backend_errors_are_counted_and_retried_next_run(tmp_path: Path) -> None:
    spec = TaskSpec(
        name="p", loader="tsv", path=str(yorn_tsv(tmp_path, n=6)), format="yorn"
    )  # MME rule: a failed request is wrong
    failing = FakeBackend(fail_ids={"1", "4"})
    m = evaluate(failing, [spec], tmp_path / "o", progress=False)
    task = m["tasks"]["p"]
    assert task["counts"]["errors"] == 2 and task["counts"]["scored"] == 6
    assert sum("simulated failure" in msg for msg in task["issues"]) == 2
    preds, _ = _read(tmp_path / "o")
    assert preds[1]["status"] == "error" and preds[1]["correct"] is False
    healthy = FakeBackend()
    m2 = evaluate(healthy, [spec], tmp_path / "o", progress=False)
    assert healthy.calls == 2 and m2["tasks"]["p"]["counts"]["errors"] == 0
    assert m2 == evaluate(FakeBackend(), [spec], tmp_path / "fresh", progress=False)


class RaisingBackend(FakeBackend):
    """Breaks the protocol: raises for one batch, returns too few responses for another."""

    def generate(self, requests: list[Request]) -> list[Response]:
        ids = {r.sample_id for r in requests}
        if "0" in ids:
            raise RuntimeError("CUDA on fire")
        if "2" in ids:
            return super().generate(requests)[:-1]
        return super().generate(requests)


def test_backend_exceptions_fail_only_their_batch(tmp_path: Path) -> None:
    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=6)), format="mcq")
    m = evaluate(RaisingBackend(), [spec], tmp_path / "o", batch_size=2, progress=False)
    counts = m["tasks"]["m"]["counts"]
    assert counts["errors"] == 4 and counts["n"] == 6
    preds, _ = _read(tmp_path / "o")
    assert "CUDA on fire" in preds[0]["error"]
    assert "returned 1 responses for 2" in preds[2]["error"]
    assert [p["status"] for p in preds[4:]] == ["ok", "ok"]


def test_a_broken_task_does_not_stop_the_others(tmp_path: Path) -> None:
    good = TaskSpec(name="good", loader="tsv", path=str(mcq_tsv(tmp_path, n=3)), format="mcq")
    broken = TaskSpec(name="broken", loader="tsv", path=str(tmp_path / "nope.tsv"), format="mcq")
    header_only = tmp_path / "h.tsv"
    header_only.write_text("index\tquestion\n")  # no answer / image column
    bad_header = TaskSpec(name="hdr", loader="tsv", path=str(header_only), format="mcq")
    m = evaluate(FakeBackend(), [broken, bad_header, good], tmp_path / "o", progress=False)
    assert "does not exist" in m["tasks"]["broken"]["error"]
    assert "header lacks" in m["tasks"]["hdr"]["error"]
    assert m["tasks"]["good"]["counts"]["n"] == 3
    assert "**Task failed:**" in (tmp_path / "o" / "report.md").read_text()


def test_output_files(tmp_path: Path) -> None:
    out = tmp_path / "o"
    evaluate(FakeBackend(), _tasks(tmp_path), out, progress=False)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "cache.jsonl",
        "chart_mcq-c.png",
        "chart_mcq.png",
        "chart_pope.png",
        "chart_vqa.png",
        "metrics.json",
        "predictions.jsonl",
        "report.md",
        "run.json",
    ]  # and no temp files left behind
    assert (out / "chart_mcq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    preds, metrics = _read(out)
    assert set(preds[0]) >= {
        "task", "id", "question", "raw", "extracted", "gold", "correct", "category", "error"
    }  # fmt: skip
    assert preds[10]["question_id"] == "0" and preds[10]["rotation"] == 0
    pope = metrics["tasks"]["pope"]["metrics"]["pope"]
    assert set(pope["overall"]) >= {"accuracy", "precision", "recall", "f1", "yes_ratio"}
    assert set(metrics["tasks"]["mcq"]["metrics"]["mcq"]["per_category"]) == {"even", "odd"}
    report = (out / "report.md").read_text()
    assert "| mcq-c | circular/circular_accuracy |" in report
    assert "| category | accuracy | n | correct | unmatched |" in report
    run = json.loads((out / "run.json").read_text())
    assert run["model_fingerprint"] == "fake-backend-v1" and len(run["tasks"]) == 4


def test_limit_and_max_new_tokens(tmp_path: Path) -> None:
    seen: list[int] = []

    class Spy(FakeBackend):
        def generate(self, requests: list[Request]) -> list[Response]:
            seen.extend(r.max_new_tokens for r in requests)
            return super().generate(requests)

    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=10)), format="mcq")
    m = evaluate(Spy(), [spec], tmp_path / "o", limit=3, max_new_tokens=5, progress=False)
    assert m["tasks"]["m"]["counts"]["n"] == 3 and seen == [5, 5, 5]


def test_cache_entry_precedence_and_single_writer(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    with ResponseCache(path) as cache:
        cache.append([CacheEntry("k", "t", "1", "error", error="boom")])
        cache.append([CacheEntry("k", "t", "1", "ok", text="A")])
        cache.append([CacheEntry("k", "t", "1", "error", error="later failure")])
        with pytest.raises(CacheLockedError, match="another evaluation"):
            ResponseCache(path).open()
    reloaded = ResponseCache(path)
    entry = reloaded.get("k")
    assert entry is not None and entry.finished and entry.text == "A"


def test_second_run_on_a_busy_folder_is_refused(tmp_path: Path) -> None:
    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=2)), format="mcq")
    (tmp_path / "o").mkdir()
    with ResponseCache(tmp_path / "o" / "cache.jsonl"), pytest.raises(CacheLockedError):
        evaluate(FakeBackend(), [spec], tmp_path / "o", progress=False)
    assert not (tmp_path / "o" / "run.json").exists()  # the running evaluation's record stays


def test_progress_bar_path_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mllmkit.eval.progress import Progress

    assert Progress(5).enabled is False  # stderr is not a terminal under pytest
    spec = TaskSpec(name="m", loader="tsv", path=str(mcq_tsv(tmp_path, n=3)), format="mcq")
    evaluate(FakeBackend(), [spec], tmp_path / "o", batch_size=2, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_cache_flushes_every_batch_and_fsyncs_at_most_once_per_interval(tmp_path: Path) -> None:
    lines = [CacheEntry(f"k{i}", "t", str(i), "ok", text="a") for i in range(3)]
    cache = ResponseCache(tmp_path / "cache.jsonl", fsync_every_s=3600).open()
    for e in lines:
        cache.append([e])
        # flushed: another reader (a rerun after kill -9) sees every batch at once
        assert len(ResponseCache(tmp_path / "cache.jsonl")) == int(e.id) + 1
    assert cache.syncs == 0
    cache.close()
    assert cache.syncs == 1  # closing makes everything durable
    eager = ResponseCache(tmp_path / "eager.jsonl", fsync_every_s=0).open()
    for e in lines:
        eager.append([e])
    eager.close()
    assert eager.syncs == 4
