"""`mllmkit.models.linear`: oneDNN products agree with `F.linear`, small ones stay on it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mllmkit.models import linear as L
from mllmkit.models.cache import KVCache
from mllmkit.models.mllm import MLLM
from mllmkit.models.presets import tiny_config

onednn = pytest.mark.skipif(not L._AVAILABLE, reason="this PyTorch build lacks oneDNN")


@pytest.fixture(autouse=True)
def _restore_switch():
    with L.use_onednn_linear(L.onednn_linear_enabled()):
        yield


def _large(seed: int = 0, bias: bool = True):
    g = torch.Generator().manual_seed(seed)
    # 3 x 40 rows x 512 in x 512 out: the weight alone (2^18 elements) qualifies
    x = torch.randn(3, 40, 512, generator=g)
    w = torch.randn(512, 512, generator=g) / 512**0.5
    b = torch.randn(512, generator=g) if bias else None
    return x, w, b


def test_routing_rule():
    x, w, b = _large()
    assert L._use_onednn(x, w, b) == L._AVAILABLE
    small_w = torch.randn(64, 32)
    assert not L._use_onednn(torch.randn(4, 32), small_w, None)
    # many rows make a small weight worth it: 2^16 rows x 32 x 64 MACs >= MIN_MACS
    assert L._use_onednn(torch.randn(1 << 16, 32), small_w, None) == L._AVAILABLE
    assert not L._use_onednn(x.double(), w.double(), None)
    assert not L._use_onednn(x[:, :0], w, b)  # no rows: F.linear's empty result
    assert not L._use_onednn(torch.randn(3, 7), w, None)  # F.linear raises the shape error


@onednn
@pytest.mark.parametrize("bias", [True, False])
def test_inference_matches_f_linear(bias: bool):
    x, w, b = _large(bias=bias)
    expected = F.linear(x, w, b)
    with torch.inference_mode():
        got = L.linear(x, w, b)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # a transposed (non-contiguous) input is read as it is
    xt = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert not xt.is_contiguous()
    with torch.no_grad():
        torch.testing.assert_close(L.linear(xt, w, b), expected, rtol=1e-5, atol=1e-5)


@onednn
def test_gradients_match_f_linear():
    x, w, b = _large(1)
    grad = torch.randn(3, 40, 512, generator=torch.Generator().manual_seed(2))
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    refs = [t.clone().requires_grad_() for t in (x, w, b)]
    out = L.linear(*leaves)
    assert out.grad_fn is not None and "OneDNN" in type(out.grad_fn).__name__
    out.backward(grad)
    F.linear(*refs).backward(grad)
    for got, ref in zip(leaves, refs, strict=True):
        torch.testing.assert_close(got.grad, ref.grad, rtol=1e-4, atol=1e-4)


@onednn
def test_only_needed_gradients_are_computed():
    x, w, _ = _large(3, bias=False)
    w.requires_grad_()
    L.linear(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    # d(sum of outputs)/dW[o, i] is the sum of input column i, for every output o
    expected = x.reshape(-1, 512).sum(0).expand(512, 512)
    torch.testing.assert_close(w.grad, expected, rtol=1e-4, atol=1e-3)


def test_switched_off_or_small_is_exactly_f_linear():
    x, w, b = _large()
    previous = L.set_onednn_linear(False)
    assert previous == L._AVAILABLE and not L.onednn_linear_enabled()
    with torch.no_grad():
        assert torch.equal(L.linear(x, w, b), F.linear(x, w, b))
    L.set_onednn_linear(True)
    assert L.onednn_linear_enabled() == L._AVAILABLE
    xs, ws = torch.randn(5, 16), torch.randn(8, 16)
    with torch.no_grad():
        assert torch.equal(L.linear(xs, ws), F.linear(xs, ws))


def test_linear_module_is_an_nn_linear():
    torch.manual_seed(0)
    ours = L.Linear(512, 256)
    torch.manual_seed(0)
    plain = nn.Linear(512, 256)
    assert isinstance(ours, nn.Linear)
    assert list(ours.state_dict()) == list(plain.state_dict())
    assert all(
        torch.equal(a, b) for a, b in zip(ours.parameters(), plain.parameters(), strict=True)
    )
    x = torch.randn(2, 512)
    torch.testing.assert_close(ours(x), plain(x), rtol=1e-5, atol=1e-5)


@onednn
def test_cached_decoding_on_onednn_products_equals_recomputation():
    """A model wide enough for the oneDNN path (512-wide LM): decoding one token with the
    KV cache (8-row products) matches the full forward over prompt + token (all rows)."""
    lm = {"hidden_size": 512, "num_heads": 8, "num_kv_heads": 8, "intermediate_size": 1024}
    model = MLLM(tiny_config(128, lm=lm), seed=0).eval()
    assert (
        L._use_onednn(torch.zeros(1, 512), model.language_model.layers[0].mlp.up_proj.weight, None)
        == L._AVAILABLE
    )
    g = torch.Generator().manual_seed(0)
    n_img = model.image_tokens_per_image
    ids = torch.cat([torch.full((2, n_img), 3), torch.randint(4, 128, (2, 6), generator=g)], 1)
    pixels = torch.randn(2, 3, 32, 32, generator=g)
    nxt = torch.randint(4, 128, (2, 1), generator=g)
    with torch.inference_mode():
        cache = KVCache()
        model(ids, pixels, torch.ones_like(ids), cache=cache)
        step = model(nxt, attention_mask=torch.ones_like(nxt), cache=cache).logits[:, -1]
        full_ids = torch.cat([ids, nxt], 1)
        full = model(full_ids, pixels, torch.ones_like(full_ids)).logits[:, -1]
    torch.testing.assert_close(step, full, rtol=1e-4, atol=1e-4)


@onednn
def test_autocast_keeps_f_linear():
    """Under CPU autocast `F.linear` runs in bfloat16; the oneDNN path must not bypass it."""
    x, w, b = _large()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not L._use_onednn(x, w, b)
        got = L.linear(x, w, b)
        expected = F.linear(x, w, b)
    assert got.dtype == expected.dtype == torch.bfloat16
    assert torch.equal(got, expected)
