"""`LlavaConfig` (CLIP vision + Llama/Qwen2 text) ↔ `MLLMConfig`, field by field.

What maps:

| Hugging Face                                   | mllmkit                                 |
| ---------------------------------------------- | --------------------------------------- |
| `vision_config` (`clip_vision_model`)          | `vision.*` (`num_hidden_layers`→`num_layers`) |
| `vision_config.hidden_act` quick_gelu / gelu   | `vision.hidden_act`                     |
| `vision_feature_layer` (one int)               | `vision.feature_layer`                  |
| `vision_feature_select_strategy` default/full  | `vision.keep_cls` False/True            |
| `projector_hidden_act` gelu, projector bias    | connector `mlp2x_gelu`                  |
| `text_config` `llama` / `qwen2`                | `lm.*`, `qkv_bias` False / True         |
| `rope_parameters.rope_theta` (type `default`)  | `lm.rope_theta`                         |
| `tie_word_embeddings`                          | `lm.tie_word_embeddings`                |
| `image_token_index`                            | `image_token_id`                        |

Everything else that would change the computation (a list of feature layers, RoPE scaling,
sliding windows, attention/MLP biases on Llama, another vision or text family, a projector
without bias or with another activation) raises `ConversionError` naming the field.
"""

from __future__ import annotations

from typing import Any

from mllmkit.convert.errors import ConversionError
from mllmkit.models.config import VISION_ACTIVATIONS, LMConfig, MLLMConfig, VisionConfig

TEXT_FAMILIES = ("llama", "qwen2")
_STRATEGIES = {"default": False, "full": True}


def _fail(source: str, field: str, message: str) -> ConversionError:
    return ConversionError(f"{source}: field '{field}': {message}")


def _rope_theta(text: Any, source: str) -> float:
    params = getattr(text, "rope_parameters", None) or {}
    rope_type = params.get("rope_type", "default")
    if rope_type != "default":
        raise _fail(
            source,
            "text_config.rope_parameters.rope_type",
            f"{rope_type!r} is unsupported (only plain RoPE, 'default', is implemented)",
        )
    theta = params.get("rope_theta", getattr(text, "rope_theta", None))
    if theta is None:
        raise _fail(source, "text_config.rope_parameters.rope_theta", "missing")
    return float(theta)


def _lm_config(text: Any, tie: bool, source: str) -> LMConfig:
    family = getattr(text, "model_type", None)
    if family not in TEXT_FAMILIES:
        raise _fail(
            source,
            "text_config.model_type",
            f"{family!r} is unsupported; supported: {list(TEXT_FAMILIES)}",
        )
    if getattr(text, "hidden_act", "silu") != "silu":
        raise _fail(
            source, "text_config.hidden_act", f"{text.hidden_act!r}; only 'silu' is supported"
        )
    if family == "llama":
        for name in ("attention_bias", "mlp_bias"):
            if getattr(text, name, False):
                raise _fail(source, f"text_config.{name}", "true is unsupported")
        if getattr(text, "pretraining_tp", 1) != 1:
            raise _fail(source, "text_config.pretraining_tp", "must be 1")
    if family == "qwen2" and getattr(text, "use_sliding_window", False):
        raise _fail(
            source, "text_config.use_sliding_window", "sliding-window attention is unsupported"
        )
    heads = int(text.num_attention_heads)
    head_dim = getattr(text, "head_dim", None)
    if head_dim is not None and int(head_dim) == text.hidden_size // heads:
        head_dim = None  # the default; keep our config minimal
    return LMConfig(
        vocab_size=int(text.vocab_size),
        hidden_size=int(text.hidden_size),
        num_layers=int(text.num_hidden_layers),
        num_heads=heads,
        num_kv_heads=int(getattr(text, "num_key_value_heads", None) or heads),
        intermediate_size=int(text.intermediate_size),
        rope_theta=_rope_theta(text, source),
        rms_norm_eps=float(text.rms_norm_eps),
        qkv_bias=family == "qwen2",
        tie_word_embeddings=tie,
        max_position_embeddings=int(text.max_position_embeddings),
        head_dim=None if head_dim is None else int(head_dim),
    )


def _vision_config(hf: Any, source: str) -> VisionConfig:
    vision = hf.vision_config
    if getattr(vision, "model_type", None) != "clip_vision_model":
        raise _fail(
            source,
            "vision_config.model_type",
            f"{vision.model_type!r} is unsupported; only 'clip_vision_model' is",
        )
    if vision.hidden_act not in VISION_ACTIVATIONS:
        raise _fail(
            source,
            "vision_config.hidden_act",
            f"{vision.hidden_act!r}; supported: {list(VISION_ACTIVATIONS)}",
        )
    layer = hf.vision_feature_layer
    if not isinstance(layer, int):
        raise _fail(
            source,
            "vision_feature_layer",
            f"{layer!r}: a list of layers (concatenated features) is unsupported; use one integer",
        )
    strategy = hf.vision_feature_select_strategy
    if strategy not in _STRATEGIES:
        raise _fail(
            source,
            "vision_feature_select_strategy",
            f"{strategy!r}; supported: {list(_STRATEGIES)}",
        )
    return VisionConfig(
        image_size=int(vision.image_size),
        patch_size=int(vision.patch_size),
        hidden_size=int(vision.hidden_size),
        num_layers=int(vision.num_hidden_layers),
        num_heads=int(vision.num_attention_heads),
        intermediate_size=int(vision.intermediate_size),
        hidden_act=vision.hidden_act,
        layer_norm_eps=float(vision.layer_norm_eps),
        feature_layer=layer,
        keep_cls=_STRATEGIES[strategy],
        num_channels=int(vision.num_channels),
    )


def mllm_config_from_hf(
    hf: Any, *, pad_token_id: int, eos_token_id: int, source: str = "config.json"
) -> MLLMConfig:
    """Map a `LlavaConfig` onto an `MLLMConfig` (token ids come from the tokenizer)."""
    if getattr(hf, "model_type", None) != "llava":
        raise _fail(source, "model_type", f"{getattr(hf, 'model_type', None)!r}; expected 'llava'")
    if hf.projector_hidden_act != "gelu":
        raise _fail(
            source, "projector_hidden_act", f"{hf.projector_hidden_act!r}; only 'gelu' is supported"
        )
    if not getattr(hf, "multimodal_projector_bias", True):
        raise _fail(source, "multimodal_projector_bias", "false is unsupported")
    lm = _lm_config(hf.text_config, bool(hf.tie_word_embeddings), source)
    try:
        return MLLMConfig(
            vision=_vision_config(hf, source),
            lm=lm,
            connector="mlp2x_gelu",
            connector_hidden=None,
            image_token_id=int(hf.image_token_index),
            pad_token_id=int(pad_token_id),
            eos_token_id=int(eos_token_id),
        )
    except ValueError as exc:
        if isinstance(exc, ConversionError):
            raise
        raise ConversionError(f"{source}: {exc}") from None


def hf_config_from_mllm(cfg: MLLMConfig, source: str = "config.json") -> Any:
    """Build the `LlavaConfig` of a native model; raise for what LLaVA cannot express."""
    import transformers

    if cfg.image_position_embedding:
        raise _fail(
            source,
            "image_position_embedding",
            "LLaVA's projector has no per-token position embedding; export a model without it",
        )
    if cfg.lm.attention_sink:
        raise _fail(
            source,
            "lm.attention_sink",
            "Llama and Qwen2 attention have no sink key; export a model without one",
        )
    if cfg.image_index_embedding:
        raise _fail(
            source,
            "image_index_embedding",
            "LLaVA has no per-image index embedding; export a model without one",
        )
    if cfg.image_index_words is not None:
        raise _fail(
            source,
            "image_index_words",
            "LLaVA does not mark which image a token came from; export a model without it",
        )
    if cfg.image_tags is not None:
        raise _fail(
            source,
            "image_tags",
            "LLaVA has no image tagger; export a model without one",
        )
    if cfg.connector != "mlp2x_gelu":
        raise _fail(
            source,
            "connector",
            f"{cfg.connector!r} has no Hugging Face LLaVA counterpart; only 'mlp2x_gelu' exports",
        )
    if cfg.connector_hidden not in (None, cfg.lm.hidden_size):
        raise _fail(
            source,
            "connector_hidden",
            f"{cfg.connector_hidden}: LLaVA's projector "
            f"width is the LM hidden size ({cfg.lm.hidden_size})",
        )
    v, lm = cfg.vision, cfg.lm
    if v.stem != "patch":
        raise _fail(
            source,
            "vision.stem",
            f"{v.stem!r} has no CLIP counterpart; only the 'patch' stem exports",
        )
    vision = transformers.CLIPVisionConfig(
        hidden_size=v.hidden_size,
        intermediate_size=v.intermediate_size,
        num_hidden_layers=v.num_layers,
        num_attention_heads=v.num_heads,
        num_channels=v.num_channels,
        image_size=v.image_size,
        patch_size=v.patch_size,
        hidden_act=v.hidden_act,
        layer_norm_eps=v.layer_norm_eps,
    )
    common: dict[str, Any] = {
        "vocab_size": lm.vocab_size,
        "hidden_size": lm.hidden_size,
        "intermediate_size": lm.intermediate_size,
        "num_hidden_layers": lm.num_layers,
        "num_attention_heads": lm.num_heads,
        "num_key_value_heads": lm.num_kv_heads,
        "max_position_embeddings": lm.max_position_embeddings,
        "rms_norm_eps": lm.rms_norm_eps,
        "rope_parameters": {"rope_type": "default", "rope_theta": lm.rope_theta},
        "tie_word_embeddings": lm.tie_word_embeddings,
        "pad_token_id": cfg.pad_token_id,
        "eos_token_id": cfg.eos_token_id,
        "bos_token_id": None,
    }
    if lm.qkv_bias:
        if lm.head_dim is not None and lm.head_dim != lm.hidden_size // lm.num_heads:
            raise _fail(
                source,
                "lm.head_dim",
                "Qwen2 cannot express a head_dim other than hidden_size / num_heads",
            )
        text = transformers.Qwen2Config(**common)
    else:
        text = transformers.LlamaConfig(**common, head_dim=lm.resolved_head_dim)
    return transformers.LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=cfg.image_token_id,
        image_seq_length=cfg.image_tokens_per_image,
        vision_feature_layer=v.feature_layer,
        vision_feature_select_strategy="full" if v.keep_cls else "default",
        projector_hidden_act="gelu",
        multimodal_projector_bias=True,
        tie_word_embeddings=lm.tie_word_embeddings,
    )
