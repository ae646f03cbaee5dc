"""Padded batches whose rows are one run of real tokens skip the [B, 1, T, T] mask: right
padding takes one causal call over the batch, other runs one causal call per row. Both must
equal the masked path (forced here by passing positions explicitly), values and gradients."""

from __future__ import annotations

import pytest
import torch

from mllmkit.models.lm import DecoderLM
from mllmkit.models.masks import contiguous_spans, position_ids_from_mask
from mllmkit.models.presets import tiny_config


def test_contiguous_spans() -> None:
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    right = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    gap = torch.tensor([[1, 0, 1, 1]], dtype=torch.bool)
    assert contiguous_spans(left) == [(2, 4), (0, 4)]
    assert contiguous_spans(right) == [(0, 2), (0, 1)]
    assert contiguous_spans(gap) is None


@pytest.mark.parametrize("side", ["left", "right"])
def test_row_spans_equal_the_masked_path(side: str) -> None:
    cfg = tiny_config(lm={"num_kv_heads": 2}).lm  # grouped-query: 4 heads, 2 kv heads
    torch.manual_seed(0)
    lm = DecoderLM(cfg).eval()
    lengths = [7, 3, 5]
    t = max(lengths)
    mask = torch.zeros(len(lengths), t, dtype=torch.bool)
    for i, n in enumerate(lengths):
        if side == "left":
            mask[i, t - n :] = True
        else:
            mask[i, :n] = True
    x = torch.randn(len(lengths), t, cfg.hidden_size)
    assert contiguous_spans(mask) is not None
    with torch.no_grad():
        fast = lm(x, attention_mask=mask.long())
        masked = lm(x, position_ids=position_ids_from_mask(mask), attention_mask=mask.long())
    torch.testing.assert_close(fast[mask], masked[mask], atol=1e-5, rtol=1e-5)


def test_right_padding_gradients_equal_the_masked_path() -> None:
    """Training batches are right-padded: the gradient reaching real tokens must not depend
    on which attention path ran (padding outputs differ and are masked out of the loss)."""
    cfg = tiny_config().lm
    torch.manual_seed(0)
    lm = DecoderLM(cfg)
    lengths = [6, 2, 4]
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
    for i, n in enumerate(lengths):
        mask[i, :n] = True
    x = torch.randn(len(lengths), max(lengths), cfg.hidden_size)
    grads = []
    for positions in (None, position_ids_from_mask(mask)):
        xi = x.clone().requires_grad_(True)
        out = lm(xi, position_ids=positions, attention_mask=mask.long())
        (out[mask] ** 2).sum().backward()
        grads.append(xi.grad[mask])
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-5)
