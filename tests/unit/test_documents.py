"""What a statement says and for which days, without a database: money for the reader's
language, the statement period's rules, and stored data read leniently."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest
from babel.numbers import get_currency_precision

from contracts import schemas
from contracts.errors import Invalid
from contracts.money import MINOR_UNITS
from contracts.service import decode_terms, encode_terms
from reports.formats import document_lang, money
from reports.rules import statement_period
from tests.helpers import terms

NBSP = "\u00a0"
TODAY = dt.date(2026, 11, 26)
START = dt.date(2024, 1, 1)


def test_a_gbp_statement_reads_as_an_english_reader_writes_money():
    assert money(103_950_000, "GBP", "en") == "£1,039,500.00"
    assert money(103_950_000, "DKK", "da") == f"1.039.500,00{NBSP}kr."
    assert money(103_950_000, "NOK", "nb") == f"1{NBSP}039{NBSP}500,00{NBSP}kr"
    assert money(103_950_000, "DKK", "en") == f"DKK{NBSP}1,039,500.00"
    assert money(-150_000, "EUR", "en", unit=False) == "-1,500.00"
    assert money(1_234, "ISK", "da") == f"1.234{NBSP}ISK"  # no minor units


def test_babel_agrees_with_virker_on_each_currencys_minor_units():
    assert {c: get_currency_precision(c) for c in MINOR_UNITS} == MINOR_UNITS


def test_the_language_follows_the_request_the_currency_then_the_commissioners_country():
    assert document_lang("DKK") == "da"
    assert document_lang("NOK") == "nb"
    assert document_lang("GBP", ["DK-CVR-29189846"]) == "en"
    assert document_lang("USD", ["GB-COH-01234567"]) == "en"
    assert document_lang("EUR", ["DK-CVR-29189846"]) == "da"
    assert document_lang("EUR", ["NO-BRC-987654321"]) == "nb"
    assert document_lang("DKK", [], "en") == "en"


def test_a_statement_covers_days_that_are_over():
    assert statement_period(START, None, None, today=TODAY) == (START, TODAY)
    assert statement_period(START, dt.date(2025, 1, 1), TODAY, today=TODAY)[1] == TODAY
    with pytest.raises(Invalid) as refused:
        statement_period(START, None, TODAY + dt.timedelta(days=1), today=TODAY)
    assert refused.value.code == "period_in_future"
    for period_from, period_to in [(dt.date(2025, 1, 1), dt.date(2024, 12, 31)),
                                   (dt.date(1901, 1, 1), dt.date(2024, 1, 1)),
                                   (dt.date(1, 1, 1), dt.date(1, 1, 2))]:
        with pytest.raises(Invalid) as refused:
            statement_period(START, period_from, period_to, today=TODAY)
        assert refused.value.code == "invalid_period"


def test_stored_terms_with_fields_a_newer_version_added_still_decode():
    stored = terms([(uuid.uuid4(), 10_000)])
    stored["exit_payment"] = {"amount": 100, "currency": "DKK"}
    stored["cap"]["rounding"] = "half-even"
    stored["rate_card"][0]["verifier"] = "jobcenter"
    stored["rate_card"][1]["window"]["calendar"] = "working-days"
    read = decode_terms(msgspec.json.encode(stored).decode())
    assert isinstance(read, schemas.ContractTerms) and isinstance(read.cap, schemas.Money)
    assert read.rate_card[1].window.end_day == 151
    assert decode_terms(encode_terms(read)) == read
    # Input stays strict: a request naming an unknown field is refused.
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert(stored, schemas.ContractTerms)


def _fields(struct) -> list[tuple]:
    return [(f.name, f.default, f.default_factory() if callable(f.default_factory) else None)
            for f in msgspec.structs.fields(struct)]


@pytest.mark.parametrize("stored, strict", [
    (schemas.StoredTerms, schemas.ContractTerms),
    (schemas.StoredPeriod, schemas.Period),
    (schemas.StoredWindow, schemas.Window),
    (schemas.StoredRateCardLine, schemas.RateCardLine),
    (schemas.StoredCommissionerShare, schemas.CommissionerShare),
    (schemas.StoredBaseline, schemas.Baseline),
    (schemas.StoredPartnerShare, schemas.PartnerShare),
    (schemas.StoredMoney, schemas.Money),
])
def test_each_lenient_twin_has_its_input_structs_fields(stored, strict):
    # A field added to the input struct and not to its twin would be dropped on reading.
    assert _fields(stored) == _fields(strict)
    assert not stored.__struct_config__.forbid_unknown_fields


def test_a_stored_validation_report_with_unknown_fields_still_decodes():
    from outcomes.queries import decode_report

    report = {"batch_id": str(uuid.uuid4()), "kind": "claims", "contract_id": str(uuid.uuid4()),
              "received_at": "2026-11-26T03:00:00Z", "rows": 1, "accepted": 1, "rejected": 0,
              "signature": "new in a later version",
              "results": [{"row": 1, "status": "accepted", "ref": "ros-1", "weight": 2,
                           "amount": {"amount": 1_500_000, "currency": "DKK", "fx": 1}}]}
    read = decode_report(msgspec.json.encode(report).decode())
    assert read.results[0].amount.amount == 1_500_000
