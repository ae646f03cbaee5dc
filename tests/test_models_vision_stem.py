"""The `conv` vision stem: same token grid as CLIP's patch stem, batch-independent,
counted by the FLOPs formula, saved and loaded like any weight, refused by the HF export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.infer.flops import vision_flops
from mllmkit.models import MLLM, load_model, save_model, tiny_config
from mllmkit.models.config import ConfigError, VisionConfig
from mllmkit.models.vision import VisionTower
from mllmkit.models.vision_stem import conv_stem_flops, conv_stem_widths


def _pixels(n: int) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_conv_stem_keeps_the_token_grid_of_the_patch_stem() -> None:
    cfg = tiny_config(vision={"stem": "conv"}).vision
    torch.manual_seed(0)
    features = VisionTower(cfg)(_pixels(2))
    assert features.shape == (2, cfg.num_feature_tokens, cfg.hidden_size) == (2, 16, 32)


def test_conv_stem_features_do_not_depend_on_the_batch() -> None:
    model = MLLM(tiny_config(vision={"stem": "conv"}), seed=0, init_std=0.3).eval()
    pix = _pixels(4)
    with torch.no_grad():
        batched = model.vision_tower(pix)
        alone = torch.cat([model.vision_tower(pix[i : i + 1]) for i in range(4)])
    # Float noise of batched convolution kernels only (a norm over the batch would move
    # features by O(1)).
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-4)


def test_conv_stem_model_saves_and_loads_identically(tmp_path: Path) -> None:
    model = MLLM(tiny_config(vision={"stem": "conv"}), seed=2, init_std=0.3).eval()
    save_model(model, tmp_path / "ckpt")
    loaded = load_model(tmp_path / "ckpt")
    assert loaded.config.vision.stem == "conv"
    per = model.image_tokens_per_image
    ids = torch.cat([torch.tensor([5, 6]), torch.full((per,), 3), torch.tensor([7, 8])])[None]
    with torch.no_grad():
        assert torch.equal(loaded(ids, _pixels(1)).logits, model(ids, _pixels(1)).logits)


def test_conv_stem_flops_by_hand() -> None:
    # patch 8 -> three stride-2 convolutions 3->8->16->32 on 32 px, then a 1x1 32->32.
    assert conv_stem_widths(8, 32) == [8, 16, 32]
    by_hand = (
        2 * 16 * 16 * 8 * 3 * 9
        + 2 * 8 * 8 * 16 * 8 * 9
        + 2 * 4 * 4 * 32 * 16 * 9
        + 2 * 4 * 4 * 32 * 32
    )
    assert conv_stem_flops(3, 8, 32, 32) == by_hand == 438_272
    conv = tiny_config(vision={"stem": "conv"}).vision
    patch = tiny_config().vision
    patch_conv = 2 * 16 * 3 * 8 * 8 * 32
    assert vision_flops(conv, 1) - vision_flops(patch, 1) == by_hand - patch_conv


def test_conv_stem_flops_match_the_modules() -> None:
    """The formula counts exactly the stem's convolutions (counted from the real modules)."""
    cfg = tiny_config(vision={"stem": "conv"}).vision
    stem = VisionTower(cfg).embeddings.patch_embedding
    counted = 0

    def hook(module: torch.nn.Conv2d, _inp: object, out: torch.Tensor) -> None:
        nonlocal counted
        kernel = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
        counted += 2 * out[0].numel() * kernel

    for m in stem.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    stem(_pixels(1))
    assert counted == conv_stem_flops(3, cfg.patch_size, cfg.hidden_size, cfg.image_size)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stem": "resnet"}, "'stem' must be one of"),
        ({"stem": "conv", "image_size": 36, "patch_size": 12}, "power of two"),
    ],
)
def test_bad_stem_config_is_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        VisionConfig(**fields)  # type: ignore[arg-type]


def test_hf_export_refuses_the_conv_stem() -> None:
    with pytest.raises(ConversionError, match=r"field 'vision.stem'.*only the 'patch' stem"):
        hf_config_from_mllm(tiny_config(vision={"stem": "conv"}))
