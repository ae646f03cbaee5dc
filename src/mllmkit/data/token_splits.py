"""Forced token boundaries inside exact words (`stem|suffix`), for `train_tokenizer`.

Kept apart from `tokenizer.py` so that validating a training config does not import
`transformers` (seconds at start-up).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPLIT_RE = re.compile(r"[A-Za-z]+\|[A-Za-z]+")


def split_pattern(splits: Sequence[str]) -> str | None:
    """The regex matching each `stem|suffix` entry's suffix right after its stem, inside
    that exact word (None for no entries). Raises ValueError on a malformed entry."""
    parts = []
    for i, entry in enumerate(splits):
        if not isinstance(entry, str) or not _SPLIT_RE.fullmatch(entry):
            raise ValueError(
                f"tokenizer split #{i} {entry!r}: write it as stem|suffix (letters only, one "
                f"'|'), e.g. 'cross|es'"
            )
        stem, suffix = entry.split("|")
        parts.append(rf"(?<=\b{stem}){suffix}\b")
    return "|".join(parts) if parts else None
