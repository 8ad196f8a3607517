"""Reading claims, participants and intake batches: plain queries, no domain model.

Lists page by id (UUIDv7, so in the order things were created) and, asked to, count what
matches in all. A row of a contract the caller may not see is not found, as the contract is
not (`contracts.service.row_of_contract`).

In a partnership a partner sees only its own participants, their claims and the batches it
sent (`contracts.service.provider_scope`); another partner's row is not found, and is
neither listed nor counted. The lead, commissioners, auditors and administrators see all.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec

from contracts import service as contracts
from contracts.errors import NotFound
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import CountedPage
from outcomes.schemas import (
    BatchDetail,
    BatchOut,
    BatchReport,
    BatchStatus,
    ClaimDetail,
    ClaimEventOut,
    ClaimOut,
    ParticipantOut,
    StoredBatchReport,
)
from outcomes.tables import Claim, ClaimEvent, IntakeBatch, Participant

_stored_report = msgspec.json.Decoder(StoredBatchReport)


def decode_report(text: str) -> BatchReport:
    """A stored validation report, read leniently."""
    return msgspec.convert(_stored_report.decode(text), BatchReport, from_attributes=True)


def participants_of(contract_row: dict, scope: UUID | None):
    """The condition on `Participant` for the participants of `contract_row` visible in
    `scope` (None: all). A participant without an organisation, enrolled before
    partnerships, is the lead's."""
    where = Participant.contract == contract_row["id"]
    if scope is None:
        return where
    if scope == contract_row["provider"]:
        return where & ((Participant.organisation == scope)
                        | Participant.organisation.is_null())
    return where & (Participant.organisation == scope)


def claims_of(contract_row: dict, scope: UUID | None):
    """The condition on `Claim` for the claims of `contract_row` whose participants are
    visible in `scope` (None: all)."""
    where = Claim.contract == contract_row["id"]
    if scope is None:
        return where
    owner = Claim.participant.organisation
    if scope == contract_row["provider"]:
        return where & ((owner == scope) | owner.is_null())
    return where & (owner == scope)


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
                      cursor: UUID | None = None, limit: int = 100, count: bool = False
                      ) -> CountedPage[ClaimOut]:
    contract, scope = await contracts.scope_of(principal, contract_id)
    where = claims_of(contract, scope)
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
    total = await Claim.count().where(where) if count else None
    if cursor:
        where &= Claim.id > cursor
    rows = await Claim.select(*CLAIM_COLUMNS).where(where).order_by(Claim.id).limit(limit + 1)
    return _page([claim_out(r) for r in rows], limit, total)


def _page(items: list, limit: int, total: int | None) -> CountedPage:
    """The first `limit` of `items` (fetched one beyond, to know whether more follow)."""
    more = len(items) > limit
    items = items[:limit]
    return CountedPage(items=items, next_cursor=str(items[-1].id) if more else None,
                       total=total)


async def get_claim(principal: Principal, claim_id: UUID) -> ClaimDetail:
    row = await contracts.row_of_contract(principal, Claim, claim_id, "claim_not_found",
                                          columns=CLAIM_COLUMNS,
                                          owner=Claim.participant.organisation)
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
                            cursor: UUID | None = None, limit: int = 100, count: bool = False
                            ) -> CountedPage[ParticipantOut]:
    contract, scope = await contracts.scope_of(principal, contract_id)
    where = participants_of(contract, scope)
    total = await Participant.count().where(where) if count else None
    if cursor:
        where &= Participant.id > cursor
    rows = await Participant.select().where(where).order_by(Participant.id).limit(limit + 1)
    items = [ParticipantOut(id=r["id"], pseudonym=r["pseudonym"], enrolled_on=r["enrolled_on"],
                            age_band=r["age_band"], area=r["area"], cohort=r["cohort"])
             for r in rows]
    return _page(items, limit, total)


# Intake batches ----------------------------------------------------------------------------

BATCH_COLUMNS = (IntakeBatch.id, IntakeBatch.contract, IntakeBatch.organisation,
                 IntakeBatch.kind, IntakeBatch.idempotency_key, IntakeBatch.received_at,
                 IntakeBatch.rows, IntakeBatch.accepted)


def batch_status(rows: int, accepted: int) -> BatchStatus:
    return "accepted" if accepted == rows else "rejected" if accepted == 0 else "partial"


def batch_out(r: dict) -> BatchOut:
    # A batch sent without an Idempotency-Key is recorded under its own id.
    key = r["idempotency_key"] if r["idempotency_key"] != str(r["id"]) else None
    return BatchOut(id=r["id"], contract_id=r["contract"], organisation_id=r["organisation"],
                    kind=r["kind"], status=batch_status(r["rows"], r["accepted"]),
                    idempotency_key=key, received_at=r["received_at"], rows=r["rows"],
                    accepted=r["accepted"], rejected=r["rows"] - r["accepted"])


async def list_batches(principal: Principal, contract_id: UUID, *,
                       status: BatchStatus | None = None, kind: str | None = None,
                       cursor: UUID | None = None, limit: int = 100, count: bool = False
                       ) -> CountedPage[BatchOut]:
    """The contract's intake batches, oldest first, for any of its parties (a partner: the
    batches it sent)."""
    _, scope = await contracts.scope_of(principal, contract_id)
    where = IntakeBatch.contract == contract_id
    if scope is not None:
        where &= IntakeBatch.organisation == scope
    if kind:
        where &= IntakeBatch.kind == kind
    if status == "accepted":
        where &= IntakeBatch.accepted == IntakeBatch.rows
    elif status == "rejected":
        where &= IntakeBatch.accepted == 0
    elif status == "partial":
        where &= (IntakeBatch.accepted > 0) & (IntakeBatch.accepted < IntakeBatch.rows)
    total = await IntakeBatch.count().where(where) if count else None
    if cursor:
        where &= IntakeBatch.id > cursor
    rows = await IntakeBatch.select(*BATCH_COLUMNS).where(where).order_by(
        IntakeBatch.id).limit(limit + 1)
    return _page([batch_out(r) for r in rows], limit, total)


async def get_batch_detail(principal: Principal, batch_id: UUID) -> BatchDetail:
    """One batch with the validation report it got, for any of its contract's parties."""
    row = await contracts.row_of_contract(principal, IntakeBatch, batch_id, "batch_not_found",
                                          columns=(*BATCH_COLUMNS, IntakeBatch.report),
                                          owner=IntakeBatch.organisation)
    out = batch_out(row)
    return BatchDetail(**msgspec.structs.asdict(out), report=decode_report(row["report"]))


async def get_batch(principal: Principal, contract_id: UUID, batch_id: UUID) -> BatchReport:
    _, scope = await contracts.scope_of(principal, contract_id)
    where = (IntakeBatch.id == batch_id) & (IntakeBatch.contract == contract_id)
    if scope is not None:
        where &= IntakeBatch.organisation == scope
    row = await IntakeBatch.select(IntakeBatch.report).where(where).first()
    if row is None:
        raise NotFound("no such batch", code="batch_not_found")
    return decode_report(row["report"])
