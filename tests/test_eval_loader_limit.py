"""`limit` reaches the loaders: they stop reading at the first `limit` good rows, report the
bad rows met before then, and never parse what lies beyond (a bad row there is not seen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mllmkit.eval.loaders import LOADERS
from mllmkit.eval.samples import load_task
from mllmkit.eval.task import TaskSpec
from test_eval_fixtures import write_image, write_jsonl, write_tsv

TSV_HEADER = ["index", "image_path", "question", "answer", "category"]


def _tsv(root: Path, bad_at: set[int]) -> Path:
    write_image(root / "a.png", "red")
    rows = []
    for i in range(10):
        # An empty question is a bad row (named by line); others are good yes/no rows.
        question = "" if i in bad_at else f"Is it red ({i})?"
        rows.append([str(i), "a.png", question, "Yes", "c"])
    return write_tsv(root / "t.tsv", TSV_HEADER, rows)


def _jsonl(root: Path, bad_at: set[int], keys: tuple[str, str, str]) -> Path:
    write_image(root / "a.png", "red")
    id_key, q_key, a_key = keys
    rows: list[dict | str] = []
    for i in range(10):
        if i in bad_at:
            rows.append("{not json")
            continue
        row = {id_key: str(i), "image": "a.png", a_key: "yes"}
        if q_key:
            row[q_key] = f"Is it red ({i})?"
        rows.append(row)
    return write_jsonl(root / "t.jsonl", rows)


CASES = {
    "tsv": ("yorn", lambda root, bad: _tsv(root, bad)),
    "mme_tsv": ("yorn", lambda root, bad: _tsv(root, bad)),
    "jsonl": ("yorn", lambda root, bad: _jsonl(root, bad, ("id", "question", "answer"))),
    "pope_jsonl": ("yorn", lambda root, bad: _jsonl(root, bad, ("question_id", "text", "label"))),
    "world_captions": ("caption", lambda root, bad: _jsonl(root, bad, ("id", "", "caption"))),
}


@pytest.mark.parametrize("loader", list(CASES))
def test_loader_stops_at_limit_good_rows(tmp_path: Path, loader: str) -> None:
    fmt, write = CASES[loader]
    path = write(tmp_path, {2, 7})
    spec = TaskSpec(name="t", loader=loader, path=str(path), format=fmt)

    first = LOADERS[loader](spec, 4)  # rows 0, 1, 3, 4: the bad row 2 is met, 7 is not
    assert [item.id for item in first.items] == ["0", "1", "3", "4"]
    line = 4 if loader.endswith("tsv") else 3  # row 2, after the TSV's header line
    assert len(first.bad_rows) == 1 and f"t.{path.suffix[1:]}:{line}" in first.bad_rows[0]

    everything = LOADERS[loader](spec, None)
    assert len(everything.items) == 8 and len(everything.bad_rows) == 2


def test_load_task_passes_the_limit_to_the_loader(tmp_path: Path) -> None:
    spec = TaskSpec(name="t", loader="tsv", path=str(_tsv(tmp_path, {9})), format="yorn")
    limited = load_task(spec, limit=3)
    assert [s.id for s in limited.samples] == ["0", "1", "2"]
    assert limited.bad_rows == []  # the bad last row was never parsed
    assert len(load_task(spec).bad_rows) == 1


def test_path_tsv_is_not_read_past_the_limit(tmp_path: Path) -> None:
    path = _tsv(tmp_path, set())
    with path.open("ab") as fh:  # far past the first rows (text is decoded in chunks) ...
        fh.writelines(f"{i}\ta.png\tIs it red ({i})?\tYes\tc\n".encode() for i in range(10, 2000))
        fh.write(b"2000\ta.png\tbroken \xff\xfe bytes\tYes\tc\n")  # ... a non-UTF-8 row
    spec = TaskSpec(name="t", loader="tsv", path=str(path), format="yorn")
    assert len(LOADERS["tsv"](spec, 3).items) == 3
    with pytest.raises(Exception, match="not UTF-8"):
        LOADERS["tsv"](spec, None)
