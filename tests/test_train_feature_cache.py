"""A frozen tower's output, cached per image file, stands in for running the tower."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from train_fixtures import make_world, write_config


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("features"), n_train=24, n_test=4)


def _model():  # type: ignore[no-untyped-def]
    from mllmkit.models import MLLM
    from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig

    cfg = MLLMConfig(
        vision=VisionConfig(image_size=32, patch_size=8, hidden_size=32, num_layers=2,
                            num_heads=2, intermediate_size=64, feature_layer=-2),
        lm=LMConfig(vocab_size=64, hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1,
                    intermediate_size=64),
        image_token_id=3, pad_token_id=0, eos_token_id=1,
    )
    return MLLM(cfg, seed=0, init_std=0.3).eval()


def _inputs(model):  # type: ignore[no-untyped-def]
    per = model.image_tokens_per_image
    g = torch.Generator().manual_seed(1)
    ids = torch.cat([torch.randint(4, 64, (2, 3), generator=g), torch.full((2, per), 3),
                     torch.randint(4, 64, (2, 5), generator=g)], dim=1)
    return ids, torch.randn(2, 3, 32, 32, generator=g)


def test_features_stand_in_for_pixels() -> None:
    model = _model()
    ids, pixels = _inputs(model)
    with torch.no_grad():
        want = model(ids, pixels).logits
        got = model(ids, image_features=model.vision_tower(pixels)).logits
        labels = ids.clone()
        loss_px = model(ids, pixels, labels=labels, return_logits=False).loss
        loss_ft = model(ids, image_features=model.vision_tower(pixels), labels=labels,
                        return_logits=False).loss
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    torch.testing.assert_close(loss_ft, loss_px, atol=0, rtol=0)


def test_feature_errors_are_clear() -> None:
    from mllmkit.infer.reduce.registry import parse_reduction

    model = _model()
    ids, pixels = _inputs(model)
    feats = model.vision_tower(pixels).detach()
    with pytest.raises(ValueError, match="not both"):
        model(ids, pixels, image_features=feats)
    with pytest.raises(ValueError, match=r"vision tower's output \[N, 16, 32\]"):
        model(ids, image_features=feats[:, :-1])
    with pytest.raises(ValueError, match="2 image"):
        model(ids, image_features=feats[:1])
    with pytest.raises(ValueError, match="reduction"):
        model(ids, image_features=feats, reduction=parse_reduction("fastv:k=1,r=0.5"))


def _frozen_cache(world: Path, n: int):  # type: ignore[no-untyped-def]
    """(model with a frozen tower, processor, the first `n` train images, an empty cache)."""
    from mllmkit.train.feature_cache import VisionFeatureCache

    model = _model()
    model.vision_tower.requires_grad_(False)
    proc = _processor(world)
    paths = sorted((world / "train" / "images").glob("*.png"))[:n]
    return model, proc, paths, VisionFeatureCache(model.vision_tower, proc)


def _alone(model, proc, path: Path) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The tower's output for one image encoded on its own."""
    from mllmkit.data.images import load_image

    with torch.no_grad():
        return model.vision_tower(proc.preprocess_images([load_image(path)]))[0]


def test_cache_encodes_each_file_once_and_alone(world: Path) -> None:
    from mllmkit.train.feature_cache import VisionFeatureCache

    model, proc, paths, cache = _frozen_cache(world, 3)
    first = [cache(p) for p in paths]
    assert len(cache) == 3
    again = cache(paths[1])
    assert again is first[1] and len(cache) == 3  # no second run of the tower
    torch.testing.assert_close(first[2], _alone(model, proc, paths[2]), atol=0, rtol=0)
    assert not first[0].requires_grad

    model.vision_tower.requires_grad_(True)
    with pytest.raises(ValueError, match="frozen"):
        VisionFeatureCache(model.vision_tower, proc)


def test_fill_encodes_in_chunks_once_and_deterministically(world: Path) -> None:
    from mllmkit.train.feature_cache import VisionFeatureCache

    model, proc, paths, cache = _frozen_cache(world, 5)
    assert cache.fill(reversed(paths + paths[:2]), chunk_size=2) == 5
    assert len(cache) == 5
    held = [cache(p) for p in paths]
    assert cache.fill(paths) == 0
    assert all(cache(p) is h for p, h in zip(paths, held, strict=True))
    alone = _alone(model, proc, paths[3])
    torch.testing.assert_close(held[3], alone, atol=1e-5, rtol=1e-5)  # batched: rounding only
    other = VisionFeatureCache(model.vision_tower, proc)
    other.fill(paths, chunk_size=2)
    for p, h in zip(paths, held, strict=True):  # same list and chunks: same bits
        assert torch.equal(other(p), h)
    with pytest.raises(ValueError, match="chunk_size"):
        cache.fill(paths, chunk_size=0)

def _processor(world: Path):  # type: ignore[no-untyped-def]
    """The tiny world's processor (its tokenizer trained on the fly)."""
    from mllmkit.train.build import build_processor
    from mllmkit.train.config import TrainConfig

    out = world.parent / "proc"
    cfg = TrainConfig.from_yaml(write_config(world.parent / "p.yaml", world, out))
    return build_processor(cfg, out, is_main=True)


def test_stage_with_the_cache_trains_like_one_without(world: Path, tmp_path: Path) -> None:
    """Same config, tower frozen in the instruct stage, with and without the cache: the
    losses agree to float rounding (the cache encodes images one at a time)."""
    from mllmkit.train.config import TrainConfig
    from mllmkit.train.trainer import train

    losses = {}
    for cached in (False, True):
        path = write_config(tmp_path / f"{cached}.yaml", world, tmp_path / f"run{cached}",
                            steps=(1, 4), frozen_vision=True)
        if not cached:
            path.write_text(path.read_text().replace("cache_vision_features: true",
                                                     "cache_vision_features: false"))
        result = train(TrainConfig.from_yaml(path), progress=False)
        rows = [json.loads(x) for x in result.metrics.read_text().splitlines()]
        losses[cached] = [r["loss"] for r in rows]
    assert len(losses[True]) == 5
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)


def test_config_refuses_the_cache_where_the_tower_trains() -> None:
    from mllmkit.train.config import ConfigError, StageConfig

    base = {"name": "s", "data": ["x.jsonl"], "steps": 1, "cache_vision_features": True}
    with pytest.raises(ConfigError, match="frozen vision"):
        StageConfig(**base, trainable=["vision", "lm"], lr={"vision": 1e-3, "lm": 1e-3})
    with pytest.raises(ConfigError, match="frozen vision"):
        StageConfig(**base, trainable=["vision"], lr={"vision": 1e-3}, objective="scene_cells")
    StageConfig(**base, trainable=["connector"], lr={"connector": 1e-3})
