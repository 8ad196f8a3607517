"""Every party's consent, on both engines: nobody commits another organisation's money,
varies it off a contract or takes its auditor away alone, and no variation reaches back
into a balance already reported."""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import UUID

import msgspec
import pytest

from contracts import consent, service
from contracts.errors import Conflict, Forbidden, Invalid, NotFound
from contracts.schemas import ContractIn, VariationIn
from contracts.tables import ContractAcceptance, ContractProposal, ContractVersion
from core.clock import now
from ledger import commitments
from ledger.balances import account_balances, contract_balance
from ledger.tables import JournalEntry
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from tests.helpers import active_contract, contract_body, intake_terms, principal, world

ENROLLED = dt.date(2024, 2, 1)


def today() -> dt.date:
    return now().date()


def who(w, name: str):
    role = {"provider": "provider", "auditor": "auditor", "admin": "admin",
            "other_auditor": "auditor", "other_provider": "provider"}.get(name, "commissioner")
    return principal(w.ids[name], role)


async def terms_of(w, cid: UUID, **over) -> dict:
    """The contract's current terms as a plain dict, with `over` changed."""
    current = await service.get_contract(who(w, "commissioner"), cid)
    return {**msgspec.to_builtins(current.terms), **over}


def shares(*pairs) -> list[dict]:
    return [{"organisation_id": str(o), "share_bp": bp} for o, bp in pairs]


def variation(terms: dict, reason: str = "agreed change", **extra) -> VariationIn:
    return msgspec.convert(dict(reason=reason, terms=terms, **extra), VariationIn)


async def committed(cid: UUID, org: UUID) -> int:
    return (await account_balances(contract=cid, organisation=org)).get(("committed", "DKK"), 0)


async def version_of(w, cid: UUID) -> int:
    return (await service.get_contract(who(w, "commissioner"), cid)).version


# Activation ---------------------------------------------------------------------------------


async def test_one_commissioner_cannot_activate_anothers_9999_basis_point_share(db):
    """The attack: a commissioner names another organisation as co-commissioner with
    99.99 % and activates alone, committing the other organisation's money."""
    w = await world()
    a, b = w.ids["commissioner"], w.ids["other_commissioner"]
    body = contract_body(w.ids["provider"], [(a, 1), (b, 9999)])
    body["terms"] = intake_terms([(a, 1), (b, 9999)], sampling_rate_bp=0)
    contract = await service.create_contract(who(w, "commissioner"),
                                             msgspec.convert(body, ContractIn))
    with pytest.raises(Conflict) as err:
        await commitments.activate(who(w, "commissioner"), contract.id, "signed")
    assert err.value.code == "acceptance_missing"
    assert [(p.code, p.field) for p in err.value.problems] == [
        ("acceptance_missing", "terms.commissioners[1]")]
    assert (await service.get_contract(who(w, "commissioner"), contract.id)).status == "draft"
    assert await JournalEntry.count().where(JournalEntry.contract == contract.id) == 0
    # Nothing can be claimed, so nothing approved or paid, on terms B never accepted.
    with pytest.raises(Conflict) as err:
        await intake.submit_participants(intake.Submission(
            principal=who(w, "provider"), contract_id=contract.id, kind="participants",
            idempotency_key=None, body_hash="p"),
            [(1, ParticipantIn(pseudonym="P-1", enrolled_on=ENROLLED), [])])
    assert err.value.code == "contract_not_active"

    # A's acceptance stays recorded; once B accepts the same version, either activates.
    await consent.accept_version(who(w, "other_commissioner"), contract.id, 1)
    out = await commitments.activate(who(w, "other_commissioner"), contract.id, "signed")
    assert out.status == "active"
    assert await committed(contract.id, b) == 99_990_000
    assert await committed(contract.id, a) == 10_000
    accepted = await consent.list_acceptances(who(w, "commissioner"), contract.id)
    assert [(x.organisation_id, x.version, x.role) for x in accepted] == [
        (a, 1, "commissioner"), (b, 1, "commissioner")]


async def test_a_variation_of_the_draft_voids_earlier_acceptances(db):
    w = await world()
    cid = w.contracts["own"]
    await consent.accept_version(who(w, "co_commissioner"), cid, 1)
    varied = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": 900_000_000, "currency": "DKK"})))
    assert varied.status == "applied" and varied.contract.version == 2  # a draft binds no one
    with pytest.raises(Conflict) as err:
        await commitments.activate(who(w, "commissioner"), cid, "signed")
    assert err.value.code == "acceptance_missing"
    with pytest.raises(Conflict) as err:
        await consent.accept_version(who(w, "co_commissioner"), cid, 1)
    assert err.value.code == "version_changed"
    await consent.accept_version(who(w, "co_commissioner"), cid, 2)
    await consent.accept_version(who(w, "co_commissioner"), cid, 2)  # again: no change
    out = await commitments.activate(who(w, "commissioner"), cid, "signed")
    assert out.status == "active" and out.terms.cap.amount == 900_000_000
    with pytest.raises(Conflict) as err:
        await consent.accept_version(who(w, "co_commissioner"), cid, 2)
    assert err.value.code == "contract_not_draft"


async def test_only_a_commissioner_named_in_the_terms_accepts_them(db):
    w = await world()
    cid = w.contracts["own"]
    for name, error in [("provider", Forbidden), ("auditor", Forbidden), ("admin", Forbidden),
                        ("other_commissioner", NotFound)]:
        with pytest.raises(error):
            await consent.accept_version(who(w, name), cid, 1)
    assert await ContractAcceptance.count() == 0


# Variations of an active contract ----------------------------------------------------------


async def test_a_co_commissioner_cannot_vary_the_other_commissioner_off_alone(db):
    w = await world()
    cid = await active_contract(w)
    a, b = w.ids["commissioner"], w.ids["co_commissioner"]
    before = await committed(cid, a)
    assert before == 60_000_000
    proposal = await commitments.vary(who(w, "co_commissioner"), cid, variation(
        await terms_of(w, cid, commissioners=shares((b, 10_000)))))
    assert proposal.status == "pending"
    assert [(p.organisation_id, p.role) for p in proposal.awaiting] == [(a, "commissioner")]
    assert await version_of(w, cid) == 1
    assert await committed(cid, a) == before
    # A is still a party and still sees its contract.
    assert (await service.get_contract(who(w, "commissioner"), cid)).terms.commissioners[0] \
        .organisation_id == a

    applied = await commitments.accept(who(w, "commissioner"), cid, proposal.id)
    assert applied.status == "applied" and applied.contract.version == 2
    assert await committed(cid, a) == 0 and await committed(cid, b) == 100_000_000
    with pytest.raises(NotFound):
        await service.get_contract(who(w, "commissioner"), cid)


async def test_a_share_changes_only_with_the_acceptance_of_the_commissioner_it_changes(db):
    w = await world()
    cid = await active_contract(w)
    a, b = w.ids["commissioner"], w.ids["co_commissioner"]
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, commissioners=shares((a, 5000), (b, 5000)))))
    assert proposal.status == "pending"
    assert {(p.organisation_id, p.role) for p in proposal.required} == {
        (a, "commissioner"), (b, "commissioner")}
    assert await committed(cid, b) == 40_000_000
    applied = await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert applied.status == "applied"
    assert (await committed(cid, a), await committed(cid, b)) == (50_000_000, 50_000_000)
    # Accepting again after it applied changes nothing.
    again = await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert again.status == "applied" and await version_of(w, cid) == 2


async def test_a_commissioner_added_by_a_variation_sees_and_accepts_it_first(db):
    w = await world()
    cid = await active_contract(w)
    a, b, c = w.ids["commissioner"], w.ids["co_commissioner"], w.ids["other_commissioner"]
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, commissioners=shares((a, 5000), (b, 4000), (c, 1000)))))
    assert {p.organisation_id for p in proposal.awaiting} == {c}  # B's share is unchanged
    assert (await consent.get_proposal(who(w, "other_commissioner"), cid, proposal.id)
            ).status == "pending"
    assert [p.id for p in await consent.list_proposals(who(w, "other_commissioner"), cid)] \
        == [proposal.id]
    with pytest.raises(NotFound):
        await consent.get_proposal(who(w, "other_provider"), cid, proposal.id)
    with pytest.raises(NotFound):
        await service.get_contract(who(w, "other_commissioner"), cid)
    with pytest.raises(Forbidden) as err:
        await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert err.value.code == "not_affected"
    applied = await commitments.accept(who(w, "other_commissioner"), cid, proposal.id)
    assert applied.status == "applied"
    assert await committed(cid, c) == 10_000_000


async def test_removing_the_auditor_waits_for_the_auditors_acknowledgement(db):
    w = await world()
    cid = await active_contract(w)
    proposal = await commitments.vary(who(w, "co_commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[])))
    assert [(p.organisation_id, p.role) for p in proposal.awaiting] == [
        (w.ids["auditor"], "auditor")]
    with pytest.raises(Forbidden) as err:
        await commitments.accept(who(w, "commissioner"), cid, proposal.id)
    assert err.value.code == "not_affected"
    assert (await service.get_contract(who(w, "auditor"), cid)).version == 1
    applied = await commitments.accept(who(w, "auditor"), cid, proposal.id)
    assert applied.status == "applied" and applied.contract.terms.auditor_ids == []
    with pytest.raises(NotFound):
        await service.get_contract(who(w, "auditor"), cid)
    # Adding an auditor needs nobody.
    added = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[str(w.ids["other_auditor"])])))
    assert added.status == "applied" and added.required == []


async def test_a_drafts_auditor_is_not_removed_without_acknowledgement_either(db):
    w = await world()
    cid = w.contracts["own"]
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[])))
    assert proposal.status == "pending" and await version_of(w, cid) == 1


async def test_an_admin_acknowledges_an_auditors_removal_but_never_accepts_for_a_commissioner(
        db):
    w = await world()
    cid = await active_contract(w)
    admin = who(w, "admin")
    both = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[], cap={"amount": 90_000_000, "currency": "DKK"})))
    assert {p.role for p in both.awaiting} == {"commissioner", "auditor"}
    after_admin = await commitments.accept(admin, cid, both.id)
    assert after_admin.status == "pending"
    assert [(p.organisation_id, p.role) for p in after_admin.awaiting] == [
        (w.ids["co_commissioner"], "commissioner")]
    ack = next(a for a in after_admin.acceptances if a.role == "admin")
    assert ack.organisation_id == w.ids["auditor"]
    assert ack.accepted_by_organisation_id == w.ids["admin"]
    assert ack.accepted_by == "test:admin"
    # The auditor's own acknowledgement is no longer needed.
    with pytest.raises(Forbidden):
        await commitments.accept(who(w, "provider"), cid, both.id)
    assert (await commitments.accept(who(w, "auditor"), cid, both.id)).status == "pending"
    applied = await commitments.accept(who(w, "co_commissioner"), cid, both.id)
    assert applied.status == "applied"

    shares_only = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, commissioners=shares((w.ids["commissioner"], 7000),
                                                    (w.ids["co_commissioner"], 3000)))))
    with pytest.raises(Forbidden) as err:
        await commitments.accept(admin, cid, shares_only.id)
    assert err.value.code == "admin_cannot_accept"


async def test_every_acceptance_is_recorded_with_who_and_when(db):
    w = await world()
    started = now()
    cid = await active_contract(w)
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": 80_000_000, "currency": "DKK"})))
    await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    got = await consent.list_acceptances(who(w, "auditor"), cid)
    assert [(a.organisation_id, a.role, a.version, a.proposal_id, a.accepted_by) for a in got] \
        == [(w.ids["co_commissioner"], "commissioner", 1, None, "test:commissioner"),
            (w.ids["commissioner"], "commissioner", 1, None, "test:commissioner"),
            (w.ids["commissioner"], "commissioner", None, proposal.id, "test:commissioner"),
            (w.ids["co_commissioner"], "commissioner", None, proposal.id, "test:commissioner")]
    assert all(started <= a.accepted_at <= now() for a in got)
    with pytest.raises(Exception, match="append-only"):
        await ContractAcceptance.update({ContractAcceptance.accepted_by: "someone else"},
                                        force=True)
    with pytest.raises(Exception, match="append-only"):
        await ContractAcceptance.delete(force=True)
    with pytest.raises(Exception, match=r"final|never edited"):
        await ContractProposal.update({ContractProposal.status: "pending"}, force=True)


# When a variation takes effect --------------------------------------------------------------


async def test_a_variation_cannot_take_effect_before_today(db):
    w = await world()
    cid = await active_contract(w)
    for day in (dt.date(1995, 1, 1), today() - dt.timedelta(days=1)):
        with pytest.raises(Invalid) as err:
            await commitments.vary(who(w, "commissioner"), cid, variation(
                await terms_of(w, cid, cap={"amount": 120_000_000, "currency": "DKK"}),
                effective_on=day))
        assert err.value.code == "effective_in_past"
    assert await ContractProposal.count() == 0 and await version_of(w, cid) == 1


async def test_a_backdated_variation_never_moves_a_reported_balance(db):
    w = await world()
    cid = await active_contract(w)
    days = [dt.date(1995, 1, 1), dt.date(2024, 6, 30), today() - dt.timedelta(days=1)]
    reported = [await contract_balance(cid, "DKK", d) for d in days]
    with pytest.raises(Invalid):
        await commitments.vary(who(w, "commissioner"), cid, variation(
            await terms_of(w, cid, cap={"amount": 300_000_000, "currency": "DKK"}),
            reason="secret top-up", effective_on=dt.date(1995, 1, 1)))
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": 120_000_000, "currency": "DKK"}),
        reason="top-up agreed with the fund"))
    await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert [await contract_balance(cid, "DKK", d) for d in days] == reported
    assert (await contract_balance(cid, "DKK", today())).committed == 120_000_000
    entry = await JournalEntry.select().where(
        (JournalEntry.contract == cid) & (JournalEntry.idempotency_key == f"commit:{cid}:v2")
    ).first()
    assert entry["effective_on"] == today()
    assert "top-up" not in entry["memo"] and entry["memo"].endswith("varied to v2")
    version = await ContractVersion.select().where(
        (ContractVersion.contract == cid) & (ContractVersion.version == 2)).first()
    assert version["effective_on"] == today()


async def claims_approved_one_by_one(w, cid: UUID, n: int) -> list[UUID]:
    """`n` accepted housing-entry claims on `cid`, sampled (none selected), not approved."""
    provider = who(w, "provider")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
                         for i in range(1, n + 1)])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(i, ClaimIn(client_ref=f"c{i}", pseudonym=f"P-{i}",
                                     metric_code="housing_entry",
                                     achieved_on=ENROLLED + dt.timedelta(days=30),
                                     evidence_ref="lease"), []) for i in range(1, n + 1)])
    await verification.draw_sample(who(w, "commissioner"), cid, "seed-0000")
    return [r.id for r in report.results]


async def pay(w, cid: UUID, claims: list[UUID], until: dt.date, key: str) -> None:
    boss = who(w, "commissioner")
    await verification.approve(boss, cid, claims, "")
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=until), key, key)
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)


async def test_a_variation_cannot_take_effect_within_a_paid_period(db):
    w = await world()
    cid = await active_contract(w, sampling_rate_bp=0)
    first, second = await claims_approved_one_by_one(w, cid, 2)
    paid_until = today() + dt.timedelta(days=30)
    await pay(w, cid, [first], paid_until, "run-1")
    bigger = await terms_of(w, cid, cap={"amount": 120_000_000, "currency": "DKK"})
    for day in (today(), paid_until):
        with pytest.raises(Invalid) as err:
            await commitments.vary(who(w, "commissioner"), cid, variation(bigger,
                                                                          effective_on=day))
        assert err.value.code == "effective_in_paid_period"
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        bigger, effective_on=paid_until + dt.timedelta(days=1)))
    assert proposal.status == "pending"

    # Another period is paid while the proposal waits: it cannot reach into that one either.
    await pay(w, cid, [second], paid_until + dt.timedelta(days=10), "run-2")
    with pytest.raises(Invalid) as err:
        await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert err.value.code == "effective_in_paid_period"
    assert await version_of(w, cid) == 1
    assert (await consent.get_proposal(who(w, "commissioner"), cid, proposal.id)
            ).awaiting != []


# Outdated and withdrawn proposals -----------------------------------------------------------


async def test_a_proposal_outdated_by_another_variation_is_refused(db):
    w = await world()
    cid = await active_contract(w)
    stale = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": 120_000_000, "currency": "DKK"})))
    newer = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[str(w.ids["auditor"]),
                                            str(w.ids["other_auditor"])])))
    assert newer.status == "applied" and newer.contract.version == 2
    assert (await consent.get_proposal(who(w, "commissioner"), cid, stale.id)
            ).status == "superseded"
    with pytest.raises(Conflict) as err:
        await commitments.accept(who(w, "co_commissioner"), cid, stale.id)
    assert err.value.code == "proposal_outdated"
    current = await service.get_contract(who(w, "commissioner"), cid)
    assert current.version == 2 and current.terms.cap.amount == 100_000_000


async def test_two_proposals_accepted_at_once_apply_one_and_outdate_the_other(db):
    w = await world()
    cid = await active_contract(w)
    caps = (110_000_000, 130_000_000)
    proposals = [await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": cap, "currency": "DKK"}))) for cap in caps]
    results = await asyncio.gather(
        *[commitments.accept(who(w, "co_commissioner"), cid, p.id) for p in proposals],
        return_exceptions=True)
    applied = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(applied) == 1 and applied[0].status == "applied", results
    assert [(type(r), r.code) for r in refused] == [(Conflict, "proposal_outdated")]
    current = await service.get_contract(who(w, "commissioner"), cid)
    assert current.version == 2 and current.terms.cap == applied[0].terms.cap
    assert (await contract_balance(cid, "DKK", today())).committed == current.terms.cap.amount


async def test_the_proposer_withdraws_and_nobody_can_accept_it_afterwards(db):
    w = await world()
    cid = await active_contract(w)
    proposal = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, cap={"amount": 120_000_000, "currency": "DKK"})))
    with pytest.raises(Forbidden) as err:
        await consent.withdraw(who(w, "co_commissioner"), cid, proposal.id)
    assert err.value.code == "proposer_only"
    out = await consent.withdraw(who(w, "commissioner"), cid, proposal.id)
    assert out.status == "withdrawn" and out.decided_by == "test:commissioner"
    with pytest.raises(Conflict) as err:
        await commitments.accept(who(w, "co_commissioner"), cid, proposal.id)
    assert err.value.code == "proposal_closed"
    assert await version_of(w, cid) == 1


async def test_activating_supersedes_what_was_proposed_under_the_drafts_rules(db):
    w = await world()
    cid = w.contracts["own"]
    pending = await commitments.vary(who(w, "commissioner"), cid, variation(
        await terms_of(w, cid, auditor_ids=[])))
    await consent.accept_version(who(w, "co_commissioner"), cid, 1)
    await commitments.activate(who(w, "commissioner"), cid, "signed")
    assert (await consent.get_proposal(who(w, "commissioner"), cid, pending.id)
            ).status == "superseded"
    with pytest.raises(Conflict) as err:
        await commitments.accept(who(w, "auditor"), cid, pending.id)
    assert err.value.code == "proposal_outdated"
