"""`python -m mllmkit.train CONFIG.yaml` — the entry point `torchrun` launches.

    torchrun --nproc_per_node 2 -m mllmkit.train configs/demo.yaml --out runs/ddp
"""

from __future__ import annotations

import argparse

from mllmkit.train.config import TrainConfig
from mllmkit.train.trainer import train


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mllmkit.train", description=__doc__)
    ap.add_argument("config", help="training config (YAML)")
    ap.add_argument("--out", help="output folder (overrides the config)")
    ap.add_argument("--data-root", help="folder the stages' data paths are relative to")
    ap.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    ap.add_argument("--stop-after", type=int, help="stop after this many optimizer steps")
    args = ap.parse_args(argv)
    cfg = TrainConfig.from_yaml(args.config, out=args.out, data_root=args.data_root)
    train(cfg, resume=not args.no_resume, stop_after=args.stop_after)


if __name__ == "__main__":
    main()
