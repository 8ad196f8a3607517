"""The commissioner's side: verification samples, verify or dispute, approval.

A claim is approved once it has been through a verification draw: either it was not
selected, or it was selected and verified. Every status change is recorded with who, when
and why. Approval is where the ledger accrues the outcome.
"""

from __future__ import annotations

from uuid import UUID

from contracts import service as contracts
from contracts.errors import Conflict, NotFound, Problem
from contracts.identity import Principal
from contracts.money import Money
from core.clock import now
from core.database import any_of, bulk_insert, write_transaction
from core.ids import new_id
from ledger import entries
from ledger.balances import account_balances
from ledger.posting import post
from outcomes import sampling, usage
from outcomes.rules import COUNTED
from outcomes.schemas import ApprovalOut, SampleOut
from outcomes.tables import Claim, ClaimEvent, SampleDraw

DECISIONS = {
    # action: (allowed from, to)
    "verify": (("sampled", "disputed"), "verified"),
    "dispute": (("sampled",), "disputed"),
}
CHUNK = 1000


def _event(claim_id: UUID, from_status: str, to_status: str, reason: str,
           principal: Principal, at) -> dict:
    return dict(id=new_id(), claim=claim_id, from_status=from_status, to_status=to_status,
                reason=reason, recorded_at=at, recorded_by=principal.label)


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
        for i in range(0, len(chosen), CHUNK):
            await Claim.update({Claim.status: "sampled"}).where(
                Claim.id.is_in(chosen[i:i + CHUNK]))
        await bulk_insert(ClaimEvent, [
            _event(c, "accepted", "sampled", f"drawn for verification (seed {seed})",
                   principal, at) for c in chosen])
    return SampleOut(id=draw_id, contract_id=contract_id, seed=seed,
                     rate_bp=terms.sampling_rate_bp, population=len(population),
                     selected=len(chosen), drawn_at=at, drawn_by=principal.label,
                     selected_claim_ids=chosen)


async def list_samples(principal: Principal, contract_id: UUID) -> list[SampleOut]:
    await contracts.relation(principal, contract_id)
    rows = await SampleDraw.select().where(SampleDraw.contract == contract_id).order_by(
        SampleDraw.drawn_at)
    return [SampleOut(id=r["id"], contract_id=contract_id, seed=r["seed"],
                      rate_bp=r["rate_bp"], population=r["population"],
                      selected=r["selected"], drawn_at=r["drawn_at"], drawn_by=r["drawn_by"])
            for r in rows]


async def decide(principal: Principal, claim_id: UUID, action: str, reason: str) -> None:
    claim = await _claim_for_commissioner(principal, claim_id)
    allowed, target = DECISIONS[action]
    async with write_transaction():
        await contracts.locked(principal, claim["contract"], "commissioner")
        current = await Claim.select(Claim.status, Claim.line_code, Claim.amount).where(
            Claim.id == claim_id).first()
        if current["status"] not in allowed:
            raise Conflict(f"a {current['status']} claim cannot be {target}",
                           code="invalid_transition")
        await Claim.update({Claim.status: target}).where(Claim.id == claim_id)
        was, now_counted = current["status"] in COUNTED, target in COUNTED
        if was != now_counted:
            sign = 1 if now_counted else -1
            await usage.add(claim["contract"], {
                current["line_code"]: (sign, sign * current["amount"])})
        await ClaimEvent.insert(ClaimEvent(**_event(claim_id, current["status"], target,
                                                    reason, principal, now())))


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
            why = None
            if r is None:
                why = ("unknown_claim", "no such claim on this contract")
            elif r["status"] in ("approved", "paid"):
                continue
            elif r["status"] == "accepted" and r["sample"] is None:
                why = ("not_yet_sampled", "draw a verification sample first")
            elif r["status"] == "sampled":
                why = ("not_verified", "the claim was sampled and is not verified yet")
            elif r["status"] not in ("accepted", "verified"):
                why = ("not_approvable", f"a {r['status']} claim cannot be approved")
            if why:
                problems.append(Problem(code=why[0], field=f"claim_ids[{n}]",
                                        message=f"{cid}: {why[1]}"))
            else:
                fresh.append(r)
        if problems:
            raise Conflict("some claims cannot be approved; none were",
                           code="not_approvable", problems=problems)
        await _check_caps(contract_id, contract["currency"], terms, fresh)
        at = now()
        ids = [r["id"] for r in fresh]
        for i in range(0, len(ids), CHUNK):
            await Claim.update({Claim.status: "approved"}).where(any_of(Claim.id, ids[i:i + CHUNK]))
        await bulk_insert(ClaimEvent, [
            _event(r["id"], r["status"], "approved", reason or "approved for payment",
                   principal, at) for r in fresh])
        commissioners = [(c.organisation_id, c.share_bp) for c in terms.commissioners]
        await post([entries.accrual(contract_id, contract["currency"],
                                    entries.shares(r["amount"], commissioners), r["id"],
                                    at.date()) for r in fresh])
    total = sum(r["amount"] for r in fresh)
    return ApprovalOut(approved=wanted, accrued=Money(amount=total,
                                                      currency=contract["currency"]))


async def _check_caps(contract_id: UUID, currency: str, terms, fresh: list[dict]) -> None:
    """The contract, line and participant caps hold for what is approved, inside the lock:
    a variation may have lowered a cap since the claims were accepted."""
    if not fresh:
        return
    problems = []
    accrued = (await account_balances(contract=contract_id)).get(("accrued", currency), 0)
    adding = sum(r["amount"] for r in fresh)
    if accrued + adding > terms.cap.amount:
        problems.append(Problem(code="cap_reached", field="claim_ids",
                                message=f"approving {adding} would accrue "
                                        f"{accrued + adding}, over the cap {terms.cap.amount}"))
    lines = {line.code: line for line in terms.rate_card}
    done = await Claim.select(Claim.line_code, Claim.participant, Claim.amount).where(
        (Claim.contract == contract_id) & Claim.status.is_in(["approved", "paid"]))
    per_line: dict[str, list[int]] = {}
    per_participant: dict[UUID, int] = {}
    for r in [*done, *fresh]:
        per_line.setdefault(r["line_code"], []).append(r["amount"])
        per_participant[r["participant"]] = per_participant.get(r["participant"], 0) + r["amount"]
    for code, amounts in per_line.items():
        line = lines.get(code)
        if line is None:
            continue
        if (line.max_count is not None and len(amounts) > line.max_count) or (
                line.max_amount is not None and sum(amounts) > line.max_amount.amount):
            problems.append(Problem(code="line_cap_reached", field="claim_ids",
                                    message=f"line {code} would pass its maximum"))
    cap = terms.per_participant_cap
    if cap is not None:
        touched = {r["participant"] for r in fresh}
        if any(per_participant[p] > cap.amount for p in touched):
            problems.append(Problem(code="participant_cap_reached", field="claim_ids",
                                    message="a participant would pass the per-participant cap"))
    if problems:
        raise Conflict("approving these claims would break a cap; none were approved",
                       code="cap_reached", problems=problems)


async def _claim_for_commissioner(principal: Principal, claim_id: UUID) -> dict:
    claim = await Claim.select(Claim.id, Claim.contract).where(Claim.id == claim_id).first()
    if claim is None:
        raise NotFound("no such claim", code="claim_not_found")
    try:
        await contracts.require_commissioner(principal, claim["contract"])
    except NotFound:
        raise NotFound("no such claim", code="claim_not_found") from None
    return claim
