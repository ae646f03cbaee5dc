"""Tiny offline Hugging Face LLaVA folders and native checkpoints for the converter tests."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from PIL import Image

from mllmkit.data.processor import Processor
from mllmkit.data.template import get_template
from mllmkit.data.tokenizer import train_tokenizer
from mllmkit.models import MLLM, LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.io import save_model

TEXTS = [
    "what colour is the circle? red. how many squares are there? two.",
    "is there a blue triangle left of the green star? yes, there is one.",
    "describe the picture: a small yellow square above a large purple circle.",
] * 8
IMAGE_SIZE, PATCH = 32, 8
# A LLaVA-1.5-like Jinja template that none of mllmkit's ChatTemplates renders.
FOREIGN_TEMPLATE = (
    "{% for m in messages %}{{ m['role'].upper() }}: "
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>\n"
    "{% else %}{{ p['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def tokenizer() -> transformers.PreTrainedTokenizerFast:
    return train_tokenizer(TEXTS, vocab_size=300)


def perturb(model: torch.nn.Module, seed: int = 1) -> None:
    """Large weights: at the default init a tiny model's attention hides position bugs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.3, generator=g)
            else:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def build_hf_llava(
    vocab_size: int,
    image_token_id: int,
    text: str = "llama",
    feature_layer: int = -2,
    strategy: str = "default",
    tie: bool = False,
) -> transformers.LlavaForConditionalGeneration:
    """A tiny random HF LLaVA in memory (CLIP + Llama or Qwen2, GQA), perturbed weights."""
    vision = transformers.CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
    )
    common = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
        "tie_word_embeddings": tie,
    }
    text_cfg = (
        transformers.LlamaConfig(**common)
        if text == "llama"
        else transformers.Qwen2Config(**common)
    )
    cfg = transformers.LlavaConfig(
        vision_config=vision,
        text_config=text_cfg,
        image_token_index=image_token_id,
        vision_feature_layer=feature_layer,
        vision_feature_select_strategy=strategy,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(0)
    model = transformers.LlavaForConditionalGeneration(cfg).eval()
    perturb(model)
    return model


def make_hf_llava(
    out: Path,
    text: str = "llama",
    feature_layer: int = -2,
    strategy: str = "default",
    tie: bool = False,
    chat_template: str | None = None,
) -> Path:
    """Save a random HF LLaVA (+ LlavaProcessor) folder; returns `out`."""
    tok = tokenizer()
    model = build_hf_llava(
        len(tok), tok.convert_tokens_to_ids("<image>"), text, feature_layer, strategy, tie
    )
    model.save_pretrained(str(out))
    jinja = chat_template or get_template("mllmkit").to_jinja()
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    tok.chat_template = jinja
    transformers.LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=PATCH,
        vision_feature_select_strategy=strategy,
        chat_template=jinja,
        image_token="<image>",
        num_additional_image_tokens=1,
    ).save_pretrained(str(out))
    return out


def make_native(
    out: Path,
    *,
    qkv_bias: bool = False,
    feature_layer: int = -2,
    keep_cls: bool = False,
    tie: bool = True,
    connector: str = "mlp2x_gelu",
) -> Path:
    """Save a random native checkpoint (model + processor); returns `out`."""
    tok = tokenizer()
    template = get_template("mllmkit")
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<image>", "<pad>", template.stop)}
    cfg = MLLMConfig(
        vision=VisionConfig(
            image_size=IMAGE_SIZE,
            patch_size=PATCH,
            hidden_size=32,
            num_layers=3,
            num_heads=2,
            intermediate_size=64,
            feature_layer=feature_layer,
            keep_cls=keep_cls,
        ),
        lm=LMConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            num_kv_heads=2,
            intermediate_size=64,
            qkv_bias=qkv_bias,
            tie_word_embeddings=tie,
        ),
        connector=connector,
        image_token_id=ids["<image>"],
        pad_token_id=ids["<pad>"],
        eos_token_id=ids[template.stop],
    )
    model = MLLM(cfg, seed=3, init_std=0.3)
    perturb(model, seed=4)
    save_model(model, out)
    processor = Processor(
        tok,
        template,
        image_size=IMAGE_SIZE,
        image_mean=(0.5, 0.4, 0.3),
        image_std=(0.2, 0.25, 0.3),
        image_tokens_per_image=cfg.image_tokens_per_image,
    )
    processor.save_pretrained(out)
    return out


def images(n: int, seed: int = 0) -> list[Image.Image]:
    """Random non-square RGB images of varied sizes."""
    g = torch.Generator().manual_seed(seed)
    sizes = [(45, 30), (30, 52), (64, 40), (37, 37), (50, 33)]
    out = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        pixels = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
        out.append(Image.fromarray(pixels.numpy(), "RGB"))
    return out
