"""Collation: right padding for training, left padding for generation (golden tensors)."""

from __future__ import annotations

import pytest
import torch

from mllmkit.data.collate import collate_prompts, collate_train
from mllmkit.data.encoded import IGNORE_INDEX, Encoded

PAD = 9
X = IGNORE_INDEX


def _batch() -> list[Encoded]:
    return [
        Encoded(input_ids=[1, 2, 3], labels=[X, 2, 3], n_images=0),
        Encoded(input_ids=[4, 5, 6, 7, 8], labels=[X, X, 6, 7, X], n_images=1, truncated=True),
    ]


def test_right_padding() -> None:
    out = collate_train(_batch(), PAD)
    assert out["input_ids"].tolist() == [[1, 2, 3, PAD, PAD], [4, 5, 6, 7, 8]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert out["labels"].tolist() == [[X, 2, 3, X, X], [X, X, 6, 7, X]]
    assert all(out[k].dtype == torch.long for k in ("input_ids", "attention_mask", "labels"))
    assert "pixel_values" not in out


def test_right_padding_to_multiple() -> None:
    out = collate_train(_batch(), PAD, pad_to_multiple_of=4)
    assert out["input_ids"].shape == (2, 8)
    assert out["labels"][0, 3:].tolist() == [X] * 5


def test_pixel_values_are_checked_and_concatenated() -> None:
    one = torch.ones((1, 3, 2, 2))
    out = collate_train(_batch(), PAD, pixel_values=[torch.zeros((0, 3, 2, 2)), one])
    assert torch.equal(out["pixel_values"], one)
    with pytest.raises(ValueError, match="row 1 was encoded for 1 image"):
        collate_train(
            _batch(), PAD, pixel_values=[torch.zeros((0, 3, 2, 2)), torch.ones((2, 3, 2, 2))]
        )
    with pytest.raises(ValueError, match="2 rows"):
        collate_train(_batch(), PAD, pixel_values=[one])
    no_images = [Encoded([1], [1], 0), Encoded([2], [2], 0)]
    empty = torch.zeros((0, 3, 2, 2))
    assert collate_train(no_images, PAD, pixel_values=[empty, empty])["pixel_values"] is None


def test_left_padding_for_generation() -> None:
    out = collate_prompts([[1, 2], [3, 4, 5, 6], [7]], PAD)
    assert out["input_ids"].tolist() == [[PAD, PAD, 1, 2], [3, 4, 5, 6], [PAD, PAD, PAD, 7]]
    assert out["attention_mask"].tolist() == [[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]]
    # the last column holds every row's last prompt token
    assert out["input_ids"][:, -1].tolist() == [2, 6, 7]


def test_empty_inputs_raise() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_train([], PAD)
    with pytest.raises(ValueError, match="no prompts"):
        collate_prompts([], PAD)
    with pytest.raises(ValueError, match="at least one token"):
        collate_prompts([[1], []], PAD)


def test_encoded_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 input ids but 1 labels"):
        Encoded([1, 2], [1], 0)
