"""Recombine the output folders of `--shard i/n` runs into one result.

The merged folder gets the union of the shards' caches and is then scored by exactly the
code a single process uses (`runner.collect_task` over the full sample list), so its
metrics equal a single-process run's. Merging refuses folders that do not belong together
(different model, tasks, limit or shard count, a missing shard) and data files changed
since the shards ran, because either would silently mix results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mllmkit.eval.atomic import atomic_write_text
from mllmkit.eval.cache import ResponseCache, read_entries
from mllmkit.eval.runner import (
    LoadedTask,
    TaskResult,
    collect_results,
    load_for_run,
    run_info,
)
from mllmkit.eval.task import TaskSpec


class MergeError(ValueError):
    """The given folders cannot be merged; the message says which and why."""


def _read_run(d: Path) -> dict[str, Any]:
    path = d / "run.json"
    if not path.is_file():
        raise MergeError(f"{d}: no run.json (is this an evaluation output folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MergeError(f"{path}: not valid JSON ({exc.msg})") from None


def _check_compatible(dirs: list[Path], runs: list[dict[str, Any]]) -> None:
    first = runs[0]
    for d, run in zip(dirs[1:], runs[1:], strict=True):
        for field in ("model_fingerprint", "limit", "tasks"):
            if run.get(field) != first.get(field):
                raise MergeError(f"{d} and {dirs[0]} differ in {field!r}; they are not one run")
    shards = [run.get("shard") for run in runs]
    if any(s is None for s in shards):
        unsharded = [str(d) for d, s in zip(dirs, shards, strict=True) if s is None]
        raise MergeError(f"not a shard run (no --shard): {', '.join(unsharded)}")
    counts = {int(s.split("/")[1]) for s in shards}
    if len(counts) != 1:
        raise MergeError(f"shards come from different splits: {sorted(set(shards))}")
    n = counts.pop()
    indices = sorted(int(s.split("/")[0]) for s in shards)
    if indices != list(range(n)):
        missing = sorted(set(range(n)) - set(indices))
        dup = sorted({i for i in indices if indices.count(i) > 1})
        raise MergeError(f"need shards 0..{n - 1} once each; missing {missing}, repeated {dup}")


def merge_runs(dirs: list[str | Path], out: str | Path) -> dict[str, Any]:
    """Merge shard folders into `out` (which must not be one of them); returns the metrics."""
    from mllmkit.eval.report import write_outputs

    paths = [Path(d) for d in dirs]
    out = Path(out)
    if not paths:
        raise MergeError("no folder to merge")
    if any(p.resolve() == out.resolve() for p in paths):
        raise MergeError(f"--out {out} must be a new folder, not one of the shards")
    runs = [_read_run(d) for d in paths]
    _check_compatible(paths, runs)
    first = runs[0]
    model_fp = first["model_fingerprint"]
    limit = first.get("limit")

    loaded: list[LoadedTask | TaskResult] = []
    for task in first["tasks"]:
        spec = TaskSpec.from_dict(task["spec"], source=f"{paths[0] / 'run.json'}")
        item = load_for_run(spec, limit, None)
        if (
            isinstance(item, LoadedTask)
            and task["fingerprint"] is not None
            and item.fingerprint != task["fingerprint"]
        ):
            raise MergeError(
                f"task {spec.name!r}: {spec.path} or its declaration changed since the shards "
                "ran; rerun them"
            )
        loaded.append(item)

    out.mkdir(parents=True, exist_ok=True)
    info = run_info(first["model"], model_fp, loaded, limit, None)
    info["merged_from"] = [str(p) for p in paths]
    atomic_write_text(out / "run.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    with ResponseCache(out / "cache.jsonl") as cache:
        for d in paths:
            entries, _, _ = read_entries(d / "cache.jsonl")
            cache.append([e for e in entries if not cache.is_finished(e.key)])
        results = collect_results(loaded, cache, model_fp)
    return write_outputs(out, results, info)
