"""The image tagger: the tower's own per-token labels, handed to the LM as word embeddings.

Why: an LM trained from scratch must learn to find "the cross" among the image tokens by
matching the question's word against whatever vector the connector makes of a cross, and
both sides of that match are learned at once. In a small model on a CPU budget whether that
lookup forms in time varies from run to run. Object tags as anchors (Oscar, Li et al.
2020) give both sides a shared vocabulary: a linear head on the tower's features predicts,
per token, a class in each group (what kind of object the token shows, its colour, ...),
and the expected embedding of those classes' *words*, taken from the LM's own (trained)
embedding table, is added to the connector's output. The tags are the tower's predictions,
never the data's labels, so a held-out image gets only what the tower sees in it.

The head is part of the vision side (component `vision`): the `scene_cells` objective
trains it with the tower, and the LM stages freeze both. Scale: the connector's output has
a norm set by the tower's features (tens per channel for a tower trained from scratch)
while word embeddings start near the init std, so the tag vector is rescaled per token to
`weight` x the norm of the connector's output; a fixed scale would be wrong whenever
either side changes.
"""

from __future__ import annotations

import torch
from torch import nn

from mllmkit.models.config import ImageTagGroup


class ImageTagger(nn.Module):
    def __init__(self, in_dim: int, groups: list[ImageTagGroup], weight: float = 1.0) -> None:
        super().__init__()
        self.groups = [g.name for g in groups]
        self.sizes = [len(g.words) for g in groups]
        self.weight = weight
        self.head = nn.Linear(in_dim, sum(self.sizes))
        # (class, token id) pairs and each class's word length, as plain lists so a model
        # built on the meta device needs no re-initialisation (as `RotaryEmbedding`)
        self._pairs = [
            (c, i) for c, ids in enumerate(ids for g in groups for ids in g.token_ids) for i in ids
        ]
        self._lengths = [max(len(ids), 1) for g in groups for ids in g.token_ids]

    def logits(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """[N, T, D] tower features -> per group name, logits [N, T, classes]."""
        parts = self.head(features).split(self.sizes, dim=-1)
        return dict(zip(self.groups, parts, strict=True))

    def word_matrix(self, embedding: torch.Tensor) -> torch.Tensor:
        """[classes, D]: each class's mean word embedding (zero for a class with no word)."""
        n = sum(self.sizes)
        mix = embedding.new_zeros(n, embedding.shape[0])
        if self._pairs:
            index = torch.tensor(self._pairs, device=embedding.device).T
            mix.index_put_(
                (index[0], index[1]), embedding.new_ones(index.shape[1]), accumulate=True
            )
        lengths = torch.tensor(self._lengths, device=embedding.device, dtype=embedding.dtype)
        return (mix / lengths[:, None]) @ embedding

    def tag_embeddings(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """[N, T, D] features -> [N, T, lm hidden]: per token, the sum over groups of the
        expected word embedding under the head's class probabilities."""
        probs = torch.cat([p.softmax(dim=-1) for p in self.logits(features).values()], dim=-1)
        return probs @ self.word_matrix(embedding)

    def add_to(self, projected: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        """`projected` (the connector's output) plus `tags` rescaled per token to `weight` x
        the norm of `projected` (the scale factor is not differentiated: it only sets units)."""
        scale = projected.norm(dim=-1, keepdim=True) / tags.norm(dim=-1, keepdim=True).clamp_min(
            1e-12
        )
        return projected + tags * (self.weight * scale).detach()
