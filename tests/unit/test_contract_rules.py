"""The pure checks of contract terms: each problem a commissioner could make, caught."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.money import Money, split_by_shares
from contracts.rules import check_terms, next_status
from contracts.schemas import ContractTerms, MetricIn
from core.ids import new_id
from tests.helpers import terms as make_terms

A, B = uuid.uuid4(), uuid.uuid4()
METRICS = {
    code: msgspec.convert(dict(code=code, name=code, definition="", unit="p", kind=kind,
                               evidence_required="", verification_source="admin_data",
                               duration_days=91 if kind == "duration" else None), MetricIn)
    for code, kind in [("housing_entry", "event"), ("housing_sustained_3m", "duration"),
                       ("pss_reduction", "score_change"), ("employment", "event")]
}


def codes(**over) -> list[str]:
    terms = msgspec.convert(make_terms([(A, 6000), (B, 4000)], **over), ContractTerms)
    return [p.code for p in check_terms(terms, "DKK", METRICS)]


def line(**over) -> dict:
    base = dict(code="l1", metric_code="housing_entry", price={"amount": 100, "currency": "DKK"})
    base.update(over)
    return base


def test_valid_terms_have_no_problems():
    assert codes() == []


def test_co_commissioning_shares_must_sum_to_100_percent():
    terms = msgspec.convert(make_terms([(A, 6000), (B, 3000)]), ContractTerms)
    problems = check_terms(terms, "DKK", METRICS)
    assert [p.code for p in problems] == ["shares_not_100"]
    assert "90 %" in problems[0].message


def test_a_commissioner_named_twice_is_refused():
    terms = msgspec.convert(make_terms([(A, 5000), (A, 5000)]), ContractTerms)
    assert "duplicate_party" in [p.code for p in check_terms(terms, "DKK", METRICS)]


def test_a_window_that_ends_before_it_starts_is_refused():
    assert codes(rate_card=[line(window={"start_day": 30, "end_day": 10})]) == [
        "window_inverted"]


def test_periods_must_not_run_backwards():
    assert "period_inverted" in codes(service_period={"start": "2025-01-01",
                                                      "end": "2024-01-01"})


def test_enrolment_lies_within_the_service_period():
    assert codes(enrolment_period={"start": "2023-06-01", "end": "2025-01-01"}) == [
        "enrolment_outside_service"]


def test_claims_deadline_not_before_service_ends():
    assert codes(claims_deadline="2025-06-30") == ["deadline_before_service_end"]


def test_amounts_must_be_in_the_contract_currency():
    assert codes(cap={"amount": 1000, "currency": "EUR"}) == ["currency_mismatch",
                                                              "participant_cap_above_cap"]


def test_sustainment_needs_its_prerequisite_on_the_rate_card():
    card = [line(code="s3", metric_code="housing_sustained_3m",
                 prerequisite_metric="housing_entry",
                 window={"anchor": "prerequisite", "start_day": 91, "end_day": 151})]
    assert codes(rate_card=card) == ["prerequisite_not_on_rate_card"]


def test_a_window_from_a_prerequisite_names_the_prerequisite():
    card = [line(window={"anchor": "prerequisite", "start_day": 0, "end_day": 10})]
    assert codes(rate_card=card) == ["window_needs_prerequisite"]


def test_score_metrics_need_a_positive_threshold_and_others_take_none():
    assert codes(rate_card=[line(metric_code="pss_reduction")]) == ["threshold_required"]
    assert codes(rate_card=[line(metric_code="pss_reduction", threshold="0")]) == [
        "threshold_not_positive"]
    assert codes(rate_card=[line(metric_code="pss_reduction", threshold="4.5")]) == []
    assert codes(rate_card=[line(threshold=3)]) == ["threshold_not_applicable"]


def test_unknown_metrics_and_duplicate_lines_are_named():
    card = [line(), line(metric_code="nope")]
    assert codes(rate_card=card) == ["duplicate_line", "unknown_metric"]


def test_line_maximum_cannot_be_below_one_outcome():
    assert codes(rate_card=[line(max_amount={"amount": 50, "currency": "DKK"})]) == [
        "line_max_below_price"]


def test_activation_needs_a_rate_card():
    terms = msgspec.convert(make_terms([(A, 10_000)], rate_card=[]), ContractTerms)
    assert check_terms(terms, "DKK", METRICS) == []
    assert [p.code for p in check_terms(terms, "DKK", METRICS, for_activation=True)] == [
        "rate_card_empty"]


def test_lifecycle_draft_active_closed_with_suspension():
    assert next_status("draft", "activate") == "active"
    assert next_status("active", "suspend") == "suspended"
    assert next_status("suspended", "resume") == "active"
    assert next_status("suspended", "close") == "closed"
    assert next_status("closed", "activate") is None
    assert next_status("draft", "close") is None
    assert next_status("active", "activate") is None


def test_fractional_and_negative_money_does_not_decode():
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"amount": 10.5, "currency": "DKK"}, Money)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"amount": -1, "currency": "DKK"}, Money)


def test_money_formats_in_danish_style():
    assert Money(amount=400_000_000, currency="DKK").format() == "4.000.000,00 DKK"


@given(st.integers(min_value=0, max_value=10**12),
       st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6))
def test_split_by_shares_sums_exactly(amount, weights):
    # Turn arbitrary weights into basis points that sum to 10,000.
    bp = [w * 10_000 // sum(weights) for w in weights]
    bp[0] += 10_000 - sum(bp)
    if bp[0] <= 0:
        return
    parts = split_by_shares(amount, bp)
    assert sum(parts) == amount
    assert all(abs(p - amount * s / 10_000) < 1 for p, s in zip(parts, bp, strict=True))


def test_ids_sort_by_creation_as_text_and_as_bytes():
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids, key=lambda u: u.bytes)
    assert sorted(str(i) for i in ids) == [str(i) for i in sorted(ids, key=lambda u: u.bytes)]
    assert all(i.version == 7 for i in ids)
