"""Model configuration dataclasses.

A checkpoint's `config.json` is `MLLMConfig.to_dict()`; `from_dict` refuses unknown keys so a
typo in a hand-edited config fails loudly instead of silently falling back to a default.
Field names follow the Hugging Face CLIP / Llama configs where a counterpart exists, so a
converter maps them one to one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

VISION_ACTIVATIONS = ("quick_gelu", "gelu")
VISION_STEMS = ("patch", "conv")


class ConfigError(ValueError):
    """A model configuration is invalid; the message names the section and the field."""


def _from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"{where}: {exc}") from None


def _is_power_of_two(n: int, minimum: int = 1) -> bool:
    return n >= minimum and n & (n - 1) == 0


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {message}")


@dataclass
class VisionConfig:
    """CLIP-style ViT.

    `feature_layer` indexes hidden states like Hugging Face CLIP: 0 = the embeddings after
    `pre_layrnorm`, i = output of encoder layer i, -1 = last layer, -2 = penultimate.
    `keep_cls=False` drops the class token (LLaVA's `default` feature strategy).
    `stem` is how pixels become tokens: `patch` (CLIP's strided convolution; the only one
    that exports to Hugging Face) or `conv` (stride-2 3x3 convolutions, for towers trained
    from scratch; see `vision_stem.py`). Both give image_size / patch_size tokens per side.
    """

    image_size: int = 64
    patch_size: int = 8
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    feature_layer: int = -1
    keep_cls: bool = False
    num_channels: int = 3
    stem: str = "patch"

    def __post_init__(self) -> None:
        w = "vision config"
        for name in (
            "image_size",
            "patch_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "num_channels",
        ):
            _require(getattr(self, name) > 0, w, f"'{name}' must be > 0, got {getattr(self, name)}")
        _require(
            self.image_size % self.patch_size == 0,
            w,
            f"'image_size' {self.image_size} is not a multiple of 'patch_size' {self.patch_size}",
        )
        _require(
            self.hidden_size % self.num_heads == 0,
            w,
            f"'hidden_size' {self.hidden_size} is not divisible by 'num_heads' {self.num_heads}",
        )
        _require(
            self.hidden_act in VISION_ACTIVATIONS,
            w,
            f"'hidden_act' must be one of {VISION_ACTIVATIONS}, got {self.hidden_act!r}",
        )
        _require(
            self.stem in VISION_STEMS,
            w,
            f"'stem' must be one of {VISION_STEMS}, got {self.stem!r}",
        )
        _require(
            self.stem != "conv" or _is_power_of_two(self.patch_size, minimum=2),
            w,
            f"'patch_size' {self.patch_size} must be a power of two >= 2 for the conv stem",
        )
        n = self.num_layers
        _require(
            -(n + 1) <= self.feature_layer <= n,
            w,
            f"'feature_layer' {self.feature_layer} is out of range for {n} layers "
            f"(valid: {-(n + 1)}..{n})",
        )

    @property
    def grid_size(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size**2

    @property
    def feature_index(self) -> int:
        """`feature_layer` as a non-negative index into the `num_layers + 1` hidden states."""
        f = self.feature_layer
        return f if f >= 0 else self.num_layers + 1 + f

    @property
    def num_feature_tokens(self) -> int:
        """Tokens per image leaving the tower (patches, plus the class token if kept)."""
        return self.num_patches + (1 if self.keep_cls else 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisionConfig:
        return _from_dict(cls, data, "vision config")


@dataclass
class LMConfig:
    """Llama-compatible decoder; `qkv_bias=True` gives the Qwen2 variant."""

    vocab_size: int
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 4
    intermediate_size: int = 704
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    qkv_bias: bool = False
    tie_word_embeddings: bool = True
    max_position_embeddings: int = 2048
    head_dim: int | None = None
    # a learned "null" key per key/value head that every query sees, with a zero value
    # (`attention.py`): attention can then land on nothing when no token matches
    attention_sink: bool = False

    def __post_init__(self) -> None:
        w = "lm config"
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "num_kv_heads",
            "intermediate_size",
            "max_position_embeddings",
        ):
            _require(getattr(self, name) > 0, w, f"'{name}' must be > 0, got {getattr(self, name)}")
        _require(
            self.num_heads % self.num_kv_heads == 0,
            w,
            f"'num_heads' {self.num_heads} is not a multiple of 'num_kv_heads' {self.num_kv_heads}",
        )
        if self.head_dim is None:
            _require(
                self.hidden_size % self.num_heads == 0,
                w,
                f"'hidden_size' {self.hidden_size} is not divisible by 'num_heads' "
                f"{self.num_heads} (set 'head_dim' explicitly)",
            )
        else:
            _require(self.head_dim > 0, w, f"'head_dim' must be > 0, got {self.head_dim}")
        _require(
            self.resolved_head_dim % 2 == 0,
            w,
            f"head dimension {self.resolved_head_dim} must be even for RoPE",
        )

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LMConfig:
        return _from_dict(cls, data, "lm config")


@dataclass
class ImageTagGroup:
    """One group of the image tagger's classes (e.g. `color`): per class, the words that
    name it and their token ids in the LM's vocabulary (empty for a class with no word,
    such as "no object here"). Ids are stored, not looked up, so a model folder needs no
    tokenizer to rebuild its tagger."""

    name: str
    words: list[str]
    token_ids: list[list[int]]

    def __post_init__(self) -> None:
        w = f"image tag group {self.name!r}"
        _require(bool(self.name), "image tag group", "'name' must be a non-empty string")
        _require(len(self.words) >= 2, w, f"needs at least 2 classes, got {len(self.words)}")
        _require(
            len(self.token_ids) == len(self.words),
            w,
            f"'token_ids' has {len(self.token_ids)} entries for {len(self.words)} 'words'",
        )
        for word, ids in zip(self.words, self.token_ids, strict=True):
            _require(
                bool(word) == bool(ids),
                w,
                f"class {word!r} has token ids {ids}: a class has ids exactly when it has a word",
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageTagGroup:
        return _from_dict(cls, data, "image tag group")


@dataclass
class MLLMConfig:
    """Vision tower + connector + decoder.

    The token ids are keyword-only and required: a model that guesses its image token id
    scatters features into the wrong positions without any error.
    """

    vision: VisionConfig
    lm: LMConfig
    connector: str = "mlp2x_gelu"
    connector_hidden: int | None = None
    # a learned embedding per image-token slot, added after the connector: tells the LM
    # where in the image each token is (its own positions are 1-D RoPE over the sequence)
    image_position_embedding: bool = False
    # init std of that embedding (None: the model's init std). Why a separate scale: the
    # slot code must be comparable to the image features it is added to, and a trained
    # tower's features leave the connector with RMS ~30 per channel, while matrices start
    # at std 0.02-0.1; an embedding drawn that small is invisible next to them, and Adam
    # moves it ~lr per step, so it never catches up (configs/demo.yaml has the figures)
    image_position_init_std: float | None = None
    # an image tagger (`tags.py`): a linear head on the tower's features predicts, per
    # token, a class in each group (kind, colour, ... of what the token shows), and the
    # expected embedding of the classes' words is added to the connector's output, rescaled
    # to `image_tag_weight` x the norm of that output (None: no tagger)
    image_tags: list[ImageTagGroup] | None = None
    image_tag_weight: float = 1.0
    # one learned vector per image of a sample (its first, second, ... image), added to
    # every token of that image as a direction rescaled to `image_index_weight` x the
    # token's norm (0: none). Why: with several images in one sequence, the LM can
    # otherwise tell which image a token came from only by its RoPE distance (tried on
    # the demo's multi-image questions, which stay near chance either way: demo.yaml)
    image_index_embedding: int = 0
    image_index_weight: float = 0.5
    # the same per-image vector, taken from the LM's own embedding table instead of learned
    # apart: image i's tokens get the (mean) embedding of `words[i]` (e.g. "first",
    # "second", the words a multi-image question is answered with), so a lookup of an
    # object also reads which image it is in, as the image tags make it read the object's
    # colour or cell. Exclusive with `image_index_embedding`
    image_index_words: ImageTagGroup | None = None
    image_token_id: int = field(kw_only=True)
    pad_token_id: int = field(kw_only=True)
    eos_token_id: int = field(kw_only=True)

    def __post_init__(self) -> None:
        from mllmkit.models.connectors import CONNECTORS  # torch import kept out of config

        w = "model config"
        _require(isinstance(self.vision, VisionConfig), w, "'vision' must be a VisionConfig")
        _require(isinstance(self.lm, LMConfig), w, "'lm' must be an LMConfig")
        _require(
            self.connector in CONNECTORS,
            w,
            f"unknown 'connector' {self.connector!r}; known: {sorted(CONNECTORS)}",
        )
        for name in ("image_token_id", "pad_token_id", "eos_token_id"):
            v = getattr(self, name)
            _require(
                isinstance(v, int) and 0 <= v < self.lm.vocab_size,
                w,
                f"'{name}' {v!r} is not a token id in [0, {self.lm.vocab_size})",
            )
        _require(
            self.image_position_init_std is None
            or (self.image_position_embedding and self.image_position_init_std > 0),
            w,
            f"'image_position_init_std' must be > 0 and needs 'image_position_embedding: "
            f"true'; got {self.image_position_init_std!r}",
        )
        self._check_tags(w)
        _require(
            isinstance(self.image_index_embedding, int) and self.image_index_embedding >= 0,
            w,
            f"'image_index_embedding' must be an image count >= 0, "
            f"got {self.image_index_embedding!r}",
        )
        _require(
            self.image_index_weight > 0,
            w,
            f"'image_index_weight' must be > 0, got {self.image_index_weight}",
        )
        words = self.image_index_words
        if words is not None:
            _require(
                not self.image_index_embedding,
                w,
                "'image_index_words' and 'image_index_embedding' are two ways to mark an "
                "image's place in its sample; set one",
            )
            _require(
                all(words.token_ids),
                w,
                f"'image_index_words': every image needs a word, got {words.words}",
            )
            bad = [i for ids in words.token_ids for i in ids if not 0 <= i < self.lm.vocab_size]
            _require(not bad, w, f"'image_index_words': token ids {bad} are not in the vocab")
        cls = CONNECTORS[self.connector]
        _require(
            self.connector_hidden is None or self.connector_hidden > 0,
            w,
            f"'connector_hidden' must be > 0 or null, got {self.connector_hidden}",
        )
        _require(
            self.connector_hidden is None or cls.uses_hidden,
            w,
            f"connector {self.connector!r} has no hidden layer; 'connector_hidden' must "
            f"be null, got {self.connector_hidden}",
        )
        _require(
            not self.vision.keep_cls or cls.supports_class_token,
            w,
            f"connector {self.connector!r} cannot take the class token; set "
            f"vision 'keep_cls' to false",
        )
        try:
            cls.num_output_tokens(self.vision.num_feature_tokens)
        except ValueError as exc:
            raise ConfigError(f"{w}: {exc}") from None

    def _check_tags(self, w: str) -> None:
        weight = self.image_tag_weight
        _require(weight > 0, w, f"'image_tag_weight' must be > 0, got {weight}")
        if self.image_tags is None:
            return
        _require(len(self.image_tags) > 0, w, "'image_tags' must list groups or be null")
        names = [g.name for g in self.image_tags]
        _require(len(set(names)) == len(names), w, f"'image_tags' repeats a group: {names}")
        vocab = self.lm.vocab_size
        for g in self.image_tags:
            bad = [i for ids in g.token_ids for i in ids if not 0 <= i < vocab]
            _require(
                not bad,
                w,
                f"image tag group {g.name!r}: token ids {bad} are not in [0, {vocab})",
            )

    @property
    def image_tokens_per_image(self) -> int:
        """Positions one image occupies in the LM sequence (after the connector)."""
        from mllmkit.models.connectors import CONNECTORS

        cls = CONNECTORS[self.connector]
        return cls.num_output_tokens(self.vision.num_feature_tokens)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MLLMConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"model config: expected an object, got {type(data).__name__}")
        data = dict(data)
        for key in ("vision", "lm"):
            if key not in data:
                raise ConfigError(f"model config: missing section '{key}'")
        data["vision"] = VisionConfig.from_dict(data["vision"])
        data["lm"] = LMConfig.from_dict(data["lm"])
        tags = data.get("image_tags")
        if tags is not None:
            if not isinstance(tags, list):
                raise ConfigError("model config: 'image_tags' must be a list of groups or null")
            data["image_tags"] = [ImageTagGroup.from_dict(g) for g in tags]
        words = data.get("image_index_words")
        if words is not None:
            if not isinstance(words, dict):
                raise ConfigError("model config: 'image_index_words' must be a group or null")
            data["image_index_words"] = ImageTagGroup.from_dict(words)
        return _from_dict(cls, data, "model config")
