"""How a fresh language model's query projections start: `normal` or `mimetic`.

Why: every ability of the world hinges on *lookups*, attention from one token to the tokens
whose content matches it ("the red object" -> the image token tagged red). With independent
random W_q and W_k a head's score q.k is uncorrelated with how alike two tokens are, so each
lookup must first be found by gradient descent, and in short runs on a CPU whether a given
lookup forms varies from seed to seed (configs/demo.yaml). Mimetic initialisation
(Trockman & Kolter, "Mimetic Initialization of Self-Attention Layers", ICML 2023) starts
W_q W_k^T near a positive multiple of the identity, so that from step one a score grows
with the similarity of the two tokens' contents, as in trained attention layers.

A head of width 24 cannot hold an identity over 192 dimensions, so here each query head's
projection becomes a mix of its own random draw and a copy of its key/value head's key
projection, `q = a * q_random + b * k`, with `a = b = 1/sqrt(2)` so the projection's scale
is unchanged. A head's score then has a positive semi-definite part `b * (W_k x).(W_k y)`
(largest when x and y agree within the head's subspace) plus a random part; under RoPE
the match survives best in a head's slowly rotating dimensions, which is where a content
lookup across a few dozen tokens lives. It draws no random numbers, so every other weight
of a seeded model is the same either way.
"""

from __future__ import annotations

import math

import torch

from mllmkit.models.attention import Attention

ATTENTION_INITS = ("normal", "mimetic")
_MIX = 1.0 / math.sqrt(2.0)


@torch.no_grad()
def mimetic_(attn: Attention) -> None:
    """In place: each query head's rows (and bias, with `qkv_bias`) become
    `a * own + b * its key head's`."""
    hd, group = attn.head_dim, attn.num_heads // attn.num_kv_heads
    for name in ("weight", "bias"):
        q, k = getattr(attn.q_proj, name), getattr(attn.k_proj, name)
        if q is None:  # no biases (q and k carry one together, `qkv_bias`)
            continue
        k_rows = k.view(attn.num_kv_heads, hd, -1).repeat_interleave(group, dim=0)
        q.view(attn.num_heads, hd, -1).mul_(_MIX).add_(k_rows, alpha=_MIX)


def init_attention_(attention_layers: list[Attention], scheme: str) -> None:
    """Apply `scheme` (one of ATTENTION_INITS) to freshly drawn attention layers."""
    if scheme not in ATTENTION_INITS:
        raise ValueError(f"attention init {scheme!r} is not one of {ATTENTION_INITS}")
    if scheme == "mimetic":
        for attn in attention_layers:
            mimetic_(attn)
