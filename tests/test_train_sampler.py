"""The sample order: a pure function of (seed, cursor), optionally grouped by length."""

from __future__ import annotations

import random

import pytest

from mllmkit.train.config import ConfigError, StageConfig
from mllmkit.train.sampler import EpochSampler


def _epoch(sampler: EpochSampler, epoch: int) -> list[int]:
    return sampler.indices(epoch * sampler.n, sampler.n)


def _padded_tokens(order: list[int], lengths: list[int], bs: int) -> int:
    return sum(max(lengths[i] for i in order[k : k + bs]) * len(order[k : k + bs])
               for k in range(0, len(order), bs))


@pytest.mark.parametrize("grouped", [False, True])
def test_every_epoch_is_a_permutation_and_epochs_differ(grouped: bool) -> None:
    n = 203  # not a multiple of the batch: the epoch ends on a short batch
    lengths = [random.Random(i).randint(5, 300) for i in range(n)]
    s = EpochSampler(n, seed=3, lengths=lengths if grouped else None, batch_size=4,
                     group_batches=8)
    e0, e1 = _epoch(s, 0), _epoch(s, 1)
    assert sorted(e0) == sorted(e1) == list(range(n))
    assert e0 != e1


@pytest.mark.parametrize("grouped", [False, True])
def test_order_depends_only_on_seed_and_cursor(grouped: bool) -> None:
    """What resume relies on: a fresh sampler at cursor c continues the same stream."""
    n = 97
    lengths = [(i * 37) % 101 for i in range(n)] if grouped else None
    stream = EpochSampler(n, seed=5, lengths=lengths, batch_size=4).indices(0, 4 * n)
    for cursor in (0, 44, 96, 97, 250):
        fresh = EpochSampler(n, seed=5, lengths=lengths, batch_size=4)
        assert fresh.indices(cursor, 12) == stream[cursor : cursor + 12]
    other = EpochSampler(n, seed=6, lengths=lengths, batch_size=4).indices(0, n)
    assert other != stream[:n]


def test_grouping_cuts_padding_and_keeps_batches_shuffled() -> None:
    n, bs = 4096, 4
    rng = random.Random(0)
    lengths = [rng.randint(60, 320) for _ in range(n)]
    plain = _epoch(EpochSampler(n, seed=0, batch_size=bs), 0)
    grouped = _epoch(EpochSampler(n, seed=0, lengths=lengths, batch_size=bs), 0)
    real = sum(lengths)
    waste_plain = _padded_tokens(plain, lengths, bs) / real - 1
    waste_grouped = _padded_tokens(grouped, lengths, bs) / real - 1
    assert waste_plain > 0.2
    assert waste_grouped < 0.02
    # batches are not handed out longest-first: the batch maxima are not sorted
    maxima = [max(lengths[i] for i in grouped[k : k + bs]) for k in range(0, 64 * bs, bs)]
    assert maxima != sorted(maxima, reverse=True)


def test_short_last_batch_of_an_epoch_stays_last() -> None:
    n, bs = 10, 4
    lengths = list(range(n))
    order = _epoch(EpochSampler(n, seed=1, lengths=lengths, batch_size=bs, group_batches=8), 0)
    # one chunk: the two longest batches in some order, then the two shortest samples
    assert sorted(order[-2:]) == [0, 1]
    assert sorted(order[:8]) == list(range(2, 10))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="lengths for"):
        EpochSampler(3, seed=0, lengths=[1, 2])
    with pytest.raises(ValueError, match="empty"):
        EpochSampler(0, seed=0)


def test_group_by_length_is_for_conversations_only() -> None:
    with pytest.raises(ConfigError, match="group_by_length"):
        StageConfig(name="v", data=["s.jsonl"], trainable=["vision"], lr={"vision": 1e-3},
                    steps=1, objective="scene_cells", group_by_length=True)
