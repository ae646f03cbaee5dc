"""The composed LLaVA-style model: vision tower -> connector -> decoder LM.

Image features replace the embeddings at positions where `input_ids == image_token_id`:
all images of a batch arrive in one tensor, in order of appearance, row by row, and fill
those positions in the same order. A token-reduction strategy (`reduction=`, inference only)
may pick image tokens right after the connector (`after_connector`) and/or inside the decoder
(see `DecoderLM`); image-token spans always come from `input_ids == image_token_id`.
Attribute names (`vision_tower`, `multi_modal_projector`,
`language_model`) mirror Hugging Face LLaVA so weight names map one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models.attention_init import init_attention_
from mllmkit.models.cache import KVCache
from mllmkit.models.config import MLLMConfig
from mllmkit.models.connectors import build_connector
from mllmkit.models.lm import DecoderLM
from mllmkit.models.norm import RMSNorm
from mllmkit.models.select import selected_positions
from mllmkit.models.tags import ImageTagger
from mllmkit.models.vision import VisionTower

IGNORE_INDEX = -100
INIT_STD = 0.02


@dataclass
class MLLMOutput:
    """`logits` is None when not requested; `loss` is the mean over `num_loss_tokens`."""

    logits: torch.Tensor | None
    loss: torch.Tensor | None = None
    cache: KVCache | None = None
    num_loss_tokens: int = 0


class MLLM(nn.Module):
    def __init__(
        self,
        config: MLLMConfig,
        *,
        seed: int | None = None,
        init_weights: bool = True,
        init_std: float = INIT_STD,
        lm_attention_init: str = "normal",
    ) -> None:
        """Build the model. Weights are drawn from a generator seeded with `seed` (or from
        torch's global generator when `seed` is None); `init_weights=False` skips that, for
        building on the meta device before loading a checkpoint. `lm_attention_init` is one
        of `ATTENTION_INITS` (models/attention_init.py)."""
        super().__init__()
        self.config = config
        self.vision_tower = VisionTower(config.vision)
        self.multi_modal_projector = build_connector(
            config.connector,
            config.vision.hidden_size,
            config.lm.hidden_size,
            config.connector_hidden,
        )
        if config.image_position_embedding:
            self.multi_modal_projector.add_position_embedding(
                config.image_tokens_per_image, config.lm.hidden_size
            )
        if config.image_index_embedding:
            self.multi_modal_projector.add_image_index_embedding(
                config.image_index_embedding, config.lm.hidden_size
            )
        self.image_tagger: ImageTagger | None = None
        if config.image_tags:
            self.image_tagger = ImageTagger(
                config.vision.hidden_size, config.image_tags, config.image_tag_weight
            )
        self.language_model = DecoderLM(config.lm)
        if init_weights:
            self.init_weights(seed, init_std, lm_attention_init)

    @property
    def connector(self) -> nn.Module:
        return self.multi_modal_projector

    @property
    def image_tokens_per_image(self) -> int:
        return self.config.image_tokens_per_image

    @torch.no_grad()
    def init_weights(
        self, seed: int | None = None, std: float = INIT_STD, lm_attention: str = "normal"
    ) -> None:
        """Normal(0, std) matrices and embeddings, zero biases, unit norms; the image
        tagger's head starts at zero (every class equally likely, so the tags start as each
        group's mean word instead of a random, confident guess on features of norm ~100);
        then the language model's attention per `lm_attention` (`ATTENTION_INITS`).

        Tests use a large `std` (~0.3): with 0.02 a tiny model's attention is nearly uniform,
        so a wrong position or mask would change its logits by less than the tolerance."""
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.Embedding)):
                module.weight.normal_(0.0, std, generator=gen)
                bias = getattr(module, "bias", None)
                if bias is not None:
                    bias.zero_()
            elif isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, RMSNorm):
                module.weight.fill_(1.0)
        self.vision_tower.embeddings.class_embedding.normal_(0.0, std, generator=gen)
        position = self.multi_modal_projector.position_embedding
        if position is not None:
            pos_std = self.config.image_position_init_std
            position.normal_(0.0, std if pos_std is None else pos_std, generator=gen)
        if self.image_tagger is not None:
            self.image_tagger.head.weight.zero_()
        index = self.multi_modal_projector.image_index_embedding
        if index is not None:  # drawn last: every other weight is as without it
            index.normal_(0.0, 1.0, generator=gen)
        init_attention_([layer.self_attn for layer in self.language_model.layers], lm_attention)

    def image_index_words(self) -> torch.Tensor | None:
        """[images, D]: per image slot, the mean embedding of its word's tokens
        (`config.image_index_words`), or None. Read from the embedding table at every call,
        so the marks follow the words as training moves them."""
        group = self.config.image_index_words
        if group is None:
            return None
        table = self.language_model.embed_tokens.weight
        return torch.stack([table[ids].mean(dim=0) for ids in group.token_ids])

    def encode_images(
        self, pixel_values: torch.Tensor | None, image_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """[N, C, H, W] -> [N, image_tokens_per_image, lm hidden]. `image_features` (the
        vision tower's output [N, T, vision hidden] for those images) skips the tower."""
        if image_features is None:
            image_features = self.vision_tower(pixel_values)
        return self.project_features(image_features)

    def project_features(self, features: torch.Tensor) -> torch.Tensor:
        """The tower's output [N, T, Dv] -> image tokens [N, T', Dlm]: the connector, plus
        the image tags when the model has a tagger."""
        out = self.multi_modal_projector.project(features)
        if self.image_tagger is None:
            return out
        tags = self.image_tagger.tag_embeddings(features, self.language_model.embed_tokens.weight)
        return self.image_tagger.add_to(out, self.multi_modal_projector.pool_tokens(tags))

    def embed_inputs(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        image_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token embeddings with image features scattered into the image-token positions."""
        return self.embed_and_select(input_ids, pixel_values, image_features=image_features)[0]

    def _check_image_features(self, image_features: torch.Tensor) -> None:
        v = self.config.vision
        want = [v.num_feature_tokens, v.hidden_size]
        if image_features.dim() != 3 or list(image_features.shape[1:]) != want:
            raise ValueError(
                f"image_features must be the vision tower's output [N, {want[0]}, {want[1]}]; "
                f"got {list(image_features.shape)}"
            )

    def embed_and_select(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        reduction: Any = None,
        *,
        image_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Embeddings as `embed_inputs`, plus the per-sample sequence indices to keep when
        `reduction.after_connector` selects image tokens next to the vision tower (None:
        keep all). The strategy may also rewrite features (e.g. merged tokens).

        `image_features` replaces `pixel_values` by the tower's output for those images: a
        training stage with a frozen tower computes it once per image and reuses it."""
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, length]; got {list(input_ids.shape)}")
        if image_features is not None:
            if pixel_values is not None:
                raise ValueError("give pixel_values or image_features, not both")
            if reduction is not None:
                raise ValueError("token reduction runs the vision tower: give pixel_values")
            self._check_image_features(image_features)
        embeds = self.language_model.embed_tokens(input_ids)
        is_image = input_ids == self.config.image_token_id
        n_pos = int(is_image.sum())
        images = pixel_values if image_features is None else image_features
        n_img = 0 if images is None else int(images.shape[0])
        per = self.image_tokens_per_image
        if n_pos != n_img * per:
            rows = is_image.sum(dim=1).tolist()
            raise ValueError(
                f"input_ids hold {n_pos} image-token positions (id {self.config.image_token_id}; "
                f"per row: {rows}) but the batch holds {n_img} image(s) x {per} tokens per "
                f"image = {n_img * per}; each <image> must expand to exactly {per} image tokens"
            )
        if n_img == 0:
            return embeds, None

        def mark(tokens: torch.Tensor) -> torch.Tensor:
            table, setting = self.image_index_words(), "image_index_words"
            if table is None:
                table = self.multi_modal_projector.image_index_embedding
                setting = "image_index_embedding"
            if table is None:
                return tokens  # no per-image vectors: nothing to compute per batch
            index = image_index_in_sample(is_image, per)
            return self.multi_modal_projector.mark_images(
                tokens, index, table, self.config.image_index_weight, setting
            )

        hook = getattr(reduction, "after_connector", None)
        if hook is None:
            features = mark(self.encode_images(pixel_values, image_features))
            return embeds.masked_scatter(is_image[..., None], features.to(embeds.dtype)), None
        want_cls = bool(getattr(reduction, "needs_class_attention", False))
        vis, cls_attn = self.vision_tower.features_and_class_attention(
            pixel_values,  # type: ignore[arg-type]
            want_cls,
        )
        features = mark(self.project_features(vis))
        chosen = hook(
            features=features,
            class_attention=cls_attn,
            has_class_token=self.config.vision.keep_cls,
            same_tokens=features.shape[1] == vis.shape[1],
        )
        if chosen is None:
            return embeds.masked_scatter(is_image[..., None], features.to(embeds.dtype)), None
        features, per_image = chosen
        embeds = embeds.masked_scatter(is_image[..., None], features.to(embeds.dtype))
        return embeds, _sequence_keep(is_image, per_image, per)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        position_ids: torch.Tensor | None = None,
        output_index: torch.Tensor | None = None,
        reduction: Any = None,
        image_features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final-norm hidden states [B, T, D] of the language model ([B, K, D] at
        `output_index` [B, K] if given; see `DecoderLM.forward`). `reduction` is a token
        reduction strategy (`mllmkit.infer.reduce`), applied only at prefill."""
        if reduction is None:
            embeds = self.embed_inputs(input_ids, pixel_values, image_features)
            return self.language_model(embeds, position_ids, attention_mask, cache, output_index)
        embeds, keep = self.embed_and_select(
            input_ids, pixel_values, reduction, image_features=image_features
        )
        return self.language_model(
            embeds,
            position_ids,
            attention_mask,
            cache,
            output_index,
            reduction=reduction,
            image_mask=input_ids == self.config.image_token_id,
            keep=keep,
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        labels: torch.Tensor | None = None,
        num_logits_to_keep: int = 0,
        *,
        position_ids: torch.Tensor | None = None,
        return_logits: bool = True,
        reduction: Any = None,
        image_features: torch.Tensor | None = None,
    ) -> MLLMOutput:
        """Logits (all positions, or the last `num_logits_to_keep`) and optional loss.

        The loss is next-token cross-entropy averaged over positions whose label is not -100
        (`num_loss_tokens` of them; `loss * num_loss_tokens` is the sum). With
        `return_logits=False` only supervised positions go through the last decoder layer's
        queries and MLP and the output projection: the cheap path for a training step. A given
        `cache` is filled in place and returned. `reduction` (inference only) is a visual-token
        reduction strategy applied at prefill (see `mllmkit.infer.reduce`); ask for the last
        `num_logits_to_keep` positions then (all logits would cover only the kept tokens).
        `image_features` (the vision tower's output) may stand in for `pixel_values`.
        """
        if reduction is not None and labels is not None:
            raise ValueError("token reduction is an inference feature; it cannot take labels")
        if labels is not None and labels.shape != input_ids.shape:
            raise ValueError(
                f"labels shape {list(labels.shape)} differs from input_ids {list(input_ids.shape)}"
            )
        lm = self.language_model
        if labels is not None and not return_logits:
            targets = labels[:, 1:]
            keep = targets != IGNORE_INDEX
            index, valid = selected_positions(keep)
            hidden = self.hidden_states(
                input_ids,
                pixel_values,
                attention_mask,
                cache,
                position_ids,
                output_index=index,
                image_features=image_features,
            )
            loss, n = self._loss(lm.logits(hidden[valid]), targets[keep])
            return MLLMOutput(logits=None, loss=loss, cache=cache, num_loss_tokens=n)

        k = num_logits_to_keep
        last_only = labels is None and 0 < k < input_ids.shape[1]
        index = None
        if last_only:
            t = input_ids.shape[1]
            index = torch.arange(t - k, t, device=input_ids.device).expand(input_ids.shape[0], k)
        hidden = self.hidden_states(
            input_ids,
            pixel_values,
            attention_mask,
            cache,
            position_ids,
            output_index=index,
            reduction=reduction,
            image_features=image_features,
        )
        logits = None
        if return_logits:
            logits = lm.logits(hidden if last_only or k <= 0 else hidden[:, -k:])
        loss, n = None, 0
        if labels is not None:
            targets = labels[:, 1:]
            keep = targets != IGNORE_INDEX
            full = logits if logits is not None and k <= 0 else lm.logits(hidden)
            loss, n = self._loss(full[:, :-1][keep], targets[keep])
        return MLLMOutput(logits=logits, loss=loss, cache=cache, num_loss_tokens=n)

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Mean cross-entropy of selected logits [N, V] against their targets [N]."""
        vocab = self.config.lm.vocab_size
        if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= vocab):
            raise ValueError(f"labels hold ids outside [0, {vocab}) other than {IGNORE_INDEX}")
        n = int(targets.numel())
        total = F.cross_entropy(logits.float(), targets, reduction="sum")
        return total / max(n, 1), n


def image_index_in_sample(is_image: torch.Tensor, per: int) -> torch.Tensor:
    """Each image's place in its own sample (0, 1, ...), in the order images are given
    (sample by sample): from the image-token positions [B, L] of the batch."""
    counts = is_image.sum(dim=1) // per
    starts = torch.cumsum(counts, dim=0) - counts
    index = torch.arange(int(counts.sum()), device=is_image.device)
    return index - torch.repeat_interleave(starts, counts)


def _sequence_keep(
    is_image: torch.Tensor, per_image: list[torch.Tensor], per: int
) -> list[torch.Tensor]:
    """Per-image kept token indices (within an image's `per` tokens) -> per-sample sequence
    indices: every non-image position plus the kept positions of each of the row's images
    (images belong to rows in order of appearance, row by row)."""
    keep: list[torch.Tensor] = []
    image = 0
    for row in is_image:
        positions = row.nonzero().flatten()
        parts = [(~row).nonzero().flatten()]
        for start in range(0, positions.numel(), per):
            span = positions[start : start + per]
            parts.append(span[per_image[image].to(span.device)])
            image += 1
        keep.append(torch.cat(parts))
    if image != len(per_image):
        raise ValueError(f"reduction returned keep lists for {len(per_image)} images, not {image}")
    return keep
