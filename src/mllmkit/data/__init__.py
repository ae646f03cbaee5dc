"""mllmkit.data: read conversation and benchmark files, load images safely, tokenise.

Public names are re-exported lazily: `import mllmkit.data.llava` (or reading a TSV) must
not pay for importing torch and transformers, which only the tokenizer, processor and
collation need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # errors
    "DataError": "mllmkit.data.errors",
    "ImageLoadError": "mllmkit.data.errors",
    "SampleTooLongError": "mllmkit.data.errors",
    "TokenizationMismatchError": "mllmkit.data.errors",
    # images
    "DEFAULT_MAX_PIXELS": "mllmkit.data.images",
    "decode_image_bytes": "mllmkit.data.images",
    "load_image": "mllmkit.data.images",
    "read_image_size": "mllmkit.data.images",
    # conversations
    "IMAGE_TOKEN": "mllmkit.data.conversation",
    "Conversation": "mllmkit.data.conversation",
    "Turn": "mllmkit.data.conversation",
    "ImageProblem": "mllmkit.data.llava",
    "read_conversations": "mllmkit.data.llava",
    "validate_images": "mllmkit.data.llava",
    # benchmark TSVs
    "BenchRow": "mllmkit.data.tsv",
    "ImageRef": "mllmkit.data.tsv",
    "read_benchmark_tsv": "mllmkit.data.tsv",
    # tokenizer and template
    "SPECIAL_TOKENS": "mllmkit.data.tokenizer",
    "add_missing_special_tokens": "mllmkit.data.tokenizer",
    "load_tokenizer": "mllmkit.data.tokenizer",
    "train_tokenizer": "mllmkit.data.tokenizer",
    "TEMPLATES": "mllmkit.data.template",
    "ChatTemplate": "mllmkit.data.template",
    "get_template": "mllmkit.data.template",
    "register_template": "mllmkit.data.template",
    # processor, encoding, collation
    "CLIP_MEAN": "mllmkit.data.image_transform",
    "CLIP_STD": "mllmkit.data.image_transform",
    "IGNORE_INDEX": "mllmkit.data.encoded",
    "EncodeStats": "mllmkit.data.encoded",
    "Encoded": "mllmkit.data.encoded",
    "Processor": "mllmkit.data.processor",
    "collate_prompts": "mllmkit.data.collate",
    "collate_train": "mllmkit.data.collate",
}

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_MAX_PIXELS",
    "IGNORE_INDEX",
    "IMAGE_TOKEN",
    "SPECIAL_TOKENS",
    "TEMPLATES",
    "BenchRow",
    "ChatTemplate",
    "Conversation",
    "DataError",
    "EncodeStats",
    "Encoded",
    "ImageLoadError",
    "ImageProblem",
    "ImageRef",
    "Processor",
    "SampleTooLongError",
    "TokenizationMismatchError",
    "Turn",
    "add_missing_special_tokens",
    "collate_prompts",
    "collate_train",
    "decode_image_bytes",
    "get_template",
    "load_image",
    "load_tokenizer",
    "read_benchmark_tsv",
    "read_conversations",
    "read_image_size",
    "register_template",
    "train_tokenizer",
    "validate_images",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mllmkit.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # let type checkers and IDEs see the re-exports
    from mllmkit.data.collate import collate_prompts, collate_train
    from mllmkit.data.conversation import IMAGE_TOKEN, Conversation, Turn
    from mllmkit.data.encoded import IGNORE_INDEX, Encoded, EncodeStats
    from mllmkit.data.errors import (
        DataError,
        ImageLoadError,
        SampleTooLongError,
        TokenizationMismatchError,
    )
    from mllmkit.data.image_transform import CLIP_MEAN, CLIP_STD
    from mllmkit.data.images import (
        DEFAULT_MAX_PIXELS,
        decode_image_bytes,
        load_image,
        read_image_size,
    )
    from mllmkit.data.llava import ImageProblem, read_conversations, validate_images
    from mllmkit.data.processor import Processor
    from mllmkit.data.template import TEMPLATES, ChatTemplate, get_template, register_template
    from mllmkit.data.tokenizer import (
        SPECIAL_TOKENS,
        add_missing_special_tokens,
        load_tokenizer,
        train_tokenizer,
    )
    from mllmkit.data.tsv import BenchRow, ImageRef, read_benchmark_tsv
