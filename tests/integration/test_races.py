"""Races between decisions about money and changes to the contract they are decided under.

Intake and approval must judge a batch or an approval by the contract's status, terms and
running totals as they are once the contract's lock is held, in the same transaction: a
suspension, a lowered cap or another approval that committed while they waited counts.

Each test repeats its race on fresh contracts, with several workers started at once. On
PostgreSQL every service call's transaction has its own connection, so the workers truly
race for the row lock; on SQLite they queue on the database's write lock, and anything read
before BEGIN IMMEDIATE is just as stale. A trial that breaks an invariant is recorded, and
the test fails naming how many of its trials did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from uuid import UUID

import msgspec
import pytest

from contracts import service as contracts
from contracts.errors import Conflict, Invalid
from contracts.money import Money
from contracts.schemas import ContractIn, VariationIn
from contracts.tables import ContractEvent
from ledger import commitments
from ledger.balances import account_balances
from outcomes import intake, verification
from outcomes.schemas import ClaimIn, ParticipantIn
from outcomes.tables import Claim, IntakeBatch
from tests.helpers import contract_body, intake_terms, principal, world

TRIALS = 12
ENROLLED = dt.date(2024, 2, 1)
JOB = 3_500_000  # the "job" line of intake_terms: 35,000 DKK
CAP = 10_000_000  # 100,000 DKK


def dkk(kroner: int) -> dict:
    return {"amount": kroner * 100, "currency": "DKK"}


def provider_sub(w, cid: UUID, kind: str, key: str | None = None) -> intake.Submission:
    return intake.Submission(principal=principal(w.ids["provider"], "provider"),
                             contract_id=cid, kind=kind, idempotency_key=key,
                             body_hash=key or kind)


def boss(w):
    return principal(w.ids["commissioner"], "commissioner")


async def single_commissioner_contract(w, cap_kroner: int) -> UUID:
    """An active contract with one commissioner (a variation applies at once) and no
    verification sampling (a drawn claim is approvable)."""
    own = [(w.ids["commissioner"], 10_000)]
    body = contract_body(w.ids["provider"], own)
    body["terms"] = intake_terms(own, cap=dkk(cap_kroner), sampling_rate_bp=0)
    contract = await contracts.create_contract(None, msgspec.convert(body, ContractIn))
    await commitments.activate(boss(w), contract.id, "signed")
    return contract.id


async def enrol(w, cid: UUID, n: int) -> None:
    rows = [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
            for i in range(1, n + 1)]
    report, _ = await intake.submit_participants(provider_sub(w, cid, "participants"), rows)
    assert report.accepted == n


def job_claims(participants: range, prefix: str = "job") -> list:
    return [(i, ClaimIn(client_ref=f"{prefix}-{p}", pseudonym=f"P-{p}",
                        metric_code="employment", achieved_on=ENROLLED + dt.timedelta(days=30),
                        evidence_ref=f"contract-{p}"), [])
            for i, p in enumerate(participants, start=1)]


async def approvable_claims(w, cid: UUID, n: int) -> list[UUID]:
    """`n` accepted job claims (35,000 DKK each), drawn, none selected: all approvable."""
    await enrol(w, cid, n)
    report, _ = await intake.submit_claims(provider_sub(w, cid, "claims", "all-claims"),
                                           job_claims(range(1, n + 1)))
    assert report.accepted == n, report
    draw = await verification.draw_sample(boss(w), cid, "race-seed")
    assert draw.selected == 0 and draw.population == n
    return [r.id for r in report.results]


async def cap_cut(w, cid: UUID, amount: int) -> VariationIn:
    """A variation of the contract's current terms that lowers its cap to `amount`."""
    current = await contracts.get_contract(boss(w), cid)
    terms = msgspec.structs.replace(current.terms,
                                    cap=Money(amount=amount, currency=current.currency))
    return VariationIn(reason="budget cut", terms=terms)


async def vary(w, cid: UUID, variation: VariationIn) -> None:
    """With one commissioner a variation applies at once. What `vary` returns is not
    relied on: the terms are read back with get_contract."""
    await commitments.vary(boss(w), cid, variation)


async def accrued(cid: UUID) -> int:
    return (await account_balances(contract=cid)).get(("accrued", "DKK"), 0)


async def current_cap(w, cid: UUID) -> int:
    return (await contracts.get_contract(boss(w), cid)).terms.cap.amount


async def race(trial: int, change, workers: list) -> tuple[object, list]:
    """Run `change` against `workers`; the outcomes (results or exceptions) of the change
    and of each worker. Most trials start the change first, while every worker is still
    reading: that is when a stale read before the lock does harm. Every third trial starts
    it once the first worker is done, with the others in flight, so that workers also win
    the lock before the change and the invariants are checked in that order too."""
    tasks = [asyncio.ensure_future(w) for w in workers]
    if trial % 3 == 2:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    (changed,) = await asyncio.gather(change, return_exceptions=True)
    return changed, await asyncio.gather(*tasks, return_exceptions=True)


def unexpected(outcome: object, allowed: type[Exception], code: str) -> str | None:
    """Why a worker's outcome is not one it may end with, or None."""
    if isinstance(outcome, allowed) and outcome.code == code:
        return None
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}({getattr(outcome, 'code', '')}): {outcome}"
    return None


def verdict(failures: list[str], what: str) -> None:
    assert not failures, (f"{len(failures)} of {TRIALS} trials {what}:\n"
                          + "\n".join(failures))


# 1. A lowered cap against approvals --------------------------------------------------------


async def test_approvals_racing_a_lowered_cap_never_accrue_past_the_current_cap(db):
    """350,000 DKK accepted under a cap of 500,000; the commissioner lowers the cap to
    100,000 while five approvals of 70,000 each run. Whoever wins, the journal never
    accrues more than the cap the contract has now."""
    w = await world()
    failures = []
    for trial in range(TRIALS):
        cid = await single_commissioner_contract(w, 500_000)
        ids = await approvable_claims(w, cid, 10)
        groups = [ids[i:i + 2] for i in range(0, len(ids), 2)]
        variation = await cap_cut(w, cid, CAP)
        varied, approvals = await race(trial, vary(w, cid, variation), [
            verification.approve(boss(w), cid, g, f"run {n}") for n, g in enumerate(groups)])
        problems = []
        if why := unexpected(varied, Invalid, "cap_below_accrued"):
            problems.append(f"variation: {why}")
        problems += [f"approval: {why}" for a in approvals
                     if (why := unexpected(a, Conflict, "cap_reached"))]
        total, cap = await accrued(cid), await current_cap(w, cid)
        approved = sum(a.accrued.amount for a in approvals
                       if not isinstance(a, BaseException))
        if total > cap:
            problems.append(f"accrued {total} over the cap {cap}")
        if approved != total:
            problems.append(f"approvals report {approved}, the journal accrued {total}")
        if cap != (dkk(500_000)["amount"] if isinstance(varied, BaseException) else CAP):
            problems.append(f"the cap is {cap} after the variation ended with {varied!r}")
        if problems:
            failures.append(f"trial {trial}: " + "; ".join(problems))
    verdict(failures, "broke the cap")


# 2. Approvals against a cap lowered beforehand ---------------------------------------------


async def test_simultaneous_approvals_stay_within_a_cap_lowered_after_intake(db):
    """Claims accepted while the cap was 500,000 DKK; the cap is then lowered to 100,000
    and seven approvals of one 35,000 DKK claim each run at once: exactly two fit."""
    w = await world()
    failures = []
    for trial in range(TRIALS):
        cid = await single_commissioner_contract(w, 500_000)
        ids = await approvable_claims(w, cid, 7)
        await vary(w, cid, await cap_cut(w, cid, CAP))
        assert await current_cap(w, cid) == CAP
        approvals = await asyncio.gather(
            *[verification.approve(boss(w), cid, [i], f"run {n}") for n, i in enumerate(ids)],
            return_exceptions=True)
        problems = [f"approval: {why}" for a in approvals
                    if (why := unexpected(a, Conflict, "cap_reached"))]
        done = [a for a in approvals if not isinstance(a, BaseException)]
        total = await accrued(cid)
        approved_rows = await Claim.count().where(
            (Claim.contract == cid) & (Claim.status == "approved"))
        if total > CAP:
            problems.append(f"accrued {total} over the cap {CAP}")
        if sum(a.accrued.amount for a in done) != total:
            problems.append(f"approvals report {sum(a.accrued.amount for a in done)}, "
                            f"the journal accrued {total}")
        if len(done) != CAP // JOB or approved_rows != len(done):
            problems.append(f"{len(done)} approvals succeeded and {approved_rows} claims are "
                            f"approved; exactly {CAP // JOB} fit under the cap")
        if problems:
            failures.append(f"trial {trial}: " + "; ".join(problems))
    verdict(failures, "broke the cap")


# 3. Suspension against intake --------------------------------------------------------------


async def test_no_claim_is_accepted_in_a_batch_recorded_after_a_suspension(db):
    """The commissioner suspends the contract while six claim batches arrive. A batch that
    got in before the suspension is accepted; every other one is refused with
    contract_not_active, and one sent after the suspension is always refused."""
    w = await world()
    batches, per_batch = 6, 3
    failures = []
    for trial in range(TRIALS):
        cid = await single_commissioner_contract(w, 5_000_000)
        await enrol(w, cid, batches * per_batch)
        submissions = [
            intake.submit_claims(provider_sub(w, cid, "claims", f"batch-{b}"),
                                 job_claims(range(b * per_batch + 1, (b + 1) * per_batch + 1)))
            for b in range(batches)]
        suspension, reports = await race(
            trial, contracts.transition(boss(w), cid, "suspend", "fraud suspected"),
            submissions)
        if isinstance(suspension, BaseException):
            raise suspension
        problems = [f"batch: {why}" for r in reports
                    if (why := unexpected(r, Conflict, "contract_not_active"))]
        event = await ContractEvent.select(ContractEvent.recorded_at).where(
            (ContractEvent.contract == cid) & (ContractEvent.to_status == "suspended")).first()
        suspended_at = event["recorded_at"]
        recorded = await IntakeBatch.select(IntakeBatch.received_at).where(
            (IntakeBatch.contract == cid) & (IntakeBatch.kind == "claims")
            & (IntakeBatch.accepted > 0))
        late = [r["received_at"] for r in recorded if r["received_at"] >= suspended_at]
        if late:
            problems.append(f"{len(late)} batches accepted claims after the suspension at "
                            f"{suspended_at:%H:%M:%S.%f}, the first at {min(late):%H:%M:%S.%f}")
        late_claims = await Claim.count().where(
            (Claim.contract == cid) & (Claim.submitted_at >= suspended_at))
        if late_claims:
            problems.append(f"{late_claims} claims submitted after the suspension")
        accepted = [r for r, _ in (x for x in reports if not isinstance(x, BaseException))]
        if len(accepted) != len(recorded) or any(r.accepted != per_batch for r in accepted):
            problems.append(f"{len(accepted)} batches answered accepted, {len(recorded)} "
                            "recorded with accepted claims")
        with pytest.raises(Conflict) as after:
            await intake.submit_claims(provider_sub(w, cid, "claims", "after"),
                                       job_claims(range(1, 2), prefix="after"))
        assert after.value.code == "contract_not_active"
        if problems:
            failures.append(f"trial {trial}: " + "; ".join(problems))
    verdict(failures, "accepted claims on a suspended contract")
