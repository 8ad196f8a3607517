"""Dates as open data gives them: a year ("2018"), a month ("2018-12"), a day ("2018-12-03"),
the word "current", or something else written by hand.

The text is always kept as it was given; a day is read from it when it names one or can be
read as the first day of one (a year → 1 January, a month → its first day). "current" names
no day and is no mistake. Anything else is unreadable: its text stays, and the reader is told
why it names no day. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec

# YYYY, YYYY-MM or YYYY-MM-DD (INDIGO's own pattern), with "/" read as "-" (a hand-typed
# "2023/07" means July 2023 as plainly as "2023-07" does).
_PARTIAL = re.compile(r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?")
ONGOING = frozenset({"current", "ongoing", "present"})


class PartialDate(msgspec.Struct, frozen=True, kw_only=True):
    """`text` as given (stripped); `on` the day it names or begins with, if any; `problem`
    why a text that should name a day does not."""

    text: str
    on: dt.date | None = None
    problem: str | None = None


def partial_date(value: object) -> PartialDate | None:
    """Read a date as open data writes it; None when there is none (empty or absent).

    >>> partial_date("2018-12").on
    datetime.date(2018, 12, 1)
    >>> partial_date("current").on is None
    True
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.lower() in ONGOING:
        return PartialDate(text=text)
    match = _PARTIAL.fullmatch(text)
    if not match:
        return PartialDate(text=text, problem=f"{text!r} is not a date (YYYY, YYYY-MM or "
                                              "YYYY-MM-DD)")
    year, month, day = (int(p) if p is not None else None for p in match.groups())
    try:
        on = dt.date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        what = "month" if month is not None and not 1 <= month <= 12 else "day"
        return PartialDate(text=text, problem=f"{text!r} names no {what} of the calendar")
    return PartialDate(text=text, on=on)
