"""Payment runs and clawbacks: the commissioner pays approved claims and takes back what
should not have been paid. Every krone moves through `ledger.posting.post`.

A payment run collects the contract's approved, unpaid claims whose outcomes were achieved
in its period, and goes draft → approved → paid; paying books one payment entry per claim
(idempotency key `pay:<claim>`, so no claim is ever paid twice). A clawback reverses a
claim's accrual with an entry that names it; if the claim was paid, the provider owes the
money back (receivable). Each is one door: under the contract's lock, it decides by
`outcomes.rules`, moves claims through `outcomes.lifecycle.move` and posts, in one
transaction.

A contract delivered by a partnership is still one contract in the journal: its payable and
its payments are the contract's, owed to the partnership and paid through the lead provider,
who answers for the contract. What each provider of the partnership is owed of a run is
said beside the books, as the run's `shares` (`provider_shares`): "by_claimant", the run's
claims of the participants each provider enrolled; "by_split", each partner's `split_bp` of
the run's total, rounded down to the minor unit, and the lead the rest, so the shares sum
to the total exactly. The shares follow the terms as they stood when the run was paid (the
current terms until then), so a paid run's shares never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import msgspec
from piccolo.query.functions.aggregate import Sum

from contracts import directory
from contracts import service as contracts
from contracts.errors import Conflict, Invalid
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import ContractTerms, CountedPage
from contracts.tables import Contract
from core.clock import now
from core.database import bulk_insert, custom_plans, write_transaction
from core.ids import new_id
from ledger import checkpoints, entries
from ledger.balances import accrual_parts
from ledger.posting import post
from outcomes import lifecycle, queries
from outcomes.queries import WorkQueue
from outcomes.rules import already_done, clawback_refusal
from outcomes.schemas import ClaimOut, PaymentRunIn, PaymentRunOut, ProviderShareOut
from outcomes.tables import Claim, Participant, PaymentRun, PaymentRunLine

BP = 10_000


def provider_shares(total: int, lead: UUID, terms: ContractTerms,
                    claimed: Mapping[UUID, int]) -> list[tuple[UUID, str, int]]:
    """(organisation, "lead" | "partner", amount) for each provider of the partnership, the
    lead first, then the partners as the terms name them, then any provider the terms no
    longer name that `claimed` still owes money to (a partner removed by a variation).
    Pure; the amounts are integer minor units and sum to `total` exactly.

    `claimed` is the amount of the run's claims per provider that enrolled the participant
    (used by "by_claimant"); "by_split" gives each partner its `split_bp` of `total`,
    rounded down, and the lead the remainder."""
    partners = [org for org in dict.fromkeys(p.organisation_id for p in terms.partners)
                if org != lead]
    if terms.partner_payment == "by_split":
        split = {p.organisation_id: p.split_bp or 0 for p in terms.partners}
        parts = [(org, "partner", total * split[org] // BP) for org in partners]
        return [(lead, "lead", total - sum(a for _, _, a in parts)), *parts]
    named = {lead, *partners}
    former = sorted((org for org in claimed if org not in named), key=str)
    return [(lead, "lead", claimed.get(lead, 0)),
            *((org, "partner", claimed.get(org, 0)) for org in [*partners, *former])]


async def run_shares(run: dict, lead: UUID) -> list[ProviderShareOut]:
    """The `provider_shares` of the payment run `run` (its row) of a contract led by
    `lead`, under the terms as they stood when it was paid (the current ones until then)."""
    if run["paid_at"] is not None:
        terms = await contracts.terms_at(run["contract"], run["paid_at"])
    else:
        version = await Contract.select(Contract.version).where(
            Contract.id == run["contract"]).first()
        terms = await contracts.current_terms(run["contract"], version["version"])
    claimed: dict[UUID, int] = {}
    if terms.partner_payment == "by_claimant" and not await Participant.exists().where(
            (Participant.contract == run["contract"]) & (Participant.organisation != lead)):
        # Every participant of the contract is the lead's (or from before partnerships,
        # which makes it the lead's): so is every claim of the run.
        claimed = {lead: run["total"]}
    elif terms.partner_payment == "by_claimant":
        owner = PaymentRunLine.claim.participant.organisation
        for r in await PaymentRunLine.select(owner.as_alias("owner"),
                                             Sum(PaymentRunLine.amount, alias="amount")
                                             ).where(PaymentRunLine.run == run["id"]
                                                     ).group_by(owner):
            # Before partnerships a participant had no organisation: it is the lead's.
            org = r["owner"] or lead
            # PostgreSQL sums a bigint as numeric: back to an exact int.
            claimed[org] = claimed.get(org, 0) + int(r["amount"] or 0)
    return [ProviderShareOut(organisation_id=org, role=role,
                             amount=Money(amount=amount, currency=run["currency"]))
            for org, role, amount in provider_shares(run["total"], lead, terms, claimed)]


async def _full(r: dict, lead: UUID | None = None) -> PaymentRunOut:
    if lead is None:
        lead = (await Contract.select(Contract.provider).where(
            Contract.id == r["contract"]).first())["provider"]
    return _out(r, await run_shares(r, lead))


def _out(r: dict, shares: list[ProviderShareOut] | None = None) -> PaymentRunOut:
    return PaymentRunOut(
        id=r["id"], contract_id=r["contract"], status=r["status"],
        period_from=r["period_from"], period_to=r["period_to"], claims=r["claims"],
        total=Money(amount=r["total"], currency=r["currency"]), created_at=r["created_at"],
        created_by=r["created_by"], approved_at=r["approved_at"], approved_by=r["approved_by"],
        approved_alone=r["approved_by"] is not None and r["approved_by"] == r["created_by"],
        paid_at=r["paid_at"], paid_by=r["paid_by"], shares=shares or [])


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
                return await _full(earlier, contract["provider"]), True
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
        out = await _full(row, contract["provider"])
    return out, False


async def get_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    """A payment run with its shares, for any party of its contract: the partnership's
    figures are every partner's to see."""
    return await _full(await contracts.row_of_contract(principal, PaymentRun, run_id,
                                                       "payment_run_not_found"))


async def list_runs(principal: Principal, contract_id: UUID) -> list[PaymentRunOut]:
    row, _ = await contracts.relation(principal, contract_id)
    rows = await PaymentRun.select().where(PaymentRun.contract == contract_id).order_by(
        PaymentRun.created_at)
    return [await _full(r, row["provider"]) for r in rows]


async def run_claims(principal: Principal, run_id: UUID) -> list[UUID]:
    """The claims a run pays; a partner's own only (`contracts.service.provider_scope`)."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id,
                                          "payment_run_not_found")
    _, scope = await contracts.scope_of(principal, run["contract"])
    where = PaymentRunLine.run == run_id
    if scope is not None:  # a partner, whose participants all carry its organisation
        where &= PaymentRunLine.claim.participant.organisation == scope
    return [r["claim"] for r in await PaymentRunLine.select(PaymentRunLine.claim).where(
        where).order_by(PaymentRunLine.claim)]


async def approve_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    """Approve a draft run: maker and checker. The person (or API key) who drafted the run
    may not approve it (409 `same_person`), unless the approver's organisation allows one
    person alone (`Organisation.single_approver`); such an approval is recorded as such:
    `approved_by` is then the run's `created_by`, which `approved_alone` says. Approving an
    approved run again changes nothing."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id, "payment_run_not_found",
                                          role="commissioner")
    async with write_transaction():
        await contracts.locked(principal, run["contract"], "commissioner")
        current = await PaymentRun.select(PaymentRun.status, PaymentRun.created_by).where(
            PaymentRun.id == run_id).first()
        if current["status"] == "approved":
            return await get_run(principal, run_id)
        if current["status"] != "draft":
            raise Conflict(f"a {current['status']} payment run cannot be approved",
                           code="invalid_transition")
        if current["created_by"] == principal.label and \
                not await directory.single_approver(principal.organisation_id):
            raise Conflict("you drafted this payment run, so someone else must approve it",
                           code="same_person")
        updated = await PaymentRun.update({
            PaymentRun.status: "approved", PaymentRun.approved_at: now(),
            PaymentRun.approved_by: principal.label,
        }).where((PaymentRun.id == run_id) & (PaymentRun.status == "draft")).returning(
            PaymentRun.id)
        if not updated:
            raise Conflict("the payment run changed at the same time; try again",
                           code="concurrent_change")
    return await get_run(principal, run_id)


async def pay_run(principal: Principal, run_id: UUID) -> PaymentRunOut:
    """Book the payments. Paying a paid run again changes nothing."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id, "payment_run_not_found",
                                          role="commissioner")
    async with write_transaction():
        await contracts.locked(principal, run["contract"], "commissioner")
        current = await PaymentRun.select().where(PaymentRun.id == run_id).first()
        if current["status"] == "paid":
            return await _full(current)
        if current["status"] != "approved":
            raise Conflict("approve the payment run before paying it", code="run_not_approved")
        at = now()
        on = at.date()
        claims = [r["claim"] for r in await PaymentRunLine.select(PaymentRunLine.claim).where(
            PaymentRunLine.run == run_id)]
        # The accruals are looked up 10,000 ids at a time, planned with their values, so that
        # a plan made while the journal was small (approvals just before the run, not yet
        # analysed) cannot compare every posting with every id. Only the lookups: forced
        # re-planning would also re-plan every foreign-key check of the inserts below.
        async with custom_plans():
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


# Reading runs across contracts, their lines and their journal entries (the web UI) ---------


class CommissionerLegs(msgspec.Struct, frozen=True, kw_only=True):
    """One commissioner's part of a run's claims in the journal: accrued → payable when the
    claims were approved, payable → paid when the run is paid (each claim split by its own
    accrual, as `pay_run` books it)."""

    organisation_id: UUID
    amount: Money


class RunJournal(msgspec.Struct, frozen=True, kw_only=True):
    """The payment entries a run books, one per claim (`pay:<claim>`), summed per
    commissioner; `posted` once the run is paid. `unaccrued`: claims without an accrual,
    which paying would refuse (`not_accrued`)."""

    entries: int
    posted: bool
    commissioners: list[CommissionerLegs]
    unaccrued: int = 0


async def list_runs_of(queue: WorkQueue, status: str | None = None,
                       cursor: UUID | None = None, limit: int = 50, count: bool = False
                       ) -> CountedPage[PaymentRunOut]:
    """The payment runs of the contracts of a work queue (`queries.work_queue`), newest
    first, without their shares (`get_run` has them)."""
    if queue.empty:
        return CountedPage(items=[], total=0 if count else None)
    where = queue.where(PaymentRun.contract)
    if status:
        where = PaymentRun.status == status if where is None else where & (
            PaymentRun.status == status)
    query = PaymentRun.count()
    total = (await (query.where(where) if where is not None else query)) if count else None
    if cursor:
        where = PaymentRun.id < cursor if where is None else where & (PaymentRun.id < cursor)
    query = PaymentRun.select().order_by(PaymentRun.id, ascending=False).limit(limit + 1)
    rows = await (query.where(where) if where is not None else query)
    more = len(rows) > limit
    items = [_out(r) for r in rows[:limit]]
    return CountedPage(items=items, next_cursor=str(items[-1].id) if more else None,
                       total=total)


async def run_lines(principal: Principal, run_id: UUID, cursor: UUID | None = None,
                    limit: int = 100) -> CountedPage[ClaimOut]:
    """The claims a run pays, as claims, by id; a partner's own only."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id,
                                          "payment_run_not_found")
    contract, scope = await contracts.scope_of(principal, run["contract"])
    where = (Claim.id.is_in(PaymentRunLine.select(PaymentRunLine.claim).where(
        PaymentRunLine.run == run_id))) & queries.claims_of(contract, scope)
    if cursor:
        where &= Claim.id > cursor
    rows = await Claim.select(*queries.CLAIM_COLUMNS).where(where).order_by(Claim.id).limit(
        limit + 1)
    more = len(rows) > limit
    items = [queries.claim_out(r) for r in rows[:limit]]
    return CountedPage(items=items, next_cursor=str(items[-1].id) if more else None,
                       total=run["claims"])


async def run_journal(principal: Principal, run_id: UUID) -> RunJournal:
    """What paying the run posts (or, once paid, posted), from its claims' accruals."""
    run = await contracts.row_of_contract(principal, PaymentRun, run_id,
                                          "payment_run_not_found")
    lines, accrued, per = await _run_accruals(run_id)
    return RunJournal(entries=lines, posted=run["status"] == "paid",
                      commissioners=[CommissionerLegs(organisation_id=org, amount=Money(
                          amount=amount, currency=run["currency"]))
                          for org, amount in sorted(per.items(),
                                                    key=lambda p: (-p[1], str(p[0])))],
                      unaccrued=lines - accrued)


# A claim's accrual is the journal entry keyed `accrue:<claim>` (idempotency keys are
# unique); its commissioners' parts are that entry's postings on their `accrued` accounts.
# Plain SQL over the ledger's tables, the same on both engines, so that the database sums a
# run of any size instead of Python (`ledger.balances.accrual_parts` per claim).


async def _run_accruals(run_id: UUID) -> tuple[int, int, dict[UUID, int]]:
    """(the run's lines, how many of their claims have an accrual entry, commissioner → the
    sum of those accruals' parts in minor units), from one read of the run's accruals."""
    rows = await PaymentRunLine.raw(
        "WITH acc AS (SELECT e.id AS entry FROM payment_run_line l "
        "LEFT JOIN journal_entry e ON e.idempotency_key = 'accrue:' || CAST(l.claim AS TEXT) "
        "WHERE l.run = {}) "
        "SELECT NULL AS org, COUNT(*) AS total, COUNT(entry) AS accrued FROM acc "
        "UNION ALL "
        "SELECT a.organisation, SUM(p.amount), NULL FROM acc "
        "JOIN posting p ON p.entry = acc.entry JOIN account a ON a.id = p.account "
        "WHERE a.code = 'accrued' GROUP BY a.organisation", run_id)
    lines, accrued, per = 0, 0, {}
    for r in rows:
        if r["org"] is None:
            lines, accrued = int(r["total"] or 0), int(r["accrued"] or 0)
        else:
            org = r["org"] if isinstance(r["org"], UUID) else UUID(str(r["org"]))
            per[org] = int(r["total"] or 0)
    return lines, accrued, per
