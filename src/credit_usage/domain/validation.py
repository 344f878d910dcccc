"""Rules every value is checked against on construction.

Each function either returns the (normalised) value or raises
:class:`~credit_usage.errors.ValidationError` naming the offending value.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from credit_usage.errors import ValidationError

E = TypeVar("E", bound=StrEnum)

MAX_ID_LENGTH = 255
#: The largest amount a single value may hold: sums of many such values still
#: fit the 64-bit integers of every SQL backend.
MAX_CREDITS = 10**15
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Deliberately simple: one @, no white space or control characters, a dot in
# the domain. Deliverability is the mail server's business; header safety is ours.
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f<>,;\"]"
EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+")


def to_enum(cls: type[E], value: object) -> E:
    """Return ``value`` as a member of ``cls``; its string value is accepted too."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        try:
            return cls(value)
        except ValueError:
            pass
    choices = ", ".join(repr(m.value) for m in cls)
    raise ValidationError(f"{cls.__name__} must be one of {choices}, got {value!r}")


def require_id(what: str, value: object) -> str:
    """An identifier: a non-empty string of at most 255 characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} characters, "
            f"got {value!r}"
        )
    return _no_nul(what, value)


def _no_nul(what: str, value: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it everywhere keeps every
    # storage accepting the same values.
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain the NUL character, got {value!r}")
    return value


def require_optional_id(what: str, value: object) -> str | None:
    return None if value is None else require_id(what, value)


def require_text(what: str, value: object) -> str:
    """Free text that must not be empty (names). Any character is allowed."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be non-empty text, got {value!r}")
    return _no_nul(what, value)


def require_email(value: object) -> str:
    if not isinstance(value, str) or not EMAIL.fullmatch(value):
        raise ValidationError(f"email must be a valid address, got {value!r}")
    return value


def require_slug(what: str, value: object) -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError(f"{what} must match [a-z0-9][a-z0-9_-]{{0,63}}, got {value!r}")
    return value


def require_credits(what: str, value: object, *, minimum: int) -> int:
    """Credits are integers, never floats or booleans."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValidationError(f"{what} must be at least {minimum}, got {value!r}")
    if value > MAX_CREDITS:
        raise ValidationError(f"{what} must be at most {MAX_CREDITS}, got {value!r}")
    return value


def require_aware(what: str, value: object) -> datetime:
    """A timezone-aware datetime, returned in UTC."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def require_optional_aware(what: str, value: object) -> datetime | None:
    return None if value is None else require_aware(what, value)


def require_date(what: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{what} must be a date, got {value!r}")
    return value


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``."""
    try:
        return ZoneInfo(name)
    # OSError: a name that is a directory of the zone database ("America")
    # makes zoneinfo raise IsADirectoryError rather than ZoneInfoNotFoundError.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValidationError(f"timezone must be a valid IANA zone name, got {name!r}") from None


def require_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"timezone must be a valid IANA zone name, got {value!r}")
    zone(value)
    return value
