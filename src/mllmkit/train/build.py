"""Build (or load) the processor and the model a training run starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mllmkit.data.llava import read_conversations
from mllmkit.data.processor import Processor
from mllmkit.data.template import TEMPLATES
from mllmkit.data.tokenizer import load_tokenizer, train_tokenizer
from mllmkit.models.config import LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.io import load_model
from mllmkit.models.mllm import MLLM
from mllmkit.train.config import TrainConfig
from mllmkit.train.scene_cells import scene_word_tag_groups, tag_groups

# `model.image_tags` in a train config names a tag vocabulary; the model config stores its
# groups with token ids from the run's tokenizer
TAG_VOCABULARIES = {
    "scene_cells": tag_groups,
    "scene_words": scene_word_tag_groups,
}

DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.5, 0.5, 0.5)


def corpus_texts(cfg: TrainConfig) -> list[str]:
    """Every turn of every conversation stage's data, for training a tokenizer (stages with
    another objective, e.g. `scene_cells`, have no text)."""
    texts: list[str] = []
    for stage in cfg.stages:
        if stage.objective != "lm":
            continue
        for rel in stage.data:
            for conv in read_conversations(cfg.resolve(rel)):
                texts.extend(t.text for t in conv.turns)
    return texts


def model_config(
    model: dict[str, Any],
    *,
    vocab_size: int,
    image_token_id: int,
    pad_token_id: int,
    eos_token_id: int,
    tokenizer: Any = None,
) -> MLLMConfig:
    """The `MLLMConfig` a train config's `model` section describes, for a tokenizer of
    `vocab_size` with these special ids (the section itself names no token ids).
    `image_tags: NAME` (a key of `TAG_VOCABULARIES`) needs `tokenizer` to find its words."""
    m = dict(model)
    tags = m.pop("image_tags", None)
    if tags is not None:
        if tags not in TAG_VOCABULARIES:
            raise ValueError(
                f"model 'image_tags': unknown tag vocabulary {tags!r}; "
                f"known: {sorted(TAG_VOCABULARIES)}"
            )
        if tokenizer is None:
            raise ValueError("model 'image_tags' needs the tokenizer to find its words")
        m["image_tags"] = TAG_VOCABULARIES[tags](tokenizer)
    index_words = m.pop("image_index_words", None)
    if index_words is not None:
        if not isinstance(index_words, list) or not all(
            isinstance(x, str) and x.strip() for x in index_words
        ):
            raise ValueError(
                f"model 'image_index_words' must be a list of words (one per image slot, "
                f"e.g. [first, second]), got {index_words!r}"
            )
        if tokenizer is None:
            raise ValueError("model 'image_index_words' needs the tokenizer to find its words")
        m["image_index_words"] = tag_groups(tokenizer, {"image": tuple(index_words)})[0]
    return MLLMConfig(
        vision=VisionConfig.from_dict(m.pop("vision", {})),
        lm=LMConfig.from_dict({**m.pop("lm", {}), "vocab_size": vocab_size}),
        connector=m.pop("connector", "mlp2x_gelu"),
        image_token_id=image_token_id,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        **m,
    )


def build_processor(cfg: TrainConfig, out: Path, is_main: bool) -> Processor:
    """The processor: from `init_from`, from a tokenizer folder, or trained on the data.

    Only the main process trains and saves a tokenizer; the others load what it saved
    (the caller puts a barrier between the two calls).
    """
    if cfg.init_from:
        return Processor.from_pretrained(cfg.init_from)
    tok_dir = out / "tokenizer"
    if cfg.tokenizer.path:
        tokenizer = load_tokenizer(cfg.resolve(cfg.tokenizer.path))
    elif (tok_dir / "tokenizer.json").exists():
        tokenizer = load_tokenizer(tok_dir)
    elif is_main:
        tokenizer = train_tokenizer(
            corpus_texts(cfg),
            cfg.tokenizer.vocab_size,
            out_dir=tok_dir,
            splits=cfg.tokenizer.splits,
        )
    else:
        raise RuntimeError("tokenizer not ready: the main process must build it first")
    probe = model_config(
        cfg.model,
        vocab_size=len(tokenizer),
        image_token_id=0,
        pad_token_id=0,
        eos_token_id=0,
        tokenizer=tokenizer,
    )
    p = cfg.processor
    return Processor(
        tokenizer=tokenizer,
        template=TEMPLATES[p.get("template", "mllmkit")],
        image_size=probe.vision.image_size,
        image_mean=tuple(p.get("image_mean", DEFAULT_MEAN)),
        image_std=tuple(p.get("image_std", DEFAULT_STD)),
        image_tokens_per_image=probe.image_tokens_per_image,
        image_placement=p.get("image_placement", "as_written"),
    )


def build_model(cfg: TrainConfig, processor: Processor) -> MLLM:
    """A fresh model sized to the tokenizer, seeded, or the `init_from` checkpoint."""
    if cfg.init_from:
        return load_model(cfg.init_from)
    torch.manual_seed(cfg.seed)
    config = model_config(
        cfg.model,
        vocab_size=len(processor.tokenizer),
        image_token_id=processor.image_token_id,
        pad_token_id=processor.pad_token_id,
        eos_token_id=processor.eos_token_id,
        tokenizer=processor.tokenizer,
    )
    if config.image_tokens_per_image != processor.image_tokens_per_image:
        raise ValueError(
            f"model makes {config.image_tokens_per_image} visual tokens per image but the "
            f"processor expands <image> to {processor.image_tokens_per_image}"
        )
    return MLLM(config, init_std=cfg.init_std, lm_attention_init=cfg.lm_attention_init)
