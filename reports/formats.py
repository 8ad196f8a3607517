"""Money as the reader of a document writes it: Babel's CLDR data for the reader's language,
the currency's own minor units. Pure: no I/O.

Amounts are integer minor units everywhere in Virker; here alone they become text. A
document's language is the one asked for (`da`, `nb` or `en`), else the contract's: Danish
for DKK, Norwegian for NOK, else that of its commissioners' country (the org-id prefix,
DK or NO), else English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from babel.numbers import format_currency

from contracts.money import MINOR_UNITS

Lang = Literal["da", "nb", "en"]
LOCALES: dict[str, str] = {"da": "da_DK", "nb": "nb_NO", "en": "en_GB"}
_BY_CURRENCY: dict[str, Lang] = {"DKK": "da", "NOK": "nb", "GBP": "en"}
_BY_COUNTRY: dict[str, Lang] = {"DK": "da", "NO": "nb"}
# CLDR separates a currency code from the digits next to it (its "currencySpacing");
# Babel's formatter does not, so "DKK1,039,500.00" gets its no-break space here.
_CODE_BESIDE_DIGIT = re.compile(r"(?<=[A-Z]{3})(?=\d)|(?<=\d)(?=[A-Z]{3})")
_PLAIN = "#,##0.00"  # Babel replaces the fraction digits with the currency's own


def document_lang(currency: str, identifiers: Iterable[str] = (),
                  requested: str | None = None) -> Lang:
    """The language a document is written in: `requested`, else the currency's, else that
    of the first commissioner's country (`identifiers`: org-ids such as DK-CVR-…)."""
    if requested in LOCALES:
        return requested  # type: ignore[return-value]
    if currency in _BY_CURRENCY:
        return _BY_CURRENCY[currency]
    for identifier in identifiers:
        return _BY_COUNTRY.get(identifier[:2], "en")
    return "en"


def major(amount: int, currency: str) -> Decimal:
    """Minor units as an exact amount of the currency (1039500 DKK → 10395.00)."""
    return Decimal(amount).scaleb(-MINOR_UNITS.get(currency, 2))


def money(amount: int, currency: str, lang: str = "en", *, unit: bool = True) -> str:
    """`amount` minor units of `currency` for a reader of `lang`: 103950000 GBP reads
    "£1,039,500.00" in English; DKK reads "1.039.500,00 kr." in Danish. Without `unit`,
    the figure alone, for a column whose heading names the currency."""
    locale = LOCALES[lang]
    if not unit:
        return format_currency(major(amount, currency), currency, format=_PLAIN, locale=locale)
    text = format_currency(major(amount, currency), currency, locale=locale)
    return _CODE_BESIDE_DIGIT.sub("\u00a0", text)
