"""Training objectives, registered by exact name: what a stage's data is and its loss.

- `lm`: next-token loss on LLaVA conversations (`ConversationDataset`); no extra module.
- `scene_cells`: per-cell scene labels from the world's `scenes.jsonl`, through a
  throw-away linear head on the vision tower (`scene_cells.py`).

An objective's head (if any) is trained with the stage's `vision` learning rate, saved in
the stage's checkpoints and dropped when the stage ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mllmkit.data.processor import Processor
from mllmkit.train.dataset import ConversationDataset
from mllmkit.train.loss import token_loss_sum
from mllmkit.train.scene_cells import SceneCellsDataset, cells_loss_sum, make_cell_head


@dataclass(frozen=True)
class Objective:
    name: str
    dataset: Callable[[list[Path], Processor, Any], Any]  # (files, processor, StageConfig)
    head: Callable[[nn.Module, Any, int], nn.Module | None]
    loss_sum: Callable[[nn.Module, nn.Module | None, dict], tuple[torch.Tensor, int]]


OBJECTIVES: dict[str, Objective] = {
    "lm": Objective(
        name="lm",
        dataset=lambda files, processor, stage: ConversationDataset(
            files, processor, stage.max_length, split_turns=stage.split_turns
        ),
        head=lambda model, dataset, seed: None,
        loss_sum=lambda model, head, batch: token_loss_sum(model, batch),
    ),
    "scene_cells": Objective(
        name="scene_cells",
        dataset=lambda files, processor, stage: SceneCellsDataset(files, processor),
        head=make_cell_head,
        loss_sum=cells_loss_sum,  # type: ignore[arg-type]
    ),
}
