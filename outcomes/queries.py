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
from typing import NamedTuple
from uuid import UUID

import msgspec
from piccolo.query import WhereRaw
from piccolo.query.functions.aggregate import Sum

from contracts import service as contracts
from contracts.errors import Forbidden, NotFound
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import CountedPage
from contracts.tables import Contract, ContractParty, ContractVersion
from core.database import any_of, fetch_records, is_sqlite
from ledger.tables import Posting
from outcomes.rules import COUNTED, PastClaim
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
from outcomes.tables import Claim, ClaimEvent, IntakeBatch, Participant, PaymentRun

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


# What intake looks up for a batch of claims ---------------------------------------------------


class EarlierClaim(NamedTuple):
    """A claim already made under a `client_ref`, as far as a resubmission is compared."""

    id: UUID
    participant: UUID
    metric_code: str
    achieved_on: dt.date
    value: str | None
    evidence_ref: str
    line_code: str
    amount: int


class ClaimLookups(NamedTuple):
    """What a batch of claims is judged against: the enrolled participants it names (by
    pseudonym: id and enrolment date), the claims already made under its refs, and each of
    those participants' counted claims."""

    participants: dict[str, tuple[UUID, dt.date]]
    by_ref: dict[str, EarlierClaim]
    history: dict[UUID, list[PastClaim]]


# One query on PostgreSQL. The pseudonyms and refs travel as JSON arrays (encoding a text
# array costs asyncpg a type check per element). Each one is looked up on its own in the
# unique index that holds it (a LATERAL subquery with LIMIT 1 is never flattened into a
# join): the plan stays the same whatever the statistics say, and a plan cached while the
# claim table was small cannot turn into a scan of the contract's claims. The history is
# read by the participant index alone (a participant's claims are all on its contract); its
# status is checked here, so that no index on contract and status tempts the planner.
_LOOKUPS = """
WITH wanted AS MATERIALIZED (
    SELECT p.id, p.pseudonym, p.enrolled_on
    FROM json_array_elements_text($2::json) AS w(pseudonym)
    CROSS JOIN LATERAL (
        SELECT id, pseudonym, enrolled_on FROM participant
        WHERE contract = $1 AND pseudonym = w.pseudonym
          AND (organisation = $4 OR ($5 AND organisation IS NULL))
        LIMIT 1) AS p
)
SELECT 'p' AS kind, id, pseudonym AS key, NULL::uuid AS participant, NULL AS metric_code,
       enrolled_on AS achieved_on, NULL AS value, NULL AS evidence_ref, NULL AS line_code,
       NULL::bigint AS amount
FROM wanted
UNION ALL
SELECT 'r', c.id, c.client_ref, c.participant, c.metric_code, c.achieved_on, c.value,
       c.evidence_ref, c.line_code, c.amount
FROM json_array_elements_text($3::json) AS r(client_ref)
CROSS JOIN LATERAL (
    SELECT id, client_ref, participant, metric_code, achieved_on, value, evidence_ref,
           line_code, amount
    FROM claim WHERE contract = $1 AND client_ref = r.client_ref LIMIT 1) AS c
UNION ALL
SELECT 'h', NULL, c.status, c.participant, c.metric_code, c.achieved_on, NULL, NULL,
       c.line_code, c.amount
FROM claim c WHERE c.participant = ANY (ARRAY(SELECT id FROM wanted))
"""


def _json_list(values: list[str]) -> str:
    return msgspec.json.encode(values).decode()


async def claim_lookups(contract_id: UUID, pseudonyms: list[str], refs: list[str],
                        owner: UUID, *, with_unowned: bool) -> ClaimLookups:
    """The participants of the contract enrolled by `owner` under `pseudonyms` (with
    `with_unowned`, those enrolled before partnerships too, which are the lead's), the
    claims made under `refs`, and those participants' counted claims: in one query on
    PostgreSQL, in three on SQLite, with the same answer."""
    participants: dict[str, tuple[UUID, dt.date]] = {}
    by_ref: dict[str, EarlierClaim] = {}
    history: dict[UUID, list[PastClaim]] = {}
    if not is_sqlite(Claim._meta.db):
        counted = frozenset(COUNTED)
        for (kind, id_, key, participant, metric_code, achieved_on, value, evidence_ref,
             line_code, amount) in await fetch_records(_LOOKUPS, contract_id,
                                                       _json_list(pseudonyms),
                                                       _json_list(refs), owner,
                                                       with_unowned):
            if kind == "p":
                participants[key] = (id_, achieved_on)
            elif kind == "r":
                by_ref[key] = EarlierClaim(id_, participant, metric_code, achieved_on, value,
                                           evidence_ref, line_code, amount)
            elif key in counted:
                history.setdefault(participant, []).append(
                    PastClaim(line_code, metric_code, achieved_on, amount))
        return ClaimLookups(participants, by_ref, history)

    mine = Participant.organisation == owner
    if with_unowned:
        mine |= Participant.organisation.is_null()
    if pseudonyms:
        for r in await Participant.select(
                Participant.id, Participant.pseudonym, Participant.enrolled_on).where(
                (Participant.contract == contract_id)
                & any_of(Participant.pseudonym, pseudonyms) & mine):
            participants[r["pseudonym"]] = (r["id"], r["enrolled_on"])
    if refs:
        for r in await Claim.select(
                Claim.id, Claim.client_ref, Claim.participant, Claim.metric_code,
                Claim.achieved_on, Claim.value, Claim.evidence_ref, Claim.line_code,
                Claim.amount).where((Claim.contract == contract_id)
                                    & any_of(Claim.client_ref, refs)):
            by_ref[r["client_ref"]] = EarlierClaim(
                r["id"], r["participant"], r["metric_code"], r["achieved_on"], r["value"],
                r["evidence_ref"], r["line_code"], r["amount"])
    if participants:
        for r in await Claim.select(Claim.participant, Claim.line_code, Claim.metric_code,
                                    Claim.achieved_on, Claim.amount).where(
                (Claim.contract == contract_id)
                & any_of(Claim.participant, [p for p, _ in participants.values()])
                & Claim.status.is_in(list(COUNTED))):
            history.setdefault(r["participant"], []).append(
                PastClaim(r["line_code"], r["metric_code"], r["achieved_on"], r["amount"]))
    return ClaimLookups(participants, by_ref, history)


# Participants with their outcomes (the web UI's participants page) ---------------------------


class ParticipantOutcomes(ParticipantOut, kw_only=True):
    """A participant with how its claims stand: how many, by status and by metric."""

    claims: int = 0
    statuses: dict[str, int] = {}
    metrics: dict[str, int] = {}


async def list_participant_outcomes(principal: Principal, contract_id: UUID, *,
                                    pseudonym: str | None = None, cursor: UUID | None = None,
                                    limit: int = 50, count: bool = False
                                    ) -> CountedPage[ParticipantOutcomes]:
    """`list_participants` with each participant's claims counted by status and metric;
    given `pseudonym`, that participant alone. Scoped as every list here."""
    from piccolo.query.functions.aggregate import Count

    contract, scope = await contracts.scope_of(principal, contract_id)
    where = participants_of(contract, scope)
    if pseudonym:
        where &= Participant.pseudonym == pseudonym
    total = await Participant.count().where(where) if count else None
    if cursor:
        where &= Participant.id > cursor
    rows = await Participant.select().where(where).order_by(Participant.id).limit(limit + 1)
    ids = [r["id"] for r in rows[:limit]]
    tallies: dict[UUID, dict[str, dict[str, int]]] = {}
    if ids:
        for c in await Claim.select(Claim.participant, Claim.status, Claim.metric_code,
                                    Count(alias="n")).where(
                Claim.participant.is_in(ids)).group_by(
                Claim.participant, Claim.status, Claim.metric_code):
            t = tallies.setdefault(c["participant"], {"statuses": {}, "metrics": {}})
            n = int(c["n"])
            t["statuses"][c["status"]] = t["statuses"].get(c["status"], 0) + n
            t["metrics"][c["metric_code"]] = t["metrics"].get(c["metric_code"], 0) + n
    items = []
    for r in rows:
        t = tallies.get(r["id"], {"statuses": {}, "metrics": {}})
        items.append(ParticipantOutcomes(
            id=r["id"], pseudonym=r["pseudonym"], enrolled_on=r["enrolled_on"],
            age_band=r["age_band"], area=r["area"], cohort=r["cohort"],
            claims=sum(t["statuses"].values()), statuses=t["statuses"],
            metrics=t["metrics"]))
    return _page(items, limit, total)


# The commissioner's work queue -------------------------------------------------------------
# What needs a commissioner now, across the contracts it commissions (an administrator's:
# every contract): sampled claims to verify, claims ready to approve (verified, or passed
# over by a draw), draft payment runs, recent batches with many rejections, and contracts
# near their cap or their claims deadline.

NEAR_CAP_BP = 9_000
NEAR_DEADLINE_DAYS = 30
RECENT_BATCH_DAYS = 30
# A batch needs a look when more than one row in REJECTED_ONE_IN was rejected (20 %).
REJECTED_ONE_IN = 5
QUEUE_TABS = ("verify", "approve", "runs", "batches", "contracts")


class QueueContract(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    reference: str
    title: str
    status: str
    currency: str
    version: int


class WorkQueue(msgspec.Struct, frozen=True, kw_only=True):
    """The contracts whose work is the caller's; `everything` for an administrator."""

    contracts: dict[UUID, QueueContract]
    everything: bool

    def where(self, column):
        """The condition on `column` (a contract id column) for these contracts; None for
        every contract."""
        return None if self.everything else column.is_in(list(self.contracts))

    @property
    def empty(self) -> bool:
        return not self.everything and not self.contracts


class ContractAttention(msgspec.Struct, frozen=True, kw_only=True):
    """A contract near its cap (accrued ≥ 90 % of it) or its claims deadline (30 days)."""

    contract: QueueContract
    cap: Money
    accrued: Money
    accrued_share: float
    claims_deadline: dt.date
    days_left: int
    near_cap: bool
    near_deadline: bool


async def work_queue(principal: Principal) -> WorkQueue:
    """The caller's work queue: a commissioner's contracts, an administrator's all. Anyone
    else has none (403)."""
    if not principal.is_admin and principal.role != "commissioner":
        raise Forbidden("the work queue is for commissioners", code="commissioner_only")
    query = Contract.select(Contract.id, Contract.reference, Contract.title, Contract.status,
                            Contract.currency, Contract.version).order_by(Contract.id)
    if not principal.is_admin:
        query = query.where(Contract.id.is_in(ContractParty.select(ContractParty.contract).where(
            (ContractParty.organisation == principal.organisation_id)
            & (ContractParty.role == "commissioner"))))
    return WorkQueue(contracts={r["id"]: QueueContract(**r) for r in await query},
                     everything=principal.is_admin)


def _scoped(queue: WorkQueue, column, where):
    scope = queue.where(column)
    return where if scope is None else scope & where


def _waiting(tab: str):
    if tab == "verify":
        return Claim.status == "sampled"
    # Ready to approve: verified, or through a draw that did not select it.
    return (Claim.status == "verified") | ((Claim.status == "accepted")
                                           & Claim.sample.is_not_null())


def _troubled_batches(queue: WorkQueue, today: dt.date):
    since = dt.datetime.combine(today - dt.timedelta(days=RECENT_BATCH_DAYS), dt.time(),
                                tzinfo=dt.UTC)
    return _scoped(queue, IntakeBatch.contract, (IntakeBatch.received_at >= since) & WhereRaw(
        f"(intake_batch.rows - intake_batch.accepted) * {REJECTED_ONE_IN} > intake_batch.rows"))


async def queue_counts(queue: WorkQueue, today: dt.date) -> dict[str, int]:
    """How many items each tab of the queue has."""
    if queue.empty:
        return dict.fromkeys(QUEUE_TABS, 0)
    counts = {tab: await Claim.count().where(_scoped(queue, Claim.contract, _waiting(tab)))
              for tab in ("verify", "approve")}
    counts["runs"] = await PaymentRun.count().where(
        _scoped(queue, PaymentRun.contract, PaymentRun.status == "draft"))
    counts["batches"] = await IntakeBatch.count().where(_troubled_batches(queue, today))
    counts["contracts"] = len(await contracts_needing_attention(queue, today))
    return counts


async def queue_claims(queue: WorkQueue, tab: str, cursor: UUID | None = None,
                       limit: int = 50) -> CountedPage[ClaimOut]:
    """The claims waiting in the tab `tab` ("verify" or "approve"), oldest first."""
    if queue.empty:
        return CountedPage(items=[], total=0)
    where = _scoped(queue, Claim.contract, _waiting(tab))
    if cursor:
        where &= Claim.id > cursor
    rows = await Claim.select(*CLAIM_COLUMNS).where(where).order_by(Claim.id).limit(limit + 1)
    return _page([claim_out(r) for r in rows], limit, None)


async def queue_batches(queue: WorkQueue, today: dt.date, cursor: UUID | None = None,
                        limit: int = 50) -> CountedPage[BatchOut]:
    """Batches of the last 30 days with more than a fifth of their rows rejected, newest
    first."""
    if queue.empty:
        return CountedPage(items=[], total=0)
    where = _troubled_batches(queue, today)
    if cursor:
        where &= IntakeBatch.id < cursor
    rows = await IntakeBatch.select(*BATCH_COLUMNS).where(where).order_by(
        IntakeBatch.id, ascending=False).limit(limit + 1)
    return _page([batch_out(r) for r in rows], limit, None)


async def contracts_needing_attention(queue: WorkQueue, today: dt.date
                                      ) -> list[ContractAttention]:
    """The active or suspended contracts that have accrued 90 % of their cap or more, or
    whose claims deadline is within 30 days (and not past), by id."""
    live = {cid: c for cid, c in queue.contracts.items() if c.status in ("active", "suspended")}
    if queue.everything:
        live = {r["id"]: QueueContract(**r) for r in await Contract.select(
            Contract.id, Contract.reference, Contract.title, Contract.status,
            Contract.currency, Contract.version).where(
            Contract.status.is_in(["active", "suspended"])).order_by(Contract.id)}
    if not live:
        return []
    ids = list(live)
    terms = {r["contract"]: r["terms"] for r in await ContractVersion.select(
        ContractVersion.contract, ContractVersion.version, ContractVersion.terms).where(
        ContractVersion.contract.is_in(ids)) if r["version"] == live[r["contract"]].version}
    accrued = {(r["contract"], r["currency"]): int(r["total"] or 0)
               for r in await Posting.select(
                   Posting.account.contract.as_alias("contract"), Posting.currency,
                   Sum(Posting.amount, alias="total")).where(
                   (Posting.account.code == "accrued") & Posting.account.contract.is_in(ids)
               ).group_by(Posting.account.contract, Posting.currency)}
    out = []
    for cid, c in live.items():
        t = contracts.decode_terms(terms[cid])
        amount = accrued.get((cid, c.currency), 0)
        share = amount / t.cap.amount if t.cap.amount else 0.0
        days_left = (t.claims_deadline - today).days
        near_cap = amount * 10_000 >= NEAR_CAP_BP * t.cap.amount > 0
        near_deadline = 0 <= days_left <= NEAR_DEADLINE_DAYS
        if near_cap or near_deadline:
            out.append(ContractAttention(
                contract=c, cap=Money(amount=t.cap.amount, currency=c.currency),
                accrued=Money(amount=amount, currency=c.currency), accrued_share=share,
                claims_deadline=t.claims_deadline, days_left=days_left, near_cap=near_cap,
                near_deadline=near_deadline))
    return out


async def queue_claims_by_id(queue: WorkQueue, ids: list[UUID]) -> list[ClaimOut]:
    """Those of the claims `ids` that are on the queue's contracts (a bulk action's
    selection), in the order given; the others are left out."""
    if queue.empty or not ids:
        return []
    found: dict[UUID, ClaimOut] = {}
    for i in range(0, len(ids), 1_000):
        where = _scoped(queue, Claim.contract, Claim.id.is_in(ids[i:i + 1_000]))
        for r in await Claim.select(*CLAIM_COLUMNS).where(where):
            found[r["id"]] = claim_out(r)
    return [found[i] for i in ids if i in found]


async def find_participant(principal: Principal, contract_id: UUID, pseudonym: str
                           ) -> ParticipantOut | None:
    """The participant enrolled on the contract under `pseudonym`, if the caller may see
    it."""
    contract, scope = await contracts.scope_of(principal, contract_id)
    r = await Participant.select().where(participants_of(contract, scope)
                                         & (Participant.pseudonym == pseudonym)).first()
    return None if r is None else ParticipantOut(
        id=r["id"], pseudonym=r["pseudonym"], enrolled_on=r["enrolled_on"],
        age_band=r["age_band"], area=r["area"], cohort=r["cohort"])

