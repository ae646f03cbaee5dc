"""A tiny world + tiny training config shared by the training tests."""

from __future__ import annotations

from pathlib import Path

import yaml

TINY_MODEL = {
    "vision": {"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_layers": 1,
               "num_heads": 2, "intermediate_size": 64},
    "lm": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1,
           "intermediate_size": 64},
    "connector": "mlp2x_gelu",
}


def make_world(root: Path, n_train: int = 40, n_test: int = 8) -> Path:
    from mllmkit.world.config import WorldConfig
    from mllmkit.world.generate import generate_world

    world = root / "world"
    generate_world(world, n_train, n_test, seed=3, config=WorldConfig(image_size=32),
                   workers=1, progress=False)
    return world


def write_config(path: Path, world: Path, out: Path, steps: tuple[int, int] = (3, 3),
                 batch: int = 4, micro: int = 2, every: int = 1,
                 frozen_vision: bool = False) -> Path:
    """`frozen_vision`: the instruct stage keeps the tower frozen and caches its output."""
    cfg = {
        "seed": 1,
        "out": str(out),
        "data_root": str(world),
        "checkpoint_every": every,
        "keep_checkpoints": 100,
        "log_every": 1,
        "threads": 1,
        "tokenizer": {"vocab_size": 300},
        "model": TINY_MODEL,
        "stages": [
            {"name": "align", "data": ["train/align.jsonl"], "trainable": ["vision", "connector"],
             "lr": {"vision": 1e-3, "connector": 1e-3}, "steps": steps[0], "batch_size": batch,
             "micro_batch_size": micro, "max_length": 160},
            {"name": "instruct", "data": ["train/instruct.jsonl"],
             "trainable": ["vision", "connector", "lm"],
             "lr": {"vision": 1e-4, "connector": 1e-3, "lm": 5e-4}, "steps": steps[1],
             "batch_size": batch, "micro_batch_size": micro, "max_length": 256,
             "group_by_length": True},
        ],
    }
    if frozen_vision:
        stage = cfg["stages"][1]
        stage["trainable"] = ["connector", "lm"]
        stage["lr"] = {"connector": 1e-3, "lm": 5e-4}
        stage["cache_vision_features"] = True
    path.write_text(yaml.safe_dump(cfg))
    return path
