"""Claim rules held by the service and the database on both engines: a claim's status is one
of its lifecycle's (a column with choices, refused otherwise by the database itself), an
outcome after the service period is not paid, and stored terms a newer version wrote are
still read."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from contracts import service
from contracts.tables import Contract, ContractVersion
from core.clock import now
from core.ids import new_id
from outcomes import intake
from outcomes.schemas import ClaimIn, ParticipantIn
from outcomes.tables import Claim, ClaimEvent
from tests.helpers import active_contract, principal, world
from tests.integration.test_ledger import ENROLLED, approved_claims


async def test_a_claims_status_is_one_of_its_lifecycles_even_by_sql(db):
    from outcomes.rules import ClaimStatus

    assert Claim.status._meta.choices is ClaimStatus
    assert ClaimEvent.to_status._meta.choices is ClaimStatus
    w = await world()
    _, ids, _ = await approved_claims(w, 1)
    with pytest.raises(Exception, match="status"):
        await Claim.update({Claim.status: "settled"}).where(Claim.id == ids[0])
    with pytest.raises(Exception, match="status"):
        await Claim.raw("UPDATE claim SET status = 'settled' WHERE id = {}", ids[0])
    with pytest.raises(Exception, match="status"):
        await ClaimEvent.insert(ClaimEvent(id=new_id(), claim=ids[0], from_status="approved",
                                           to_status="settled", reason="by hand",
                                           recorded_at=now(), recorded_by="sql"))
    claim = await Claim.select(Claim.status).where(Claim.id == ids[0]).first()
    assert claim["status"] == "approved"


def _claim(ref: str, on: dt.date) -> ClaimIn:
    return ClaimIn(client_ref=ref, pseudonym="ROS-17", metric_code="housing_entry",
                   achieved_on=on, evidence_ref="lease-17")


async def test_an_outcome_achieved_after_the_service_period_is_rejected(db):
    w = await world()
    # POJ-0263's shape: services ended 2024-12-31, claims are taken until 2030.
    cid = await active_contract(w, service_period={"start": "2024-01-01", "end": "2024-12-31"},
                                enrolment_period={"start": "2024-01-01", "end": "2024-06-30"})
    provider = principal(w.ids["provider"], "provider")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(1, ParticipantIn(pseudonym="ROS-17", enrolled_on=ENROLLED), [])])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(1, _claim("late", dt.date(2025, 1, 6)), []),
                         (2, _claim("in-time", dt.date(2024, 12, 20)), [])])
    late, in_time = report.results
    assert late.status == "rejected"
    assert [(e.code, e.field) for e in late.errors] == [("after_service_period", "achieved_on")]
    assert in_time.status == "accepted"


async def test_terms_stored_by_a_newer_version_are_still_read(db):
    """A replica one version behind, during a rolling deploy, reads terms with fields it
    does not know yet."""
    w = await world()
    cid = await active_contract(w)
    boss = principal(w.ids["commissioner"], "commissioner")
    current = await service.get_contract(boss, cid)
    newer = msgspec.to_builtins(current.terms)
    newer["exit_payment"] = {"amount": 500_000, "currency": "DKK"}
    newer["rate_card"][0]["verifier"] = "housing register"
    newer["cap"]["rounding"] = "half-even"
    await ContractVersion.insert(ContractVersion(
        id=new_id(), contract=cid, version=2, reason="written by a newer version",
        effective_on=dt.date.today(), terms=msgspec.json.encode(newer).decode(),
        recorded_at=now(), recorded_by="test"))
    await Contract.update({Contract.version: 2}).where(Contract.id == cid)

    read = await service.get_contract(boss, cid)
    assert read.version == 2 and read.terms == current.terms
    assert [v.version for v in await service.list_versions(boss, cid)] == [1, 2]
    # And the services that judge by the terms still work on them.
    provider = principal(w.ids["provider"], "provider")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(1, ParticipantIn(pseudonym="ROS-17", enrolled_on=ENROLLED), [])])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(1, _claim("entry", ENROLLED + dt.timedelta(days=30)), [])])
    assert report.accepted == 1
