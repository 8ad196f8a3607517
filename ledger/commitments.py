"""Committing the commissioners' funds: activation commits the cap, a variation of an active
contract's cap or shares commits (or releases) the difference."""

from __future__ import annotations

from uuid import UUID

from contracts import service as contracts
from contracts.database import write_transaction
from contracts.errors import Invalid, Problem
from contracts.identity import Principal
from contracts.schemas import ContractOut, ContractTerms, VariationIn
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
    async with write_transaction():
        await contracts.lock(contract_id)
        out = await contracts.transition(principal, contract_id, "activate", reason)
        await post([entries.commitment(
            contract_id, out.currency, list(target(out.terms).items()),
            f"commit:{contract_id}:v{out.version}", out.terms.service_period.start,
            f"{out.reference} activated: cap committed")])
    return out


async def vary(principal: Principal, contract_id: UUID, data: VariationIn) -> ContractOut:
    async with write_transaction():
        await contracts.lock(contract_id)
        before = await contracts.get_contract(principal, contract_id)
        accrued = (await account_balances(contract=contract_id)).get(
            ("accrued", before.currency), 0)
        if data.terms.cap.amount < accrued:
            raise Invalid("the cap cannot fall below what is already accrued",
                          code="cap_below_accrued", problems=[Problem(
                              code="cap_below_accrued", field="terms.cap",
                              message=f"{accrued} {before.currency} minor units are accrued")])
        out = await contracts.vary_contract(principal, contract_id, data)
        if before.status in ("active", "suspended"):
            have = await committed_by(contract_id, out.currency)
            want = target(out.terms)
            diff = [(org, want.get(org, 0) - have.get(org, 0))
                    for org in sorted(set(want) | set(have), key=str)]
            diff = [(org, amount) for org, amount in diff if amount]
            if diff:
                await post([entries.commitment(
                    contract_id, out.currency, diff, f"commit:{contract_id}:v{out.version}",
                    data.effective_on or out.terms.service_period.start,
                    f"{out.reference} varied: {data.reason}")])
    return out
