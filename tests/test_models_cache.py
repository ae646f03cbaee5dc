"""The KV cache's storage: appending equals concatenation, and grows without per-step copies."""

from __future__ import annotations

import torch

from mllmkit.models.cache import KVCache, LayerCache


def _step(b: int, t: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    return (
        torch.randn(b, 2, t, 4, generator=gen),
        torch.randn(b, 2, t, 4, generator=gen),
        torch.rand(b, t, generator=gen) > 0.2,
        torch.randint(0, 100, (b, t), generator=gen),
    )


def test_append_equals_concatenation_and_grows_geometrically() -> None:
    gen = torch.Generator().manual_seed(0)
    cache = KVCache()
    parts = [_step(3, 50, gen)] + [_step(3, 1, gen) for _ in range(300)]
    capacities = []
    for part in parts:
        entry = cache.append(0, *part)
        capacities.append(entry.capacity)
    for i, name in enumerate(("key", "value", "key_mask", "key_pos")):
        dim = 2 if i < 2 else 1
        assert torch.equal(getattr(entry, name), torch.cat([p[i] for p in parts], dim=dim))
    assert entry.length == 350 == cache.past_length(0)
    # 300 one-token appends reallocate a handful of times, not 300
    assert len(set(capacities)) <= 6


def test_appends_never_write_into_the_callers_tensors() -> None:
    gen = torch.Generator().manual_seed(1)
    first = _step(2, 5, gen)
    kept = [x.clone() for x in first]
    cache = KVCache()
    cache.append(0, *first)
    cache.append(0, *_step(2, 1, gen))
    for a, b in zip(first, kept, strict=True):
        assert torch.equal(a, b)


def test_select_keeps_rows_of_the_filled_part() -> None:
    gen = torch.Generator().manual_seed(2)
    cache = KVCache()
    cache.append(0, *_step(4, 6, gen))
    entry = cache.append(0, *_step(4, 1, gen))
    rows = torch.tensor([3, 1])
    expect = entry.key[rows].clone()
    cache.select(rows)
    got = cache.layer(0)
    assert isinstance(got, LayerCache)
    assert torch.equal(got.key, expect) and got.length == 7 and got.capacity == 7
