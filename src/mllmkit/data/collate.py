"""Batching: right padding for training, left padding for generation.

Training pads on the right so every row's tokens start at position 0 and padded
positions simply carry label IGNORE. Generation pads on the *left* so every row's last
prompt token sits in the last column and new tokens are appended in lockstep; the
model derives positions from `attention_mask`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mllmkit.data.encoded import IGNORE_INDEX, Encoded


def collate_train(
    batch: Sequence[Encoded],
    pad_id: int,
    *,
    pixel_values: Sequence[torch.Tensor] | None = None,
    pad_to_multiple_of: int | None = None,
) -> dict[str, torch.Tensor | None]:
    """Right-pad `batch` into `input_ids`, `attention_mask`, `labels` (LongTensors [B, T]).

    With `pixel_values` (one [n_i, 3, S, S] tensor per row), they are concatenated in row
    order into `pixel_values` (None when the batch has no image) after checking that row
    i has exactly `batch[i].n_images` images, the count its image tokens were made for.
    """
    if not batch:
        raise ValueError("collate_train: empty batch")
    length = _padded_length(max(len(e.input_ids) for e in batch), pad_to_multiple_of)
    input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), length), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, enc in enumerate(batch):
        n = len(enc.input_ids)
        input_ids[row, :n] = torch.tensor(enc.input_ids, dtype=torch.long)
        labels[row, :n] = torch.tensor(enc.labels, dtype=torch.long)
        attention_mask[row, :n] = 1
    out: dict[str, torch.Tensor | None] = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
    }
    if pixel_values is not None:
        out["pixel_values"] = _stack_images(batch, pixel_values)
    return out


def collate_prompts(
    prompts: Sequence[Sequence[int]], pad_id: int, *, pad_to_multiple_of: int | None = None
) -> dict[str, torch.Tensor]:
    """Left-pad prompts into `input_ids` and `attention_mask` (LongTensors [B, T])."""
    if not prompts:
        raise ValueError("collate_prompts: no prompts")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("collate_prompts: every prompt needs at least one token")
    length = _padded_length(max(len(p) for p in prompts), pad_to_multiple_of)
    input_ids = torch.full((len(prompts), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), length), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        n = len(prompt)
        input_ids[row, length - n :] = torch.tensor(list(prompt), dtype=torch.long)
        attention_mask[row, length - n :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _padded_length(length: int, multiple: int | None) -> int:
    if multiple is None or multiple <= 1:
        return length
    return -(-length // multiple) * multiple


def _stack_images(
    batch: Sequence[Encoded], pixel_values: Sequence[torch.Tensor]
) -> torch.Tensor | None:
    if len(pixel_values) != len(batch):
        raise ValueError(
            f"collate_train: {len(pixel_values)} pixel tensors for a batch of {len(batch)} rows"
        )
    for row, (enc, pix) in enumerate(zip(batch, pixel_values, strict=True)):
        if pix.dim() != 4 or pix.shape[0] != enc.n_images:
            raise ValueError(
                f"collate_train: row {row} was encoded for {enc.n_images} image(s) but its "
                f"pixel tensor has shape {tuple(pix.shape)}"
            )
    non_empty = [p for p in pixel_values if p.shape[0] > 0]
    return torch.cat(non_empty, dim=0) if non_empty else None
