"""A live progress bar (samples/s, ETA) that stays silent when nobody is watching.

Shown only when stderr is a terminal, so logs, CI and tests get no control codes.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    """`with Progress(total, enabled) as p: p.advance(n)`; a no-op when disabled."""

    def __init__(self, total: int, description: str = "eval", enabled: bool | None = None):
        self.total = total
        self.description = description
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled and self.total > 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, rate="")
        return self

    def set_description(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.advance(self._task, n)
            speed = task.speed
            rate = f"{speed:,.1f} samples/s" if speed else ""
            self._progress.update(self._task, rate=rate)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
