"""Judge prompt templates for the three MLLM-as-a-Judge settings.

One template per mode (``score``, ``pair``, ``batch``). Each asks for a short JSON verdict
whose ``Judgement`` field holds ``[[4]]``, ``[[A]]``/``[[B]]``/``[[C]]`` or
``[[B]], [[A]], [[C]]`` — short on purpose: the native model has a small context and
every generated token costs time on a CPU.

Every answer is shown as a JSON string (``Answer: "green"``, ``[A] "green"``): written
that way, a proposed answer is made of the same tokens as the judge's own answer in an
answer-first verdict (``{"Answer": "green", ...}``). Unquoted, ``Answer: green`` ends in
the byte-level token for " green" (with its space) while the verdict's value starts with
"green": a small judge would then have to learn that two unrelated embeddings mean the
same word before it could tell whether a proposal equals its own answer.

The same text is used to build judge-tuning data and to ask judges at evaluation time,
so a fine-tuned judge sees exactly the prompt it was trained on. Answers are shown on one
line each (runs of whitespace, newlines included, become one space), which keeps the
layout unambiguous so `read_prompt` can invert `render_prompt` exactly; baseline judges
use that to read the answers back out of a request.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass

from mllmkit.backends.hashing import sha256_text

MODES: tuple[str, ...] = ("score", "pair", "batch")
LETTERS: str = string.ascii_uppercase

SCORE_HEADER = (
    "Score the answer about the image from 1 to 5: 5 correct, 4 correct but wordy, "
    "3 partly correct, 2 wrong, 1 wrong with invented details."
)
PAIR_HEADER = (
    "Which answer about the image is better? Better is correct, concise and invents nothing."
)
BATCH_HEADER = (
    "Rank the answers about the image from best to worst. "
    "Better is correct, concise and invents nothing."
)
HEADERS: dict[str, str] = {"score": SCORE_HEADER, "pair": PAIR_HEADER, "batch": BATCH_HEADER}

QUESTION_PREFIX = "Question: "
ANSWER_PREFIX = "Answer: "
SCORE_REPLY = 'Reply in JSON: {"Judgement": "[[?]]"} where ? is 1 to 5.'
SCORE_REPLY_ANSWER_FIRST = (
    'Reply in JSON: {"Answer": "...", "Judgement": "[[?]]"} with your own short answer '
    "to the question first, then ? from 1 to 5."
)
"""The score template's reply line when the judge is asked to answer the question itself
before scoring (``answer_first``): a judge that must match a proposed answer against the
image can then match it against an answer it has written out instead."""
PAIR_REPLY = 'Reply in JSON: {"Judgement": "[[?]]"} where ? is A, B, or C for a tie.'
BATCH_REPLY = 'Reply in JSON: {{"Judgement": "{markers}"}} with one letter per ?, best first.'


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space."""
    return " ".join(str(text).split())


def _batch_reply(n: int) -> str:
    return BATCH_REPLY.format(markers=", ".join(["[[?]]"] * n))


def quote(answer: str) -> str:
    """An answer as the prompts show it: one line, as a JSON string (``"green"``)."""
    return json.dumps(one_line(answer), ensure_ascii=False)


def unquote(text: str) -> str | None:
    """Invert `quote`; None when `text` is not one JSON string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def _answer_lines(answers: list[str] | tuple[str, ...]) -> list[str]:
    return [f"[{LETTERS[i]}] {quote(a)}" for i, a in enumerate(answers)]


def render_prompt(
    mode: str, question: str, answers: list[str] | tuple[str, ...], *, answer_first: bool = False
) -> str:
    """The user text for one judge request (the images go before it in the message).

    ``score`` takes one answer, ``pair`` two, ``batch`` two or more (at most 26).
    ``answer_first`` (score only) asks for the judge's own answer before the score.
    """
    if mode not in HEADERS:
        raise ValueError(f"unknown judge mode {mode!r}; expected one of {list(MODES)}")
    if answer_first and mode != "score":
        raise ValueError(f"answer_first applies to the score template only, not {mode!r}")
    expected = {"score": (1, 1), "pair": (2, 2), "batch": (2, len(LETTERS))}[mode]
    if not expected[0] <= len(answers) <= expected[1]:
        raise ValueError(
            f"mode {mode!r} takes {expected[0]}..{expected[1]} answers, got {len(answers)}"
        )
    lines = [HEADERS[mode], QUESTION_PREFIX + str(question).strip()]
    if mode == "score":
        reply = SCORE_REPLY_ANSWER_FIRST if answer_first else SCORE_REPLY
        lines += [ANSWER_PREFIX + quote(answers[0]), reply]
    elif mode == "pair":
        lines += [*_answer_lines(answers), PAIR_REPLY]
    else:
        lines += [*_answer_lines(answers), _batch_reply(len(answers))]
    return "\n".join(lines)


@dataclass(frozen=True)
class PromptParts:
    """What `render_prompt` was given, read back from its text."""

    mode: str
    question: str
    answers: tuple[str, ...]
    answer_first: bool = False


def _mode_and_count(header: str, reply: str) -> tuple[str, int] | None:
    if header == SCORE_HEADER and reply in (SCORE_REPLY, SCORE_REPLY_ANSWER_FIRST):
        return "score", 1
    if header == PAIR_HEADER and reply == PAIR_REPLY:
        return "pair", 2
    if header == BATCH_HEADER:
        n = reply.count("[[?]]")
        if 2 <= n <= len(LETTERS) and reply == _batch_reply(n):
            return "batch", n
    return None


def read_prompt(text: str) -> PromptParts | None:
    """Invert `render_prompt`; None when `text` is not a judge prompt of ours."""
    lines = text.split("\n")
    if len(lines) < 4:
        return None
    found = _mode_and_count(lines[0], lines[-1])
    if found is None:
        return None
    mode, n = found
    block = lines[-1 - n : -1]
    prefixes = [ANSWER_PREFIX] if mode == "score" else [f"[{LETTERS[i]}] " for i in range(n)]
    answers = []
    for prefix, line in zip(prefixes, block, strict=True):
        answer = unquote(line[len(prefix) :]) if line.startswith(prefix) else None
        if answer is None:
            return None
        answers.append(answer)
    question_lines = lines[1 : -1 - n]
    if not question_lines or not question_lines[0].startswith(QUESTION_PREFIX):
        return None
    question = "\n".join(question_lines)[len(QUESTION_PREFIX) :]
    return PromptParts(mode, question, tuple(answers), lines[-1] == SCORE_REPLY_ANSWER_FIRST)


def verdict_json(judgement: str, answer: str | None = None) -> str:
    """The JSON verdict a judge is asked for, e.g. ``{"Judgement": "[[4]]"}``, or with
    its own answer first (``{"Answer": "blue", "Judgement": "[[2]]"}``)."""
    if answer is None:
        return json.dumps({"Judgement": judgement})
    return json.dumps({"Answer": one_line(answer), "Judgement": judgement})


def templates_fingerprint() -> str:
    """Hash of every template string: part of the cache key, so editing a prompt never
    reuses answers given to the old one."""
    return sha256_text(
        *HEADERS.values(),
        QUESTION_PREFIX,
        ANSWER_PREFIX,
        SCORE_REPLY,
        SCORE_REPLY_ANSWER_FIRST,
        PAIR_REPLY,
        BATCH_REPLY,
        quote("how answers are shown"),
    )
