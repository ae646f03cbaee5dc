"""Atomic, pickle-free training checkpoints that resume exactly.

A checkpoint is a folder `step-00000123/` holding:
- `model.safetensors` + `config.json` — the weights (a loadable model folder);
- `optimizer.safetensors` + `optimizer.json` — AdamW moments as tensors, hyper-parameters
  and the param-group layout as JSON;
- `rng.safetensors` — torch's CPU generator state;
- `head.safetensors` — the stage objective's extra module, when it has one;
- `trainer_state.json` — stage index, steps, data cursor, scheduler position, Python and
  NumPy RNG states.

It is written into `step-…tmp/` and renamed into place, so a crash mid-write never leaves a
half checkpoint that a resume would pick up. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mllmkit.models.io import load_state_dict_into, save_model

PREFIX = "step-"


@dataclass
class TrainerState:
    """Where training stands; everything needed besides tensors."""

    stage_index: int = 0
    stage_step: int = 0  # optimizer steps done in the current stage
    global_step: int = 0  # optimizer steps done over all stages
    cursor: int = 0  # samples consumed from the current stage's stream
    python_rng: list[Any] = field(default_factory=list)
    numpy_rng: dict[str, Any] = field(default_factory=dict)


def _optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value.detach().contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    meta = {"param_groups": sd["param_groups"], "scalars": scalars}
    return tensors, meta


def _optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, extra in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(extra)
    groups = meta["param_groups"]
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


def _capture_rng(state: TrainerState) -> torch.Tensor:
    py = random.getstate()
    state.python_rng = [py[0], list(py[1]), py[2]]
    np_state = np.random.get_state()
    state.numpy_rng = {
        "name": np_state[0],
        "keys": np_state[1].tolist(),
        "pos": int(np_state[2]),
        "has_gauss": int(np_state[3]),
        "cached": float(np_state[4]),
    }
    return torch.get_rng_state()


def _restore_rng(state: TrainerState, torch_state: torch.Tensor) -> None:
    if state.python_rng:
        v, inner, gauss = state.python_rng
        random.setstate((v, tuple(inner), gauss))
    if state.numpy_rng:
        n = state.numpy_rng
        np.random.set_state(
            (n["name"], np.array(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["cached"])
        )
    torch.set_rng_state(torch_state)


def save_checkpoint(
    root: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: TrainerState,
    keep: int = 2, head: torch.nn.Module | None = None,
) -> Path:
    """Write a checkpoint atomically under `root` and prune all but the newest `keep`."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{PREFIX}{state.global_step:08d}"
    tmp = root / f"{final.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_model(model, tmp)
    tensors, meta = _optimizer_to_tensors(optimizer)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(meta))
    save_file({"torch": _capture_rng(state)}, str(tmp / "rng.safetensors"))
    if head is not None:
        tensors = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
        save_file(tensors, str(tmp / "head.safetensors"))
    (tmp / "trainer_state.json").write_text(json.dumps(asdict(state)))
    for f in tmp.iterdir():  # make the bytes durable before the rename publishes them
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (half-written `.tmp` ones ignored)."""
    if not root.is_dir():
        return []
    done = [
        p for p in root.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and not p.name.endswith(".tmp")
        and (p / "trainer_state.json").exists()
    ]
    return sorted(done, key=lambda p: p.name)


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    head: torch.nn.Module | None = None,
) -> TrainerState:
    """Restore weights, optimizer moments and RNG states (and the objective's `head`, when
    given); return the trainer state."""
    load_state_dict_into(model, load_file(str(path / "model.safetensors")))
    if head is not None:
        head_file = path / "head.safetensors"
        if not head_file.is_file():
            raise FileNotFoundError(f"{head_file}: the stage's objective head is missing")
        head.load_state_dict(load_file(str(head_file)))
    if optimizer is not None:
        meta = json.loads((path / "optimizer.json").read_text())
        _optimizer_from_tensors(optimizer, load_file(str(path / "optimizer.safetensors")), meta)
    state = TrainerState(**json.loads((path / "trainer_state.json").read_text()))
    _restore_rng(state, load_file(str(path / "rng.safetensors"))["torch"])
    return state


def read_state(path: Path) -> TrainerState:
    """The trainer state of a checkpoint, without touching any tensor."""
    return TrainerState(**json.loads((path / "trainer_state.json").read_text()))
