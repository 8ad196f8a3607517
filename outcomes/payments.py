"""Payment runs and clawbacks: the commissioner pays approved claims and takes back what
should not have been paid. Every krone moves through `ledger.posting.post`.

A payment run collects the contract's approved, unpaid claims whose outcomes were achieved
in its period, and goes draft → approved → paid; paying books one payment entry per claim
(idempotency key `pay:<claim>`, so no claim is ever paid twice). A clawback reverses a
claim's accrual with an entry that names it; if the claim was paid, the provider owes the
money back (receivable). Each is one door: under the contract's lock, it decides by
`outcomes.rules`, moves claims through `outcomes.lifecycle.move` and posts, in one
transaction.
"""

from __future__ import annotations

from uuid import UUID

from contracts import service as contracts
from contracts.errors import Conflict, Invalid
from contracts.identity import Principal
from contracts.money import Money
from core.clock import now
from core.database import bulk_insert, write_transaction
from core.ids import new_id
from ledger import checkpoints, entries
from ledger.balances import accrual_parts
from ledger.posting import post
from outcomes import lifecycle
from outcomes.rules import already_done, clawback_refusal
from outcomes.schemas import PaymentRunIn, PaymentRunOut
from outcomes.tables import Claim, PaymentRun, PaymentRunLine


def _out(r: dict) -> PaymentRunOut:
    return PaymentRunOut(
        id=r["id"], contract_id=r["contract"], status=r["status"],
        period_from=r["period_from"], period_to=r["period_to"], claims=r["claims"],
        total=Money(amount=r["total"], currency=r["currency"]), created_at=r["created_at"],
        created_by=r["created_by"], approved_at=r["approved_at"], approved_by=r["approved_by"],
        paid_at=r["paid_at"], paid_by=r["paid_by"])


async def create_run(principal: Principal, contract_id: UUID, data: PaymentRunIn,
                     idempotency_key: str | None, body_hash: str) -> tuple[PaymentRunOut, bool]:
    await contracts.require_commissioner(principal, contract_id)
    if data.period_to < data.period_from:
        raise Invalid("the period ends before it starts", code="period_inverted")
    async with write_transaction():
        contract = await contracts.locked(principal, contract_id, "commissioner")
        if idempotency_key:
            earlier = await PaymentRun.select().where(
                (PaymentRun.contract == contract_id)
                & (PaymentRun.idempotency_key == idempotency_key)).first()
            if earlier is not None:
                if earlier["body_hash"] != body_hash:
                    raise Conflict("this Idempotency-Key was used for a different request",
                                   code="idempotency_key_reused")
                return _out(earlier), True
        in_runs = PaymentRunLine.select(PaymentRunLine.claim)
        claims = await Claim.select(Claim.id, Claim.amount).where(
            (Claim.contract == contract_id) & (Claim.status == "approved")
            & (Claim.achieved_on >= data.period_from) & (Claim.achieved_on <= data.period_to)
            & Claim.id.not_in(in_runs)).order_by(Claim.id)
        if not claims:
            raise Conflict("no approved, unpaid claims in this period", code="nothing_to_pay")
        run_id, at = new_id(), now()
        row = dict(id=run_id, contract=contract_id, status="draft",
                   period_from=data.period_from, period_to=data.period_to,
                   claims=len(claims), total=sum(c["amount"] for c in claims),
                   currency=contract["currency"], created_at=at, created_by=principal.label,
                   approved_at=None, approved_by=None, paid_at=None, paid_by=None,
                   idempotency_key=idempotency_key, body_hash=body_hash)
        await PaymentRun.insert(PaymentRun(**row))
        await bulk_insert(PaymentRunLine, [dict(id=new_id(), run=run_id, claim=c["id"],
                                                amount=c["amount"]) for c in claims])
    return _out(row), False


async def get_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    return _out(await contracts.row_of_contract(principal, PaymentRun, run_id,
                                                "payment_run_not_found"))


async def list_runs(principal: Principal, contract_id: UUID) -> list[PaymentRunOut]:
    await contracts.relation(principal, contract_id)
    rows = await PaymentRun.select().where(PaymentRun.contract == contract_id).order_by(
        PaymentRun.created_at)
    return [_out(r) for r in rows]


async def run_claims(principal: Principal, run_id: UUID) -> list[UUID]:
    await get_run(principal, run_id)
    return [r["claim"] for r in await PaymentRunLine.select(PaymentRunLine.claim).where(
        PaymentRunLine.run == run_id).order_by(PaymentRunLine.claim)]


async def approve_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    run = await contracts.row_of_contract(principal, PaymentRun, run_id, "payment_run_not_found",
                                          role="commissioner")
    async with write_transaction():
        await contracts.locked(principal, run["contract"], "commissioner")
        updated = await PaymentRun.update({
            PaymentRun.status: "approved", PaymentRun.approved_at: now(),
            PaymentRun.approved_by: principal.label,
        }).where((PaymentRun.id == run_id) & (PaymentRun.status == "draft")).returning(
            PaymentRun.id)
        if not updated:
            current = await PaymentRun.select(PaymentRun.status).where(
                PaymentRun.id == run_id).first()
            if current["status"] != "approved":
                raise Conflict(f"a {current['status']} payment run cannot be approved",
                               code="invalid_transition")
    return await get_run(principal, run_id)


async def pay_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    """Book the payments. Paying a paid run again changes nothing."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id, "payment_run_not_found",
                                          role="commissioner")
    async with write_transaction():
        await contracts.locked(principal, run["contract"], "commissioner")
        current = await PaymentRun.select().where(PaymentRun.id == run_id).first()
        if current["status"] == "paid":
            return _out(current)
        if current["status"] != "approved":
            raise Conflict("approve the payment run before paying it", code="run_not_approved")
        at = now()
        on = at.date()
        claims = [r["claim"] for r in await PaymentRunLine.select(PaymentRunLine.claim).where(
            PaymentRunLine.run == run_id)]
        parts = await accrual_parts(claims)
        missing = [c for c in claims if c not in parts]
        if missing:
            raise Conflict(f"{len(missing)} claims in the run have no accrual",
                           code="not_accrued")
        await post([entries.payment(run["contract"], run["currency"], parts[c][1], c, run_id,
                                    on) for c in claims])
        # A claim in a run that is not paid is approved and stays so: a clawback waits for
        # the run (rules.clawback_refusal); `move` refuses any that is not.
        await lifecycle.move(run["contract"], [dict(id=c, status="approved") for c in claims],
                             "pay", f"paid in run {run_id}", principal, at)
        await PaymentRun.update({PaymentRun.status: "paid", PaymentRun.paid_at: at,
                                 PaymentRun.paid_by: principal.label}).where(
            PaymentRun.id == run_id)
    # What was paid is signed at once, so that nothing paid lies after the last checkpoint.
    await checkpoints.write_after_change()
    return await get_run(principal, run_id)


async def clawback(principal: Principal, claim_id: UUID, reason: str) -> None:
    """Claw back an approved or paid claim: a reversing entry that names its accrual, and a
    receivable when it was paid. Clawing back a reversed claim changes nothing."""
    claim = await contracts.row_of_contract(principal, Claim, claim_id, "claim_not_found",
                                            role="commissioner",
                                            columns=(Claim.id, Claim.contract))
    async with write_transaction():
        contract = await contracts.locked(principal, claim["contract"], "commissioner")
        row = await Claim.select(Claim.id, Claim.status, Claim.line_code, Claim.amount).where(
            Claim.id == claim_id).first()
        in_run = await PaymentRunLine.exists().where(PaymentRunLine.claim == claim_id)
        refused = clawback_refusal(row["status"], in_unpaid_run=in_run)
        if refused is not None:
            raise Conflict(refused[1], code=refused[0])
        if already_done("claw_back", row["status"]):
            return
        accrual_id, parts = (await accrual_parts([claim_id]))[claim_id]
        at = now()
        await post([entries.clawback(claim["contract"], contract["currency"], parts, claim_id,
                                     at.date(), paid=row["status"] == "paid",
                                     reverses=accrual_id, reason=reason)])
        await lifecycle.move(claim["contract"], [row], "claw_back", reason, principal, at)
