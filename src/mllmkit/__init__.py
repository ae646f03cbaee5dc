"""mllmkit: build, train, accelerate, evaluate and judge multimodal LLMs.

Public entry points are imported lazily so that `import mllmkit` (and the `mllm`
command's help) stays fast and does not pull in torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "load_processor"]


def load_model(path: str, **kwargs: Any) -> Any:
    """Load a model folder (mllmkit checkpoint, or a Hugging Face LLaVA folder converted in
    memory: recognised by `config.json` `model_type == "llava"`) and return the `MLLM`."""
    from mllmkit.convert import is_hf_llava_dir

    if is_hf_llava_dir(path):
        from mllmkit.convert.from_hf import load_hf_llava

        return load_hf_llava(path, **kwargs)[0]
    from mllmkit.models.io import load_model as _load

    return _load(path, **kwargs)


def load_processor(path: str, **kwargs: Any) -> Any:
    """Load the `Processor` (tokenizer + image preprocessing + chat template) of a model folder."""
    from mllmkit.convert import is_hf_llava_dir

    if is_hf_llava_dir(path):
        from mllmkit.convert.from_hf import load_hf_processor

        return load_hf_processor(path, **kwargs)
    from mllmkit.data.processor import Processor

    return Processor.from_pretrained(path, **kwargs)
