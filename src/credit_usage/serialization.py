"""One cattrs converter for every public value type.

Datetimes are ISO 8601 with their offset, dates ISO dates, enums by value,
tuples as lists. ``from_dict(type(x), to_dict(x)) == x`` for every public value.

    >>> from datetime import date
    >>> from credit_usage import DateRange, from_dict, to_dict
    >>> to_dict(DateRange(first=date(2026, 1, 1), last=date(2026, 1, 31)))
    {'first': '2026-01-01', 'last': '2026-01-31'}
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar

import cattrs

from credit_usage.errors import ValidationError

__all__ = ["converter", "from_dict", "to_dict"]

T = TypeVar("T")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, lambda dt: dt.isoformat())
    conv.register_structure_hook(datetime, lambda value, _: _parse_datetime(value))
    conv.register_unstructure_hook(date, lambda d: d.isoformat())
    conv.register_structure_hook(date, lambda value, _: _parse_date(value))
    return conv


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValidationError(f"expected an ISO 8601 datetime, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"expected an ISO 8601 datetime, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValidationError(f"datetime must carry an offset, got {value!r}")
    return parsed


def _parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValidationError(f"expected an ISO date, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"expected an ISO date, got {value!r}") from None


#: The converter behind :func:`to_dict` and :func:`from_dict`.
converter = _make_converter()


def to_dict(obj: Any) -> Any:
    """``obj`` as plain JSON-ready data (dicts, lists, strings, numbers)."""
    return converter.unstructure(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """Build a ``cls`` from data made by :func:`to_dict` (or equivalent JSON).

    Raises:
        ValidationError: the data does not describe a valid ``cls``.
    """
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except Exception as exc:
        errors = exc.exceptions if isinstance(exc, ExceptionGroup) else [exc]
        first = errors[0]
        while isinstance(first, ExceptionGroup):
            first = first.exceptions[0]
        if isinstance(first, ValidationError):
            raise ValidationError(f"invalid {cls.__name__}: {first}") from exc
        raise ValidationError(f"invalid {cls.__name__} data {data!r}: {first!r}") from exc
