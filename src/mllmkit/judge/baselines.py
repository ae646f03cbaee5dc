"""Trivial judges that never look at the image, to compare real judges against.

They speak the `Model` protocol, reading the answers back out of the judge prompt
(`prompts.read_prompt`), so the runner treats them like any backend. Open them with the
spec ``baseline:NAME``; the scheme is registered with `backends.registry` when this
module is imported (the judge runner imports it).

- ``longer``: verbosity incarnate. Score = 1 + (words - 1) // 3, capped at 5; pair: the
  longer answer (in characters) wins, equal lengths tie; batch: longest first.
- ``first``: position bias incarnate. Score 3, pair always A, batch the shown order.

A request that is not a judge prompt gets a `Response` with an error (never a guess).
"""

from __future__ import annotations

from collections.abc import Callable

from mllmkit.backends.base import BackendError, Model, Request, Response
from mllmkit.backends.hashing import sha256_text
from mllmkit.backends.registry import register_scheme
from mllmkit.judge.prompts import LETTERS, PromptParts, read_prompt, verdict_json

WORDS_PER_POINT = 3
"""`longer` adds one point of score per this many words."""

Rule = Callable[[PromptParts], str]


def _length_score(answer: str) -> int:
    return min(5, 1 + (max(len(answer.split()), 1) - 1) // WORDS_PER_POINT)


def _longer(parts: PromptParts) -> str:
    if parts.mode == "score":
        return f"[[{_length_score(parts.answers[0])}]]"
    if parts.mode == "pair":
        a, b = (len(x) for x in parts.answers)
        return "[[C]]" if a == b else ("[[A]]" if a > b else "[[B]]")
    order = sorted(range(len(parts.answers)), key=lambda i: (-len(parts.answers[i]), i))
    return ", ".join(f"[[{LETTERS[i]}]]" for i in order)


def _first(parts: PromptParts) -> str:
    if parts.mode == "score":
        return "[[3]]"
    if parts.mode == "pair":
        return "[[A]]"
    return ", ".join(f"[[{LETTERS[i]}]]" for i in range(len(parts.answers)))


BASELINES: dict[str, Rule] = {}


def _register(name: str, rule: Rule) -> None:
    if name in BASELINES:
        raise ValueError(f"baseline judge {name!r} registered twice")
    BASELINES[name] = rule


_register("longer", _longer)
_register("first", _first)


class BaselineJudge:
    """A rule from `BASELINES` behind the `Model` protocol."""

    def __init__(self, rule: str) -> None:
        if rule not in BASELINES:
            raise BackendError(
                f"unknown baseline judge {rule!r}; expected one of {list(BASELINES)}"
            )
        self.rule = rule
        self.name = f"baseline:{rule}"

    def _answer(self, request: Request) -> Response:
        parts = read_prompt(request.text())
        if parts is None:
            return Response("", error=f"{self.name} only answers judge prompts")
        return Response(verdict_json(BASELINES[self.rule](parts)))

    def generate(self, requests: list[Request]) -> list[Response]:
        return [self._answer(r) for r in requests]

    def fingerprint(self) -> str:
        return sha256_text("judge-baseline-v1", self.rule, str(WORDS_PER_POINT))


def _open(rest: str, **options: object) -> Model:
    if options:
        raise BackendError(f"baseline judges take no options, got {sorted(options)}")
    if not rest:
        raise BackendError(f"baseline: needs a rule name, one of {list(BASELINES)}")
    return BaselineJudge(rest)


register_scheme("baseline", _open)
