"""Rules every value is checked against on construction.

Each function either returns the (normalised) value or raises
:class:`~credit_usage.errors.ValidationError` naming the offending value.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from credit_usage.errors import ValidationError

E = TypeVar("E", bound=StrEnum)

MAX_ID_LENGTH = 255
#: Names (teams, groups, members): far below MariaDB's TEXT limit of 65,535
#: bytes even at four UTF-8 bytes a character, and longer than any real name.
MAX_NAME_LENGTH = 1000
#: RFC 5321 caps a forward path at 256 octets, angle brackets included.
MAX_EMAIL_LENGTH = 254
#: The largest amount a single value may hold: sums of many such values still
#: fit the 64-bit integers of every SQL backend.
MAX_CREDITS = 10**15
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Deliberately simple: one @, no white space or control characters, a dot in
# the domain. Deliverability is the mail server's business; header safety is ours.
_EMAIL_CHAR = r"[^@\s\x00-\x1f\x7f<>,;\"]"
EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+\.{_EMAIL_CHAR}+")

# The calendar days the library supports: every date, and every instant (its
# local day where a time zone is known, else its UTC day), must fall between
# these two, both inclusive. Cycles are computed only when they hold at least
# one supported day. Such a cycle starts at most one period (a year, for
# annual schedules) before that day and ends at most one period after it, on
# a local midnight at most 14 hours before (UTC+14, Pacific/Kiritimati) or
# 12 hours after (UTC-12) UTC midnight -- less than a day even for a custom
# tzinfo, whose offset Python keeps under 24 hours. So:
#
# * EARLIEST_DAY is forced: an annual cycle holding 0002-01-01 may start on
#   0001-01-02 (anchored on Jan 2), whose midnight at UTC+14 is 0001-01-01
#   10:00 UTC, just inside datetime.min. A day earlier and it would overflow.
# * LATEST_DAY leaves two years where one would do: the cycle holding
#   9997-12-31 ends by the midnight that begins 9998-12-31 (anchored on Dec
#   31), so the whole of year 9999 is spare. 9998-12-31 would still fit, with
#   hours to spare; a round year of slack keeps every date computed from a
#   supported value (a cycle's end, a range's end, a local day) far from
#   date.max, whatever is added to this code later.
EARLIEST_DAY = date(2, 1, 1)
LATEST_DAY = date(9997, 12, 31)
SUPPORTED_SPAN = f"{EARLIEST_DAY.isoformat()}..{LATEST_DAY.isoformat()}"
_TICK = timedelta(microseconds=1)


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
            f"got {_shown(value)}",
            field=what,
        )
    return _storable(what, value)


def _storable(what: str, value: str) -> str:
    """``value`` if every storage can hold it as text, else raise.

    PostgreSQL cannot store NUL in text, and no SQL driver can encode a lone
    surrogate (``"\\ud800"``) as UTF-8; refusing both everywhere keeps every
    storage accepting the same values.
    """
    if "\x00" in value:
        raise ValidationError(
            f"{what} must not contain the NUL character, got {value!r}", field=what
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                f"{what} must be valid Unicode (encodable as UTF-8, no lone surrogates), "
                f"got {value!r}",
                field=what,
            ) from exc
    return value


def _too_long(what: str, value: str, limit: int) -> ValidationError:
    return ValidationError(
        f"{what} must be at most {limit} characters, got {len(value)} characters: {_shown(value)}",
        field=what,
    )


def _shown(value: object) -> str:
    """``value`` for a message: only the start of a long text, which may be megabytes."""
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    return repr(value)


_SHOWN = 40


def require_optional_id(what: str, value: object) -> str | None:
    return None if value is None else require_id(what, value)


def require_text(what: str, value: object) -> str:
    """Free text that must not be empty (names), at most 1,000 characters.

    Any character is allowed but NUL and lone surrogates.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be non-empty text, got {value!r}", field=what)
    if len(value) > MAX_NAME_LENGTH:
        raise _too_long(what, value, MAX_NAME_LENGTH)
    return _storable(what, value)


def require_email(value: object) -> str:
    """An email address of at most 254 characters."""
    if isinstance(value, str) and len(value) > MAX_EMAIL_LENGTH:
        raise _too_long("email", value, MAX_EMAIL_LENGTH)
    if not isinstance(value, str) or not EMAIL.fullmatch(value):
        raise ValidationError(f"email must be a valid address, got {value!r}", field="email")
    return _storable("email", value)


def require_slug(what: str, value: object) -> str:
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        raise ValidationError(
            f"{what} must match [a-z0-9][a-z0-9_-]{{0,63}}, got {value!r}", field=what
        )
    return _storable(what, value)


def require_credits(what: str, value: object, *, minimum: int) -> int:
    """Credits are integers, never floats or booleans."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {value!r}", field=what)
    if value < minimum:
        raise ValidationError(f"{what} must be at least {minimum}, got {value!r}", field=what)
    if value > MAX_CREDITS:
        raise ValidationError(f"{what} must be at most {MAX_CREDITS}, got {value!r}", field=what)
    return value


def require_aware(
    what: str, value: object, tz: tzinfo | None = None, *, end: bool = False
) -> datetime:
    """A timezone-aware datetime on a supported day, returned in UTC.

    The day is the one in UTC, or in ``tz`` when a time zone is known. An
    ``end`` is exclusive: the day of the instant just before it counts, so
    the midnight that ends :data:`LATEST_DAY` is accepted. Whatever a custom
    ``tzinfo`` raises is refused as a :class:`ValidationError` chained from it.
    """
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {value!r}", field=what)
    if value.tzinfo is None:
        raise _naive(what, value)
    try:
        offset = value.utcoffset()
    except Exception as exc:  # a custom tzinfo may raise anything
        raise ValidationError(
            f"{what} must have a time zone that gives its UTC offset, got {value!r} "
            f"({type(exc).__name__}: {exc})",
            field=what,
        ) from exc
    if offset is None:
        raise _naive(what, value)
    try:
        instant = value.astimezone(UTC)
        probe = instant - _TICK if end else instant
    except Exception as exc:  # OverflowError beyond year 1 or 9999, or the tzinfo
        raise _outside_span(what, value, tz, end) from exc
    day = probe.date() if tz is None else local_date(what, probe, tz, shown=value, end=end)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise _outside_span(what, value, tz, end)
    return instant


def local_date(
    what: str, instant: datetime, tz: tzinfo, *, shown: object = None, end: bool = False
) -> date:
    """The day aware ``instant`` falls on in ``tz``.

    A conversion that overflows, or a custom ``tzinfo`` that fails, is a
    :class:`ValidationError` naming ``shown`` (``instant`` by default).
    """
    try:
        return instant.astimezone(tz).date()
    except OverflowError as exc:
        raise _outside_span(what, instant if shown is None else shown, tz, end) from exc
    except Exception as exc:  # a custom tzinfo may raise anything
        raise ValidationError(
            f"{what} must be convertible to time zone {tz}, got "
            f"{instant if shown is None else shown!r} ({type(exc).__name__}: {exc})",
            field=what,
        ) from exc


def _naive(what: str, value: datetime) -> ValidationError:
    wall = value.replace(tzinfo=None).isoformat()
    return ValidationError(f"{what} must be timezone-aware, got naive {wall}", field=what)


def _outside_span(what: str, value: object, tz: tzinfo | None, end: bool) -> ValidationError:
    where = "in UTC" if tz is None else f"in time zone {tz}"
    after = ", or be the midnight after it" if end else ""
    return ValidationError(
        f"{what} must fall on a day from {SUPPORTED_SPAN}{after} ({where}), got {value!r}",
        field=what,
    )


def require_optional_aware(what: str, value: object) -> datetime | None:
    return None if value is None else require_aware(what, value)


def require_date(what: str, value: object) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{what} must be a date, got {value!r}", field=what)
    return value


def require_day(what: str, value: object) -> date:
    """A calendar date inside the supported span :data:`EARLIEST_DAY`..:data:`LATEST_DAY`."""
    day = require_date(what, value)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(
            f"{what} must be a day from {SUPPORTED_SPAN}, got {day!r}", field=what
        )
    return day


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``."""
    try:
        return ZoneInfo(name)
    # OSError: a name that is a directory of the zone database ("America")
    # makes zoneinfo raise IsADirectoryError rather than ZoneInfoNotFoundError.
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValidationError(
            f"timezone must be a valid IANA zone name, got {name!r}", field="timezone"
        ) from None


def require_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"timezone must be a valid IANA zone name, got {value!r}", field="timezone"
        )
    zone(value)
    return value
