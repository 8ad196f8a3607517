"""Payment rules, worked through real contracts.

POJ-0263 (Roskilde): housing sustained 3 months counts only after entry into housing.
POJ-0313 (Holbæk): employment xor self-employment.
POJ-0267 (Rudersdal): the PSS stress score must fall by at least the threshold, measured
12 months after the programme.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.schemas import ContractTerms, MetricOut
from outcomes.rules import Claimed, PastClaim, Totals, check_claim
from tests.helpers import intake_terms, line

A = uuid.uuid4()
D = dt.date
ENROLLED = D(2024, 2, 1)
TODAY = D(2025, 6, 1)
NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

METRICS = {
    code: MetricOut(id=uuid.uuid4(), code=code, name=code, definition="", unit="p", kind=kind,
                    evidence_required="", verification_source="admin_data",
                    direction=direction, duration_days=days, created_at=NOW)
    for code, kind, direction, days in [
        ("housing_entry", "event", "increase", None),
        ("housing_sustained_3m", "duration", "increase", 91),
        ("employment", "event", "increase", None),
        ("self_employment", "event", "increase", None),
        ("pss_reduction", "score_change", "decrease", None),
    ]
}


def contract(**over) -> ContractTerms:
    return msgspec.convert(intake_terms([(A, 10_000)], **over), ContractTerms)


def check(metric, achieved_on, *, value=None, history=(), totals=None, terms=None,
          enrolled_on=ENROLLED, today=TODAY):
    return check_claim(terms or contract(), METRICS,
                       Claimed(metric, achieved_on, None if value is None else Decimal(value)),
                       enrolled_on, list(history), totals or Totals(), today)


def codes(decision) -> list[str]:
    return [e.code for e in decision.errors]


ENTRY = PastClaim("entry", "housing_entry", D(2024, 3, 1), 1_500_000)


# POJ-0263: sustained housing -------------------------------------------------------------


def test_sustained_housing_needs_entry_first():
    assert codes(check("housing_sustained_3m", D(2024, 6, 5))) == ["prerequisite_missing"]


def test_sustained_housing_pays_three_months_after_entry():
    decision = check("housing_sustained_3m", D(2024, 6, 5), history=[ENTRY])
    assert decision.accepted
    assert decision.line.code == "sustained-3m" and decision.amount == 2_000_000


def test_sustainment_too_soon_after_entry_is_outside_the_window():
    decision = check("housing_sustained_3m", D(2024, 5, 1), history=[ENTRY])
    assert codes(decision) == ["outside_window", "duration_not_met"]
    assert "61 days after housing_entry" in decision.errors[0].message


def test_sustainment_too_late_after_entry_is_outside_the_window():
    assert codes(check("housing_sustained_3m", D(2024, 9, 1), history=[ENTRY])) == [
        "outside_window"]


def test_entry_into_housing_counts_from_enrolment():
    assert check("housing_entry", D(2024, 3, 1)).accepted
    assert codes(check("housing_entry", D(2025, 3, 1))) == ["outside_window"]
    assert codes(check("housing_entry", D(2024, 1, 15))) == ["outside_window"]


# POJ-0313: employment xor self-employment ------------------------------------------------


def test_employment_excludes_self_employment():
    job = PastClaim("job", "employment", D(2024, 5, 1), 3_500_000)
    no_participant_cap = contract(per_participant_cap=None)
    decision = check("self_employment", D(2024, 7, 1), history=[job], terms=no_participant_cap)
    assert codes(decision) == ["exclusive_conflict"]
    assert "already paid for job" in decision.errors[0].message
    assert check("self_employment", D(2024, 7, 1)).accepted


def test_employment_is_paid_once_per_participant():
    job = PastClaim("job", "employment", D(2024, 5, 1), 3_500_000)
    terms = contract(per_participant_cap=None)
    assert codes(check("employment", D(2024, 5, 1), history=[job], terms=terms)) == [
        "duplicate"]
    assert codes(check("employment", D(2024, 9, 1), history=[job], terms=terms)) == [
        "max_claims_reached"]


# POJ-0267: stress score must fall by the threshold ----------------------------------------


def test_stress_score_must_fall_by_the_threshold():
    when = ENROLLED + dt.timedelta(days=365)
    assert check("pss_reduction", when, value="-6").accepted
    assert check("pss_reduction", when, value="-5").accepted
    decision = check("pss_reduction", when, value="-4.5")
    assert codes(decision) == ["below_threshold"]
    assert "fall by at least 5" in decision.errors[0].message
    assert codes(check("pss_reduction", when, value="6")) == ["below_threshold"]


def test_stress_score_is_measured_about_twelve_months_on():
    assert codes(check("pss_reduction", ENROLLED + dt.timedelta(days=200), value="-8")) == [
        "outside_window"]


def test_score_metrics_need_a_value_and_events_take_none():
    when = ENROLLED + dt.timedelta(days=365)
    assert codes(check("pss_reduction", when)) == ["value_required"]
    assert codes(check("employment", D(2024, 5, 1), value="3")) == ["value_not_applicable"]


# Contract-wide rules ----------------------------------------------------------------------


def test_metric_must_be_on_the_rate_card():
    assert codes(check("fit_for_work", D(2024, 5, 1))) == ["not_on_rate_card"]


def test_participant_must_be_enrolled():
    assert codes(check("employment", D(2024, 5, 1), enrolled_on=None)) == ["not_enrolled"]


def test_claims_deadline_and_the_future():
    assert codes(check("employment", D(2024, 5, 1), today=D(2031, 1, 1))) == [
        "after_claims_deadline"]
    assert codes(check("employment", D(2025, 7, 1))) == ["achieved_in_future"]


def test_caps_of_contract_line_and_participant():
    terms = contract(cap={"amount": 5_000_000, "currency": "DKK"},
                     per_participant_cap={"amount": 4_000_000, "currency": "DKK"})
    full = Totals()
    full.add("entry", 4_000_000)
    assert codes(check("employment", D(2024, 5, 1), terms=terms, totals=full)) == [
        "cap_reached"]
    entry = PastClaim("entry", "housing_entry", D(2024, 3, 1), 1_500_000)
    assert codes(check("employment", D(2024, 5, 1), terms=terms, history=[entry])) == [
        "participant_cap_reached"]
    limited = contract(rate_card=[line("job", "employment", 35_000, max_count=2)])
    two = Totals()
    two.add("job", 3_500_000)
    two.add("job", 3_500_000)
    assert codes(check("employment", D(2024, 5, 1), terms=limited, totals=two)) == [
        "line_cap_reached"]


# Property: no sequence of claims is accepted beyond the caps ----------------------------

claim_strategy = st.tuples(
    st.integers(min_value=0, max_value=5),                        # participant
    st.sampled_from(["housing_entry", "housing_sustained_3m", "employment",
                     "self_employment", "pss_reduction"]),
    st.integers(min_value=-30, max_value=500),                     # days after enrolment
    st.sampled_from([None, "-7", "-2"]),                           # score change
)


@settings(max_examples=300, deadline=None)
@given(st.lists(claim_strategy, max_size=60),
       st.integers(min_value=1, max_value=20) .map(lambda k: k * 1_000_000),
       st.integers(min_value=1, max_value=8).map(lambda k: k * 1_000_000),
       st.one_of(st.none(), st.integers(min_value=1, max_value=4)))
def test_no_sequence_of_claims_is_accepted_beyond_the_caps(claims, cap, per_participant,
                                                          line_max):
    card = intake_terms([(A, 10_000)])["rate_card"]
    if line_max is not None:
        card[2] = {**card[2], "max_count": line_max}
    terms = contract(cap={"amount": cap, "currency": "DKK"},
                     per_participant_cap={"amount": per_participant, "currency": "DKK"},
                     rate_card=card)
    totals, history = Totals(), {p: [] for p in range(6)}
    for participant, metric, days, value in claims:
        decision = check(metric, ENROLLED + dt.timedelta(days=days),
                         value=value if metric == "pss_reduction" else None,
                         history=history[participant], totals=totals, terms=terms)
        if decision.accepted:
            history[participant].append(PastClaim(decision.line.code, metric,
                                                  ENROLLED + dt.timedelta(days=days),
                                                  decision.amount))
            totals.add(decision.line.code, decision.amount)
    everything = [c for h in history.values() for c in h]
    assert sum(c.amount for c in everything) <= cap
    assert all(sum(c.amount for c in h) <= per_participant for h in history.values())
    if line_max is not None:
        assert sum(c.line_code == "job" for c in everything) <= line_max
    for h in history.values():
        assert not ({"job", "own-business"} <= {c.line_code for c in h})
        assert len({(c.metric_code, c.achieved_on) for c in h}) == len(h)


# The service period (POJ-0263: services until 2024-12-31, claims until 2025-03-31) ----------


def test_an_outcome_after_the_service_period_is_not_paid():
    terms = contract(service_period={"start": "2024-01-01", "end": "2024-12-31"},
                     claims_deadline="2025-03-31")
    late = check("housing_entry", D(2025, 1, 6), terms=terms, today=D(2025, 2, 10))
    assert codes(late) == ["after_service_period"]
    assert "2024-12-31" in late.errors[0].message
    assert check("housing_entry", D(2024, 12, 20), terms=terms, today=D(2025, 2, 10)).accepted


# The claim lifecycle ------------------------------------------------------------------------


def test_the_claim_lifecycle_is_a_table_with_every_status():
    from outcomes.rules import CLAIM_TRANSITIONS, ClaimStatus, next_claim_status
    from outcomes.schemas import ClaimStatus as ClaimStatusOut

    statuses = {s.value for s in ClaimStatus}
    assert set(ClaimStatusOut.__args__) == statuses
    assert {s for steps in CLAIM_TRANSITIONS.values() for pair in steps.items()
            for s in pair} == statuses
    assert next_claim_status("sampled", "verify") == "verified"
    assert next_claim_status("disputed", "verify") == "verified"
    assert next_claim_status("accepted", "verify") is None
    assert next_claim_status("paid", "claw_back") == "reversed"
    assert next_claim_status("reversed", "pay") is None


def test_approval_waits_for_the_draw_and_for_verification():
    from outcomes.rules import approval_refusal

    assert approval_refusal(None, False)[0] == "unknown_claim"
    assert approval_refusal("accepted", False)[0] == "not_yet_sampled"
    assert approval_refusal("accepted", True) is None  # passed by the draw
    assert approval_refusal("sampled", True)[0] == "not_verified"
    assert approval_refusal("verified", True) is None
    assert approval_refusal("disputed", True)[0] == "not_approvable"
    assert approval_refusal("reversed", True)[0] == "not_approvable"
    assert approval_refusal("paid", True) is None  # approving again changes nothing


def test_a_clawback_takes_back_approved_or_paid_claims_not_waiting_in_a_run():
    from outcomes.rules import already_done, clawback_refusal

    assert clawback_refusal("paid", in_unpaid_run=False) is None
    assert clawback_refusal("approved", in_unpaid_run=False) is None
    assert clawback_refusal("approved", in_unpaid_run=True)[0] == "in_payment_run"
    assert clawback_refusal("accepted", in_unpaid_run=False) == (
        "invalid_transition", "a accepted claim has nothing to claw back; dispute it")
    assert clawback_refusal("reversed", in_unpaid_run=False) is None
    assert already_done("claw_back", "reversed")


def test_intake_and_approval_share_one_cap_check():
    from outcomes.rules import LIST_CAP_FIELDS, Adding, cap_problems

    terms = contract(cap={"amount": 5_000_000, "currency": "DKK"},
                     per_participant_cap={"amount": 4_000_000, "currency": "DKK"},
                     rate_card=[line("job", "employment", 35_000, max_count=2)])
    so_far = Totals()
    so_far.add("job", 3_500_000)
    # One claim of 35,000 DKK more, at intake and at approval: the same caps break.
    one = cap_problems(terms, so_far, {"P1": 3_500_000}, [Adding("job", "P1", 3_500_000)])
    many = cap_problems(terms, so_far, {"P1": 3_500_000}, [Adding("job", "P1", 3_500_000)],
                        subject="approving these claims", fields=LIST_CAP_FIELDS)
    assert [p.code for p in one] == [p.code for p in many] == [
        "participant_cap_reached", "cap_reached"]
    assert {p.field for p in many} == {"claim_ids"}
    two_more = [Adding("job", "P2", 3_500_000), Adding("job", "P3", 3_500_000)]
    assert "line_cap_reached" in [p.code for p in cap_problems(terms, so_far, {}, two_more)]


def test_enrolment_rules():
    from outcomes.rules import Enrolment, check_enrolment

    terms = contract()  # enrolment 2024-01-01 to 2025-06-30
    ros = Enrolment("ROS-17", D(2024, 2, 1), age_band="18-24")
    assert check_enrolment(terms, ros, None) == ("created", [])
    assert check_enrolment(terms, ros, ros) == ("unchanged", [])
    verdict, problems = check_enrolment(terms, Enrolment("ROS-17", D(2024, 2, 3)), ros)
    assert (verdict, [p.code for p in problems]) == ("rejected", ["enrolment_conflict"])
    verdict, problems = check_enrolment(
        terms, Enrolment("ROS-17", D(2024, 2, 1), age_band="25-29"), ros)
    assert [(p.code, p.field) for p in problems] == [("participant_conflict", "age_band")]
    verdict, problems = check_enrolment(terms, Enrolment("ROS-240", D(2025, 7, 1)), None)
    assert [p.code for p in problems] == ["enrolment_outside_period"]
    verdict, problems = check_enrolment(terms, Enrolment("0101901234", D(2024, 2, 1)), None)
    assert [p.code for p in problems] == ["personal_identifier"]


# Cohort lines: the Danish stress-treatment SIB, paid only if 85 % completed treatment ------

COHORT = line("cohort-85", "housing_entry", 6_000, kind="cohort", cohort="2024-spring",
              evaluation_on="2024-12-31", cohort_threshold_bp=8500)


def cohort_contract(*others: dict) -> ContractTerms:
    return contract(rate_card=[COHORT, *others])


def test_a_cohort_line_is_paid_by_its_evaluation_not_by_claims():
    decision = check("housing_entry", D(2024, 3, 1), terms=cohort_contract())
    assert codes(decision) == ["cohort_line_not_claimable"]
    assert decision.errors[0].field == "metric_code"
    assert "paid by its evaluation" in decision.errors[0].message


def test_the_cohorts_metric_is_claimed_on_an_outcome_line_of_the_same_metric():
    terms = cohort_contract(line("entry", "housing_entry", 15_000,
                                 window={"start_day": 0, "end_day": 365}))
    decision = check("housing_entry", D(2024, 3, 1), terms=terms)
    assert decision.accepted and decision.line.code == "entry"
    assert decision.amount == 1_500_000
    # …and refused by that line's own rules, not as a cohort claim.
    assert codes(check("housing_entry", D(2025, 3, 1), terms=terms)) == ["outside_window"]


def test_a_cohort_payment_is_money_not_an_achievement():
    """The claim an evaluation creates carries the cohort's metric, dated the evaluation
    date: it counts against the caps, but satisfies no prerequisite and makes no
    duplicate."""
    terms = cohort_contract(
        line("entry", "housing_entry", 15_000, window={"start_day": 0, "end_day": 400}),
        line("sustained-3m", "housing_sustained_3m", 20_000,
             prerequisite_metric="housing_entry",
             window={"anchor": "prerequisite", "start_day": 91, "end_day": 151}))
    paid = PastClaim("cohort-85", "housing_entry", D(2024, 12, 31), 600_000)
    assert codes(check("housing_sustained_3m", D(2025, 4, 5), terms=terms, history=[paid])) \
        == ["prerequisite_missing"]
    assert check("housing_entry", D(2024, 12, 31), terms=terms, history=[paid]).accepted
    capped = contract(rate_card=[COHORT, line("entry", "housing_entry", 15_000)],
                      per_participant_cap={"amount": 2_000_000, "currency": "DKK"})
    assert codes(check("housing_entry", D(2024, 12, 31), terms=capped, history=[paid])) == [
        "participant_cap_reached"]


def test_a_cohort_rate_is_rounded_down_and_an_empty_cohort_reaches_nothing():
    from outcomes.rules import cohort_rate_bp

    assert cohort_rate_bp(40, 35) == 8750  # 87.5 % ≥ 85 %: paid
    assert cohort_rate_bp(40, 33) == 8250  # 82.5 %: not paid
    assert cohort_rate_bp(7, 6) == 8571  # 85.714… % rounds down, still ≥ 85 %
    assert cohort_rate_bp(3000, 2549) == 8496  # 84.96…: never rounds up to 85 %
    assert cohort_rate_bp(0, 0) == 0


def test_a_cohort_is_evaluated_from_its_date_to_the_deadline_while_active():
    from outcomes.rules import evaluation_refusal

    terms = cohort_contract(line("entry", "housing_entry", 15_000))
    cohort, entry = terms.rate_card

    def refusal(found, status="active", today=D(2025, 1, 2), code="cohort-85"):
        refused = evaluation_refusal(found, code, status, today, terms.claims_deadline)
        return refused and refused[0]

    assert refusal(cohort) is None
    assert refusal(cohort, today=D(2024, 12, 31)) is None  # on the day itself
    assert refusal(cohort, today=D(2024, 12, 30)) == "cohort_not_due"
    assert refusal(cohort, today=D(2031, 1, 1)) == "after_claims_deadline"
    assert refusal(None, code="nope") == "line_not_found"
    assert refusal(entry, code="entry") == "not_a_cohort_line"
    for status in ("draft", "suspended", "closed"):
        assert refusal(cohort, status=status) == "contract_not_active"
