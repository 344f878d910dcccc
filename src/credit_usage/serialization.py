"""One cattrs converter for every public value type.

Datetimes are ISO 8601 with their offset, dates ISO dates, enums by value,
tuples as lists. ``from_dict(type(x), to_dict(x)) == x`` for every public value.

    >>> from datetime import date
    >>> from credit_usage import DateRange, from_dict, to_dict
    >>> to_dict(DateRange(first=date(2026, 1, 1), last=date(2026, 1, 31)))
    {'first': '2026-01-01', 'last': '2026-01-31'}
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin

from credit_usage.errors import CreditUsageError, ValidationError

if TYPE_CHECKING:
    import cattrs

__all__ = ["from_dict", "get_converter", "to_dict"]

T = TypeVar("T")


@functools.cache
def get_converter() -> cattrs.Converter:
    """The converter behind :func:`to_dict` and :func:`from_dict`, built on first use.

    cattrs is imported then, not when ``credit_usage`` is: a host that never
    serializes does not pay for it.
    """
    import cattrs

    conv = cattrs.Converter()
    # cattrs passes str-based enums through as members (str comes before Enum
    # in a StrEnum's MRO); plain data means their values. Result types do not
    # convert their fields, so a plain string may stand where an enum is typed.
    conv.register_unstructure_hook(StrEnum, _unstructure_enum)
    # A field typed ``str`` may hold a StrEnum member (``Feature.API`` for the
    # feature "api"): written as its plain value, in keys too.
    conv.register_unstructure_hook(str, _unstructure_enum)
    # cattrs' defaults call int(value) / str(value) / bool(value): 1.5 would
    # become 1 credit, None the name "None" and "false" True. Data of the
    # wrong type is refused instead.
    conv.register_structure_hook(int, _structure_int)
    # JSON has no infinity: a ratio over a zero limit is written "Infinity".
    conv.register_unstructure_hook(float, _unstructure_float)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(str, _structure_str)
    # cattrs iterates whatever it is given: "email" would become the credit
    # types ("e", "m", "a", "i", "l") and a dict its keys. Only lists will do.
    conv.register_structure_hook_factory(
        _is_homogeneous_sequence, lambda cls: _sequence_hook(conv, cls)
    )
    conv.register_unstructure_hook(datetime, lambda dt: dt.isoformat())
    conv.register_structure_hook(datetime, lambda value, _: _parse_datetime(value))
    conv.register_unstructure_hook(date, lambda d: d.isoformat())
    # An error becomes the JSON body of a web response: its code, message and figures.
    conv.register_unstructure_hook_func(
        lambda cls: isinstance(cls, type) and issubclass(cls, CreditUsageError),
        lambda error: _error_body(conv, error),
    )
    conv.register_structure_hook(date, lambda value, _: _parse_date(value))
    return conv


def _error_body(conv: cattrs.Converter, error: CreditUsageError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    for name, value in error.details().items():
        body[name] = _json_ready(conv.unstructure(value))
    return body


def _json_ready(value: Any) -> Any:
    """``value`` as JSON data; anything else (an object a caller passed) as its repr."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    return repr(value)


def _is_homogeneous_sequence(cls: Any) -> bool:
    args = get_args(cls)
    origin = get_origin(cls)
    return (origin is list and len(args) == 1) or (
        origin is tuple and len(args) == 2 and args[1] is Ellipsis
    )


def _sequence_hook(conv: cattrs.Converter, cls: Any) -> Callable[[Any, Any], Any]:
    origin, item = get_origin(cls), get_args(cls)[0]
    structure_item = conv.get_structure_hook(item)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise ValidationError(f"expected a list, got {value!r}")
        return origin(structure_item(v, item) for v in value)

    return structure


def _unstructure_enum(member: StrEnum | str) -> str:
    return member.value if isinstance(member, StrEnum) else member


def _unstructure_float(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value).replace("inf", "Infinity")


def _structure_float(value: Any, cls: type[float]) -> float:
    if value in ("Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"expected a number, got {value!r}")
    return float(value)


def _structure_bool(value: Any, cls: type[bool]) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"expected true or false, got {value!r}")
    return value


def _structure_int(value: Any, cls: type[int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"expected an integer, got {value!r}")
    return value


def _structure_str(value: Any, cls: type[str]) -> str:
    # ``cls`` is ``str`` or a StrEnum (which dispatches here through its MRO).
    if not isinstance(value, str):
        raise ValidationError(f"expected a string, got {value!r}")
    return cls(value)


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str):
        raise ValidationError(f"expected an ISO 8601 datetime, got {value!r}")
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"expected an ISO 8601 datetime, got {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
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


def __getattr__(name: str) -> Any:
    if name == "converter":
        return get_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_dict(obj: Any) -> Any:
    """``obj`` as plain JSON-ready data (dicts, lists, strings, numbers)."""
    return get_converter().unstructure(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """Build a ``cls`` from data made by :func:`to_dict` (or equivalent JSON).

    Raises:
        ValidationError: the data does not describe a valid ``cls``.
    """
    try:
        return get_converter().structure(data, cls)
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
