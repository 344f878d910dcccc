"""The pace forecast: where usage ends the cycle at the pace so far, and when a budget runs out.

Pure arithmetic on one cycle: ``used`` credits in the elapsed part of
``[cycle.start, cycle.end)`` extrapolate linearly to the whole cycle, and a
budget (the team's pool, a member's limit) runs out at the instant the line
crosses it -- reported as the local day in the team's time zone, or ``None``
when that is after the cycle ends or nothing is used.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from fractions import Fraction
from typing import NamedTuple

from credit_usage.domain.cycles import Cycle

__all__ = ["Forecast", "pace"]

_ZERO = timedelta(0)
_MICRO = timedelta(microseconds=1)


class Forecast(NamedTuple):
    """``projected_used`` at the cycle's end; the local day ``budget`` runs out, or ``None``."""

    projected_used: int
    runs_out_on: date | None


def pace(used: int, budget: int | None, cycle: Cycle, now: datetime, tz: tzinfo) -> Forecast:
    """The forecast of ``used`` credits at ``now`` in ``cycle`` against ``budget``.

    ``projected_used`` is ``used`` scaled to the whole cycle (rounded to the
    nearest credit); at or after the cycle's end it is ``used``. A budget
    already spent runs out on the local day of ``now``.

    >>> from datetime import UTC
    >>> from credit_usage.domain.cycles import BillingSchedule
    >>> cycle = BillingSchedule(anchor=date(2026, 4, 1)).cycle(0, "UTC")
    >>> pace(50, 120, cycle, datetime(2026, 4, 11, tzinfo=UTC), UTC)
    Forecast(projected_used=150, runs_out_on=datetime.date(2026, 4, 25))
    """
    length = cycle.end - cycle.start
    elapsed = min(max(now - cycle.start, _ZERO), length)
    if elapsed == _ZERO:
        return Forecast(used, None)
    elapsed_us, length_us = elapsed // _MICRO, length // _MICRO
    projected = round(Fraction(used * length_us, elapsed_us)) if used > 0 else used
    if budget is None or used <= 0:
        return Forecast(projected, None)
    if used >= budget:
        return Forecast(projected, now.astimezone(tz).date())
    # The line from (start, 0) through (now, used) reaches the budget this far in;
    # in whole microseconds, exact, and compared before any datetime is made.
    reached_us = elapsed_us * budget // used
    if reached_us >= length_us:
        return Forecast(projected, None)
    return Forecast(projected, (cycle.start + reached_us * _MICRO).astimezone(tz).date())
