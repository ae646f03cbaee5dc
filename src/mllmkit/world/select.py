"""Choosing which questions a scene gets, with balanced answers.

Generators yield every valid question; this module samples from those pools:
- question forms (templates) and then answers are stratified (pick a template
  uniformly, then an answer value, then a question with it), so frequent answers such
  as "0" or "No" do not dominate, and a form whose pool leans to one answer (a scene
  holds most shapes but few colour+shape categories) cannot carry its lean into the
  sample;
- a `Balancer` keeps counters across a whole split, so yes/no answers stay within one
  of 50/50 for every template (and so within a few for every ability) and the correct
  MCQ letter cycles through A–D per ability. Counters make
  the result depend on scene order, which is why assembly runs in one process, in
  scene order (rendering is what runs in parallel).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mllmkit.world.config import FORMATS
from mllmkit.world.formats import FormattedQuestion, can_ask, n_options, to_mcq, to_short, to_yorn
from mllmkit.world.questions.base import QA, YES


@dataclass
class Balancer:
    """Yes/no counters per template and MCQ-letter counters per ability, over one split.

    Yes/no is balanced per template, not per ability: balanced over an ability, one of
    its forms can still be mostly "Yes" and another mostly "No", a shortcut a model
    learns from the question's wording alone.
    """

    yes: Counter[str] = field(default_factory=Counter)
    no: Counter[str] = field(default_factory=Counter)
    mcq: Counter[str] = field(default_factory=Counter)

    def want_yes(self, template: str) -> bool:
        """Whether the next yes/no question of this template should be answered "Yes"."""
        return self.yes[template] <= self.no[template]

    def yorn(self, qa: QA, rng: np.random.Generator) -> FormattedQuestion:
        name = qa.template.name
        fq = to_yorn(qa, self.want_yes(name), rng)
        (self.yes if fq.answer == YES else self.no)[name] += 1
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


def pick(
    pool: list[QA], rng: np.random.Generator, want_yes: Callable[[str], bool] | None = None
) -> QA:
    """Remove and return one question: uniform over templates, then answers, then questions.

    With ``want_yes`` (template name → whether "Yes" is wanted, e.g.
    `Balancer.want_yes`), prefer questions whose yes/no form can have that answer (only
    native yes/no questions are restricted).
    """
    names = sorted({qa.template.name for qa in pool})
    if want_yes is not None:
        # Only templates that can give the answer their balance wants, when there are
        # any: otherwise a rarely-"Yes" form ("in both images?") would fall back to "No"
        # again and again and lean to it.
        wanted = {n: want_yes(n) for n in names}
        names = sorted({qa.template.name for qa in pool if can_ask(qa, wanted[qa.template.name])})
        names = names or sorted(wanted)
    name = names[int(rng.integers(len(names)))]
    eligible = [i for i, qa in enumerate(pool) if qa.template.name == name]
    if want_yes is not None:
        eligible = [i for i in eligible if can_ask(pool[i], wanted[name])] or eligible
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
            qa = pick(pool, rng, balancer.want_yes)
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
            want = balancer.want_yes if fmt == "yorn" else None
            pool = remaining[ability]
            turns.append(balancer.render(pick(pool, rng, want), fmt, rng))
            if not pool:
                order.remove(ability)
    return turns
