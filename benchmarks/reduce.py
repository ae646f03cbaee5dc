"""Visual-token reduction benchmark: the same function as `mllm bench reduce`.

    python benchmarks/reduce.py --model runs/demo/train/model --data runs/demo/world

Writes benchmarks/results/reduce.{json,md,png}. Without --model only the timing part runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, command_line
from mllmkit.infer.reduce.bench import TimingGeometry, run_reduce_benchmark, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--work", type=Path, default=Path("runs/bench-reduce"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--specs", default=None, help="semicolon-separated specs")
    p.add_argument("--image-size", type=int, default=336)
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    geo = TimingGeometry(
        image_size=a.image_size,
        hidden_size=a.width,
        num_layers=a.layers,
        num_heads=max(1, a.width // 64),
        intermediate_size=a.width * 8 // 3,
        repeats=a.repeats,
    )
    specs = [s.strip() for s in a.specs.split(";") if s.strip()] if a.specs else None
    if specs and "none" not in specs:
        specs.insert(0, "none")
    rows = run_reduce_benchmark(
        a.model,
        a.data,
        RESULTS,
        a.work,
        specs=specs,
        limit=a.limit,
        geometry=geo,
        command=command_line(),
    )
    print(table(rows))


if __name__ == "__main__":
    main()
