"""Amounts and currencies as open data writes them, read into Virker's money: an integer
number of minor units of an ISO 4217 currency.

A currency has as many minor units as Babel (CLDR) says: 2 for ARS and DKK, 0 for JPY and
KRW, 3 for BHD. An amount in major units ("1111880" ARS) becomes minor units (111188000); a
decimal finer than the minor unit is rounded half up. Something that is not a number ("TBC",
"C$1.3M", a spreadsheet formula) is refused with the reason, never guessed at. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale
from babel.numbers import get_currency_name, get_currency_precision, is_currency, list_currencies

# A plain number, or one with commas between groups of three digits ("4,000,000").
_NUMBER = re.compile(r"[-+]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?")
_BIGINT = 2**63 - 1
# Names written in the data that CLDR does not give.
_ALIASES = {"nz dollar": "NZD", "nz dollars": "NZD", "swedish": "SEK"}


class NotAnAmount(ValueError):
    """The value is not an amount of money; `reason` says why ("not a number")."""

    def __init__(self, value: object, reason: str = "not a number") -> None:
        super().__init__(f"{value!r} is {reason}")
        self.reason = reason


@functools.cache
def _names() -> dict[str, str]:
    """English currency names, singular and plural, lowercased → code."""
    names: dict[str, str] = {}
    english = Locale("en")
    for code in sorted(list_currencies()):
        for count in (1, 2):
            names.setdefault(get_currency_name(code, count=count, locale=english).lower(), code)
    return {**names, **_ALIASES}


def currency_code(value: object) -> str | None:
    """The ISO 4217 code of a currency written as a code ("DKK", "GBP ") or an English name
    ("Russian Ruble", "Swiss Francs"); None when it names no currency."""
    if value is None:
        return None
    return _currency_code(str(value))


@functools.lru_cache(maxsize=512)
def _currency_code(text: str) -> str | None:
    text = " ".join(text.split())
    if is_currency(text.upper()) and len(text) == 3:
        return text.upper()
    return _names().get(text.lower())


@functools.lru_cache(maxsize=512)
def digits(currency: str) -> int:
    """How many minor units the currency has (DKK 2, JPY 0)."""
    return get_currency_precision(currency)


def decimal_of(value: object) -> Decimal:
    """A number as the source writes it: an int, a float from JSON, or text."""
    if isinstance(value, bool):
        raise NotAnAmount(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise NotAnAmount(value)
        return Decimal(repr(value))
    text = str(value).strip()
    if not _NUMBER.fullmatch(text):
        raise NotAnAmount(text)
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise NotAnAmount(text) from None


def minor_units(value: object, currency: str) -> int:
    """`value` major units of `currency` as an integer of minor units, rounded half up.

    >>> minor_units("1111880", "ARS")
    111188000
    >>> minor_units("12.345", "DKK")
    1235
    """
    if type(value) is str and value.isascii() and value.isdigit():
        units = int(value) * 10 ** digits(currency)  # most amounts: whole, no Decimal needed
    else:
        scaled = decimal_of(value).scaleb(digits(currency))
        units = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if abs(units) > _BIGINT:
        raise NotAnAmount(value, f"too large an amount of {currency}")
    return units
