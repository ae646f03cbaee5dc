"""Text-level pieces of decoding, kept free of torch so HTTP-only code can use them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Decoder(Protocol):
    """What decoding needs of a tokenizer: ids back to text."""

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut `text` at the earliest occurrence of any stop string (empty strings ignored).

    Stop strings are applied to decoded text, after generation, by every backend alike."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < cut:
                cut = i
    return text[:cut]
