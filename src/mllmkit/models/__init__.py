"""mllmkit.models: the native LLaVA-family model (CLIP-style ViT + connector + Llama decoder)."""

from mllmkit.models.cache import KVCache, LayerCache
from mllmkit.models.config import ConfigError, LMConfig, MLLMConfig, VisionConfig
from mllmkit.models.connectors import CONNECTORS, register_connector
from mllmkit.models.io import CheckpointError, load_model, save_model
from mllmkit.models.mllm import MLLM, MLLMOutput
from mllmkit.models.presets import tiny_config

__all__ = [
    "CONNECTORS",
    "MLLM",
    "CheckpointError",
    "ConfigError",
    "KVCache",
    "LMConfig",
    "LayerCache",
    "MLLMConfig",
    "MLLMOutput",
    "VisionConfig",
    "load_model",
    "register_connector",
    "save_model",
    "tiny_config",
]
