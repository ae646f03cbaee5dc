"""Small building blocks against hand-computed values."""

from __future__ import annotations

import math

import torch

from mllmkit.models.cache import KVCache
from mllmkit.models.masks import position_ids_from_mask, visibility_mask
from mllmkit.models.norm import RMSNorm
from mllmkit.models.rope import RotaryEmbedding, apply_rope, rotate_half
from mllmkit.models.select import selected_positions, take_positions
from mllmkit.models.vision import quick_gelu


def test_rope_rotates_pairs_by_position_times_frequency() -> None:
    """head_dim 4, theta 100: frequencies 1 and 1/10; the pairs are (x0, x2) and (x1, x3)."""
    rope = RotaryEmbedding(head_dim=4, theta=100.0)
    cos, sin = rope(torch.tensor([[3]]))
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    got = apply_rope(x, cos, sin).flatten().tolist()
    a, b = 3.0, 0.3  # angles
    expected = [
        1 * math.cos(a) - 3 * math.sin(a),
        2 * math.cos(b) - 4 * math.sin(b),
        3 * math.cos(a) + 1 * math.sin(a),
        4 * math.cos(b) + 2 * math.sin(b),
    ]
    assert all(abs(g - e) < 1e-5 for g, e in zip(got, expected, strict=True))


def test_apply_rope_equals_the_rotate_half_formula() -> None:
    rope = RotaryEmbedding(head_dim=8, theta=10000.0)
    pos = torch.tensor([[0, 1, 5, 9], [2, 2, 3, 7]])
    cos, sin = rope(pos)
    x = torch.randn(2, 3, 4, 8, generator=torch.Generator().manual_seed(0))
    ref = x * cos[:, None] + rotate_half(x) * sin[:, None]
    torch.testing.assert_close(apply_rope(x, cos, sin), ref)


def test_rope_scores_depend_only_on_relative_position() -> None:
    rope = RotaryEmbedding(head_dim=8, theta=10000.0)
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 1, 1, 8, generator=g), torch.randn(1, 1, 1, 8, generator=g)

    def score(pq: int, pk: int) -> float:
        cq, sq = rope(torch.tensor([[pq]]))
        ck, sk = rope(torch.tensor([[pk]]))
        return float((apply_rope(q, cq, sq) * apply_rope(k, ck, sk)).sum())

    assert abs(score(7, 4) - score(103, 100)) < 1e-4
    assert abs(score(7, 4) - score(7, 5)) > 1e-3


def test_rms_norm_golden() -> None:
    norm = RMSNorm(2, eps=0.0)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0]))
    # rms of (3, 4) = sqrt(12.5)
    got = norm(torch.tensor([[3.0, 4.0]]))
    r = math.sqrt(12.5)
    torch.testing.assert_close(got, torch.tensor([[3 / r, 8 / r]]))


def test_quick_gelu_golden() -> None:
    assert abs(float(quick_gelu(torch.tensor(1.0))) - 1 / (1 + math.exp(-1.702))) < 1e-6


def test_positions_from_left_padded_mask_and_cache_start() -> None:
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert position_ids_from_mask(mask).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]
    start = torch.tensor([2, 4])
    assert position_ids_from_mask(torch.ones(2, 1), start).tolist() == [[2], [4]]


def test_visibility_mask_golden() -> None:
    """Left-padded row [pad, a, b]: a sees a, b sees a and b; the pad query (position 0,
    clamped) sees a so its softmax row is not empty. Unpadded row is plain causal."""
    pos = torch.tensor([[0, 0, 1], [0, 1, 2]])
    keys = torch.tensor([[False, True, True], [True, True, True]])
    m = visibility_mask(pos, pos, keys)
    assert m is not None and m.shape == (2, 1, 3, 3)
    assert m[0, 0].int().tolist() == [[0, 1, 0], [0, 1, 0], [0, 1, 1]]
    assert m[1, 0].int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    one = torch.tensor([[5]])
    assert visibility_mask(one, torch.tensor([[1, 2]]), torch.ones(1, 2, dtype=torch.bool)) is None


def test_cache_appends_per_layer_and_tracks_next_position() -> None:
    cache = KVCache()
    k = torch.zeros(2, 1, 3, 4)
    mask = torch.tensor([[False, True, True], [True, True, True]])
    pos = torch.tensor([[0, 0, 1], [0, 1, 2]])
    cache.append(0, k, k, mask, pos)
    cache.append(1, k, k, mask, pos)
    cache.advance(mask, pos)
    assert cache.next_position.tolist() == [2, 3]  # type: ignore[union-attr]
    e = cache.append(
        0, k[:, :, :1], k[:, :, :1], torch.ones(2, 1, dtype=torch.bool), torch.tensor([[2], [3]])
    )
    assert e.length == 4 and cache.past_length(1) == 3  # layers may differ in length
    assert e.key_pos[0].tolist() == [0, 0, 1, 2]
    cache.select(torch.tensor([1]))
    assert cache.batch_size == 1 and cache.layers[0].key_pos.tolist() == [[0, 1, 2, 3]]


def test_selected_positions_pads_rows_with_filler() -> None:
    sel = torch.tensor([[False, True, False, True], [False, False, False, False]])
    index, valid = selected_positions(sel)
    assert index[0].tolist() == [1, 3]
    assert valid.tolist() == [[True, True], [False, False]]
    x = torch.arange(8.0).view(2, 4, 1)
    assert take_positions(x, index)[0, :, 0].tolist() == [1.0, 3.0]


def test_swiglu_without_autograd_is_bit_identical_and_keeps_gradients_with_it() -> None:
    """The no-grad path overwrites the gate's output in place; it must give exactly the
    values of the autograd path, and the autograd path must still backpropagate."""
    from mllmkit.models.mlp import SwiGLU

    torch.manual_seed(0)
    mlp = SwiGLU(8, 16)
    x = torch.randn(2, 5, 8, requires_grad=True)
    y = mlp(x)
    y.sum().backward()
    assert x.grad is not None and mlp.gate_proj.weight.grad is not None
    with torch.no_grad():
        assert torch.equal(mlp(x), y.detach())
    with torch.inference_mode():
        assert torch.equal(mlp(x), y.detach())


def test_rms_norm_keeps_llama_dtype_promotion_and_backpropagates() -> None:
    """float32 weight on a bfloat16 input gives float32 (as Llama's `weight * h`); same dtype
    scales in place and still has gradients for input and weight."""
    norm = RMSNorm(4)
    x16 = torch.randn(3, 4).bfloat16()
    assert norm(x16).dtype == torch.float32
    x = torch.randn(3, 4, requires_grad=True)
    out = norm(x)
    out.square().sum().backward()
    assert x.grad is not None and norm.weight.grad is not None
    ref = norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_apply_rope_backpropagates_like_the_formula() -> None:
    rope = RotaryEmbedding(head_dim=8, theta=10000.0)
    cos, sin = rope(torch.tensor([[0, 3, 4]]))
    x = torch.randn(1, 2, 3, 8, requires_grad=True)
    apply_rope(x, cos, sin).square().sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    (x2 * cos[:, None] + rotate_half(x2) * sin[:, None]).square().sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
