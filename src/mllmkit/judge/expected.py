"""Expected scores: a score verdict read from the judge's probabilities, not its text.

A judge that writes ``[[4]]`` while giving ``[[3]]`` 45% of its mass throws away what it
knows about the answer's quality, and rounding every verdict to an integer caps how well
scores can correlate with a graded human label. G-Eval (Liu et al. 2023) instead weights
every score by the model's probability of writing it: ``E[s] = sum_s s * p(s)``, with
``p`` the softmax over the five complete replies. The replies are scored whole (the
`loglikelihood` of ``{"Judgement": "[[s]]"}`` after the prompt), so the result does not
depend on how the tokenizer splits the digit from the brackets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from mllmkit.judge.prompts import verdict_json

SCORES: tuple[int, ...] = (1, 2, 3, 4, 5)


def score_replies() -> list[str]:
    """The five replies whose likelihoods are compared, in `SCORES` order."""
    return [verdict_json(f"[[{s}]]") for s in SCORES]


def score_distribution(logprobs: Sequence[float]) -> list[float]:
    """Softmax of the five replies' log-likelihoods: p(s) for s in `SCORES`."""
    if len(logprobs) != len(SCORES):
        raise ValueError(f"need {len(SCORES)} log-likelihoods (scores 1-5), got {len(logprobs)}")
    if any(math.isnan(x) or x == math.inf for x in logprobs):
        raise ValueError(f"log-likelihoods must be finite or -inf, got {list(logprobs)}")
    top = max(logprobs)
    if top == -math.inf:
        raise ValueError("every score reply has probability 0")
    weights = [math.exp(x - top) for x in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def expected_score(logprobs: Sequence[float]) -> float:
    """``sum_s s * p(s)`` over the five replies (a number in [1, 5])."""
    return sum(s * p for s, p in zip(SCORES, score_distribution(logprobs), strict=True))


def encode_logprobs(logprobs: Sequence[float]) -> str:
    """How the runner caches one ask's five log-likelihoods (JSON; -inf as null)."""
    return json.dumps([None if x == -math.inf else float(x) for x in logprobs])


def decode_logprobs(text: str) -> list[float] | None:
    """The inverse of `encode_logprobs`; None when `text` is not five numbers."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(values, list) or len(values) != len(SCORES):
        return None
    out: list[float] = []
    for v in values:
        if v is None:
            out.append(-math.inf)
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
        else:
            return None
    return out
