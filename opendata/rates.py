"""Exchange rates: the European Central Bank's euro reference rates, loaded from the files
the ECB publishes, and money converted with them.

Virker ships no rates: a rate Virker carried would be stale, and nobody could tell where it
came from. An operator loads the ECB's file (`virker import-rates eurofxref-hist.csv`,
from https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/):
the daily file (eurofxref.csv: `Date, USD, JPY, …` and `20 May 2025, 1.1278, …`) or the
history (eurofxref-hist.csv: `Date,USD,…` and `2025-05-20,1.1278,…`), either as CSV or as
the ZIP the ECB serves. Each cell is units of the currency per one euro; `N/A` (a currency
not quoted that day) is skipped. Loading a file again adds only what is not on record.

A conversion goes through the euro: the latest day on or before the day asked for on which
both currencies are on record (the euro always is), amount × (units of the target per euro)
÷ (units of the source per euro), worked exactly on the digits the ECB gives (fractions of
Decimals read from the text, never a float) and rounded half up to the target's minor unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import msgspec
from babel.numbers import get_currency_precision

from contracts.errors import Invalid, Problem
from contracts.schemas import Output
from core.database import bulk_insert, write_transaction
from core.ids import new_id
from opendata.tables import ExchangeRate

SOURCE = "ECB euro foreign exchange reference rates"
BASE = "EUR"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_RATE = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,10})?$")
_MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"), start=1)}
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2}) ([A-Za-z]+) (\d{4})$")


# Reading the ECB's files -------------------------------------------------------------------


@dataclass
class RatesFile:
    """What a file holds: (currency, day, units per euro as written) and what was skipped."""

    rates: list[tuple[str, dt.date, str]] = field(default_factory=list)
    days: int = 0
    not_quoted: int = 0  # N/A and empty cells


def _refuse(message: str, where: str = "file") -> Invalid:
    return Invalid(f"not an ECB reference-rate file Virker can read: {message}",
                   code="invalid_rates_file",
                   problems=[Problem(code="invalid_rates_file", field=where, message=message)])


def _day(text: str, line: int) -> dt.date:
    """2025-05-20 (the history) or 20 May 2025 (the daily file)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    match = _DAY_MONTH_YEAR.match(text)
    if match and match[2].lower() in _MONTHS:
        try:
            return dt.date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
        except ValueError:
            pass
    raise _refuse(f"line {line}: {text!r} is not a date (2025-05-20 or 20 May 2025)",
                  f"line {line}")


def read_rates(text: str) -> RatesFile:
    """The rates in the text of an ECB reference-rate CSV file (pure)."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(reader, [])]
    if not header or header[0] != "Date":
        raise _refuse("the first row must start with a Date column, then one column per "
                      "currency (units per euro)")
    columns: list[tuple[int, str]] = []
    for i, name in enumerate(header[1:], start=1):
        if not name:
            continue  # the ECB ends each row with a comma
        if not _CURRENCY.match(name):
            raise _refuse(f"column {i + 1} is {name!r}, not a currency code such as USD",
                          "line 1")
        columns.append((i, name))
    out = RatesFile()
    seen: set[dt.date] = set()
    for line, row in enumerate(reader, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        day = _day(cells[0], line)
        if day in seen:
            raise _refuse(f"line {line}: {day} is in the file twice", f"line {line}")
        seen.add(day)
        out.days += 1
        for i, currency in columns:
            value = cells[i] if i < len(cells) else ""
            if value in ("", "N/A"):
                out.not_quoted += 1
                continue
            if not _RATE.match(value) or Decimal(value) == 0:
                raise _refuse(f"line {line}: {currency} is {value!r}, not a rate such as "
                              "7.4603", f"line {line}")
            out.rates.append((currency, day, value))
    return out


def read_file(path: Path) -> str:
    """The CSV text of an ECB file: a .csv, or the .zip the ECB serves it in."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise _refuse("the ZIP file must hold exactly one CSV file")
                return archive.read(names[0]).decode("utf-8")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise _refuse(f"{path.name} cannot be read ({exc})") from None


class RatesReport(Output, kw_only=True):
    """One load of a rates file: what it held and what it added."""

    source: str
    days: int
    rates: int
    added: int
    already_on_record: int
    not_quoted: int
    # Rates on record that the file gives otherwise: the record stands (the ECB does not
    # revise its reference rates), and each is named here.
    differing: list[str] = []
    currencies: list[str] = []
    first_on: dt.date | None = None
    last_on: dt.date | None = None


async def import_rates(path: Path | str) -> RatesReport:
    """Load an ECB reference-rate file; a rate already on record (currency and day) is left
    as it is, so a file loaded twice adds nothing the second time."""
    path = Path(path)
    found = read_rates(read_file(path))
    source = f"{SOURCE} ({path.name})"
    currencies = sorted({c for c, _, _ in found.rates})
    report = RatesReport(source=source, days=found.days, rates=len(found.rates), added=0,
                         already_on_record=0, not_quoted=found.not_quoted,
                         currencies=currencies)
    if not found.rates:
        return report
    first = min(d for _, d, _ in found.rates)
    last = max(d for _, d, _ in found.rates)
    async with write_transaction():
        on_record = {
            (r["currency"], _as_date(r["on_date"])): r["per_eur"]
            for r in await ExchangeRate.select(
                ExchangeRate.currency, ExchangeRate.on_date, ExchangeRate.per_eur).where(
                ExchangeRate.currency.is_in(currencies) & (ExchangeRate.on_date >= first)
                & (ExchangeRate.on_date <= last))}
        new, differing = [], []
        for currency, day, value in found.rates:
            kept = on_record.get((currency, day))
            if kept is None:
                new.append(dict(id=new_id(), currency=currency, on_date=day, per_eur=value,
                                source=source))
            elif Decimal(kept) != Decimal(value):
                differing.append(f"{currency} on {day}: {kept} on record, {value} in the file")
        await bulk_insert(ExchangeRate, new)
    return msgspec.structs.replace(
        report, added=len(new), already_on_record=len(found.rates) - len(new),
        differing=differing, first_on=first, last_on=last)


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# What is on record -------------------------------------------------------------------------


class CurrencyRates(Output, kw_only=True):
    currency: str
    first_on: dt.date
    last_on: dt.date
    days: int
    latest_per_eur: str


class RatesOnRecord(Output, kw_only=True):
    """The exchange rates Virker holds: per currency, the days covered and the latest rate
    (units per euro). Converting needs both currencies on record on a common day; the euro
    is the base and always is."""

    source: str
    base: str
    currencies: list[CurrencyRates]


async def on_record() -> RatesOnRecord:
    spans = await ExchangeRate.raw(
        "SELECT currency, MIN(on_date) AS first_on, MAX(on_date) AS last_on, "
        "COUNT(*) AS days FROM exchange_rate GROUP BY currency ORDER BY currency")
    latest = await ExchangeRate.raw(
        "SELECT e.currency AS currency, e.per_eur AS per_eur FROM exchange_rate e JOIN "
        "(SELECT currency, MAX(on_date) AS on_date FROM exchange_rate GROUP BY currency) m "
        "ON m.currency = e.currency AND m.on_date = e.on_date")
    per_eur = {r["currency"]: r["per_eur"] for r in latest}
    return RatesOnRecord(source=SOURCE, base=BASE, currencies=[
        CurrencyRates(currency=r["currency"], first_on=_as_date(r["first_on"]),
                      last_on=_as_date(r["last_on"]), days=int(r["days"]),
                      latest_per_eur=per_eur[r["currency"]]) for r in spans])


# Converting --------------------------------------------------------------------------------


def digits(currency: str) -> int:
    """The currency's minor units (ISO 4217, as Babel's CLDR data has them)."""
    return get_currency_precision(currency)


@dataclass(frozen=True)
class Rate:
    """From `source` to `target` on `on`, through the euro: both rates as the ECB wrote them."""

    source: str
    target: str
    on: dt.date
    source_per_eur: str
    target_per_eur: str

    @property
    def exact(self) -> Fraction:
        """Units of `target` per unit of `source`, exactly."""
        return Fraction(Decimal(self.target_per_eur)) / Fraction(Decimal(self.source_per_eur))

    def text(self) -> str:
        """The rate as a person reads it: four decimals, or five significant digits for a
        rate below one."""
        value = self.exact
        places = 4
        while value < 1 and places < 12 and value * 10 ** (places - 4) < 1:
            places += 1
        return str(Decimal(_half_up(value * 10**places)).scaleb(-places))

    def statement(self) -> str:
        """"1 GBP = 8.7765 DKK, ECB reference rate of 2025-05-20"."""
        return f"1 {self.source} = {self.text()} {self.target}, ECB reference rate of {self.on}"

    def convert(self, amount: int) -> int:
        """`amount` minor units of `source` in minor units of `target`, rounded half up."""
        scale = Fraction(10 ** digits(self.target), 10 ** digits(self.source))
        return _half_up(amount * self.exact * scale)


def _half_up(value: Fraction) -> int:
    """The nearest whole number, a half rounded up (amounts are never negative)."""
    return math.floor(value + Fraction(1, 2))


async def rate(source: str, target: str, on: dt.date) -> Rate | None:
    """The rate from `source` to `target` on the latest day on or before `on` on which both
    are on record; None when there is none (or the currencies are the same)."""
    if source == target:
        return None
    if BASE in (source, target):
        other = target if source == BASE else source
        row = await ExchangeRate.select(ExchangeRate.on_date, ExchangeRate.per_eur).where(
            (ExchangeRate.currency == other) & (ExchangeRate.on_date <= on)
        ).order_by(ExchangeRate.on_date, ascending=False).first()
        if row is None:
            return None
        rates = {BASE: "1", other: row["per_eur"]}
        return Rate(source=source, target=target, on=_as_date(row["on_date"]),
                    source_per_eur=rates[source], target_per_eur=rates[target])
    rows = await ExchangeRate.raw(
        "SELECT a.on_date AS on_date, a.per_eur AS source_per_eur, b.per_eur AS "
        "target_per_eur FROM exchange_rate a JOIN exchange_rate b ON b.on_date = a.on_date "
        "AND b.currency = {} WHERE a.currency = {} AND a.on_date <= {} "
        "ORDER BY a.on_date DESC LIMIT 1", target, source, on)
    if not rows:
        return None
    row = rows[0]
    return Rate(source=source, target=target, on=_as_date(row["on_date"]),
                source_per_eur=row["source_per_eur"], target_per_eur=row["target_per_eur"])


class Rates:
    """Rates looked up once per pair for one answer (a search converts many prices)."""

    def __init__(self, on: dt.date) -> None:
        self.on = on
        self._found: dict[tuple[str, str], Rate | None] = {}

    async def get(self, source: str, target: str) -> Rate | None:
        if (source, target) not in self._found:
            self._found[(source, target)] = await rate(source, target, self.on)
        return self._found[(source, target)]


def no_rate(source: str, target: str, on: dt.date) -> str:
    """What a price without a conversion says instead."""
    return (f"no exchange rate between {source} and {target} is on record on or before "
            f"{on}; the price is shown in {source} only")
