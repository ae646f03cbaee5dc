"""Connectors: vision features [N, T, Dv] -> LM embeddings [N, T', Dlm].

Every connector is registered under an exact name in `CONNECTORS`; the model config stores
that name. Each class says how many tokens it makes from `n_in` (`num_output_tokens`), so the
number of image positions in a prompt is known from the config alone, before any weights exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from mllmkit.models.linear import Linear

CONNECTORS: dict[str, type[Connector]] = {}


def register_connector(name: str) -> Callable[[type[Connector]], type[Connector]]:
    """Class decorator adding a connector under `name`; a second use of a name raises."""

    def add(cls: type[Connector]) -> type[Connector]:
        if name in CONNECTORS:
            raise ValueError(f"connector {name!r} is already registered ({CONNECTORS[name]})")
        CONNECTORS[name] = cls
        return cls

    return add


class Connector(nn.Module):
    """Base class. Subclasses take `(in_dim, out_dim, hidden_dim)` and implement `forward`;
    the model calls `project`, which adds the optional per-slot position embedding."""

    # whether `hidden_dim` means anything for this connector
    uses_hidden: bool = False
    # whether the vision tower may hand over its class token
    supports_class_token: bool = True

    def __init__(self) -> None:
        super().__init__()
        self.position_embedding: nn.Parameter | None
        self.register_parameter("position_embedding", None)
        self.image_index_embedding: nn.Parameter | None
        self.register_parameter("image_index_embedding", None)

    @classmethod
    def num_output_tokens(cls, n_in: int) -> int:
        return n_in

    def pool_tokens(self, values: torch.Tensor) -> torch.Tensor:
        """Per-input-token values [N, T, D] -> [N, T', D] aligned with this connector's
        output tokens (identity for a connector that keeps every token), so per-token
        extras such as image tags land on the output token they belong to."""
        if self.num_output_tokens(values.shape[1]) != values.shape[1]:
            raise NotImplementedError(f"{type(self).__name__} does not say how to pool tokens")
        return values

    def add_position_embedding(self, num_tokens: int, dim: int) -> None:
        """Learn one vector per output token slot (`position_embedding`, [num_tokens, dim]),
        added to every image's tokens by `project`."""
        self.position_embedding = nn.Parameter(torch.zeros(num_tokens, dim))

    def add_image_index_embedding(self, num_images: int, dim: int) -> None:
        """Learn one vector per image of a sample (`image_index_embedding`, [num_images,
        dim]); `mark_images` adds it to every token of that image."""
        self.image_index_embedding = nn.Parameter(torch.zeros(num_images, dim))

    @staticmethod
    def mark_images(
        tokens: torch.Tensor, index: torch.Tensor, table: torch.Tensor, weight: float, setting: str
    ) -> torch.Tensor:
        """Image tokens [N, T, D] plus, per image, its slot's vector `table[index]` (`index`
        [N]: each image's place in its sample, 0-based), as a direction rescaled per token to
        `weight` x the token's norm. `table` is the learned `image_index_embedding` or the
        word embeddings of `MLLMConfig.image_index_words`; `setting` names which, for the
        error when a sample holds more images than `table` has slots.

        Why rescaled: the connector's output has a norm set by the tower (tens per channel
        for a tower trained from scratch) while a learned vector starts near the init std;
        Adam moves it ~lr per step, so at a fixed scale it stays invisible (the same
        reason the image tags are rescaled, `mllmkit.models.tags`). The scale factor is
        not differentiated: it only sets units; the direction is what is learned."""
        n = table.shape[0]
        if index.numel() and int(index.max()) >= n:
            raise ValueError(
                f"a sample holds {int(index.max()) + 1} images but the model marks at most "
                f"{n} per sample (model config '{setting}')"
            )
        vectors = table[index]
        direction = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        scale = tokens.norm(dim=-1, keepdim=True).detach() * weight
        return tokens + direction[:, None, :].to(tokens.dtype) * scale

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """`forward`, plus the position embedding when there is one."""
        out = self(features)
        if self.position_embedding is not None:
            out = out + self.position_embedding
        return out


@register_connector("linear")
class LinearConnector(Connector):
    """One linear map per token (LLaVA-1.0)."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.linear = Linear(in_dim, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)


@register_connector("mlp2x_gelu")
class MLP2xGeluConnector(Connector):
    """Linear -> GELU -> Linear (LLaVA-1.5); names match HF `LlavaMultiModalProjector`."""

    uses_hidden = True

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        hidden = hidden_dim or out_dim
        self.linear_1 = Linear(in_dim, hidden)
        self.act = nn.GELU()
        self.linear_2 = Linear(hidden, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


@register_connector("pixel_shuffle")
class PixelShuffleConnector(Connector):
    """Space-to-depth on 2x2 neighbourhoods, then one linear map: 4x fewer image tokens.

    Needs the patch tokens only (no class token) on a square grid with an even side, so the
    neighbourhoods tile the grid exactly.
    """

    supports_class_token = False
    scale = 2

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.proj = Linear(in_dim * self.scale**2, out_dim, bias=False)

    @classmethod
    def _grid(cls, n_in: int) -> int:
        side = math.isqrt(n_in)
        if side * side != n_in or side % cls.scale != 0:
            raise ValueError(
                f"pixel_shuffle needs a square grid of patch tokens whose side is a multiple of "
                f"{cls.scale} (and no class token); got {n_in} tokens"
            )
        return side

    @classmethod
    def num_output_tokens(cls, n_in: int) -> int:
        return (cls._grid(n_in) // cls.scale) ** 2

    def _neighbourhoods(self, features: torch.Tensor) -> torch.Tensor:
        """[N, side*side, D] -> [N, (side/s)^2, s*s, D]: each output token's s x s inputs."""
        n, t, d = features.shape
        side, s = self._grid(t), self.scale
        x = features.reshape(n, side // s, s, side // s, s, d)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(n, (side // s) ** 2, s * s, d)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(self._neighbourhoods(features).flatten(2))

    def pool_tokens(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over each output token's neighbourhood."""
        return self._neighbourhoods(values).mean(dim=2)


def build_connector(name: str, in_dim: int, out_dim: int, hidden_dim: int | None) -> Connector:
    """Instantiate the connector registered as `name`."""
    if name not in CONNECTORS:
        raise ValueError(f"unknown connector {name!r}; known: {sorted(CONNECTORS)}")
    return CONNECTORS[name](in_dim, out_dim, hidden_dim)
