"""The evaluation harness's own cost, measured two ways.

1. **Instant backend** — samples/s through the whole pipeline with a model that costs
   nothing (`instant:`): reading the task files, building prompts, decoding images,
   extracting answers, scoring, writing + fsync'ing the cache, and writing the reports
   and charts. The test set is a freshly generated world (`mllmkit.world.generate`) with
   about `--rows` samples per task, or, without the world package, a fixture TSV.
2. **With a model** (`--model DIR`, a native checkpoint) — the share of wall time spent
   *outside* `backend.generate` on the first `--model-limit` rows of each task: the part
   of an evaluation that is harness, not model.

    python benchmarks/eval_overhead.py --rows 5000
    python benchmarks/eval_overhead.py --rows 5000 --model runs/demo/train/model --model-limit 1000

Writes `benchmarks/results/eval_overhead.{json,md}` (`--dry-run` only prints).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result
from mllmkit.backends.base import Request, Response
from mllmkit.backends.instant import InstantBackend
from mllmkit.eval.runner import evaluate
from mllmkit.eval.task import TaskSpec

WORLD_TASKS = "world-short,world-yorn,world-mcq,world-pope-random"
QUESTIONS_PER_TEST_SCENE = 7  # world_mcq.tsv rows per test scene (measured, rounded down)


class TimedBackend:
    """Delegates to a backend and accumulates the wall time spent inside `generate`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0
        self.requests = 0

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def generate(self, requests: list[Request]) -> list[Response]:
        start = time.perf_counter()
        try:
            return self.inner.generate(requests)
        finally:
            self.seconds += time.perf_counter() - start
            self.requests += len(requests)


def make_world(root: Path, rows: int) -> tuple[str | list[TaskSpec], Path | None, str]:
    """A world test set with ~`rows` samples per task, or a fixture TSV without the world."""
    try:
        from mllmkit.world.generate import generate_world
    except ImportError:
        return _fixture_tasks(root, rows), None, "fixture TSV"
    n_test = max(1, math.ceil(rows / QUESTIONS_PER_TEST_SCENE))
    generate_world(root / "world", n_train=50, n_test=n_test, seed=0, progress=False)
    return WORLD_TASKS, root / "world", f"world ({n_test} test scenes)"


def _fixture_tasks(root: Path, rows: int) -> list[TaskSpec]:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    for i in range(64):
        Image.new("RGB", (64, 64), (4 * i, 255 - 4 * i, 128)).save(root / "images" / f"{i}.png")
    header = "index\timage_path\tquestion\tanswer\tA\tB\tC\tD\tcategory\n"
    lines = [
        f"{i}\timages/{i % 64}.png\tWhat color is object {i}?\t{'ABCD'[i % 4]}\t"
        f"red\tgreen\tblue\tyellow\tc{i % 5}\n"
        for i in range(rows)
    ]
    (root / "mcq.tsv").write_text(header + "".join(lines))
    return [TaskSpec(name="fixture-mcq", loader="tsv", path=str(root / "mcq.tsv"), format="mcq")]


def measure_instant(tasks: Any, data: Path | None, out: Path, batch_size: int) -> dict[str, Any]:
    start = time.perf_counter()
    metrics = evaluate(
        InstantBackend(), tasks, out, batch_size=batch_size, data_dir=data, progress=False
    )
    seconds = time.perf_counter() - start
    n = sum(t["counts"]["n"] for t in metrics["tasks"].values())
    return {"samples": n, "seconds": seconds, "samples_per_s": n / seconds}


def measure_model(
    model: str, tasks: Any, data: Path | None, out: Path, batch_size: int, limit: int
) -> dict[str, Any]:
    from mllmkit.backends.registry import open_backend

    backend = TimedBackend(open_backend(model))
    backend.fingerprint()  # hash the weights before timing: a one-off, cached cost
    start = time.perf_counter()
    metrics = evaluate(
        backend, tasks, out, batch_size=batch_size, limit=limit, data_dir=data, progress=False
    )
    seconds = time.perf_counter() - start
    n = sum(t["counts"]["n"] for t in metrics["tasks"].values())
    return {
        "samples": n,
        "seconds": seconds,
        "model_seconds": backend.seconds,
        "overhead_share": (seconds - backend.seconds) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure the evaluation harness's overhead.")
    parser.add_argument("--rows", type=int, default=5000, help="samples per task (approx.)")
    parser.add_argument("--batch-size", type=int, default=64, help="instant-backend batch size")
    parser.add_argument("--model", default=None, help="native checkpoint folder to time")
    parser.add_argument("--model-limit", type=int, default=64, help="rows per task, with --model")
    parser.add_argument("--model-batch-size", type=int, default=8)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eval_overhead_") as tmp:
        root = Path(tmp)
        tasks, data, source = make_world(root, args.rows)
        instant = measure_instant(tasks, data, root / "instant", args.batch_size)
        model = None
        if args.model:
            model = measure_model(
                args.model,
                tasks,
                data,
                root / "model",
                args.model_batch_size,
                args.model_limit,
            )

    figures: dict[str, Any] = {
        "instant_samples_per_s": round(instant["samples_per_s"], 1),
        "model_overhead_share": None if model is None else round(model["overhead_share"], 4),
        "data": source,
        "tasks": tasks if isinstance(tasks, str) else [t.name for t in tasks],
        "instant": {**instant, "batch_size": args.batch_size},
        "model": None if model is None else {**model, "batch_size": args.model_batch_size},
    }
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| data | {source} |",
        f"| instant backend: samples | {instant['samples']} |",
        f"| instant backend: samples/s (batch {args.batch_size}) | "
        f"{instant['samples_per_s']:,.0f} |",
    ]
    if model is not None:
        rows += [
            f"| model: samples | {model['samples']} |",
            f"| model: wall s / inside generate s | {model['seconds']:.2f} / "
            f"{model['model_seconds']:.2f} |",
            f"| model: share of wall time outside the model | {model['overhead_share']:.2%} |",
        ]
    table = "# Evaluation harness overhead\n\n" + "\n".join(rows)
    if args.dry_run:
        print(json.dumps(figures, indent=2))
        print(table)
    else:
        path = write_result("eval_overhead", figures, table)
        print(f"wrote {path}")
        print(table)


if __name__ == "__main__":
    main()
