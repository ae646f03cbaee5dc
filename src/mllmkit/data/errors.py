"""Errors raised while reading and encoding data.

Every error carries *where* the problem is (file, row, field) as attributes and in its
message, so a user with a 600k-row file can jump straight to the bad line instead of
reading a traceback from deep inside a tokenizer or an image decoder.
"""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A problem with input data, located by file, row and field.

    `row` is a 1-based line number (JSONL, TSV, the line where a JSON array item starts)
    or `None`; `row_id` is the row's own identifier (`id` / `index`) when known. The
    message reads like ``train.jsonl:17 (id=abc): field 'conversations': <detail>``.
    """

    def __init__(
        self,
        detail: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        row_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.detail = detail
        self.path = str(path) if path is not None else None
        self.row = row
        self.row_id = row_id
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.path or ""
        if self.row is not None:
            where = f"{where}:{self.row}" if where else f"row {self.row}"
        if self.row_id is not None:
            where = f"{where} (id={self.row_id})" if where else f"id={self.row_id}"
        parts = [where] if where else []
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.detail)
        return ": ".join(parts)

    def __reduce__(self):  # keep the keyword-only attributes through pickling (DataLoader)
        return (_rebuild, (type(self), self.detail, self.path, self.row, self.row_id, self.field))


def _rebuild(
    cls: type[DataError],
    detail: str,
    path: str | None,
    row: int | None,
    row_id: str | None,
    field: str | None,
) -> DataError:
    return cls(detail, path=path, row=row, row_id=row_id, field=field)


class ImageLoadError(DataError):
    """An image is missing, not an image, truncated, or too large to decode safely."""


class TokenizationMismatchError(DataError):
    """The supervised tokens do not reproduce the assistant text, or image tokens went missing.

    Raised instead of returning a sample whose labels are silently all ignored (the failure
    LLaVA's preprocessing hides behind a warning when a template and tokenizer disagree).
    """


class SampleTooLongError(DataError):
    """A sample cannot be cut to `max_length` without cutting an image block or every label."""
