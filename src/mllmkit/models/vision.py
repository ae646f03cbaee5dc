"""CLIP-structured vision transformer.

Parameter names are those of Hugging Face `CLIPVisionTransformer` (without its `vision_model.`
prefix) so converted CLIP weights load one to one. Only the layers up to `feature_layer` run;
the later layers and `post_layernorm` keep their weights (checkpoints carry them) but are not
used, as in LLaVA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models.config import VisionConfig
from mllmkit.models.linear import Linear
from mllmkit.models.vision_stem import ConvStem


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """The sigmoid approximation of GELU that OpenAI CLIP was trained with."""
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class VisionEmbeddings(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.patch_embedding: nn.Module
        if cfg.stem == "conv":
            self.patch_embedding = ConvStem(cfg.num_channels, cfg.patch_size, cfg.hidden_size)
        else:
            self.patch_embedding = nn.Conv2d(
                cfg.num_channels,
                cfg.hidden_size,
                kernel_size=cfg.patch_size,
                stride=cfg.patch_size,
                bias=False,
            )
        self.class_embedding = nn.Parameter(torch.zeros(cfg.hidden_size))
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, cfg.hidden_size)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # [N, P, D]
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight


class VisionAttention(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.q_proj = Linear(d, d)
        self.k_proj = Linear(d, d)
        self.v_proj = Linear(d, d)
        self.out_proj = Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        h = self.num_heads

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, t, h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        )
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))

    def class_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention [N, T-1] of the class token (row 0) over the patch tokens, mean over
        heads: only one query row is computed, the layer's forward stays on SDPA."""
        n, t, d = x.shape
        h = self.num_heads
        q = self.q_proj(x[:, :1]).view(n, 1, h, d // h).transpose(1, 2)
        k = self.k_proj(x).view(n, t, h, d // h).transpose(1, 2)
        probs = torch.softmax((q.float() @ k.float().transpose(-1, -2)) * (d // h) ** -0.5, -1)
        return probs.mean(dim=1)[:, 0, 1:]


class VisionMLP(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.act = ACTIVATIONS[cfg.hidden_act]
        self.fc1 = Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class VisionLayer(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.self_attn = VisionAttention(cfg)
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = VisionMLP(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class VisionEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VisionLayer(cfg) for _ in range(cfg.num_layers))


class VisionTower(nn.Module):
    """`forward(pixel_values[N, C, H, W]) -> features[N, T, hidden]`, T = patches (+1 CLS)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = VisionEmbeddings(cfg)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.encoder = VisionEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.features_and_class_attention(pixel_values, False)[0]

    def features_and_class_attention(
        self, pixel_values: torch.Tensor, class_attention: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features as `forward`, plus (if asked) the class token's attention over the patches
        [N, num_patches] inside the feature layer (the last layer run): the score that
        encoder-side token selection (VisionZip) ranks patches by."""
        cfg = self.config
        expected = (cfg.num_channels, cfg.image_size, cfg.image_size)
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"pixel_values must have shape [N, {', '.join(map(str, expected))}] for this "
                f"vision tower; got {list(pixel_values.shape)}"
            )
        weight = self.embeddings.patch_embedding.weight
        x = self.pre_layrnorm(self.embeddings(pixel_values.to(weight.dtype)))
        attention = None
        run = self.encoder.layers[: cfg.feature_index]
        for i, layer in enumerate(run):
            if class_attention and i == len(run) - 1:
                attention = layer.self_attn.class_attention(layer.layer_norm1(x))
            x = layer(x)
        return (x if cfg.keep_cls else x[:, 1:]), attention
