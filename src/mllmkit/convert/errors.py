"""The one error type of the converters: it names the file or config field at fault."""

from __future__ import annotations


class ConversionError(ValueError):
    """A checkpoint cannot be converted; the message says which file, key or field and why."""
