"""Export: a native checkpoint written as an HF LLaVA folder loads in transformers with no
custom code and computes the same logits; unsupported connectors refuse to export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from convert_fixtures import images, make_native  # noqa: E402
from mllmkit.convert.errors import ConversionError  # noqa: E402
from mllmkit.convert.from_hf import load_hf_llava  # noqa: E402
from mllmkit.convert.to_hf import convert_to_hf  # noqa: E402
from mllmkit.data.conversation import Turn  # noqa: E402
from mllmkit.data.processor import Processor  # noqa: E402
from mllmkit.models.io import load_model  # noqa: E402


@pytest.mark.parametrize(
    "qkv_bias, layer, keep_cls, tie",
    [(False, -2, False, True), (True, -1, True, False)],
    ids=["llama-tied-default", "qwen2-untied-full"],
)
def test_export_loads_in_transformers_with_same_logits(
    tmp_path: Path, qkv_bias: bool, layer: int, keep_cls: bool, tie: bool
) -> None:
    native = make_native(
        tmp_path / "native", qkv_bias=qkv_bias, feature_layer=layer, keep_cls=keep_cls, tie=tie
    )
    out = convert_to_hf(native, tmp_path / "hf")
    assert json.loads((out / "config.json").read_text())["model_type"] == "llava"
    hf = transformers.AutoModelForImageTextToText.from_pretrained(
        str(out), local_files_only=True
    ).eval()
    proc = transformers.AutoProcessor.from_pretrained(str(out), local_files_only=True)
    ours, ours_proc = load_model(native), Processor.from_pretrained(native)

    pics = images(2, seed=5)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "two?"}],
        }
    ]
    text = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ref = proc(text=[text], images=pics, return_tensors="pt")
    ids = ours_proc.encode_prompt([Turn("user", "<image>\n<image>\ntwo?")], n_images=2)
    # the HF processor renders our template and expands <image> to the same token count
    assert ref["input_ids"][0].tolist() == ids
    assert ids.count(ours.config.image_token_id) == 2 * ours.image_tokens_per_image
    pixels = ours_proc.preprocess_images(pics)
    torch.testing.assert_close(ref["pixel_values"], pixels, atol=1e-5, rtol=0)
    with torch.no_grad():
        want = ours(torch.tensor([ids]), pixels).logits
        got = hf(**ref).logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)

    # and back: the re-imported model is the original, with its training-capable template
    again, again_proc = load_hf_llava(out)
    assert again.config == ours.config
    for key, value in ours.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
    assert type(again_proc) is Processor
    assert again_proc.template == ours_proc.template


@pytest.mark.parametrize("connector", ["pixel_shuffle", "linear"])
def test_connectors_llava_cannot_express_refuse(tmp_path: Path, connector: str) -> None:
    native = make_native(tmp_path / "native", connector=connector)
    with pytest.raises(ConversionError, match="'connector'"):
        convert_to_hf(native, tmp_path / "hf")
    assert not (tmp_path / "hf" / "model.safetensors").exists()


def test_images_after_the_question_refuse(tmp_path: Path) -> None:
    native = make_native(tmp_path / "native")
    path = native / "processor_config.json"
    config = json.loads(path.read_text())
    config["image_placement"] = "after_text"
    path.write_text(json.dumps(config))
    with pytest.raises(ConversionError, match="after_text"):
        convert_to_hf(native, tmp_path / "hf")
    assert not (tmp_path / "hf" / "model.safetensors").exists()
