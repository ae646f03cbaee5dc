"""The in-memory conversation: what every reader produces and the processor consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mllmkit.data.errors import DataError

IMAGE_TOKEN = "<image>"
"""Marks where an image's features go in a turn's text (LLaVA's convention)."""

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Turn:
    """One message. `role` is `system`, `user` or `assistant`; `text` may hold `<image>`."""

    role: str
    text: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Turn role must be one of {ROLES}, got {self.role!r}")
        if not isinstance(self.text, str):
            raise TypeError(f"Turn text must be a str, got {type(self.text).__name__}")


@dataclass
class Conversation:
    """A training sample: an id, its images in order of `<image>` appearance, its turns.

    `source` is ``file:line`` of the row it was read from (empty when built in code); the
    processor puts it in error messages together with the id.
    """

    id: str
    images: list[Path]
    turns: list[Turn]
    source: str = field(default="", compare=False)

    @property
    def n_image_tokens(self) -> int:
        """How many `<image>` markers the turns hold (must equal `len(images)`)."""
        return sum(turn.text.count(IMAGE_TOKEN) for turn in self.turns)


IMAGE_PLACEMENTS = ("as_written", "before_text", "after_text")
"""Where a processor puts a user turn's `<image>` markers (see `place_images`)."""


def place_images(turns: list[Turn], placement: str) -> list[Turn]:
    """Move each user turn's `<image>` markers before or after its text.

    `as_written` keeps the text as it is. `before_text` gives ``<image>\\n`` x k + text
    (LLaVA moves its marker to the front the same way); `after_text` gives text +
    ``\\n<image>`` x k. Why after: in a causal decoder, image tokens that come after the
    question can attend to it, so each one can work out whether it is the object being
    asked about; image tokens before the question cannot, and the answer position must
    then match a composite query against every image token.
    """
    if placement not in IMAGE_PLACEMENTS:
        raise ValueError(f"image placement must be one of {IMAGE_PLACEMENTS}, got {placement!r}")
    if placement == "as_written":
        return list(turns)
    out = []
    for turn in turns:
        k = turn.text.count(IMAGE_TOKEN)
        if turn.role != "user" or k == 0:
            out.append(turn)
            continue
        text = _strip_markers(turn.text)
        if placement == "before_text":
            text = (IMAGE_TOKEN + "\n") * k + text
        else:
            text = text + ("\n" + IMAGE_TOKEN) * k
        out.append(Turn(role=turn.role, text=text))
    return out


def _strip_markers(text: str) -> str:
    """`text` without its `<image>` markers and the line breaks that set them apart."""
    for sep in (IMAGE_TOKEN + "\n", "\n" + IMAGE_TOKEN, IMAGE_TOKEN):
        text = text.replace(sep, "")
    return text


def split_exchanges(conv: Conversation) -> list[Conversation]:
    """One conversation per (user, assistant) exchange, each with all of `conv`'s images.

    Why: with images placed after the question, only the first question of a multi-turn
    conversation precedes the image tokens; as single exchanges every question does.
    A system turn is kept in every part; the markers of all user turns go to each part's
    question (written before it; the processor's placement moves them), so each part
    has exactly `conv.images`. Exchanges are numbered in the ids (`id#0`, `id#1`, ...).
    """
    system = [t for t in conv.turns if t.role == "system"]
    rest = [t for t in conv.turns if t.role != "system"]
    k = conv.n_image_tokens
    parts: list[Conversation] = []
    i = 0
    while i < len(rest):
        if rest[i].role != "user" or i + 1 >= len(rest) or rest[i + 1].role != "assistant":
            path, _, line = conv.source.rpartition(":")
            raise DataError(
                f"cannot split into exchanges: turn {i + len(system)} is not a user turn "
                "followed by an assistant turn",
                path=path or None,
                row=int(line) if line.isdigit() else None,
                row_id=conv.id,
                field="conversations",
            )
        question = (IMAGE_TOKEN + "\n") * k + _strip_markers(rest[i].text)
        turns = [*system, Turn("user", question), rest[i + 1]]
        parts.append(Conversation(f"{conv.id}#{len(parts)}", list(conv.images), turns, conv.source))
        i += 2
    return parts
