"""Hugging Face LLaVA import/export (`convert_from_hf`, `load_hf_llava`, `convert_to_hf`).

Submodules: `weight_map` (name tables), `hf_config` (config fields), `hf_processor`
(tokenizer, chat template, image settings), `from_hf`, `to_hf`, `verify` (side-by-side run
against transformers). Importing this package does not import torch or transformers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["convert_from_hf", "convert_to_hf", "is_hf_llava_dir", "load_hf_llava"]


def convert_from_hf(hf_dir: Any, out_dir: Any) -> Any:
    from mllmkit.convert.from_hf import convert_from_hf as _run

    return _run(hf_dir, out_dir)


def load_hf_llava(hf_dir: Any, **kwargs: Any) -> Any:
    from mllmkit.convert.from_hf import load_hf_llava as _run

    return _run(hf_dir, **kwargs)


def convert_to_hf(native_dir: Any, out_hf_dir: Any) -> Any:
    from mllmkit.convert.to_hf import convert_to_hf as _run

    return _run(native_dir, out_hf_dir)


def is_hf_llava_dir(path: Any) -> bool:
    from mllmkit.convert.from_hf import is_hf_llava_dir as _check

    return _check(path)
