"""The clock: every timestamp Virker records comes from `now()`, in UTC."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
