"""Decoding constraints: the ranking rule, constrained greedy/sampling, wiring to backends."""

from __future__ import annotations

import pytest
import torch

from mllmkit.backends.base import GenerationArgs, Request, supports_constraints
from mllmkit.infer.constraints import (
    CONSTRAINTS,
    DistinctRankingLetters,
    TokenConstraint,
    get_constraint,
)
from mllmkit.infer.generate import generate
from mllmkit.models import MLLM, tiny_config

IMG, PAD = 3, 0


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("", True),
        ('{"Judgement": "[[B]], [[A]], [[C]]"}', True),
        ("[[B]], [[A]], [[", True),
        ("[[B]], [[A]], [[B", False),
        ("[[B]], [[A]], [[ b", False),  # case and spaces do not hide a repeat
        ("[[A]] > [[A]]", False),
        ("[[A]];[[C]]", True),
        # separate runs (JSON, then the same ordering in prose) are separate orderings
        ('{"Judgement": "[[B]], [[A]]"} so [[B]], [[A]]', True),
        ("[[A]] then [[A]]", True),
        ("[[5]], [[5]]", True),  # not letters: left to the parser
    ],
)
def test_distinct_ranking_letters(text: str, allowed: bool) -> None:
    assert DistinctRankingLetters().allows(text) is allowed


def test_registry_names_and_unknown_name() -> None:
    assert sorted(CONSTRAINTS) == ["distinct_ranking_letters"]
    assert isinstance(get_constraint("distinct_ranking_letters"), DistinctRankingLetters)
    with pytest.raises(ValueError, match="known: \\['distinct_ranking_letters'\\]"):
        get_constraint("distinct")


class _Chars:
    """A tokenizer whose token i is the character chars[i]."""

    def __init__(self, chars: str) -> None:
        self.chars = chars

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(self.chars[i] for i in ids)


def test_token_constraint_decodes_prefix_plus_token() -> None:
    rule = TokenConstraint(DistinctRankingLetters(), _Chars("[]AB, "))
    prefix = [0, 0, 2, 1, 1, 4, 5, 0, 0]  # "[[A]], [["
    assert rule.allows(prefix, 3)  # B
    assert not rule.allows(prefix, 2)  # A again


class NoRepeat:
    """Token-level rule: a row never emits the same token twice."""

    def allows(self, ids: list[int], token: int) -> bool:
        return token not in ids


class Never:
    def allows(self, ids: list[int], token: int) -> bool:
        return False


@pytest.fixture(scope="module")
def model() -> MLLM:
    return MLLM(tiny_config(), seed=0, init_std=0.3).eval()


def _prompt(model: MLLM) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    per = model.image_tokens_per_image
    g = torch.Generator().manual_seed(1)
    row = torch.cat(
        [torch.tensor([10]), torch.full((per,), IMG), torch.randint(4, 96, (5,), generator=g)]
    )
    ids = torch.stack([row, row.roll(-1)])
    ids[1, -1] = 7
    pix = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    return ids, torch.ones_like(ids), pix


def _reference(model: MLLM, ids: torch.Tensor, pix: torch.Tensor, steps: int) -> list[list[int]]:
    """Constrained greedy by full recomputation, checking every vocabulary token."""
    out: list[list[int]] = [[] for _ in range(ids.shape[0])]
    rule = NoRepeat()
    for _ in range(steps):
        full = torch.cat([ids, torch.tensor(out, dtype=torch.long).view(ids.shape[0], -1)], dim=1)
        with torch.no_grad():
            logits = model(full, pix, torch.ones_like(full)).logits[:, -1]
        for r in range(ids.shape[0]):
            banned = [t for t in range(logits.shape[1]) if not rule.allows(out[r], t)]
            row = logits[r].clone()
            row[banned] = float("-inf")
            out[r].append(int(row.argmax()))
    return out


def test_constrained_greedy_equals_masked_recomputation(model: MLLM) -> None:
    ids, mask, pix = _prompt(model)
    free = generate(model, ids, mask, pix, max_new_tokens=8, eos_token_ids=())
    assert any(len(set(row)) < len(row) for row in free), "the rule must matter for this test"
    constrained = generate(
        model, ids, mask, pix, max_new_tokens=8, eos_token_ids=(), constraint=NoRepeat()
    )
    assert all(len(set(row)) == len(row) for row in constrained)
    assert constrained == _reference(model, ids, pix, 8)


def test_constrained_sampling_is_allowed_and_seeded(model: MLLM) -> None:
    ids, mask, pix = _prompt(model)
    kw = {"max_new_tokens": 8, "eos_token_ids": (), "temperature": 1.5, "seed": [3, 4]}
    first = generate(model, ids, mask, pix, constraint=NoRepeat(), **kw)
    assert all(len(set(row)) == len(row) for row in first)
    assert generate(model, ids, mask, pix, constraint=NoRepeat(), **kw) == first


def test_unsatisfiable_rule_keeps_the_models_choice(model: MLLM) -> None:
    ids, mask, pix = _prompt(model)
    free = generate(model, ids, mask, pix, max_new_tokens=3, eos_token_ids=())
    assert (
        generate(model, ids, mask, pix, max_new_tokens=3, eos_token_ids=(), constraint=Never())
        == free
    )


def test_generation_args_constraint_field() -> None:
    assert "constraint" not in GenerationArgs().to_dict()  # unconstrained cache keys unchanged
    gen = GenerationArgs(constraint="distinct_ranking_letters")
    assert GenerationArgs.from_dict(gen.to_dict()) == gen
    with pytest.raises(ValueError, match="unknown decoding constraint"):
        GenerationArgs(constraint="nope")


def test_backends_that_cannot_constrain_answer_with_an_error() -> None:
    from mllmkit.backends.openai_http import OpenAIHTTPBackend

    http = OpenAIHTTPBackend("http://127.0.0.1:9")
    assert not supports_constraints(http)
    gen = GenerationArgs(constraint="distinct_ranking_letters")
    [response] = http.generate([Request(messages=[], gen=gen)])
    assert response.error is not None and "constraints" in response.error
