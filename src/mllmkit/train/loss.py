"""Next-token cross-entropy summed over supervised tokens.

Returning the *sum* (not the mean) lets the trainer divide by the global token count, which
makes gradient accumulation and data parallelism exact. Only positions that carry a label
go through the output projection: in a multimodal batch most positions are image or prompt
tokens, so this saves most of the vocabulary matmul.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_loss_sum(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
    """(sum of token losses, number of supervised tokens) for one micro-batch."""
    labels = batch["labels"]
    targets = labels[:, 1:]
    keep = targets != -100
    hidden = model.hidden_states(
        input_ids=batch["input_ids"],
        pixel_values=batch.get("pixel_values"),
        attention_mask=batch["attention_mask"],
    )
    h = hidden[:, :-1][keep]
    logits = model.language_model.logits(h)
    n = int(keep.sum())
    return F.cross_entropy(logits.float(), targets[keep], reduction="sum"), n
