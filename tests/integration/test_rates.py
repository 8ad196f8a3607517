"""Exchange rates: the ECB's reference-rate files read as the ECB writes them (the daily
file and the history, N/A where a currency was not quoted), loaded once however often they
are loaded, and money converted through the euro exactly, rounded half up, on the latest day
both currencies are on record."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from contracts.errors import Invalid
from opendata import rates
from opendata.tables import ExchangeRate

VIRKER = str(Path(sys.executable).parent / "virker")

# The daily file: ", " between cells, the day written out, a comma closing each row.
DAILY = ("Date, USD, JPY, DKK, GBP, NOK, \n"
         "20 May 2025, 1.1278, 162.82, 7.4603, 0.84255, 11.6015, \n")
# The history: ISO days, newest first, N/A for a currency not quoted that day.
HISTORY = ("Date,USD,DKK,GBP,CYP,\n"
           "2025-05-21,1.1300,N/A,0.8450,N/A,\n"
           "2025-05-20,1.1278,7.4600,0.8500,N/A,\n"
           "2025-05-19,1.1200,7.4610,0.8490,N/A,\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_daily_file_and_the_history_read_as_the_ecb_writes_them():
    daily = rates.read_rates("\ufeff" + DAILY)
    assert daily.days == 1 and daily.not_quoted == 0
    assert daily.rates[:2] == [("USD", dt.date(2025, 5, 20), "1.1278"),
                               ("JPY", dt.date(2025, 5, 20), "162.82")]
    assert ("GBP", dt.date(2025, 5, 20), "0.84255") in daily.rates  # every digit kept

    history = rates.read_rates(HISTORY)
    assert history.days == 3
    # DKK on the 21st and the Cypriot pound (gone since 2008) every day: skipped, not zero.
    assert history.not_quoted == 4
    assert ("DKK", dt.date(2025, 5, 21)) not in {(c, d) for c, d, _ in history.rates}
    assert len(history.rates) == 8


@pytest.mark.parametrize(("text", "says"), [
    ("Day,USD\n2025-05-20,1.1\n", "Date column"),
    ("Date,usd\n2025-05-20,1.1\n", "not a currency code"),
    ("Date,USD\nMay 2025,1.1\n", "line 2: 'May 2025' is not a date"),
    ("Date,USD\n2025-05-20,1,1\n", None),  # a trailing cell beyond the header is ignored
    ("Date,USD\n2025-05-20,one\n", "line 2: USD is 'one'"),
    ("Date,USD\n2025-05-20,0\n", "USD is '0'"),
    ("Date,USD\n2025-05-20,1.1\n2025-05-20,1.2\n", "in the file twice"),
])
def test_a_file_that_is_not_the_ecbs_is_refused_with_the_line(text, says):
    if says is None:
        assert rates.read_rates(text).rates == [("USD", dt.date(2025, 5, 20), "1")]
        return
    with pytest.raises(Invalid) as refused:
        rates.read_rates(text)
    assert refused.value.code == "invalid_rates_file"
    assert says in refused.value.message


async def test_loading_a_file_twice_adds_nothing_the_second_time(db, tmp_path):
    path = write(tmp_path, "eurofxref-hist.csv", HISTORY)
    first = await rates.import_rates(path)
    assert (first.days, first.rates, first.added, first.already_on_record) == (3, 8, 8, 0)
    assert first.currencies == ["DKK", "GBP", "USD"]
    assert (first.first_on, first.last_on) == (dt.date(2025, 5, 19), dt.date(2025, 5, 21))
    again = await rates.import_rates(path)
    assert (again.added, again.already_on_record) == (0, 8)
    assert await ExchangeRate.count() == 8

    # The daily file of the 20th overlaps: only what is new is added; a rate given
    # otherwise than on record is kept as it is and named.
    zipped = tmp_path / "eurofxref.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("eurofxref.csv", DAILY)
    daily = await rates.import_rates(zipped)
    assert (daily.added, daily.already_on_record) == (2, 3)  # JPY and NOK are new
    assert daily.differing == [
        "DKK on 2025-05-20: 7.4600 on record, 7.4603 in the file",
        "GBP on 2025-05-20: 0.8500 on record, 0.84255 in the file"]
    row = await ExchangeRate.select().where(
        (ExchangeRate.currency == "GBP") & (ExchangeRate.on_date == dt.date(2025, 5, 20))
    ).first()
    assert row["per_eur"] == "0.8500"
    assert row["source"] == "ECB euro foreign exchange reference rates (eurofxref-hist.csv)"

    listed = await rates.on_record()
    assert [(c.currency, c.first_on, c.last_on, c.days, c.latest_per_eur)
            for c in listed.currencies] == [
        ("DKK", dt.date(2025, 5, 19), dt.date(2025, 5, 20), 2, "7.4600"),
        ("GBP", dt.date(2025, 5, 19), dt.date(2025, 5, 21), 3, "0.8450"),
        ("JPY", dt.date(2025, 5, 20), dt.date(2025, 5, 20), 1, "162.82"),
        ("NOK", dt.date(2025, 5, 20), dt.date(2025, 5, 20), 1, "11.6015"),
        ("USD", dt.date(2025, 5, 19), dt.date(2025, 5, 21), 3, "1.1300")]


async def test_conversion_through_the_euro_worked_by_hand(db, tmp_path):
    await rates.import_rates(write(tmp_path, "eurofxref-hist.csv", HISTORY))
    # 100.00 GBP = 100 / 0.8500 EUR = 117.647… EUR = 117.647… × 7.4600 DKK = 877.647… DKK.
    gbp_dkk = await rates.rate("GBP", "DKK", dt.date(2025, 5, 20))
    assert gbp_dkk.convert(10_000) == 87_765
    assert gbp_dkk.statement() == "1 GBP = 8.7765 DKK, ECB reference rate of 2025-05-20"
    # On the 21st DKK was not quoted: the latest day both are on record is the 20th, and
    # a day after every rate on record takes the latest.
    assert (await rates.rate("GBP", "DKK", dt.date(2025, 5, 21))).on == dt.date(2025, 5, 20)
    assert (await rates.rate("GBP", "DKK", dt.date(2030, 1, 1))).on == dt.date(2025, 5, 20)
    assert (await rates.rate("GBP", "DKK", dt.date(2025, 5, 19))).target_per_eur == "7.4610"
    # Nothing before the first day on record, and nothing for a currency never loaded.
    assert await rates.rate("GBP", "DKK", dt.date(2025, 5, 18)) is None
    assert await rates.rate("ARS", "DKK", dt.date(2025, 5, 20)) is None
    assert await rates.rate("DKK", "DKK", dt.date(2025, 5, 20)) is None
    # The euro is the base: on record every day, at 1. 250.00 DKK = 250 / 7.4600 EUR.
    dkk_eur = await rates.rate("DKK", "EUR", dt.date(2025, 5, 20))
    assert dkk_eur.convert(25_000) == 3_351  # 33.5120… EUR
    eur_gbp = await rates.rate("EUR", "GBP", dt.date(2025, 5, 21))
    assert (eur_gbp.on, eur_gbp.convert(100_000)) == (dt.date(2025, 5, 21), 84_500)


def test_half_a_minor_unit_rounds_up_and_minor_units_follow_the_currency():
    day = dt.date(2025, 5, 20)
    # 1 cent at 6.5 is 6.5 øre: half up makes 7 (half to even would make 6).
    assert rates.Rate("EUR", "DKK", day, "1", "6.5").convert(1) == 7
    assert rates.Rate("EUR", "DKK", day, "1", "6.4999").convert(1) == 6
    # The yen has no minor unit: 100 JPY at 162.82 per euro and 7.4603 DKK per euro is
    # 4.5819… DKK, 458 øre; and 1.00 DKK is 21.8247… yen, 22 yen.
    jpy_dkk = rates.Rate("JPY", "DKK", day, "162.82", "7.4603")
    assert jpy_dkk.convert(100) == 458
    assert jpy_dkk.statement() == "1 JPY = 0.045819 DKK, ECB reference rate of 2025-05-20"
    assert rates.Rate("DKK", "JPY", day, "7.4603", "162.82").convert(100) == 22
    # Exact on the digits: no float would get 0.1 + 0.2 right, a Fraction of Decimals does.
    assert rates.Rate("EUR", "USD", day, "1", "0.3").convert(10**15) == 3 * 10**14
    assert isinstance(jpy_dkk.convert(100), int)


async def test_the_command_loads_a_file_and_says_what_it_added(db, tmp_path):
    path = write(tmp_path, "eurofxref.csv", DAILY)
    env = {**os.environ, "VIRKER_DATABASE_URL": db.url}
    out = subprocess.run([VIRKER, "import-rates", str(path)], capture_output=True, text=True,
                         env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "5"
    assert "1 days, 5 currencies, 2025-05-20 to 2025-05-20; 5 rates added" in out.stderr
    again = subprocess.run([VIRKER, "import-rates", str(path)], capture_output=True,
                           text=True, env=env, timeout=120, check=False)
    assert again.stdout.strip() == "0" and "5 already on record" in again.stderr

    bad = write(tmp_path, "rates.csv", "Dato,USD\n2025-05-20,1.1\n")
    out = subprocess.run([VIRKER, "import-rates", str(bad)], capture_output=True, text=True,
                         env=env, timeout=120, check=False)
    assert out.returncode != 0 and out.stdout == ""
    assert "[invalid_rates_file]" in out.stderr and "Date column" in out.stderr
