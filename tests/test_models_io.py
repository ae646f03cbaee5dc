"""Checkpoint save/load: identical logits, strict and readable key checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import mllmkit
from mllmkit.models import MLLM, CheckpointError, load_model, save_model, tiny_config
from mllmkit.models.flops import parameter_counts
from mllmkit.models.io import load_state_dict_into


def _inputs(model: MLLM) -> tuple[torch.Tensor, torch.Tensor]:
    per = model.image_tokens_per_image
    ids = torch.cat([torch.tensor([5, 6]), torch.full((per,), 3), torch.tensor([7, 8, 9])])
    return ids[None], torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("tied", [True, False])
def test_save_load_gives_identical_logits(tmp_path: Path, tied: bool) -> None:
    model = MLLM(tiny_config(lm={"tie_word_embeddings": tied}), seed=3).eval()
    save_model(model, tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    stored = load_file(str(tmp_path / "ckpt" / "model.safetensors"))
    assert ("language_model.lm_head.weight" in stored) is (not tied)
    loaded = mllmkit.load_model(str(tmp_path / "ckpt"))
    assert loaded.config == model.config
    ids, pix = _inputs(model)
    with torch.no_grad():
        assert torch.equal(loaded(ids, pix).logits, model(ids, pix).logits)
    if tied:  # still tied after loading: one tensor serves both roles
        lm = loaded.language_model
        assert lm.output_weight.data_ptr() == lm.embed_tokens.weight.data_ptr()


def test_missing_and_unexpected_keys_are_named(tmp_path: Path) -> None:
    model = MLLM(tiny_config(), seed=0)
    save_model(model, tmp_path)
    weights = tmp_path / "model.safetensors"
    tensors = load_file(str(weights))
    del tensors["language_model.layers.1.mlp.up_proj.weight"]
    tensors["language_model.extra.weight"] = torch.zeros(2)
    save_file(tensors, str(weights))
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path)
    msg = str(err.value)
    assert "model.safetensors" in msg
    assert "missing key(s): language_model.layers.1.mlp.up_proj.weight" in msg
    assert "unexpected key(s): language_model.extra.weight" in msg


def test_shape_mismatch_is_named(tmp_path: Path) -> None:
    model = MLLM(tiny_config(), seed=0)
    bigger = MLLM(tiny_config(lm={"intermediate_size": 96}), seed=0)
    with pytest.raises(CheckpointError, match=r"layers\.0\.mlp\.gate_proj\.weight \(stored"):
        load_state_dict_into(model, bigger.state_dict())


def test_bad_config_names_the_file(tmp_path: Path) -> None:
    save_model(MLLM(tiny_config(), seed=0), tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["lm"]["num_layer"] = 3
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"config\.json.*num_layer"):
        load_model(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nowhere")


def test_parameter_counts_add_up() -> None:
    model = MLLM(tiny_config(vision={"feature_layer": -2}), seed=0)
    counts = parameter_counts(model)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["total"] == (
        counts["vision_tower"] + counts["connector"] + counts["language_model"]
    )
    assert counts["language_model"] == (
        counts["lm_embed_tokens"] + counts["lm_layers"] + counts["lm_head"]
    )
    one_layer = sum(p.numel() for p in model.vision_tower.encoder.layers[1].parameters())
    post = sum(p.numel() for p in model.vision_tower.post_layernorm.parameters())
    assert counts["vision_tower_used"] == counts["vision_tower"] - one_layer - post
    # mlp2x_gelu, 32 -> 32 -> 32 with biases
    assert counts["connector"] == 2 * (32 * 32 + 32)
