"""Reading the INDIGO dataset's values as they are written: partial dates, "current", amounts
in each currency's minor units, currencies by name, comma-joined and tab-broken ids, and a
project document read into rows with every unreadable value reported, not guessed at."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from opendata.amounts import NotAnAmount, currency_code, minor_units
from opendata.dates import partial_date
from opendata.indigo_csv import clean_id, read_tables, split_ids
from opendata.indigo_project import Log, ProjectReader, country_named_in


@pytest.mark.parametrize(("text", "day"), [
    ("2018", dt.date(2018, 1, 1)),
    ("2018-12", dt.date(2018, 12, 1)),
    ("2019-03-15", dt.date(2019, 3, 15)),
    (" 2023/07 ", dt.date(2023, 7, 1)),
])
def test_a_partial_date_keeps_its_text_and_reads_as_its_first_day(text, day):
    found = partial_date(text)
    assert found.text == text.strip() and found.on == day and found.problem is None


def test_current_is_kept_as_text_and_names_no_day_without_being_a_mistake():
    found = partial_date("current")
    assert (found.text, found.on, found.problem) == ("current", None, None)


@pytest.mark.parametrize(("text", "why"), [
    ("2018-13", "'2018-13' names no month of the calendar"),
    ("2019-02-30", "'2019-02-30' names no day of the calendar"),
    ("June 2020", "'June 2020' is not a date (YYYY, YYYY-MM or YYYY-MM-DD)"),
])
def test_an_unreadable_date_keeps_its_text_and_says_why(text, why):
    found = partial_date(text)
    assert (found.text, found.on, found.problem) == (text, None, why)


def test_no_date_is_none():
    assert partial_date("") is None and partial_date("  ") is None and partial_date(None) is None


@pytest.mark.parametrize(("value", "currency", "units"), [
    ("1111880", "ARS", 111188000),   # ARS has 2 digits: the rate card's max of metric 1
    ("6900000", "DKK", 690000000),
    ("12635", "JPY", 12635),          # no minor unit
    ("1000000", "KRW", 1000000),
    ("12.345", "DKK", 1235),          # finer than an øre: half up
    ("12.344", "DKK", 1234),
    ("1.2345", "BHD", 1235),          # three digits
    (126.35, "GBP", 12635),           # a JSON float, read by its shortest text, not 126.3499…
    (1250, "EUR", 125000),
    ("4,000,000", "USD", 400000000),  # commas between thousands
])
def test_amounts_become_minor_units_of_their_currency(value, currency, units):
    assert minor_units(value, currency) == units


@pytest.mark.parametrize("value", ["TBC", "C$1.3M", "=D41-D36", "$", "1,5", "1e3", "12 000",
                                   True, float("nan")])
def test_an_amount_that_is_no_number_is_refused_with_its_reason(value):
    with pytest.raises(NotAnAmount) as refused:
        minor_units(value, "USD")
    assert refused.value.reason == "not a number"


@pytest.mark.parametrize(("written", "code"), [
    ("DKK", "DKK"), ("GBP ", "GBP"), ("usd", "USD"), ("Russian Ruble", "RUB"),
    ("Russian rubles", "RUB"), ("Swiss Francs", "CHF"), ("Israeli new shekels", "ILS"),
    ("South Korean Won", "KRW"), ("NZ dollar", "NZD"), ("Swedish", "SEK"),
    ("Doubloons", None), ("$", None), ("", None),
])
def test_currencies_by_code_or_english_name(written, code):
    assert currency_code(written) == code


def test_comma_joined_organisation_ids_are_several_in_order_without_repeats():
    assert split_ids("INDIGO-ORG-0001, INDIGO-ORG-0002,INDIGO-ORG-0001,") == \
        ["INDIGO-ORG-0001", "INDIGO-ORG-0002"]
    assert split_ids("") == [] and split_ids(None) == []


def test_a_tab_or_space_is_no_part_of_an_id():
    assert clean_id("INDIGO-FUND-\t0012") == "INDIGO-FUND-0012"
    assert clean_id(" INDIGO-FUND-0012\t") == "INDIGO-FUND-0012"
    assert clean_id("outcome metric2") == "outcomemetric2"
    # Some service provisions are named rather than numbered: their words stay apart.
    assert clean_id("South Yorkshire  Housing ") == "South Yorkshire Housing"


@pytest.mark.parametrize(("name", "code"), [
    ("Reducing Youth Homelessness - Roskilde, Denmark", "DK"),
    ("Cambodia Rural Sanitation Development Impact Bond", "KH"),
    ("Health outcomes in Papua New Guinea", "PG"),
    ("New Jersey Pay for Success", None),
    ("The Refugee Impact Bond", None),
    ("Denmark and Norway together", None),
])
def test_the_one_country_a_project_name_names(name, code):
    assert country_named_in(name) == code


def _csvs(folder, files):
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", newline="")


PROJECTS = (
    "ID,Impact Bond Name - (Value),Dates - Start date of service provision - (Value),"
    "Dates - Anticipated end date of service provision - (Value),"
    "Jurisdiction - Jurisdiction - (Value),"
    "Overall project finance - Maximum potential outcome payment - Currency - (Value),"
    "Overall project finance - Maximum potential outcome payment - Amount - (Value),"
    "Overall project finance - Maximum potential outcome payment - Amount USD - (Value),"
    "Purpose and classifications - Policy sector - (Value)\r\n"
    'INDIGO-POJ-0001,"Plan Your Future\r\n(Buenos Aires)",2018-12,current,AR,ARS,48400000,'
    "1245496.654657746,Employment and training\r\n"
    ",A project without an ID,,,,,,,\r\n"
)
PRICINGS = (
    "Project ID,Outcome Metric Id - (Value),Currency - (Value),"
    "Price Per Unit - Amount - (Value),Price Per Unit - Amount USD - (Value),"
    "Maximum Price if all targets achieved - Amount - (Value),Notes\r\n"
    "INDIGO-POJ-0001,outcomemetric1,ARS,12635,325.14,1111880,Contract cap: 40%\r\n"
    "INDIGO-POJ-0001,outcomemetric2,ARS,TBC,,,\r\n"
)
METRICS = (
    "Project ID,Id,Outcome Definition - (Value),Outcome validation Method - (Value),"
    "Policy sector - (Value)\r\n"
    'INDIGO-POJ-0001,outcomemetric1,"Educational completion\r\nstill enrolled",'
    "Pre-post analysis,Education\r\n"
    "INDIGO-POJ-0001,outcomemetric2,Job placement,,\r\n"
)
COMMITMENTS = (
    "Project ID,Organisation ID - (Value),"
    "Maximum potential Outcome payment - Currency - (Value),"
    "Maximum potential Outcome payment - Amount - (Value)\r\n"
    'INDIGO-POJ-0001,"INDIGO-ORG-0504 , INDIGO-ORG-\t0505",,48400000\r\n'
)
ORGANISATIONS = ("ID,Name,Jurisdiction\r\nINDIGO-ORG-0504,Buenos Aires City,AR\r\n"
                 "INDIGO-ORG-0505,BID Lab,US\r\n")


def test_a_project_from_the_csvs_with_each_unreadable_value_reported(tmp_path):
    _csvs(tmp_path, {"projects.csv": PROJECTS, "projects_outcome_pricings.csv": PRICINGS,
                     "projects_outcome_metrics.csv": METRICS,
                     "projects_outcome_payment_commitments.csv": COMMITMENTS,
                     "organisations.csv": ORGANISATIONS})
    tables = read_tables(tmp_path)
    # The nameless row is skipped with the line it starts on (the quoted name spans two).
    assert tables.problems == [dict(kind="project", file="projects.csv", line=4, project=None,
                                    text="a project without an ID is skipped")]
    [doc] = tables.projects
    log = Log()
    built = ProjectReader(doc, "INDIGO-POJ-0001", tables.organisations, log).build("GO Lab")
    row, data = built.row, json.loads(built.row["data"])
    assert row["name"] == "Plan Your Future\n(Buenos Aires)"
    assert (row["start_text"], row["start_on"]) == ("2018-12", dt.date(2018, 12, 1))
    assert (row["end_text"], row["end_on"]) == ("current", None)
    assert (row["country"], row["currency"], row["max_outcome_payment"]) == \
        ("AR", "ARS", 4840000000)
    assert row["policy_sectors"] == "Employment and training; Education"
    # INDIGO's USD conversion stays its text, never Virker's money.
    assert data["finance"]["maximum_potential_outcome_payment"] == {
        "amount_usd": "1245496.654657746", "currency": "ARS", "amount": 4840000000}
    assert [m["definition"] for m in built.metrics] == [
        "Educational completion\nstill enrolled", "Job placement"]
    assert built.metrics[1]["policy_sector"] == "Employment and training"  # the project's
    assert built.prices == [{"metric_id": "outcomemetric1", "currency": "ARS",
                             "amount": 1263500, "max_amount": 111188000, "description": "",
                             "notes": "Contract cap: 40%"}]
    # One commitment, two payers by comma, in the project's currency since it names none.
    [payer] = data["payers"]
    assert payer["organisations"] == [{"id": "INDIGO-ORG-0504", "name": "Buenos Aires City"},
                                      {"id": "INDIGO-ORG-0505", "name": "BID Lab"}]
    assert payer["max_payment"] == {"currency": "ARS", "amount": 4840000000,
                                    "currency_from_project": True}
    assert [p.message for p in log.items] == [
        "INDIGO-POJ-0001 (projects_outcome_pricings.csv line 3): price of outcomemetric2 is "
        "'TBC', not a number"]
