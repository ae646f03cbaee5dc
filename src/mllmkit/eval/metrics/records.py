"""Shared plumbing for the scorers: record coercion, zero-safe ratios, error messages.

Scorers accept either their record dataclass or a plain tuple in the dataclass's field
order, so a runner can pass whatever it already has without an adapter layer. Every
problem is reported as a `MetricInputError` naming the record (position and id) and the
field, because a metric that fails deep inside a long evaluation must say which row broke.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class MetricInputError(ValueError):
    """A record handed to a scorer is malformed; the message names the record and field."""


def coerce_records(records: Iterable[Any], cls: type[T]) -> list[T]:
    """Turn each record into `cls` (a dataclass), accepting instances, tuples and lists.

    Tuples are read positionally in the dataclass's field order. Anything else raises a
    `MetricInputError` naming the record's position (1-based).
    """
    if records is None:
        raise MetricInputError(f"expected an iterable of {cls.__name__} records, got None")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = ", ".join(f.name for f in fields)
    n_required = sum(
        1
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    out: list[T] = []
    for position, record in enumerate(records, start=1):
        if isinstance(record, cls):
            out.append(record)
        elif isinstance(record, (tuple, list)):
            if not n_required <= len(record) <= len(fields):
                raise MetricInputError(
                    f"record {position}: expected {n_required} to {len(fields)} fields "
                    f"({names}), got {len(record)}"
                )
            out.append(cls(*record))
        else:
            raise MetricInputError(
                f"record {position}: expected a {cls.__name__} or a tuple, "
                f"got {type(record).__name__}"
            )
    return out


def ratio(numerator: float, denominator: float) -> float:
    """`numerator / denominator`, defined as 0.0 when the denominator is zero.

    Accuracy-like metrics on an empty set have no meaningful value; 0.0 (scikit-learn's
    `zero_division=0` convention) keeps reports numeric, and every scorer also reports the
    count `n` so an empty set is visible as such.
    """
    return numerator / denominator if denominator else 0.0


def where(position: int, sample_id: Any) -> str:
    """The prefix every error message starts with: `record 3 (id 'q17')`."""
    return f"record {position} (id {sample_id!r})"


def require_str(value: Any, position: int, sample_id: Any, field: str) -> str:
    """Return `value` if it is a string, else raise naming the record and field."""
    if not isinstance(value, str):
        raise MetricInputError(
            f"{where(position, sample_id)}: field '{field}' must be a string, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def check_unique(ids: Iterable[Any], what: str) -> None:
    """Raise if an id repeats: a duplicated row would silently count twice."""
    seen: set[Any] = set()
    for position, key in enumerate(ids, start=1):
        if key in seen:
            raise MetricInputError(f"record {position}: duplicate {what} {key!r}")
        seen.add(key)


NO_CATEGORY = "(none)"
"""Category name used for records whose category is None or empty."""


def category_name(value: Any, position: int, sample_id: Any) -> str:
    """Normalise a record's category: None/"" become `NO_CATEGORY`, other non-strings raise."""
    if value is None or value == "":
        return NO_CATEGORY
    return require_str(value, position, sample_id, "category")
