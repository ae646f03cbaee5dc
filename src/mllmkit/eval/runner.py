"""The evaluation runner: tasks × model → cached answers → predictions, metrics, report.

Guarantees:

- **Scores do not depend on batch size**: batching only groups requests; every sample's
  answer is looked up by its own cache key and scored alone, in the task's row order.
- **A crash never loses finished work**: answers are appended to `cache.jsonl` and
  flushed after every batch (fsync'd at most once a second and on close, see `cache.py`);
  rerunning the same command sends only unfinished samples and ends with the same metrics
  as an uninterrupted run.
- **Bad input never aborts a long run**: unreadable rows, missing images, backend errors
  and unreadable answers are counted (`bad_rows`, `errors`, `unmatched`, `empty`),
  named in `metrics.json` / `report.md`, and the run goes on. A task whose file cannot be
  read at all is reported as failed while the other tasks run.

Output folder: `run.json` (what was run: model fingerprint, task declarations, limit,
shard), `cache.jsonl`, `predictions.jsonl`, `metrics.json`, `report.md`,
`chart_<task>.png`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllmkit.backends.base import Model, Request, Response
from mllmkit.eval.atomic import atomic_write_text
from mllmkit.eval.cache import CacheEntry, ResponseCache, key_prefix, sample_key
from mllmkit.eval.prediction import Prediction, bad_row_prediction, score_sample
from mllmkit.eval.progress import Progress
from mllmkit.eval.samples import TaskData, load_task
from mllmkit.eval.scorers import run_scorers
from mllmkit.eval.shard import Shard
from mllmkit.eval.task import Sample, TaskSpec

log = logging.getLogger("mllmkit.eval")

RUN_FORMAT_VERSION = 1
MAX_ISSUES = 100  # messages kept per task in metrics.json (all of them are counted)
_LOGGED_PER_TASK = 5
_STATUS_COUNTS = ("bad_row", "error", "missing", "unmatched", "empty")


@dataclass
class TaskResult:
    """Everything the report needs about one task."""

    spec: TaskSpec
    fingerprint: str | None
    predictions: list[Prediction] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": self.spec.format,
            "path": self.spec.path,
            "counts": self.counts,
            "metrics": self.metrics,
        }
        if self.error is not None:
            d["error"] = self.error
        if self.issues:
            d["issues"] = self.issues[:MAX_ISSUES]
            if len(self.issues) > MAX_ISSUES:
                d["issues"].append(f"... and {len(self.issues) - MAX_ISSUES} more")
        return d


@dataclass
class LoadedTask:
    """A task ready to run: its data, fingerprint and the samples of this shard."""

    data: TaskData
    fingerprint: str
    samples: list[Sample]


def _with_max_new_tokens(spec: TaskSpec, max_new_tokens: int | None) -> TaskSpec:
    if max_new_tokens is None:
        return spec
    gen = dataclasses.replace(spec.gen, max_new_tokens=max_new_tokens)
    return dataclasses.replace(spec, gen=gen)


def load_for_run(spec: TaskSpec, limit: int | None, shard: Shard | None) -> LoadedTask | TaskResult:
    """Load one task; a task that cannot be read becomes a failed `TaskResult`."""
    try:
        data = load_task(spec, limit)
        fingerprint = spec.fingerprint()
    except Exception as exc:  # a broken file must not stop the other tasks
        msg = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
        log.error("task %s could not be loaded: %s", spec.name, msg)
        return TaskResult(spec, None, error=msg, counts={"n": 0})
    for msg in data.bad_rows[:_LOGGED_PER_TASK]:
        log.warning("%s: skipped bad row: %s", spec.name, msg)
    if len(data.bad_rows) > _LOGGED_PER_TASK:
        log.warning("%s: ... %d more bad rows", spec.name, len(data.bad_rows) - _LOGGED_PER_TASK)
    samples = data.samples if shard is None else shard.select(data.samples)
    return LoadedTask(data, fingerprint, samples)


@dataclass
class _Prepared:
    """A batch ready to send: its requests, and the entries of samples that could not be
    prepared (missing or corrupt image)."""

    spec: TaskSpec
    entries: list[CacheEntry]
    requests: list[Request]
    sent: list[tuple[Sample, str]]


def _prepare_batch(spec: TaskSpec, batch: list[Sample], keys: list[str]) -> _Prepared:
    """Load the batch's images and build its requests (no model involved)."""
    entries: list[CacheEntry] = []
    requests: list[Request] = []
    sent: list[tuple[Sample, str]] = []
    for sample, key in zip(batch, keys, strict=True):
        try:
            messages = sample.messages()
        except Exception as exc:  # missing / corrupt image: this sample only
            msg = f"{sample.source} (id={sample.id}): {exc}"
            entries.append(CacheEntry(key, spec.name, sample.id, "bad_row", error=msg))
            continue
        requests.append(Request(messages=messages, gen=spec.gen, sample_id=sample.id))
        sent.append((sample, key))
    return _Prepared(spec, entries, requests, sent)


def _send_batch(model: Model, prepared: _Prepared) -> list[CacheEntry]:
    """Send one batch; every sample yields exactly one cache entry, whatever happens."""
    spec, entries = prepared.spec, list(prepared.entries)
    requests, sent = prepared.requests, prepared.sent
    if requests:
        try:
            responses = model.generate(requests)
            if len(responses) != len(requests):
                raise RuntimeError(f"returned {len(responses)} responses for {len(requests)}")
        except Exception as exc:  # a backend that breaks its contract: fail this batch only
            err = f"backend {model.name} failed: {type(exc).__name__}: {exc}"
            responses = [Response("", error=err) for _ in requests]
        for (sample, key), resp in zip(sent, responses, strict=True):
            if resp.error is not None:
                entries.append(CacheEntry(key, spec.name, sample.id, "error", error=resp.error))
            else:
                text = resp.text if isinstance(resp.text, str) else str(resp.text)
                entries.append(CacheEntry(key, spec.name, sample.id, "ok", text=text))
    return entries


def collect_task(
    spec: TaskSpec,
    task_fp: str,
    samples: list[Sample],
    loader_bad_rows: list[str],
    cache: ResponseCache,
    model_fp: str,
) -> TaskResult:
    """Score every sample from the cache (missing ones are reported) and compute metrics."""
    preds: list[Prediction] = []
    issues = list(loader_bad_rows)
    prefix = key_prefix(task_fp, spec.gen, model_fp)
    for sample in samples:
        entry = cache.get(sample_key(prefix, sample.id))
        if entry is not None and entry.status == "bad_row":
            pred = bad_row_prediction(spec, sample, entry.error or "unreadable sample")
        elif entry is None:
            pred = score_sample(spec, sample, None, None)
        elif entry.finished:
            pred = score_sample(spec, sample, entry.text, None)
        else:
            pred = score_sample(spec, sample, None, entry.error or "unknown error")
        preds.append(pred)
        if pred.status in ("bad_row", "error", "missing"):
            issues.append(f"{pred.status}: {pred.error}")
        elif pred.status in ("unmatched", "empty"):
            issues.append(f"{pred.status}: {sample.source} (id={sample.id}): raw {pred.raw!r}")
    by_status = {s: sum(1 for p in preds if p.status == s) for s in _STATUS_COUNTS}
    counts = {
        "n": len(preds),
        "scored": len(preds) - by_status["bad_row"],
        "bad_rows": len(loader_bad_rows) + by_status["bad_row"],
        "errors": by_status["error"] + by_status["missing"],
        "missing": by_status["missing"],
        "unmatched": by_status["unmatched"],
        "empty": by_status["empty"],
    }
    return TaskResult(
        spec,
        task_fp,
        predictions=preds,
        metrics=run_scorers(spec, preds),
        counts=counts,
        issues=issues,
    )


def plan_work(
    loaded: list[LoadedTask | TaskResult], cache: ResponseCache, model_fp: str
) -> list[tuple[LoadedTask, list[Sample], list[str]]]:
    """Per loadable task: the samples without a finished cache entry, and their keys."""
    work = []
    for item in loaded:
        if isinstance(item, TaskResult):
            continue
        prefix = key_prefix(item.fingerprint, item.data.spec.gen, model_fp)
        pending = [
            (s, key) for s in item.samples if not cache.is_finished(key := sample_key(prefix, s.id))
        ]
        work.append((item, [s for s, _ in pending], [k for _, k in pending]))
    return work


def collect_results(
    loaded: list[LoadedTask | TaskResult], cache: ResponseCache, model_fp: str
) -> list[TaskResult]:
    """A `TaskResult` per task, scored from the cache (failed loads pass through)."""
    return [
        item
        if isinstance(item, TaskResult)
        else collect_task(
            item.data.spec, item.fingerprint, item.samples, item.data.bad_rows, cache, model_fp
        )
        for item in loaded
    ]


def run_info(
    model_name: str,
    model_fp: str,
    loaded: list[LoadedTask | TaskResult],
    limit: int | None,
    shard: Shard | None,
) -> dict[str, Any]:
    """The `run.json` record: enough to re-score or merge without the model."""
    tasks = []
    for item in loaded:
        spec = item.data.spec if isinstance(item, LoadedTask) else item.spec
        fp = item.fingerprint
        tasks.append({"spec": spec.to_dict(), "fingerprint": fp})
    return {
        "format_version": RUN_FORMAT_VERSION,
        "model": model_name,
        "model_fingerprint": model_fp,
        "limit": limit,
        "shard": None if shard is None else str(shard),
        "tasks": tasks,
    }


def evaluate(
    model: Model | str,
    tasks: str | list[str | TaskSpec],
    out: str | Path,
    batch_size: int = 8,
    limit: int | None = None,
    shard: Shard | str | None = None,
    *,
    data_dir: str | Path | None = None,
    max_new_tokens: int | None = None,
    progress: bool | None = None,
    fsync: bool = True,
) -> dict[str, Any]:
    """Evaluate `model` on `tasks`, writing everything to `out`; returns `metrics.json`'s dict.

    `model` is a `Model` or a backend spec (`open_backend`); `tasks` is a comma-separated
    string or a list of built-in names, YAML files and `TaskSpec`s. `limit` keeps the first
    N rows of each task; `shard` ("i/n") keeps every n-th sample. `progress=None` shows a
    bar only on a terminal.
    """
    from mllmkit.backends.registry import open_backend
    from mllmkit.eval.builtin import resolve_tasks
    from mllmkit.eval.report import write_outputs

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if isinstance(shard, str):
        shard = Shard.parse(shard)
    specs = [_with_max_new_tokens(s, max_new_tokens) for s in resolve_tasks(tasks, data_dir)]
    backend = open_backend(model) if isinstance(model, str) else model
    model_fp = backend.fingerprint()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    loaded = [load_for_run(spec, limit, shard) for spec in specs]
    info = run_info(backend.name, model_fp, loaded, limit, shard)

    with ResponseCache(out / "cache.jsonl", fsync=fsync) as cache:  # takes the folder's lock
        text = json.dumps(info, indent=2, ensure_ascii=False) + "\n"
        atomic_write_text(out / "run.json", text)
        if cache.torn_lines or cache.corrupt_lines:
            log.warning(
                "%s: ignored %d torn and %d corrupt line(s) from an interrupted run",
                cache.path,
                cache.torn_lines,
                cache.corrupt_lines,
            )
        work = plan_work(loaded, cache, model_fp)
        total = sum(len(samples) for _, samples, _ in work)
        done_before = sum(len(item.samples) for item, _, _ in work) - total
        if done_before:
            log.info("resuming: %d sample(s) already answered, %d to go", done_before, total)
        batches = [
            (item.data.spec, samples[i : i + batch_size], keys[i : i + batch_size])
            for item, samples, keys in work
            for i in range(0, len(samples), batch_size)
        ]
        # Images of batch i+1 are decoded on a helper thread while the model answers batch
        # i (decoding releases the GIL), so data loading stays off the critical path.
        with Progress(total, enabled=progress) as bar, ThreadPoolExecutor(1) as loader:
            ahead = loader.submit(_prepare_batch, *batches[0]) if batches else None
            for i, (spec, batch, _) in enumerate(batches):
                assert ahead is not None
                prepared = ahead.result()
                if i + 1 < len(batches):
                    ahead = loader.submit(_prepare_batch, *batches[i + 1])
                bar.set_description(spec.name)
                cache.append(_send_batch(backend, prepared))
                bar.advance(len(batch))
        results = collect_results(loaded, cache, model_fp)
    return write_outputs(out, results, info)
