"""Checkpoint folders: `config.json` + `model.safetensors`. Never unpickles.

Tied output weights are stored once (there is no `lm_head` parameter when tied). Loading
builds the model on the meta device and assigns the stored tensors, so no time is spent on
a random initialisation that would be overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mllmkit.models.config import ConfigError, MLLMConfig
from mllmkit.models.mllm import MLLM

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_LIST_LIMIT = 20


class CheckpointError(ValueError):
    """A checkpoint folder cannot be read; the message names the file and what is wrong."""


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    more = len(keys) - _LIST_LIMIT
    return shown + (f", ... ({more} more)" if more > 0 else "")


def save_model(model: MLLM, directory: str | Path) -> Path:
    """Write `config.json` and `model.safetensors` into `directory` (created if needed)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_NAME).write_text(json.dumps(model.config.to_dict(), indent=2) + "\n")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
    return out


def read_config(directory: str | Path) -> MLLMConfig:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: not found (is {directory} a model folder?)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON ({exc})") from None
    try:
        return MLLMConfig.from_dict(data)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def check_state_dict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "state dict"
) -> None:
    """Raise naming every missing or unexpected key and every shape mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    problems = []
    if missing:
        problems.append(f"missing key(s): {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected key(s): {_names(unexpected)}")
    wrong = [
        f"{k} (stored {list(state_dict[k].shape)}, model {list(v.shape)})"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if wrong:
        problems.append(f"shape mismatch: {_names(wrong)}")
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))


def load_state_dict_into(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "state dict"
) -> None:
    """Copy weights into an existing model after a strict, readable key check."""
    check_state_dict(model, state_dict, source)
    model.load_state_dict(state_dict, strict=True)


def load_model(
    directory: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> MLLM:
    """Load a checkpoint folder written by `save_model` (or a converter) as an `MLLM`."""
    config = read_config(directory)
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: not found")
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own types for corrupt headers
        raise CheckpointError(f"{path}: cannot read safetensors ({exc})") from None
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    with torch.device("meta"):
        model = MLLM(config, init_weights=False)
    check_state_dict(model, tensors, str(path))
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.to(device).eval()
