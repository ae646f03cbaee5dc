"""Export a native checkpoint folder as a Hugging Face LLaVA folder.

The result loads offline with no custom code:
`AutoModelForImageTextToText.from_pretrained(out)` (config.json + model.safetensors in the
layout `save_pretrained` writes) and `AutoProcessor.from_pretrained(out)` (a `LlavaProcessor`:
tokenizer files, `CLIPImageProcessor` settings, and our chat template as Jinja, which renders
the same text as our `ChatTemplate`). The `ChatTemplate` itself is also written to
`mllmkit_chat_template.json` so a re-import gets a training-capable processor back.

Exportable: connector `mlp2x_gelu` (LLaVA's projector), any vision feature layer, class token
dropped (`default`) or kept (`full`), Llama or Qwen2-style (q/k/v bias) decoders, tied or not.
`linear` and `pixel_shuffle` connectors raise.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from mllmkit.convert.errors import ConversionError
from mllmkit.convert.hf_config import hf_config_from_mllm
from mllmkit.convert.hf_processor import RESAMPLE_CODES, TEMPLATE_FILE
from mllmkit.convert.weight_map import ours_to_hf
from mllmkit.data.conversation import IMAGE_TOKEN
from mllmkit.data.processor import Processor
from mllmkit.models.io import load_model
from mllmkit.models.mllm import MLLM


def hf_processor_for(model: MLLM, processor: Processor) -> Any:
    """The `LlavaProcessor` equivalent to our processor for this model."""
    import transformers

    cfg = model.config
    v = cfg.vision
    if processor.image_size != v.image_size:
        raise ConversionError(
            f"processor image_size {processor.image_size} differs from the vision tower's "
            f"{v.image_size}"
        )
    if processor.image_tokens_per_image != cfg.image_tokens_per_image:
        raise ConversionError(
            f"processor image_tokens_per_image {processor.image_tokens_per_image} differs "
            f"from the model's {cfg.image_tokens_per_image}"
        )
    if processor.image_placement == "after_text":
        raise ConversionError(
            "the processor places images after each question (image_placement "
            "'after_text'), which the exported chat template cannot reproduce (it renders "
            "images where the message puts them, as LLaVA users put them: first); export "
            "a model trained with 'as_written' or 'before_text'"
        )
    if processor.image_token_id != cfg.image_token_id:
        raise ConversionError(
            f"processor <image> id {processor.image_token_id} differs from the model's "
            f"image_token_id {cfg.image_token_id}"
        )
    image_processor = transformers.CLIPImageProcessor(
        do_resize=True,
        size={"shortest_edge": v.image_size},
        resample=RESAMPLE_CODES[processor.resample],
        do_center_crop=True,
        crop_size={"height": v.image_size, "width": v.image_size},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(processor.image_mean),
        image_std=list(processor.image_std),
        do_convert_rgb=True,
    )
    jinja = processor.template.to_jinja()
    tokenizer = copy.deepcopy(processor.tokenizer)
    tokenizer.chat_template = jinja
    return transformers.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=v.patch_size,
        vision_feature_select_strategy="full" if v.keep_cls else "default",
        chat_template=jinja,
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=1,  # CLIP's class token
    )


def export_to_hf(model: MLLM, processor: Processor, out_hf_dir: str | Path) -> Path:
    """Write `model` + `processor` as a Hugging Face LLaVA folder."""
    import transformers

    out = Path(out_hf_dir)
    hf_config = hf_config_from_mllm(model.config)
    hf_processor = hf_processor_for(model, processor)
    out.mkdir(parents=True, exist_ok=True)
    hf_config.architectures = ["LlavaForConditionalGeneration"]
    hf_config.save_pretrained(str(out))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(ours_to_hf(state), str(out / "model.safetensors"), metadata={"format": "pt"})
    transformers.GenerationConfig(
        eos_token_id=model.config.eos_token_id,
        pad_token_id=model.config.pad_token_id,
        bos_token_id=None,
        do_sample=False,
    ).save_pretrained(str(out))
    hf_processor.save_pretrained(str(out))
    (out / TEMPLATE_FILE).write_text(
        json.dumps(processor.template.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return out


def convert_to_hf(native_dir: str | Path, out_hf_dir: str | Path) -> Path:
    """Export the native checkpoint folder `native_dir` (model + processor) to `out_hf_dir`."""
    model = load_model(native_dir)
    processor = Processor.from_pretrained(native_dir)
    return export_to_hf(model, processor, out_hf_dir)
