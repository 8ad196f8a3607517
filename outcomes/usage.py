"""Running totals of counted claims per contract and rate card line.

Every change of a claim into or out of the counted statuses (see `outcomes.rules.COUNTED`)
moves these totals in the same transaction, under the contract's lock: intake adds the
claims it accepts, and `outcomes.lifecycle.move`, the one writer of a claim's status, adds
or takes away the claims a step moves. `recompute` derives them from the claims themselves;
the tests hold the two equal.
"""

from __future__ import annotations

from uuid import UUID

from piccolo.query.functions.aggregate import Count, Sum

from core.ids import new_id
from outcomes.rules import COUNTED, Totals
from outcomes.tables import Claim, ContractUsage


async def load(contract_id: UUID) -> Totals:
    totals = Totals()
    for r in await ContractUsage.select().where(ContractUsage.contract == contract_id):
        totals.line_count[r["line_code"]] = r["claims"]
        totals.line_amount[r["line_code"]] = r["amount"]
        totals.contract_amount += r["amount"]
    return totals


async def add(contract_id: UUID, changes: dict[str, tuple[int, int]]) -> None:
    """Add (claims, amount) per line code; negative to take away."""
    if not changes:
        return
    existing = {r["line_code"]: r for r in await ContractUsage.select().where(
        ContractUsage.contract == contract_id)}
    for line_code, (claims, amount) in changes.items():
        row = existing.get(line_code)
        if row is None:
            await ContractUsage.insert(ContractUsage(
                id=new_id(), contract=contract_id, line_code=line_code, claims=claims,
                amount=amount))
        else:
            await ContractUsage.update({
                ContractUsage.claims: row["claims"] + claims,
                ContractUsage.amount: row["amount"] + amount,
            }).where(ContractUsage.id == row["id"])


async def recompute(contract_id: UUID) -> Totals:
    totals = Totals()
    for r in await Claim.select(Claim.line_code, Count(Claim.id, alias="n"),
                                Sum(Claim.amount, alias="total")).where(
            (Claim.contract == contract_id) & Claim.status.is_in(list(COUNTED))
    ).group_by(Claim.line_code):
        totals.line_count[r["line_code"]] = r["n"]
        totals.line_amount[r["line_code"]] = int(r["total"] or 0)
        totals.contract_amount += int(r["total"] or 0)
    return totals
