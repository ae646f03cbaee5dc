"""Caption tokenisation shared by BLEU and CIDEr-D, and the checks on their inputs.

coco-caption runs the Stanford PTB tokenizer (Java) and then deletes punctuation tokens.
We do not run Java; `tokenize_caption` reproduces what that pipeline gives for plain
English captions, so scores are comparable to published ones on ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_CLITIC = re.compile(r"(?<=[^\W_])(n't|'s|'re|'ve|'ll|'d|'m)(?![^\W_])")
_TOKEN = re.compile(
    r"n't"  # clitics split off above, kept as tokens (as PTB + coco-caption do)
    r"|'(?:s|re|ve|ll|d|m)(?![^\W_])"
    r"|\d+(?:[.,]\d+)+"  # numbers keep inner periods/commas: 3.5, 1,000
    r"|[^\W_]+(?:-[^\W_]+)*"  # words, with inner hyphens: t-shirt
    r"|[^\w\s.,?!:;\-(){}\[\]'\"`]"  # other symbols (%, &, $, /) stay, one per token
)


def tokenize_caption(text: str) -> list[str]:
    """Lower-case PTB-style tokens with punctuation removed, as coco-caption's pipeline.

    - lower-case; curly apostrophes become straight ones;
    - clitics become their own tokens as PTB splits them: "don't" → ``do n't``,
      "man's" → ``man 's``, "they're" → ``they 're``;
    - words keep inner hyphens ("t-shirt"), numbers keep inner periods and commas ("3.5");
    - the punctuation coco-caption deletes after PTB (``. , ? ! : ; - ( ) { } [ ] ' " ```)
      is dropped; other symbols (``% & $ /``) stay as single-character tokens.

    Known differences from the Java tokenizer: none for plain English words and digits;
    PTB's handling of rare forms (abbreviations like "U.S." → ``u.s.``, brackets kept as
    ``-lsb-``) is not reproduced — here "u.s." gives ``u s`` and brackets are dropped.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a caption string, got {type(text).__name__}")
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return _TOKEN.findall(_CLITIC.sub(r" \1", lowered))


def check_caption_inputs(
    candidates: Mapping[Any, str], references: Mapping[Any, Sequence[str]]
) -> list[Any]:
    """Validate and return the ids, in sorted-by-str order, for a corpus caption metric.

    Both mappings must have the same ids (as coco-caption asserts); every candidate a
    string; every reference list non-empty and made of strings. Errors name the ids.
    """
    if not isinstance(candidates, Mapping) or not isinstance(references, Mapping):
        raise ValueError("candidates and references must be mappings id -> caption(s)")
    missing_refs = [k for k in candidates if k not in references]
    missing_cands = [k for k in references if k not in candidates]
    if missing_refs or missing_cands:
        raise ValueError(
            "candidates and references must cover the same ids; "
            f"no references for {missing_refs[:5]!r}, no candidate for {missing_cands[:5]!r}"
        )
    for key, caption in candidates.items():
        if not isinstance(caption, str):
            raise ValueError(f"candidate {key!r}: expected a string, got {type(caption).__name__}")
        refs = references[key]
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0:
            raise ValueError(f"references {key!r}: expected a non-empty list of strings")
        for ref in refs:
            if not isinstance(ref, str):
                raise ValueError(f"references {key!r}: expected strings, got {ref!r}")
    return sorted(candidates, key=str)
