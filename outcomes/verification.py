"""The commissioner's side: verification samples, verify or dispute, approval.

A claim is approved once it has been through a verification draw: either it was not
selected, or it was selected and verified. Each of these is one door: it takes the
contract's lock, decides by `outcomes.rules`, moves the claims through
`outcomes.lifecycle.move` (status, event, usage) and, on approval, accrues in the journal,
all in one transaction.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from piccolo.query.functions.aggregate import Count, Sum

from contracts import service as contracts
from contracts.errors import Conflict, Problem
from contracts.identity import Principal
from contracts.money import Money
from core.clock import now
from core.database import any_of, write_transaction
from core.ids import new_id
from ledger import entries
from ledger.balances import account_balances
from ledger.posting import post
from outcomes import lifecycle, sampling
from outcomes.queries import claims_of
from outcomes.rules import (
    LIST_CAP_FIELDS,
    Adding,
    Totals,
    already_done,
    approval_refusal,
    cap_problems,
)
from outcomes.schemas import ApprovalOut, SampleOut
from outcomes.tables import Claim, ClaimEvent, SampleDraw

CHUNK = 1000


async def draw_sample(principal: Principal, contract_id: UUID, seed: str | None) -> SampleOut:
    await contracts.require_commissioner(principal, contract_id)
    seed = seed or sampling.new_seed()
    async with write_transaction():
        contract = await contracts.locked(principal, contract_id, "commissioner")
        terms = await contracts.current_terms(contract_id, contract["version"])
        population = [r["id"] for r in await Claim.select(Claim.id).where(
            (Claim.contract == contract_id) & (Claim.status == "accepted")
            & Claim.sample.is_null()).order_by(Claim.id)]
        if not population:
            raise Conflict("no accepted claims are waiting for a draw", code="nothing_to_sample")
        chosen = sampling.select(seed, population, terms.sampling_rate_bp)
        draw_id, at = new_id(), now()
        await SampleDraw.insert(SampleDraw(
            id=draw_id, contract=contract_id, seed=seed, rate_bp=terms.sampling_rate_bp,
            population=len(population), selected=len(chosen), drawn_at=at,
            drawn_by=principal.label))
        for i in range(0, len(population), CHUNK):
            await Claim.update({Claim.sample: draw_id}).where(
                Claim.id.is_in(population[i:i + CHUNK]))
        await lifecycle.move(contract_id, [dict(id=c, status="accepted") for c in chosen],
                             "sample", f"drawn for verification (seed {seed})", principal, at)
    return SampleOut(id=draw_id, contract_id=contract_id, seed=seed,
                     rate_bp=terms.sampling_rate_bp, population=len(population),
                     selected=len(chosen), drawn_at=at, drawn_by=principal.label,
                     selected_claim_ids=chosen)


async def list_samples(principal: Principal, contract_id: UUID) -> list[SampleOut]:
    """The contract's verification draws, oldest first, for any of its parties. A partner
    of a partnership (`contracts.service.provider_scope`) gets each draw's population and
    selection counted over the claims of its own participants, as the claim lists count
    them: another partner's claims are neither listed nor counted. No claim ids are
    listed (the draw's answer names them once, to the commissioner who drew it)."""
    contract, scope = await contracts.scope_of(principal, contract_id)
    rows = await SampleDraw.select().where(SampleDraw.contract == contract_id).order_by(
        SampleDraw.drawn_at)
    counts = {r["id"]: (r["population"], r["selected"]) for r in rows}
    if scope is not None:
        counts = await _own_counts(contract, scope)
    return [SampleOut(id=r["id"], contract_id=contract_id, seed=r["seed"],
                      rate_bp=r["rate_bp"], population=counts.get(r["id"], (0, 0))[0],
                      selected=counts.get(r["id"], (0, 0))[1], drawn_at=r["drawn_at"],
                      drawn_by=r["drawn_by"])
            for r in rows]


async def _own_counts(contract: dict, scope: UUID) -> dict[UUID, tuple[int, int]]:
    """Per draw: how many of the claims visible in `scope` were in its population (a
    draw marks each claim of its population) and how many of those it selected (each
    selected claim has a `sampled` event)."""
    own = await Claim.select(Claim.id, Claim.sample).where(
        claims_of(contract, scope) & Claim.sample.is_not_null())
    selected = {r["claim"] for r in await ClaimEvent.select(ClaimEvent.claim).where(
        (ClaimEvent.claim.contract == contract["id"]) & (ClaimEvent.to_status == "sampled"))}
    counts: dict[UUID, list[int]] = {}
    for r in own:
        n = counts.setdefault(r["sample"], [0, 0])
        n[0] += 1
        n[1] += r["id"] in selected
    return {draw: (a, b) for draw, (a, b) in counts.items()}


async def decide(principal: Principal, claim_id: UUID,
                 action: Literal["verify", "dispute"], reason: str) -> None:
    """Verify or dispute a sampled claim (a disputed one may still be verified)."""
    claim = await contracts.row_of_contract(principal, Claim, claim_id, "claim_not_found",
                                            role="commissioner")
    async with write_transaction():
        await contracts.locked(principal, claim["contract"], "commissioner")
        current = await Claim.select(Claim.id, Claim.status, Claim.line_code,
                                     Claim.amount).where(Claim.id == claim_id).first()
        await lifecycle.move(claim["contract"], [current], action, reason, principal, now())


async def approve(principal: Principal, contract_id: UUID, claim_ids: list[UUID],
                  reason: str) -> ApprovalOut:
    """Approve claims and accrue them in the journal, all or none. Approving a claim that is
    already approved or paid changes nothing (it is accrued once, whoever asks how often)."""
    await contracts.require_commissioner(principal, contract_id)
    wanted = list(dict.fromkeys(claim_ids))
    async with write_transaction():
        # Terms, caps and totals as they are under the lock: a variation that lowered the
        # cap, or an approval that committed while this one waited, counts.
        contract = await contracts.locked(principal, contract_id, "commissioner")
        terms = await contracts.current_terms(contract_id, contract["version"])
        rows = {}
        for i in range(0, len(wanted), CHUNK):
            for r in await Claim.select(Claim.id, Claim.status, Claim.sample, Claim.amount,
                                        Claim.line_code, Claim.participant).where(
                    (Claim.contract == contract_id) & any_of(Claim.id, wanted[i:i + CHUNK])):
                rows[r["id"]] = r
        problems, fresh = [], []
        for n, cid in enumerate(wanted):
            r = rows.get(cid)
            refused = approval_refusal(r and r["status"], r is not None
                                       and r["sample"] is not None)
            if refused:
                problems.append(Problem(code=refused[0], field=f"claim_ids[{n}]",
                                        message=f"{cid}: {refused[1]}"))
            elif not already_done("approve", r["status"]):
                fresh.append(r)
        if problems:
            raise Conflict("some claims cannot be approved; none were",
                           code="not_approvable", problems=problems)
        total = await accrue(principal, contract, terms, fresh,
                             reason or "approved for payment")
    return ApprovalOut(approved=wanted, accrued=Money(amount=total,
                                                      currency=contract["currency"]))


async def accrue(principal: Principal, contract: dict, terms, fresh: list[dict],
                 reason: str) -> int:
    """Approve `fresh` (claims not yet approved, each with id, status, line_code,
    participant and amount, read under the contract's lock) and accrue each in the journal,
    once the caps hold for what is accrued; returns the amount accrued. Inside the
    caller's write_transaction(), under the contract's `locked` row. The step of two
    doors: `approve`, and `outcomes.cohorts.evaluate` for the claims a cohort earns."""
    await _check_caps(contract["id"], contract["currency"], terms, fresh)
    at = now()
    await lifecycle.move(contract["id"], fresh, "approve", reason, principal, at)
    commissioners = [(c.organisation_id, c.share_bp) for c in terms.commissioners]
    await post([entries.accrual(contract["id"], contract["currency"],
                                entries.shares(r["amount"], commissioners), r["id"],
                                at.date()) for r in fresh])
    return sum(r["amount"] for r in fresh)


async def _check_caps(contract_id: UUID, currency: str, terms, fresh: list[dict]) -> None:
    """The contract, line and participant caps hold for what is accrued, inside the lock:
    a variation may have lowered a cap since the claims were accepted."""
    if not fresh:
        return
    totals = Totals(contract_amount=(await account_balances(contract=contract_id)).get(
        ("accrued", currency), 0))
    # Sums made by the database: an approval reads a row per line and per participant it
    # touches, not every claim the contract has approved so far.
    counted = (Claim.contract == contract_id) & Claim.status.is_in(["approved", "paid"])
    by_line = Claim.select(Claim.line_code, Count(Claim.id, alias="n"),
                           Sum(Claim.amount, alias="total")).where(counted)
    for r in await by_line.group_by(Claim.line_code):
        totals.line_count[r["line_code"]] = r["n"]
        totals.line_amount[r["line_code"]] = int(r["total"] or 0)
    touched = list({r["participant"] for r in fresh})
    participants: dict[UUID, int] = {}
    for i in range(0, len(touched), CHUNK):
        for r in await Claim.select(Claim.participant, Sum(Claim.amount, alias="total")).where(
                counted & any_of(Claim.participant, touched[i:i + CHUNK])
        ).group_by(Claim.participant):
            participants[r["participant"]] = int(r["total"] or 0)
    problems = cap_problems(terms, totals, participants,
                            [Adding(r["line_code"], r["participant"], r["amount"])
                             for r in fresh],
                            subject="approving these claims", fields=LIST_CAP_FIELDS)
    if problems:
        raise Conflict("approving these claims would break a cap; none were approved",
                       code="cap_reached", problems=problems)
