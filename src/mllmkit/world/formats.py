"""Answer formats: free answer (``short``), yes/no (``yorn``) and multiple choice (``mcq``).

- ``short``: the question as generated; the answer is a word, a digit or a cell name.
- ``yorn``: one candidate answer stated as a question ("Is the circle red?"), true for
  "Yes" and a random wrong candidate for "No"; native yes/no questions stay as they are.
  The caller decides which polarity to ask (see `world.select.Balancer`).
- ``mcq``: the correct answer plus distractors from the same answer space, up to four
  options A–D (binary answer spaces give two options, A–B); the caller chooses the
  correct letter so letters can be balanced.

`FormattedQuestion.prompt()` is the user text a model sees; for MCQ it follows the
LLaVA/VLMEvalKit layout: question, ``A. ...`` lines, then the instruction line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mllmkit.world.config import FORMATS
from mllmkit.world.questions.base import NO, QA, YES

LETTERS: str = "ABCD"
MCQ_INSTRUCTION: str = "Answer with the option's letter from the given choices directly."


def mcq_prompt(question: str, options: dict[str, str]) -> str:
    """``question``, one ``X. text`` line per option, then the instruction."""
    lines = [question] + [f"{letter}. {text}" for letter, text in options.items()]
    lines.append(MCQ_INSTRUCTION)
    return "\n".join(lines)


@dataclass(frozen=True)
class FormattedQuestion:
    """A question in one format, ready to be written as a record or a dialogue turn."""

    ability: str
    format: str
    question: str
    answer: str
    options: dict[str, str] | None
    answer_text: str

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; expected one of {FORMATS}")

    def prompt(self) -> str:
        if self.options is not None:
            return mcq_prompt(self.question, self.options)
        return self.question

    def to_record(self) -> dict[str, Any]:
        return {
            "ability": self.ability,
            "format": self.format,
            "question": self.question,
            "answer": self.answer,
            "options": dict(self.options) if self.options is not None else None,
            "answer_text": self.answer_text,
        }


def to_short(qa: QA) -> FormattedQuestion:
    return FormattedQuestion(qa.ability, "short", qa.question, qa.answer, None, qa.answer)


def can_ask(qa: QA, want_yes: bool) -> bool:
    """Whether the yes/no form of ``qa`` can have the wanted answer."""
    if qa.template.native:
        return (qa.answer == YES) == want_yes
    return want_yes or len(qa.candidates) > 1


def to_yorn(qa: QA, want_yes: bool, rng: np.random.Generator) -> FormattedQuestion:
    """State the true answer (→ Yes) or a random wrong one (→ No).

    A native yes/no question keeps its own answer whatever ``want_yes`` says.
    """
    if qa.template.native:
        return FormattedQuestion(qa.ability, "yorn", qa.question, qa.answer, None, qa.answer)
    if want_yes:
        candidate = qa.answer
    else:
        wrong = [c for c in qa.candidates if c != qa.answer]
        candidate = wrong[int(rng.integers(len(wrong)))]
    question = qa.template.render_yorn(qa.slot_dict, candidate)
    answer = YES if candidate == qa.answer else NO
    return FormattedQuestion(qa.ability, "yorn", question, answer, None, answer)


def n_options(qa: QA) -> int:
    """How many options the MCQ form of ``qa`` has (4, or fewer for small answer spaces)."""
    return min(len(LETTERS), len(qa.candidates))


def to_mcq(qa: QA, correct_index: int, rng: np.random.Generator) -> FormattedQuestion:
    """Options: the answer at ``LETTERS[correct_index]``, random distractors elsewhere."""
    n = n_options(qa)
    if n < 2:
        raise ValueError(f"{qa.question!r}: an answer space of {len(qa.candidates)} has no MCQ")
    if not 0 <= correct_index < n:
        raise ValueError(f"correct_index must be in 0..{n - 1}, got {correct_index}")
    wrong = [c for c in qa.candidates if c != qa.answer]
    picked = rng.choice(len(wrong), size=n - 1, replace=False)
    texts = [wrong[int(k)] for k in picked]
    texts.insert(correct_index, qa.answer)
    options = dict(zip(LETTERS[:n], texts, strict=True))
    letter = LETTERS[correct_index]
    return FormattedQuestion(qa.ability, "mcq", qa.question, letter, options, qa.answer)
