"""The three judge settings as data: what a human label looks like, how a verdict is read,
written, and mapped back when the answers were shown in another order.

`MODES["score"]`, `MODES["pair"]`, `MODES["batch"]` — an explicit registry with exact
names. Verdicts are in the *shown* frame (letters refer to the positions the judge saw);
`to_original` maps them to the frame of the data file given the permutation used to show
the answers (``perm[j]`` = index in the file of the answer shown at position ``j``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mllmkit.judge.parse import parse_pair, parse_ranking, parse_score
from mllmkit.judge.prompts import LETTERS

Perm = tuple[int, ...]


@dataclass(frozen=True)
class Mode:
    """One judge setting. `check_human` returns the normalised label or raises ValueError."""

    name: str
    min_answers: int
    max_answers: int
    check_human: Callable[[Any, int], Any]
    parse: Callable[[str, int], Any]
    to_original: Callable[[Any, Perm], Any]
    judgement: Callable[[Any], str]
    headline: str
    # decoding constraint (`mllmkit.infer.constraints`) that keeps verdicts well formed, for
    # backends that can apply one; None when every output is a possible verdict
    constraint: str | None = None


# --- score ------------------------------------------------------------------------------


def _human_score(value: Any, n: int) -> float | int:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not 1 <= value <= 5:
        raise ValueError(f"must be a number from 1 to 5, got {value!r}")
    return value


def _score_judgement(verdict: Any) -> str:
    if isinstance(verdict, bool) or not isinstance(verdict, int) or not 1 <= verdict <= 5:
        raise ValueError(f"a score verdict must be an integer from 1 to 5, got {verdict!r}")
    return f"[[{verdict}]]"


# --- pair -------------------------------------------------------------------------------


def _human_pair(value: Any, n: int) -> str:
    if value not in ("A", "B", "C"):
        raise ValueError(f"must be 'A', 'B' or 'C' (tie), got {value!r}")
    return value


def _pair_to_original(verdict: str, perm: Perm) -> str:
    return verdict if verdict == "C" else LETTERS[perm[LETTERS.index(verdict)]]


def _pair_judgement(verdict: Any) -> str:
    return f"[[{_human_pair(verdict, 2)}]]"


# --- batch ------------------------------------------------------------------------------


def _human_ranking(value: Any, n: int) -> list[str]:
    expected = sorted(LETTERS[:n])
    if not isinstance(value, list) or sorted(map(str, value)) != expected:
        raise ValueError(
            f"must be a list ordering the letters {expected} best first, got {value!r}"
        )
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of letters, got {value!r}")
    return list(value)


def _ranking_to_original(verdict: list[str], perm: Perm) -> list[str]:
    return [LETTERS[perm[LETTERS.index(letter)]] for letter in verdict]


def _ranking_judgement(verdict: Any) -> str:
    return ", ".join(f"[[{letter}]]" for letter in verdict)


MODES: dict[str, Mode] = {}


def _register(mode: Mode) -> None:
    if mode.name in MODES:
        raise ValueError(f"judge mode {mode.name!r} registered twice")
    MODES[mode.name] = mode


_register(
    Mode(
        name="score",
        min_answers=1,
        max_answers=1,
        check_human=_human_score,
        parse=lambda text, n: parse_score(text),
        to_original=lambda verdict, perm: verdict,
        judgement=_score_judgement,
        headline="pearson",
    )
)
_register(
    Mode(
        name="pair",
        min_answers=2,
        max_answers=2,
        check_human=_human_pair,
        parse=lambda text, n: parse_pair(text),
        to_original=_pair_to_original,
        judgement=_pair_judgement,
        headline="accuracy",
    )
)
_register(
    Mode(
        name="batch",
        min_answers=2,
        max_answers=len(LETTERS),
        check_human=_human_ranking,
        parse=parse_ranking,
        to_original=_ranking_to_original,
        judgement=_ranking_judgement,
        headline="levenshtein_norm",
        constraint="distinct_ranking_letters",
    )
)


def get_mode(name: str) -> Mode:
    """The mode called `name` exactly; unknown names list the valid ones."""
    try:
        return MODES[name]
    except KeyError:
        raise ValueError(f"unknown judge mode {name!r}; expected one of {list(MODES)}") from None
