"""Import a Hugging Face LLaVA folder (CLIP + Llama/Qwen2) as a native `MLLM` + `Processor`.

A folder is recognised by its `config.json` field `model_type == "llava"` (never by its path).
Weights are read from `model.safetensors` or the shards listed in
`model.safetensors.index.json`; pickled `.bin` weights are refused (loading them runs code).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import mllm_config_from_hf
from mllmkit.convert.hf_processor import JinjaPromptProcessor, build_processor
from mllmkit.convert.weight_map import hf_to_ours
from mllmkit.data.processor import Processor
from mllmkit.models.config import MLLMConfig
from mllmkit.models.io import save_model
from mllmkit.models.mllm import MLLM

WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"


def is_hf_llava_dir(path: str | Path) -> bool:
    """True when `path/config.json` says `"model_type": "llava"`."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("model_type") == "llava"


def read_hf_config(hf_dir: Path) -> Any:
    import transformers

    if not is_hf_llava_dir(hf_dir):
        raise ConversionError(f"{hf_dir / 'config.json'}: not a LLaVA config (model_type)")
    try:
        return transformers.LlavaConfig.from_pretrained(str(hf_dir), local_files_only=True)
    except Exception as exc:  # transformers' own validation errors have varied types
        raise ConversionError(f"{hf_dir / 'config.json'}: {exc}") from None


def read_hf_weights(hf_dir: Path) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint, from one file or the shards of an index."""
    single, index = hf_dir / WEIGHTS, hf_dir / INDEX
    if single.is_file():
        files = [single]
    elif index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files = [hf_dir / name for name in sorted(set(weight_map.values()))]
    else:
        raise ConversionError(
            f"{hf_dir}: no {WEIGHTS} or {INDEX} (pickled .bin weights are not read; "
            "re-save the model with safetensors)"
        )
    tensors: dict[str, torch.Tensor] = {}
    for path in files:
        try:
            tensors.update(load_file(str(path), device="cpu"))
        except Exception as exc:  # safetensors has its own error types
            raise ConversionError(f"{path}: cannot read safetensors ({exc})") from None
    return tensors


def load_hf_config_and_processor(hf_dir: str | Path) -> tuple[MLLMConfig, Processor]:
    """Our config and processor for an HF LLaVA folder, without reading any weights."""
    hf_dir = Path(hf_dir)
    hf = read_hf_config(hf_dir)
    source = str(hf_dir / "config.json")
    image_id = int(hf.image_token_index)
    draft = mllm_config_from_hf(hf, pad_token_id=image_id, eos_token_id=image_id, source=source)
    processor = build_processor(hf_dir, draft.vision.image_size, draft.image_tokens_per_image)
    if processor.image_token_id != image_id:
        raise ConversionError(
            f"{source}: field 'image_token_index' is {image_id} but the tokenizer's <image> "
            f"token has id {processor.image_token_id}"
        )
    config = dataclasses.replace(
        draft, pad_token_id=processor.pad_token_id, eos_token_id=processor.eos_token_id
    )
    return config, processor


def load_hf_processor(hf_dir: str | Path) -> Processor:
    """The processor of an HF LLaVA folder (see `hf_processor`)."""
    return load_hf_config_and_processor(hf_dir)[1]


def load_hf_llava(
    hf_dir: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[MLLM, Processor]:
    """Convert in memory: the native model (eval mode) and its processor."""
    hf_dir = Path(hf_dir)
    config, processor = load_hf_config_and_processor(hf_dir)
    with torch.device("meta"):
        model = MLLM(config, init_weights=False)
    state = hf_to_ours(read_hf_weights(hf_dir), set(model.state_dict()), str(hf_dir))
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    expected = model.state_dict()
    wrong = [
        f"{k} (stored {list(v.shape)}, config {list(expected[k].shape)})"
        for k, v in state.items()
        if tuple(v.shape) != tuple(expected[k].shape)
    ]
    if wrong:
        raise ConversionError(f"{hf_dir}: shape mismatch: {', '.join(wrong[:12])}")
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval(), processor


def convert_from_hf(hf_dir: str | Path, out_dir: str | Path) -> Path:
    """Write a native checkpoint folder (model + processor) converted from `hf_dir`."""
    model, processor = load_hf_llava(hf_dir)
    if isinstance(processor, JinjaPromptProcessor):
        raise ConversionError(
            f"{hf_dir}: its chat template is not one mllmkit can express as a ChatTemplate; "
            "the checkpoint still runs in place (mllmkit.load_model / the transformers "
            "backend) but cannot be written as a native folder"
        )
    out = save_model(model, out_dir)
    processor.save_pretrained(out)
    return out
