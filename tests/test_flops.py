"""Analytic prefill FLOPs and KV-cache bytes with token reduction, against hand arithmetic."""

from __future__ import annotations

import pytest

from mllmkit.infer.flops import kv_cache_bytes, prefill_flops, reduction_cost
from mllmkit.infer.reduce import parse_reduction
from mllmkit.models import tiny_config


def config():  # type: ignore[no-untyped-def]
    # LM: d=32, 4 heads of 8 (d_q=32), 2 kv heads (d_kv=16), FFN m=64, 4 layers, vocab 96.
    # Vision: 32x32 px, 8 px patches -> 16 patches (+1 class token), width 32, MLP 64,
    # feature_layer=-1 -> both of its 2 layers run. Connector mlp2x_gelu 32 -> 32 -> 32.
    return tiny_config(lm={"num_kv_heads": 2, "num_layers": 4})


def test_fastv_prefill_flops_by_hand() -> None:
    cfg = config()
    seq, n_img = 26, 16  # 10 text tokens + one image of 16 tokens
    cost = reduction_cost(cfg, parse_reduction("fastv:k=2,r=0.5"), seq, 1)
    # tokens per layer: layers 0,1 see 26; layers 2,3 see 10 text + round(16 * 0.5) = 18
    assert cost.tokens_per_layer == [26, 26, 18, 18]
    # f(n) = 2n*d*(2d_q + 2d_kv) + 2n*3*d*m + 4n^2*hd*heads
    #      = 2n*32*96 + 2n*3*32*64 + 4n^2*8*4 = 6144n + 12288n + 128n^2 = 18432n + 128n^2
    f26 = 18432 * 26 + 128 * 26 * 26  # 479232 + 86528 = 565760
    f18 = 18432 * 18 + 128 * 18 * 18  # 331776 + 41472 = 373248
    assert (f26, f18) == (565760, 373248)
    assert cost.flops.decoder == 2 * 565760 + 2 * 373248 == 1878016
    assert cost.full_flops.decoder == 4 * 565760 == 2263040
    # score row at layer 2 over the 26 tokens entering it:
    # k for all: 2*26*32*16 = 26624; q for one: 2*32*32 = 2048; QK row: 2*26*8*4 = 1664
    assert cost.flops.selection == 26624 + 2048 + 1664 == 30336
    # vision: patch conv 2*16*3*8*8*32 = 196608; each layer with n=17 tokens:
    # 2*17*4*32*32 + 2*17*2*32*64 + 4*17*17*32 = 139264 + 139264 + 36992 = 315520
    assert cost.flops.vision == 196608 + 2 * 315520 == 827648
    # connector: 2*16*32*32 + 2*16*32*32 = 65536; lm head for one position: 2*32*96 = 6144
    assert (cost.flops.connector, cost.flops.lm_head) == (65536, 6144)
    total = 827648 + 65536 + 1878016 + 6144 + 30336
    full = 827648 + 65536 + 2263040 + 6144
    assert cost.flops.total == total and cost.full_flops.total == full
    assert cost.flops_pct == pytest.approx(100 * 2807680 / 3162368)
    # KV cache: per token per layer 2 (k, v) * 16 * 4 bytes = 128 bytes
    assert cost.kv_bytes == 128 * (26 + 26 + 18 + 18) == 11264
    assert cost.full_kv_bytes == 128 * 4 * 26 == 13312
    assert n_img == cfg.image_tokens_per_image


def test_other_strategies_token_counts() -> None:
    cfg = config()
    seq = 10 + 2 * 16  # two images
    counts = {
        "none": [42] * 4,
        "random:keep=0.25": [10 + 8] * 4,  # budget over the sample's 32 image tokens
        "pool:keep=0.25": [10 + 2 * 4] * 4,  # 4x4 grid -> 2x2 per image
        "visionzip:keep=0.25,merge=1": [10 + 2 * 4] * 4,  # 3 dominant + 1 contextual per image
        # stages at layers 1 and 3: 32 -> 16 -> 8 image tokens
        "pdrop:layers=1/3,keep=0.5/0.25": [42, 26, 26, 18],
        # default stages for 2 ratios on 4 layers: round(4/3) = 1, round(8/3) = 3
        "pdrop:keep=0.5/0.25": [42, 26, 26, 18],
    }
    for spec, want in counts.items():
        cost = reduction_cost(cfg, parse_reduction(spec), seq, 2)
        assert cost.tokens_per_layer == want, spec
        assert cost.flops.decoder == prefill_flops(cfg, seq, 2, want).decoder
        assert cost.kv_bytes == kv_cache_bytes(cfg.lm, want)
    assert reduction_cost(cfg, parse_reduction("none"), seq, 2).flops_pct == 100.0


def test_image_tagger_flops_by_hand() -> None:
    from mllmkit.infer.flops import connector_flops
    from mllmkit.models.config import ImageTagGroup

    cfg = config()
    plain = connector_flops(cfg, 2)
    cfg.image_tags = [
        ImageTagGroup(name="kind", words=["", "a", "b"], token_ids=[[], [10], [11, 12]]),
        ImageTagGroup(name="color", words=["", "c"], token_ids=[[], [13]]),
    ]
    # C = 5 classes, d_v = d = 32, 16 tower tokens per image, vocab 96:
    # per token 2*32*5 + 2*5*32 = 640; two images 2*16*640 = 20480; word matrix 2*5*96*32 = 30720
    assert connector_flops(cfg, 2) - plain == 20480 + 30720
    assert connector_flops(cfg, 0) == 0
