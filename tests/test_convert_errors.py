"""Import refuses what it cannot represent, naming the key or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

transformers = pytest.importorskip("transformers")

from convert_fixtures import make_hf_llava  # noqa: E402
from mllmkit.convert.errors import ConversionError  # noqa: E402
from mllmkit.convert.from_hf import convert_from_hf, load_hf_llava  # noqa: E402
from mllmkit.convert.weight_map import hf_to_ours, ours_to_hf  # noqa: E402


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hf_llava(tmp_path_factory.mktemp("hf") / "llava")


def _rewrite_weights(hf_dir: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = hf_dir / "model.safetensors"
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path))


def _copy(hf_dir: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in hf_dir.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_unknown_key_is_named(hf_dir: Path, tmp_path: Path) -> None:
    d = _copy(hf_dir, tmp_path / "x")
    _rewrite_weights(
        d, lambda t: t.__setitem__("multi_modal_projector.extra.weight", torch.ones(1))
    )
    with pytest.raises(ConversionError, match=r"unknown key\(s\) multi_modal_projector\.extra"):
        load_hf_llava(d)


def test_missing_key_is_named(hf_dir: Path, tmp_path: Path) -> None:
    d = _copy(hf_dir, tmp_path / "x")
    _rewrite_weights(d, lambda t: t.pop("language_model.model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(ConversionError, match=r"missing key.*language_model\.layers\.1\.mlp\.up"):
        load_hf_llava(d)


def test_all_layouts_map_to_the_same_names() -> None:
    expected = {
        "vision_tower.embeddings.class_embedding",
        "language_model.lm_head.weight",
        "language_model.norm.weight",
        "multi_modal_projector.linear_1.bias",
    }
    t = torch.zeros(1)
    layouts = [
        [
            "model.vision_tower.embeddings.class_embedding",
            "lm_head.weight",
            "model.language_model.norm.weight",
            "model.multi_modal_projector.linear_1.bias",
        ],
        [
            "vision_tower.vision_model.embeddings.class_embedding",
            "language_model.lm_head.weight",
            "language_model.model.norm.weight",
            "multi_modal_projector.linear_1.bias",
        ],
    ]
    for keys in layouts:
        assert set(hf_to_ours(dict.fromkeys(keys, t), expected, "x")) == expected
    assert set(ours_to_hf(dict.fromkeys(expected, t))) == {
        "vision_tower.embeddings.class_embedding",
        "language_model.lm_head.weight",
        "language_model.model.norm.weight",
        "multi_modal_projector.linear_1.bias",
    }


@pytest.mark.parametrize(
    "path, value, field",
    [
        (("vision_feature_layer",), [-2, -1], "vision_feature_layer"),
        (("vision_feature_select_strategy",), "cls_only", "vision_feature_select_strategy"),
        (("projector_hidden_act",), "relu", "projector_hidden_act"),
        (
            ("text_config", "rope_parameters"),
            {"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0},
            "rope_type",
        ),
        (("vision_config", "hidden_act"), "relu", "vision_config.hidden_act"),
    ],
)
def test_unrepresentable_config_field_is_named(
    hf_dir: Path, tmp_path: Path, path: tuple[str, ...], value: object, field: str
) -> None:
    d = _copy(hf_dir, tmp_path / "x")
    cfg = json.loads((d / "config.json").read_text())
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConversionError, match=field):
        load_hf_llava(d)


def test_crop_size_must_match_the_tower(hf_dir: Path, tmp_path: Path) -> None:
    d = _copy(hf_dir, tmp_path / "x")
    cfg = json.loads((d / "processor_config.json").read_text())
    cfg["image_processor"]["crop_size"] = {"height": 24, "width": 24}
    (d / "processor_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConversionError, match="crop_size"):
        load_hf_llava(d)


def test_convert_from_hf_round_trips_through_a_native_folder(hf_dir: Path, tmp_path: Path) -> None:
    import mllmkit

    out = convert_from_hf(hf_dir, tmp_path / "native")
    native = mllmkit.load_model(str(out))
    direct = mllmkit.load_model(str(hf_dir))  # an HF folder loads directly, in memory
    assert native.config == direct.config
    for key, value in native.state_dict().items():
        assert torch.equal(direct.state_dict()[key], value), key
    assert mllmkit.load_processor(str(hf_dir)).template.name == "mllmkit"
