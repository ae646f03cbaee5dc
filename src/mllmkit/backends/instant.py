"""A backend that answers instantly and deterministically.

It measures the evaluation harness's own cost (no model time at all) and gives tests a
model whose answer depends on the request only. Spec: `instant:` answers the first option
letter when the prompt lists options (`A. ...` lines) and "Yes" otherwise;
`instant:TEXT` always answers TEXT.
"""

from __future__ import annotations

import hashlib
import re

from mllmkit.backends.base import Request, Response

_OPTION_LINE = re.compile(r"^([A-Z])\. ", re.MULTILINE)


class InstantBackend:
    """Deterministic zero-cost answers; see the module docstring for the rule."""

    def __init__(self, answer: str | None = None) -> None:
        self.answer = answer or None
        self.name = f"instant:{self.answer or ''}"

    def _answer(self, request: Request) -> str:
        if self.answer is not None:
            return self.answer
        match = _OPTION_LINE.search(request.text())
        return match.group(1) if match else "Yes"

    def generate(self, requests: list[Request]) -> list[Response]:
        return [Response(text=self._answer(r)) for r in requests]

    def fingerprint(self) -> str:
        return hashlib.sha256(self.name.encode()).hexdigest()
