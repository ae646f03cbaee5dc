"""Next-token cross-entropy summed over supervised tokens.

Returning the *sum* (not the mean) lets the trainer divide by the global token count, which
makes gradient accumulation and data parallelism exact. With `return_logits=False` the
model runs the output projection (and the last layer's queries and MLP) only at positions
that carry a label: in a multimodal batch most positions are image or prompt tokens.
"""

from __future__ import annotations

import torch


def token_loss_sum(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
    """(sum of token losses, number of supervised tokens) for one micro-batch."""
    out = model(
        input_ids=batch["input_ids"],
        pixel_values=batch.get("pixel_values"),
        image_features=batch.get("image_features"),
        attention_mask=batch["attention_mask"],
        labels=batch["labels"],
        return_logits=False,
    )
    return out.loss * out.num_loss_tokens, out.num_loss_tokens
