"""Which days a statement may cover. Pure: no I/O.

A statement covers whole UTC days, both ends included, by default from the start of the
service period to today. It covers only days that have passed (a day not yet over could
still change), at most twenty years, and days of the years Virker takes dates from (the
day before and the day after the period are read too).
"""

from __future__ import annotations

import datetime as dt

from contracts.errors import Invalid
from contracts.schemas import FIRST_DAY, LAST_DAY

MAX_PERIOD_DAYS = 366 * 20


def statement_period(service_start: dt.date, period_from: dt.date | None,
                     period_to: dt.date | None, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period asked for, or Invalid with `invalid_period` or `period_in_future`."""
    start = period_from or service_start
    end = period_to or today
    if end < start:
        raise Invalid(f"the period ends ({end}) before it starts ({start})",
                      code="invalid_period")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise Invalid("a statement covers at most twenty years", code="invalid_period")
    # At the ends of the calendar the day before and after the period overflow; no contract
    # runs outside these years.
    if start < FIRST_DAY or end > LAST_DAY:
        raise Invalid(f"a statement covers days from {FIRST_DAY} to {LAST_DAY}; give from= "
                      "and to= within them", code="invalid_period")
    if end > today:
        raise Invalid(f"the period ends on {end}, after today ({today}, UTC); a statement "
                      "covers days that are over", code="period_in_future")
    return start, end
