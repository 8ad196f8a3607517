"""Reading claims, participants and batch reports: plain queries, no domain model."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec

from contracts import service as contracts
from contracts.errors import NotFound
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import Page
from outcomes.schemas import BatchReport, ClaimDetail, ClaimEventOut, ClaimOut, ParticipantOut
from outcomes.tables import Claim, ClaimEvent, IntakeBatch, Participant

CLAIM_COLUMNS = (
    Claim.id, Claim.contract, Claim.client_ref, Claim.participant.pseudonym.as_alias("pseudonym"),
    Claim.line_code, Claim.metric_code, Claim.achieved_on, Claim.value, Claim.evidence_ref,
    Claim.amount, Claim.currency, Claim.status, Claim.submitted_at, Claim.batch, Claim.sample,
)


class ClaimFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str | None = None
    metric: str | None = None
    achieved_from: dt.date | None = None
    achieved_to: dt.date | None = None
    participant: str | None = None


async def list_claims(principal: Principal, contract_id: UUID, f: ClaimFilter,
                      cursor: UUID | None = None, limit: int = 100) -> Page[ClaimOut]:
    await contracts.relation(principal, contract_id)
    where = Claim.contract == contract_id
    if f.status:
        where &= Claim.status == f.status
    if f.metric:
        where &= Claim.metric_code == f.metric
    if f.achieved_from:
        where &= Claim.achieved_on >= f.achieved_from
    if f.achieved_to:
        where &= Claim.achieved_on <= f.achieved_to
    if f.participant:
        where &= Claim.participant.pseudonym == f.participant
    if cursor:
        where &= Claim.id > cursor
    rows = await Claim.select(*CLAIM_COLUMNS).where(where).order_by(Claim.id).limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=[claim_out(r) for r in rows],
                next_cursor=str(rows[-1]["id"]) if more else None)


async def get_claim(principal: Principal, claim_id: UUID) -> ClaimDetail:
    row = await Claim.select(*CLAIM_COLUMNS).where(Claim.id == claim_id).first()
    if row is None:
        raise NotFound("no such claim", code="claim_not_found")
    try:
        await contracts.relation(principal, row["contract"])
    except NotFound:
        raise NotFound("no such claim", code="claim_not_found") from None
    events = await ClaimEvent.select().where(ClaimEvent.claim == claim_id).order_by(
        ClaimEvent.recorded_at)
    history = [ClaimEventOut(from_status=None, to_status="accepted",
                             reason="met the contract's payment rules",
                             recorded_at=row["submitted_at"], recorded_by="intake")]
    history += [ClaimEventOut(from_status=e["from_status"], to_status=e["to_status"],
                              reason=e["reason"], recorded_at=e["recorded_at"],
                              recorded_by=e["recorded_by"]) for e in events]
    out = claim_out(row)
    return ClaimDetail(**msgspec.structs.asdict(out), history=history)


def claim_out(r: dict) -> ClaimOut:
    return ClaimOut(id=r["id"], contract_id=r["contract"], client_ref=r["client_ref"],
                    pseudonym=r["pseudonym"], line_code=r["line_code"],
                    metric_code=r["metric_code"], achieved_on=r["achieved_on"],
                    value=r["value"], evidence_ref=r["evidence_ref"],
                    amount=Money(amount=r["amount"], currency=r["currency"]),
                    status=r["status"], submitted_at=r["submitted_at"], batch_id=r["batch"],
                    sample_id=r["sample"])


async def list_participants(principal: Principal, contract_id: UUID,
                            cursor: UUID | None = None, limit: int = 100
                            ) -> Page[ParticipantOut]:
    await contracts.relation(principal, contract_id)
    where = Participant.contract == contract_id
    if cursor:
        where &= Participant.id > cursor
    rows = await Participant.select().where(where).order_by(Participant.id).limit(limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ParticipantOut(id=r["id"], pseudonym=r["pseudonym"], enrolled_on=r["enrolled_on"],
                            age_band=r["age_band"], area=r["area"], cohort=r["cohort"])
             for r in rows]
    return Page(items=items, next_cursor=str(rows[-1]["id"]) if more else None)


async def get_batch(principal: Principal, contract_id: UUID, batch_id: UUID) -> BatchReport:
    await contracts.relation(principal, contract_id)
    row = await IntakeBatch.select(IntakeBatch.report).where(
        (IntakeBatch.id == batch_id) & (IntakeBatch.contract == contract_id)).first()
    if row is None:
        raise NotFound("no such batch", code="batch_not_found")
    return msgspec.json.decode(row["report"], type=BatchReport)
