"""Batched generation: cache vs recomputation, padding, EOS handling, seeded sampling."""

from __future__ import annotations

import pytest
import torch

from mllmkit.infer.generate import generate, generate_text, truncate_at_stop
from mllmkit.infer.sampling import RowRandom, select_next
from mllmkit.models import MLLM, tiny_config

IMG, PAD = 3, 0


@pytest.fixture(scope="module")
def model() -> MLLM:
    return MLLM(tiny_config(lm={"num_kv_heads": 2}), seed=0, init_std=0.3).eval()


def prompts(model: MLLM) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Two left-padded prompts with one and two images."""
    per = model.image_tokens_per_image
    g = torch.Generator().manual_seed(1)
    rows = [
        torch.cat(
            [torch.tensor([10]), torch.full((per,), IMG), torch.randint(4, 96, (5,), generator=g)]
        ),
        torch.cat(
            [
                torch.full((per,), IMG),
                torch.tensor([11]),
                torch.full((per,), IMG),
                torch.randint(4, 96, (2,), generator=g),
            ]
        ),
    ]
    width = max(len(r) for r in rows)
    ids = torch.full((2, width), PAD)
    mask = torch.zeros(2, width, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :], mask[i, width - len(r) :] = r, 1
    pix = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    return ids, mask, pix, rows


def test_greedy_equals_argmax_of_full_recomputation(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    out = generate(model, ids, mask, pix, max_new_tokens=6, eos_token_ids=())
    assert [len(o) for o in out] == [6, 6]
    full_ids = torch.cat([ids, torch.tensor(out)], dim=1)
    full_mask = torch.cat([mask, torch.ones(2, 6, dtype=torch.long)], dim=1)
    with torch.no_grad():
        logits = model(full_ids, pix, full_mask).logits
    t0 = ids.shape[1]
    assert logits[:, t0 - 1 : t0 + 5].argmax(-1).tolist() == out


def test_batched_equals_one_by_one(model: MLLM) -> None:
    ids, mask, pix, rows = prompts(model)
    batched = generate(model, ids, mask, pix, max_new_tokens=5, eos_token_ids=())
    first = generate(model, rows[0][None], None, pix[:1], max_new_tokens=5, eos_token_ids=())
    second = generate(model, rows[1][None], None, pix[1:], max_new_tokens=5, eos_token_ids=())
    assert batched == first + second


def test_eos_stops_each_row_and_is_excluded(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    free = generate(model, ids, mask, pix, max_new_tokens=6, eos_token_ids=())
    stop = free[0][2]  # row 0 stops at its third token (or earlier if it appears before)
    out = generate(model, ids, mask, pix, max_new_tokens=6, eos_token_ids=[stop])
    cut = [row[: row.index(stop)] if stop in row else row for row in free]
    assert out == cut
    assert len(out[0]) <= 2


def test_default_eos_is_the_config_eos(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    free = generate(model, ids, mask, pix, max_new_tokens=4, eos_token_ids=())
    cfg = tiny_config(lm={"num_kv_heads": 2}, eos_token_id=free[1][0])
    other = MLLM(cfg, seed=0, init_std=0.3).eval()
    assert generate(other, ids, mask, pix, max_new_tokens=4)[1] == []


def test_right_padding_is_refused(model: MLLM) -> None:
    ids = torch.randint(4, 96, (2, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"LEFT padding: rows \[1\]"):
        generate(model, ids, mask)


def test_sampling_is_reproducible_with_a_seed(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    kw = {"max_new_tokens": 8, "temperature": 1.5, "eos_token_ids": ()}
    a = generate(model, ids, mask, pix, seed=7, **kw)
    b = generate(model, ids, mask, pix, seed=7, **kw)
    c = generate(model, ids, mask, pix, seed=8, **kw)
    assert a == b
    assert a != c


def test_no_seed_means_seed_zero(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    kw = {"max_new_tokens": 5, "temperature": 1.5, "eos_token_ids": ()}
    assert generate(model, ids, mask, pix, **kw) == generate(model, ids, mask, pix, seed=0, **kw)
    rows = generate(model, ids, mask, pix, seed=[None, None], **kw)
    assert rows == generate(model, ids, mask, pix, seed=[0, 0], **kw)


def test_per_row_seeds_do_not_depend_on_the_batch(model: MLLM) -> None:
    ids, mask, pix, rows = prompts(model)
    kw = {"max_new_tokens": 6, "temperature": 2.0, "eos_token_ids": ()}
    batched = generate(model, ids, mask, pix, seed=[11, 12], **kw)
    alone = generate(model, rows[1][None], None, pix[1:], seed=[12], **kw)
    assert batched[1] == alone[0]


def test_tiny_top_p_equals_greedy(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    greedy = generate(model, ids, mask, pix, max_new_tokens=6, eos_token_ids=())
    nucleus = generate(
        model,
        ids,
        mask,
        pix,
        max_new_tokens=6,
        temperature=1.0,
        top_p=1e-6,
        eos_token_ids=(),
        seed=3,
    )
    assert nucleus == greedy


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    """Hand-built distribution 0.5, 0.3, 0.15, 0.05: top_p=0.7 keeps the first two
    (renormalised to 0.625 / 0.375): draws below 0.625 pick the first, above the second."""
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    logits = probs.log()
    assert select_next(logits, 1.0, 0.7, torch.tensor([0.62])).tolist() == [1]
    assert select_next(logits, 1.0, 0.7, torch.tensor([0.63])).tolist() == [3]
    assert select_next(logits, 1.0, 0.7, torch.tensor([0.999])).tolist() == [3]
    # without nucleus the same draw 0.999 reaches the least likely token
    assert select_next(logits, 1.0, 1.0, torch.tensor([0.999])).tolist() == [0]
    assert select_next(logits, 0.0).tolist() == [1]


def test_row_random_validates_seed_count() -> None:
    with pytest.raises(ValueError, match="3 seeds for a batch of 2"):
        RowRandom([1, 2, 3], 2)


def test_bad_arguments_raise(model: MLLM) -> None:
    ids = torch.randint(4, 96, (1, 4))
    with pytest.raises(ValueError, match="top_p"):
        generate(model, ids, top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, ids, temperature=-1.0)
    assert generate(model, ids, max_new_tokens=0) == [[]]


class _Tok:
    """Decodes ids to space-separated numbers."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return " ".join(str(i) for i in ids)


def test_generate_text_cuts_at_the_first_stop_string(model: MLLM) -> None:
    ids, mask, pix, _ = prompts(model)
    raw = generate(model, ids, mask, pix, max_new_tokens=5, eos_token_ids=())
    stop = f" {raw[0][2]}"
    texts = generate_text(
        model, _Tok(), ids, mask, pix, max_new_tokens=5, eos_token_ids=(), stop=[stop, "never"]
    )
    assert texts[0] == truncate_at_stop(" ".join(map(str, raw[0])), [stop])
    assert stop not in texts[0]
    assert truncate_at_stop("a. b! c", ["!", "."]) == "a"
    assert truncate_at_stop("abc", ["", "z"]) == "abc"


def test_generation_runs_in_eval_mode_and_restores_the_callers_mode() -> None:
    model = MLLM(tiny_config(lm={"num_kv_heads": 2}), seed=0, init_std=0.3)
    ids, mask, pix, _ = prompts(model)
    expected = generate(model.eval(), ids, mask, pix, max_new_tokens=4, eos_token_ids=())
    assert not model.training
    model.train()
    assert generate(model, ids, mask, pix, max_new_tokens=4, eos_token_ids=()) == expected
    assert model.training and all(m.training for m in model.modules())
