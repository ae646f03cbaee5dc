"""The in-memory conversation: what every reader produces and the processor consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
