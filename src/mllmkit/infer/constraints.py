"""Decoding constraints: rules on the generated text that decoding is not allowed to break.

A small model asked for a ranking such as ``[[B]], [[A]], [[C]]`` often writes a letter
twice (``[[A]], [[A]], [[C]]``), which is not an ordering and is counted as unparsed. A
constraint removes such continuations while decoding, as structured-output decoding does
for JSON schemas: at each step the chosen token is checked against the rule on the text
generated so far; if it breaks the rule its logit is set to -inf and the choice is made
again. Greedy decoding then returns the most likely *allowed* token; sampling with the same
uniform draw returns a draw from the distribution renormalised over the allowed tokens.

Constraints are named in an explicit registry (`CONSTRAINTS`) so a name can travel in
`GenerationArgs` (and so in cache keys); `TokenConstraint` binds a text rule to a tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from mllmkit.infer.text import Decoder

# the verdict parser's own patterns, so "one run of markers" means the same thing here
from mllmkit.judge.parse import MARKER_CONTENT, MARKER_RUN


class TextRule(Protocol):
    """`allows(text)` is False when no continuation of `text` can satisfy the rule."""

    name: str

    def allows(self, text: str) -> bool: ...


_OPEN_AT_END = re.compile(r"\[\[[^\[\]]*$")


class DistinctRankingLetters:
    """No letter twice within one run of ``[[X]]`` markers (a ranking is a permutation).

    Runs are what `mllmkit.judge.parse.parse_ranking` reads as one ordering: markers joined
    only by spaces, commas, semicolons or ``>``. A marker still open at the end of the text
    (``[[A``) already counts, so the repeated letter is refused as soon as it is written.
    Markers holding anything but one letter are left to the parser.
    """

    name = "distinct_ranking_letters"

    def allows(self, text: str) -> bool:
        open_tail = _OPEN_AT_END.search(text)
        if open_tail is not None:
            text = text[: open_tail.start()] + open_tail.group(0) + "]]"
        for run in MARKER_RUN.finditer(text):
            letters = [
                c.upper()
                for c in MARKER_CONTENT.findall(run.group(0))
                if re.fullmatch("[A-Za-z]", c)
            ]
            if len(letters) != len(set(letters)):
                return False
        return True


CONSTRAINTS: dict[str, Callable[[], TextRule]] = {
    DistinctRankingLetters.name: DistinctRankingLetters,
}


def get_constraint(name: str) -> TextRule:
    """The registered rule called `name` (exact name)."""
    try:
        return CONSTRAINTS[name]()
    except KeyError:
        raise ValueError(
            f"unknown decoding constraint {name!r}; known: {sorted(CONSTRAINTS)}"
        ) from None


class TokenConstraint:
    """A text rule seen through a tokenizer: may `token` follow the generated `ids`?"""

    def __init__(self, rule: TextRule, tokenizer: Decoder) -> None:
        self.rule = rule
        self.tokenizer = tokenizer

    def allows(self, ids: list[int], token: int) -> bool:
        return self.rule.allows(self.tokenizer.decode([*ids, token], skip_special_tokens=True))
