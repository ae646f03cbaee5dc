"""Choosing which questions a scene gets, with balanced answers.

Generators yield every valid question; this module samples from those pools:
- answers are stratified (pick an answer value uniformly, then a question with it), so
  frequent answers such as "0" or "No" do not dominate;
- a `Balancer` keeps per-ability counters across a whole split, so yes/no answers stay
  within one of 50/50 and the correct MCQ letter cycles through A–D. Counters make
  the result depend on scene order, which is why assembly runs in one process, in
  scene order (rendering is what runs in parallel).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mllmkit.world.config import FORMATS
from mllmkit.world.formats import FormattedQuestion, can_ask, n_options, to_mcq, to_short, to_yorn
from mllmkit.world.questions.base import QA, YES


@dataclass
class Balancer:
    """Per-ability counters for yes/no answers and MCQ letters over one split."""

    yes: Counter[str] = field(default_factory=Counter)
    no: Counter[str] = field(default_factory=Counter)
    mcq: Counter[str] = field(default_factory=Counter)

    def want_yes(self, ability: str) -> bool:
        return self.yes[ability] <= self.no[ability]

    def yorn(self, qa: QA, rng: np.random.Generator) -> FormattedQuestion:
        fq = to_yorn(qa, self.want_yes(qa.ability), rng)
        (self.yes if fq.answer == YES else self.no)[qa.ability] += 1
        return fq

    def multiple_choice(self, qa: QA, rng: np.random.Generator) -> FormattedQuestion:
        index = self.mcq[qa.ability] % n_options(qa)
        self.mcq[qa.ability] += 1
        return to_mcq(qa, index, rng)

    def render(self, qa: QA, fmt: str, rng: np.random.Generator) -> FormattedQuestion:
        if fmt == "short":
            return to_short(qa)
        if fmt == "yorn":
            return self.yorn(qa, rng)
        if fmt == "mcq":
            return self.multiple_choice(qa, rng)
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def pick(pool: list[QA], rng: np.random.Generator, want_yes: bool | None = None) -> QA:
    """Remove and return one question: uniform over answers, then over questions.

    With ``want_yes`` set, prefer questions whose yes/no form can have that answer
    (only native yes/no questions are restricted).
    """
    eligible = list(range(len(pool)))
    if want_yes is not None:
        eligible = [i for i in eligible if can_ask(pool[i], want_yes)] or eligible
    answers = sorted({pool[i].answer for i in eligible})
    answer = answers[int(rng.integers(len(answers)))]
    chosen = [i for i in eligible if pool[i].answer == answer]
    return pool.pop(chosen[int(rng.integers(len(chosen)))])


def benchmark_questions(
    pools: dict[str, list[QA]],
    abilities: Sequence[str],
    per_ability: int,
    rng: np.random.Generator,
    balancer: Balancer,
) -> list[list[FormattedQuestion]]:
    """Up to ``per_ability`` questions per ability, each in every format (short, yorn, mcq)."""
    out: list[list[FormattedQuestion]] = []
    for ability in abilities:
        pool = list(pools.get(ability, ()))
        for _ in range(per_ability):
            if not pool:
                break
            qa = pick(pool, rng, balancer.want_yes(ability))
            out.append([balancer.render(qa, fmt, rng) for fmt in FORMATS])
    return out


def dialogue_turns(
    pools: dict[str, list[QA]],
    abilities: Sequence[str],
    n_turns: int,
    format_weights: Sequence[float],
    rng: np.random.Generator,
    balancer: Balancer,
) -> list[FormattedQuestion]:
    """``n_turns`` questions for one conversation: abilities in random order (each once
    before any repeats), each turn in a random format."""
    remaining = {a: list(pools[a]) for a in abilities if pools.get(a)}
    names = list(remaining)
    order = [names[int(k)] for k in rng.permutation(len(names))]
    weights = np.asarray(format_weights, dtype=np.float64)
    weights = weights / weights.sum()
    turns: list[FormattedQuestion] = []
    while len(turns) < n_turns and order:
        for ability in list(order):
            if len(turns) == n_turns:
                break
            fmt = FORMATS[int(rng.choice(len(FORMATS), p=weights))]
            want = balancer.want_yes(ability) if fmt == "yorn" else None
            pool = remaining[ability]
            turns.append(balancer.render(pick(pool, rng, want), fmt, rng))
            if not pool:
                order.remove(ability)
    return turns
