"""Whose acceptance a variation needs, and when it may take effect: pure rules."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from contracts.rules import acceptances_needed, check_effective_on
from contracts.schemas import ContractTerms
from tests.helpers import terms as make_terms

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
AUDITOR, OTHER_AUDITOR = uuid.uuid4(), uuid.uuid4()


def t(commissioners=((A, 6000), (B, 4000)), auditors=(AUDITOR,), **over) -> ContractTerms:
    return msgspec.convert(make_terms(list(commissioners), list(auditors), **over),
                           ContractTerms)


def needed(after: ContractTerms, *, binding: bool = True, before: ContractTerms | None = None):
    return acceptances_needed(before or t(), after, binding=binding)


def test_the_same_terms_need_nobody():
    assert needed(t()) == set()


def test_a_new_commissioner_and_every_resized_share_accept():
    # The 99.99 % attack as a variation: A names C for almost all of it.
    after = t(commissioners=[(A, 1), (B, 4000), (C, 5999)])
    assert needed(after) == {(A, "commissioner"), (C, "commissioner")}


def test_a_commissioner_varied_off_accepts_and_so_does_the_one_taking_over():
    assert needed(t(commissioners=[(B, 10_000)])) == {(A, "commissioner"), (B, "commissioner")}


def test_the_order_of_the_commissioners_is_no_change():
    assert needed(t(commissioners=[(B, 4000), (A, 6000)])) == set()


def test_a_change_of_cap_rates_periods_or_sampling_needs_every_commissioner():
    everyone = {(A, "commissioner"), (B, "commissioner")}
    assert needed(t(cap={"amount": 1, "currency": "DKK"})) == everyone
    assert needed(t(per_participant_cap=None)) == everyone
    assert needed(t(rate_card=[])) == everyone
    assert needed(t(claims_deadline="2027-01-01")) == everyone
    assert needed(t(service_period={"start": "2024-01-01", "end": "2026-12-31"})) == everyone
    assert needed(t(enrolment_period={"start": "2024-02-01", "end": "2025-06-30"})) == everyone
    assert needed(t(sampling_rate_bp=0)) == everyone


def test_money_changed_with_the_parties_needs_the_old_and_the_new_commissioners():
    after = t(commissioners=[(A, 6000), (C, 4000)], cap={"amount": 1, "currency": "DKK"})
    assert needed(after) == {(A, "commissioner"), (B, "commissioner"), (C, "commissioner")}


def test_removing_an_auditor_needs_its_acknowledgement_adding_one_needs_nobody():
    assert needed(t(auditors=[])) == {(AUDITOR, "auditor")}
    assert needed(t(auditors=[AUDITOR, OTHER_AUDITOR])) == set()
    assert needed(t(auditors=[OTHER_AUDITOR])) == {(AUDITOR, "auditor")}


def test_a_draft_binds_no_money_but_its_auditor_still_acknowledges_removal():
    after = t(commissioners=[(C, 10_000)], auditors=[], cap={"amount": 1, "currency": "DKK"})
    assert needed(after, binding=False) == {(AUDITOR, "auditor")}


@given(st.lists(st.integers(1, 9_999), min_size=1, max_size=3),
       st.lists(st.integers(1, 9_999), min_size=1, max_size=3))
def test_every_commissioner_whose_share_differs_is_asked(before_bp, after_bp):
    orgs = [uuid.UUID(int=i + 1) for i in range(4)]
    before = t(commissioners=list(zip(orgs, before_bp, strict=False)))
    after = t(commissioners=list(zip(orgs, after_bp, strict=False)))
    old = dict(zip(orgs, before_bp, strict=False))
    new = dict(zip(orgs, after_bp, strict=False))
    asked = {o for o, _ in acceptances_needed(before, after, binding=True)}
    assert asked == {o for o in old.keys() | new.keys() if old.get(o) != new.get(o)}


TODAY = dt.date(2025, 11, 24)


def codes(on: dt.date, paid_until: dt.date | None = None) -> list[str]:
    return [p.code for p in check_effective_on(on, today=TODAY, paid_until=paid_until)]


def test_a_variation_takes_effect_today_or_later():
    assert codes(TODAY) == [] and codes(TODAY + dt.timedelta(days=1)) == []
    assert codes(TODAY - dt.timedelta(days=1)) == ["effective_in_past"]
    assert codes(dt.date(1995, 1, 1)) == ["effective_in_past"]


def test_a_variation_takes_effect_after_the_last_paid_period():
    paid = TODAY + dt.timedelta(days=30)
    assert codes(paid, paid) == ["effective_in_paid_period"]
    assert codes(TODAY, paid) == ["effective_in_paid_period"]
    assert codes(paid + dt.timedelta(days=1), paid) == []
    assert codes(TODAY, TODAY - dt.timedelta(days=1)) == []
