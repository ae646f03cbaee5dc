"""Time `generate_world` for a given number of training examples.

An *example* is one training conversation row: a caption row in ``align.jsonl`` or a
multi-turn QA row in ``instruct.jsonl``. Each training scene gives one of each, and a
``multi_image_fraction`` share of scenes also gives a two-image row, so the scene count
is ``ceil(examples / (2 + multi_image_fraction))``; the figure reported is the number
of rows actually written. The timed span is the whole `generate_world` call: sampling,
rendering and PNG encoding, question assembly and every file write.

    python benchmarks/world_gen.py --examples 10000
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result
from mllmkit.world.config import WorldConfig
from mllmkit.world.generate import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description="Time world generation.")
    parser.add_argument("--examples", type=int, default=10_000, help="training rows wanted")
    parser.add_argument("--test", type=int, default=0, help="test scenes generated as well")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    cfg = WorldConfig()
    n_train = math.ceil(args.examples / (2 + cfg.multi_image_fraction))
    with tempfile.TemporaryDirectory(prefix="world_gen_") as tmp:
        start = time.perf_counter()
        summary = generate_world(
            Path(tmp) / "world",
            n_train,
            args.test,
            args.seed,
            config=cfg,
            workers=args.workers,
            progress=False,
        )
        seconds = time.perf_counter() - start
    figures = {
        "examples": summary.examples,
        "seconds": round(seconds, 3),
        "examples_per_s": round(summary.examples / seconds, 1),
        "train_scenes": n_train,
        "test_scenes": args.test,
        "workers": args.workers,
    }
    table = "\n".join(
        [
            "# World generation speed",
            "",
            "An example is one training conversation row (`align.jsonl` or `instruct.jsonl`);",
            "the time covers sampling, rendering, question assembly and all file writes.",
            "",
            "| examples | train scenes | test scenes | workers | CPUs | seconds | examples/s |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {summary.examples} | {n_train} | {args.test} | {args.workers} | {os.cpu_count()} "
            f"| {figures['seconds']} | {figures['examples_per_s']} |",
        ]
    )
    out = write_result("world_gen", figures, table)
    print(out.read_text())


if __name__ == "__main__":
    main()
