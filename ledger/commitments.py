"""Committing the commissioners' funds: activation commits the cap, a variation of an active
contract's cap or shares commits (or releases) the difference.

Both are doors that need consent (`contracts.consent`): a contract activates only once every
commissioner has accepted its terms, and a variation applies only once everyone it affects
has accepted it. `activate`, `vary` and `accept` are the only ways to activate a contract or
apply a variation: each checks, records the acceptance, changes the contract and posts the
commitment in one transaction. A variation's commitment is dated on the day it takes
effect, never earlier than today or than the end of the last paid period, so a balance once
reported never moves.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from contracts import consent
from contracts import service as contracts
from contracts.errors import Conflict, Invalid, Problem
from contracts.identity import Principal
from contracts.schemas import ContractOut, ContractTerms, ProposalOut, VariationIn
from contracts.tables import Contract
from core.clock import now
from core.database import write_transaction
from ledger import entries
from ledger.balances import account_balances
from ledger.posting import post


def target(terms: ContractTerms) -> dict[UUID, int]:
    return dict(entries.shares(terms.cap.amount, [(c.organisation_id, c.share_bp)
                                                  for c in terms.commissioners]))


async def committed_by(contract: UUID, currency: str) -> dict[UUID, int]:
    """What each commissioner has committed so far (committed + accrued, i.e. −budget)."""
    out: dict[UUID, int] = {}
    for org in await contracts.commissioner_ids(contract):
        b = await account_balances(contract=contract, organisation=org)
        out[org] = b.get(("committed", currency), 0) + b.get(("accrued", currency), 0)
    return out


async def activate(principal: Principal, contract_id: UUID, reason: str) -> ContractOut:
    """Record the caller's acceptance of the draft's current version; activate and commit
    the cap when every commissioner has accepted that version, else 409
    `acceptance_missing` (the caller's acceptance stays recorded)."""
    async with write_transaction():
        row = await contracts.locked(principal, contract_id, "commissioner")
        missing = await consent.accept_for_activation(principal, row)
        if not missing:
            await contracts.record_transition(principal, row, "activate", reason)
            out = await contracts.get_contract(principal, contract_id)
            await post([entries.commitment(
                contract_id, out.currency, list(target(out.terms).items()),
                f"commit:{contract_id}:v{out.version}", out.terms.service_period.start,
                f"{out.reference} activated: cap committed")])
    if missing:
        raise Conflict("every commissioner must accept the terms before they bind",
                       code="acceptance_missing", problems=missing)
    return out


async def vary(principal: Principal, contract_id: UUID, data: VariationIn) -> ProposalOut:
    """Propose a variation with the caller's acceptance; it applies at once when nobody
    else's acceptance is needed, else it waits for theirs (`accept`)."""
    async with write_transaction():
        row = await contracts.locked(principal, contract_id, "commissioner")
        await _check_cap(contract_id, row["currency"], data.terms)
        today, paid_until = now().date(), await last_paid_day(contract_id)
        proposal_id, ready = await consent.propose(principal, row, data, today=today,
                                                   paid_until=paid_until)
        if ready:
            await _apply(principal, row, await consent.proposal_row(contract_id, proposal_id),
                         today, paid_until)
    return await consent.proposal_out(contract_id, proposal_id)


async def accept(principal: Principal, contract_id: UUID, proposal_id: UUID) -> ProposalOut:
    """Record the caller's acceptance of a proposed variation; the last one needed applies
    it, under the contract's lock, onto the version it was proposed against."""
    async with write_transaction():
        row, proposal, ready = await consent.accept(principal, contract_id, proposal_id)
        if ready:
            terms = contracts.decode_terms(proposal["terms"])
            await _check_cap(contract_id, row["currency"], terms)
            await _apply(principal, row, proposal, now().date(),
                         await last_paid_day(contract_id))
    return await consent.proposal_out(contract_id, proposal_id)


async def _apply(principal: Principal, row: dict, proposal: dict, today: dt.date,
                 paid_until: dt.date | None) -> None:
    version, on = await consent.apply(principal, row, proposal, today=today,
                                      paid_until=paid_until)
    if row["status"] not in ("active", "suspended"):
        return
    have = await committed_by(row["id"], row["currency"])
    want = target(contracts.decode_terms(proposal["terms"]))
    diff = [(org, want.get(org, 0) - have.get(org, 0))
            for org in sorted(set(want) | set(have), key=str)]
    diff = [(org, amount) for org, amount in diff if amount]
    if diff:
        # The memo is fixed text: the variation's reason is free text and stays with the
        # contract's versions, out of the hash-chained journal.
        await post([entries.commitment(
            row["id"], row["currency"], diff, f"commit:{row['id']}:v{version}", on,
            f"{row['reference']} varied to v{version}")])


async def _check_cap(contract_id: UUID, currency: str, terms: ContractTerms) -> None:
    accrued = (await account_balances(contract=contract_id)).get(("accrued", currency), 0)
    if terms.cap.amount < accrued:
        raise Invalid("the cap cannot fall below what is already accrued",
                      code="cap_below_accrued", problems=[Problem(
                          code="cap_below_accrued", field="terms.cap",
                          message=f"{accrued} {currency} minor units are accrued")])


async def last_paid_day(contract_id: UUID) -> dt.date | None:
    """The last day of the latest paid payment run's period, if any. Payment runs belong
    to `outcomes`, which the ledger may not import: a plain query reads this one fact."""
    rows = await Contract.raw(
        "SELECT max(period_to) AS until FROM payment_run "
        "WHERE contract = {} AND status = 'paid'", contract_id)
    until = rows[0]["until"] if rows else None
    if isinstance(until, str):  # SQLite gives an aggregate's date back as text
        return dt.date.fromisoformat(until)
    return until
