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
    """Add (claims, amount) per line code; negative to take away. One statement for all the
    lines: a line's first claims insert its row, later ones add to it."""
    if not changes:
        return
    values, args = [], []
    for line_code, (claims, amount) in changes.items():
        values.append("({}, {}, {}, {}, {})")
        args += [new_id(), contract_id, line_code, claims, amount]
    # The unique index contract_usage_line (contract, line_code) is the conflict target.
    await ContractUsage.raw(
        "INSERT INTO contract_usage (id, contract, line_code, claims, amount) VALUES "  # noqa: S608
        + ", ".join(values)
        + " ON CONFLICT (contract, line_code) DO UPDATE SET"
          " claims = contract_usage.claims + excluded.claims,"
          " amount = contract_usage.amount + excluded.amount", *args)


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
