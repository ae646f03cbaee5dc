"""An `Ask`: one request to a judge about one item, possibly shown differently.

The item as written in the data file is asked once; each bias probe asks it again with
the answers reordered or padded. Every ask has its own cache id, so probes resume like
everything else, and a permutation that maps its verdict back to the file's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mllmkit.judge.data import JudgeItem
from mllmkit.judge.prompts import render_prompt


@dataclass(frozen=True)
class Ask:
    """`answers` as shown; `perm[j]` = index in `item.answers` of the answer shown at j.

    `mode` is the template the judge is asked with when it is not the item's own: a
    pointwise judgement of a pair or batch item asks one ``score`` per answer
    (`judge.pointwise`). `answer_first` asks a score with the judge's own answer first.
    """

    item: JudgeItem
    probe: str | None
    answers: tuple[str, ...]
    perm: tuple[int, ...]
    mode: str | None = None
    answer_first: bool = False

    @property
    def prompt_mode(self) -> str:
        return self.mode or self.item.mode

    @property
    def cache_id(self) -> str:
        """Unambiguous per (item, probe), whatever characters the item id holds.

        A pointwise score is keyed by the answer's text instead of the probe: a probe
        that shows the same answer (reordered) asks exactly the same prompt, so it reuses
        the answer instead of asking again.
        """
        if self.mode is not None and self.mode != self.item.mode:
            return json.dumps([self.item.id, self.mode, *self.answers], ensure_ascii=False)
        return json.dumps([self.item.id, self.probe or ""], ensure_ascii=False)

    def prompt(self) -> str:
        return render_prompt(
            self.prompt_mode, self.item.question, self.answers, answer_first=self.answer_first
        )


def plain_ask(item: JudgeItem) -> Ask:
    """The item exactly as the data file gives it."""
    return Ask(item, None, item.answers, tuple(range(len(item.answers))))


#: How an ask ended: a parsed verdict, an answer we could not read, or no answer at all.
STATUSES = ("ok", "unparsed", "error", "missing", "bad_row")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one ask. `shown` is the parsed verdict in the order the judge saw,
    `original` the same verdict in the data file's order; both None unless status is ok."""

    status: str
    shown: object = None
    original: object = None
    raw: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def answered(self) -> bool:
        """The judge replied (parsed or not); errors and missing answers are not replies."""
        return self.status in ("ok", "unparsed")
