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


# Targets, baselines and horizons -----------------------------------------------------------


def test_targets_baselines_and_horizons_are_terms_of_a_line():
    card = [line(target=30, max_count=40, horizon_days=365,
                 baseline={"kind": "comparison_group", "rate_bp": 2500, "n": 180,
                           "source": "VIVE matched comparison group, 2021"})]
    assert codes(rate_card=card) == []
    assert codes(rate_card=[line(baseline={"kind": "historical", "rate_bp": 0,
                                           "source": "the municipality's own 2020-2022"})]) \
        == []


def test_a_target_above_what_the_line_pays_for_makes_no_sense():
    assert codes(rate_card=[line(target=41, max_count=40)]) == ["target_above_max_count"]
    assert codes(rate_card=[line(target=41)]) == []  # no maximum: any target


def test_a_comparison_group_baseline_needs_the_group_size():
    baseline = {"kind": "comparison_group", "rate_bp": 2500, "source": "VIVE"}
    terms = msgspec.convert(make_terms([(A, 6000), (B, 4000)],
                                       rate_card=[line(baseline=baseline)]), ContractTerms)
    [problem] = check_terms(terms, "DKK", METRICS)
    assert (problem.code, problem.field) == ("baseline_n_required",
                                             "terms.rate_card[0].baseline.n")


def test_a_baseline_rate_lies_between_0_and_100_percent():
    for rate in (-1, 10_001):
        with pytest.raises(msgspec.ValidationError):
            codes(rate_card=[line(baseline={"kind": "national_statistic", "rate_bp": rate,
                                            "source": "Danmarks Statistik"})])


# Cohort lines ------------------------------------------------------------------------------
# The Danish stress-treatment SIB: paid only if 85 % of a cohort completed treatment. Its
# completions are claimed on an outcome line of the same metric.

COMPLETION = line(code="completion", metric_code="employment")


def cohort_line(**over) -> dict:
    base = line(code="cohort-85", metric_code="employment", kind="cohort", cohort="2024-spring",
                evaluation_on="2024-12-31", cohort_threshold_bp=8500)
    base.update(over)
    return base


def problems(card: list[dict]) -> list[tuple[str, str]]:
    terms = msgspec.convert(make_terms([(A, 6000), (B, 4000)], rate_card=card),
                            ContractTerms)
    return [(p.code, p.field) for p in check_terms(terms, "DKK", METRICS)]


def test_a_cohort_line_beside_an_outcome_line_of_its_metric_is_valid():
    assert problems([COMPLETION, cohort_line()]) == []


def test_a_cohort_line_needs_its_cohort_date_and_threshold():
    card = [COMPLETION, cohort_line(cohort=None, evaluation_on=None,
                                    cohort_threshold_bp=None)]
    assert problems(card) == [("cohort_terms_missing", f"terms.rate_card[1].{name}")
                              for name in ("cohort", "evaluation_on", "cohort_threshold_bp")]


def test_a_cohort_is_evaluated_within_the_service_period_and_by_the_deadline():
    # helpers.terms: service 2024-01-01 to 2025-12-31, claims deadline 2026-03-31.
    assert problems([COMPLETION, cohort_line(evaluation_on="2023-12-31")]) == [
        ("evaluation_outside_service", "terms.rate_card[1].evaluation_on")]
    assert problems([COMPLETION, cohort_line(evaluation_on="2026-01-15")]) == [
        ("evaluation_outside_service", "terms.rate_card[1].evaluation_on")]
    assert problems([COMPLETION, cohort_line(evaluation_on="2026-04-01")]) == [
        ("evaluation_outside_service", "terms.rate_card[1].evaluation_on"),
        ("evaluation_after_deadline", "terms.rate_card[1].evaluation_on")]
    assert problems([COMPLETION, cohort_line(evaluation_on="2025-12-31")]) == []


def test_a_cohort_line_takes_none_of_an_outcome_lines_rules():
    card = [COMPLETION, cohort_line(window={"start_day": 0, "end_day": 90},
                                    prerequisite_metric="employment",
                                    exclusivity_group="work", threshold=3,
                                    max_claims_per_participant=2)]
    found = problems(card)
    assert [f for c, f in found if c == "not_for_cohort_line"] == [
        f"terms.rate_card[1].{name}" for name in (
            "window", "prerequisite_metric", "exclusivity_group", "threshold",
            "max_claims_per_participant")]


def test_a_score_metric_cohort_takes_no_threshold_of_its_own():
    # The outcome line judges each score; the cohort counts the claims it accepted.
    card = [line(code="pss", metric_code="pss_reduction", threshold="5"),
            cohort_line(metric_code="pss_reduction")]
    assert problems(card) == []


def test_an_outcome_line_takes_no_cohort_terms():
    card = [line(cohort="2024-spring", evaluation_on="2024-12-31", cohort_threshold_bp=8500)]
    assert problems(card) == [("cohort_term_on_outcome_line", f"terms.rate_card[0].{name}")
                              for name in ("cohort", "evaluation_on", "cohort_threshold_bp")]


def test_a_cohort_counts_claims_so_an_outcome_line_must_take_them():
    assert problems([cohort_line()]) == [("cohort_metric_not_claimable",
                                          "terms.rate_card[0].metric_code")]
    # Nor is a metric paid by a cohort alone a prerequisite anyone could claim first.
    card = [cohort_line(metric_code="housing_entry"), COMPLETION,
            line(code="s3", metric_code="housing_sustained_3m",
                 prerequisite_metric="housing_entry")]
    assert ("prerequisite_not_on_rate_card", "terms.rate_card[2].prerequisite_metric") in \
        problems(card)


def test_a_cohort_line_metric_must_be_in_the_library():
    assert ("unknown_metric", "terms.rate_card[1].metric_code") in problems(
        [COMPLETION, cohort_line(metric_code="treatment_completed")])


def test_a_cohort_name_fits_a_participants_cohort():
    assert problems([COMPLETION, cohort_line(cohort="x" * 65)]) == [
        ("invalid_field", "terms.rate_card[1].cohort")]


# Partners ----------------------------------------------------------------------------------

P1, P2 = uuid.uuid4(), uuid.uuid4()


def partner_problems(partners: list[dict], payment: str = "by_claimant", **over
                     ) -> list[tuple[str, str]]:
    terms = msgspec.convert(make_terms([(A, 6000), (B, 4000)], partners=partners,
                                       partner_payment=payment, **over), ContractTerms)
    return [(p.code, p.field) for p in check_terms(terms, "DKK", METRICS)]


def test_partners_paid_by_claimant_or_by_split():
    assert partner_problems([{"organisation_id": str(P1)}, {"organisation_id": str(P2)}]) == []
    assert partner_problems([{"organisation_id": str(P1), "split_bp": 3000},
                             {"organisation_id": str(P2), "split_bp": 2000}], "by_split") == []


def test_a_partner_is_named_once_and_is_no_other_party():
    auditor = uuid.uuid4()
    found = partner_problems([{"organisation_id": str(P1)}, {"organisation_id": str(P1)},
                              {"organisation_id": str(A)}, {"organisation_id": str(auditor)}],
                             auditor_ids=[str(auditor)])
    assert found == [("duplicate_party", "terms.partners[1].organisation_id"),
                     ("partner_conflict", "terms.partners[2].organisation_id"),
                     ("partner_conflict", "terms.partners[3].organisation_id")]


def test_paying_by_split_needs_every_split_and_leaves_the_lead_its_share():
    assert partner_problems([{"organisation_id": str(P1), "split_bp": 3000},
                             {"organisation_id": str(P2)}], "by_split") == [
        ("split_required", "terms.partners[1].split_bp")]
    assert partner_problems([{"organisation_id": str(P1), "split_bp": 6000},
                             {"organisation_id": str(P2), "split_bp": 4001}], "by_split") == [
        ("splits_above_100", "terms.partners")]
    # 100 % to the partners leaves the lead nothing, which is theirs to agree.
    assert partner_problems([{"organisation_id": str(P1), "split_bp": 6000},
                             {"organisation_id": str(P2), "split_bp": 4000}], "by_split") == []


def test_paying_by_claimant_takes_no_split():
    assert partner_problems([{"organisation_id": str(P1), "split_bp": 3000}]) == [
        ("split_not_applicable", "terms.partners[0].split_bp")]


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
