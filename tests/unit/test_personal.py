"""Personal identifiers in free text are found however they are written, masked without a
trace, and refused by every input Struct that carries text a person writes."""

from __future__ import annotations

import time

import msgspec
import pytest

from contracts import personal
from contracts.money import Money
from contracts.schemas import ApiKeyIn, ContractTerms, MetricIn, TransitionIn, VariationIn
from outcomes.schemas import ClaimIn, DecisionIn, ParticipantIn, PaymentRunIn, SampleIn

FOUND = [
    # (as written, kind)
    ("0101901234", personal.CPR),
    ("010190-1234", personal.CPR),
    ("010190.1234", personal.CPR),
    ("01-01-90-1234", personal.CPR),
    ("01/01/90/1234", personal.CPR),
    ("01_01_90_1234", personal.CPR),
    ("01:01:90:1234", personal.CPR),
    ("01 01 90 1234", personal.CPR),
    ("010190--1234", personal.CPR),
    ("cpr 290200 - 1234", personal.CPR),  # 29 February
    ("610190-1234", personal.CPR),  # a replacement number: the day raised by 60
    ("01019012345", personal.FNR),
    ("010190 12345", personal.FNR),
    ("410190.12345", personal.FNR),  # a D-number: the day raised by 40
    ("AB123456C", personal.NINO),
    ("ab 12 34 56 c", personal.NINO),
    ("AB-12-34-56-C", personal.NINO),
    ("QQ.12.34.56.A", personal.NINO),
    ("jens@example.dk", personal.EMAIL),
    ("jens#example.dk", personal.EMAIL),
    ("jens (at) example.dk", personal.EMAIL),
    ("mail søren.hansen@kommune.dk om det", personal.EMAIL),
    ("+45 12 34 56 78", personal.PHONE),
    ("+4512345678", personal.PHONE),
    ("0047 912 34 567", personal.PHONE),
    ("12 34 56 78", personal.PHONE),
    ("12.34.56.78", personal.PHONE),
    ("12-34-56-78", personal.PHONE),
    ("912 34 567", personal.PHONE),
    ("07700 900123", personal.PHONE),
    ("020 7946 0018", personal.PHONE),
    ("ring på tlf. 12345678", personal.PHONE),
    ("phone: 1234 5678", personal.PHONE),
]

NOT_FOUND = [
    "ROS-0042", "HB#123456789", "K-2024-000123", "ung:2024:17", "jobcenter-100",
    "eindkomst-999", "pss-form-1", "DK-CVR-29189846", "NO-BRC-912345678",
    "2025-09-01", "mødt 01.09.2025 kl. 10:30", "2025-09-01T10:30:00Z",
    "1234567890",  # ten digits, but not a birth date
    "12.345.678,90 DKK", "1.234.567.890", "period 2024 2025", "12345678",
    "0190f0f0-0000-7000-8000-000000000000",
    "sha256:" + "0101901234abcdef" * 4,
    "scan@2x.png", "report#v2.pdf", "DK50 0040 0440 1162 43",
    "Reducing youth homelessness – Roskilde", "the PSS score fell by 12 points",
    "000123456789",
]


@pytest.mark.parametrize("text,kind", FOUND, ids=[f[0] for f in FOUND])
def test_identifiers_are_found_however_written(text, kind):
    assert personal.identifier_kind(text) == kind
    masked = personal.mask(f"before {text} after")
    assert masked.startswith("before ") and masked.endswith(" after")
    assert "removed]" in masked
    assert personal.find(masked) == []


@pytest.mark.parametrize("text", NOT_FOUND)
def test_references_dates_amounts_and_hashes_are_not_identifiers(text):
    assert personal.find(text) == [], personal.find(text)


def test_the_refusal_names_the_kind_never_the_value():
    message = personal.message(personal.identifier_kind("010190-1234"))
    assert "CPR" in message and "010190" not in message
    assert personal.message(personal.EMAIL).startswith("this looks like an e-mail")


def test_a_long_text_without_identifiers_is_read_quickly():
    for text in ("a" * 20_000, "1 " * 10_000, "a.b@" * 5_000, "x#" * 10_000):
        started = time.perf_counter()
        personal.find(text)
        assert time.perf_counter() - started < 0.5, text[:10]


def claim(**over) -> dict:
    return {"client_ref": "c1", "pseudonym": "ROS-1", "metric_code": "housing_entry",
            "achieved_on": "2024-03-01", "evidence_ref": "lease-1", **over}


@pytest.mark.parametrize("struct,data,field", [
    (ClaimIn, claim(client_ref="c-0101901234"), "client_ref"),
    (ClaimIn, claim(evidence_ref="mail from jens#example.dk"), "evidence_ref"),
    (ClaimIn, claim(metric_code="010190-1234"), "metric_code"),
    (ParticipantIn, {"pseudonym": "ROS-1", "enrolled_on": "2024-02-01",
                     "area": "tlf 12345678"}, "area"),
    (ParticipantIn, {"pseudonym": "ROS-1", "enrolled_on": "2024-02-01",
                     "cohort": "AB-12-34-56-C"}, "cohort"),
    (ApiKeyIn, {"label": "jens@example.dk"}, "label"),
    (SampleIn, {"seed": "0101901234"}, "seed"),
    (MetricIn, {"code": "x", "name": "n", "definition": "call +45 12 34 56 78",
                "unit": "u", "kind": "event", "evidence_required": "e",
                "verification_source": "admin_data"}, "definition"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_free_text_with_an_identifier_is_refused_naming_the_field(struct, data, field):
    for strict in (True, False):
        with pytest.raises(msgspec.ValidationError) as exc:
            msgspec.convert(data, struct, strict=strict)
        assert str(exc.value).startswith(f"[personal_identifier] {field}: this looks like")
        assert not personal.find(str(exc.value))


@pytest.mark.parametrize("struct,data", [
    (DecisionIn, {"reason": "called her on 12 34 56 78; CPR 010190-1234 checked"}),
    (TransitionIn, {"reason": "called her on 12 34 56 78; CPR 010190-1234 checked"}),
])
def test_reasons_keep_their_text_with_identifiers_masked(struct, data):
    kept = msgspec.convert(data, struct)
    assert kept.reason == ("called her on [phone number removed]; CPR [CPR number removed] "
                           "checked")


def test_a_nul_character_is_refused_in_any_text():
    with pytest.raises(msgspec.ValidationError, match=r"^\[invalid_character\] pseudonym"):
        msgspec.json.decode(
            b'{"pseudonym": "ROS\\u00001", "enrolled_on": "2024-02-01"}', type=ParticipantIn)
    with pytest.raises(msgspec.ValidationError, match=r"^\[invalid_character\] reason"):
        msgspec.convert({"reason": "ok\x00"}, DecisionIn)


def test_dates_outside_1900_to_2200_are_refused_where_sent():
    with pytest.raises(msgspec.ValidationError, match=r"^\[invalid_date\] period_to"):
        msgspec.convert({"period_from": "2024-01-01", "period_to": "9999-12-31"}, PaymentRunIn)
    with pytest.raises(msgspec.ValidationError, match=r"^\[invalid_date\] achieved_on"):
        msgspec.convert(claim(achieved_on="0001-01-01"), ClaimIn)


def test_stored_terms_still_read_whatever_their_dates():
    terms = {"service_period": {"start": "0001-01-01", "end": "9999-12-31"},
             "enrolment_period": {"start": "2024-01-01", "end": "2024-12-31"},
             "claims_deadline": "9999-12-31", "cap": {"amount": 1, "currency": "DKK"},
             "commissioners": []}
    assert msgspec.convert(terms, ContractTerms).claims_deadline.year == 9999
    with pytest.raises(msgspec.ValidationError, match="invalid_date"):
        msgspec.convert({"reason": "longer", "terms": terms}, VariationIn)


@pytest.mark.parametrize("amount", ["1e3", 1e3, 1000.0, "1000", 10.5])
def test_money_is_an_integer_or_it_is_refused(amount):
    for strict in (True, False):  # Litestar decodes bodies in msgspec's lax mode
        with pytest.raises(msgspec.ValidationError, match="whole number of minor units"):
            msgspec.convert({"amount": amount, "currency": "DKK"}, Money, strict=strict)
    assert msgspec.convert({"amount": 1000, "currency": "DKK"}, Money).amount == 1000
