"""Business events as journal entries. Pure: amounts in, balanced entries out.

Debits are positive, credits negative. Per commissioner (each pays its share):

| event | postings |
|---|---|
| commitment (activation, variation of the cap) | committed +x, budget −x |
| accrual (claim approved) | accrued +a, payable −a, budget +a, committed −a |
| payment (payment run paid) | payable +a, paid −a |
| clawback of an approved, unpaid claim | accrued −a, payable +a, budget −a, committed +a |
| clawback of a paid claim | accrued −a, receivable +a, budget −a, committed +a |

Memos are generated from codes and ids; a reason a person typed travels as the entry's
`note`, which the posting service keeps outside the hash chain (erasable).

A payment or clawback splits by the accrual's own parts, never by today's shares, so a later
change of the co-commissioning shares cannot unbalance what one commissioner owes.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from contracts.money import split_by_shares
from ledger.journal import Leg, NewEntry

Parts = list[tuple[UUID, int]]  # (commissioner, amount)


def shares(amount: int, commissioners: list[tuple[UUID, int]]) -> Parts:
    split = split_by_shares(amount, [bp for _, bp in commissioners])
    return [(org, part) for (org, _), part in zip(commissioners, split, strict=True) if part]


def _legs(contract: UUID, currency: str, parts: Parts, moves: list[tuple[str, int]]
          ) -> list[Leg]:
    return [Leg(contract, org, code, sign * amount, currency)
            for org, amount in parts for code, sign in moves]


def commitment(contract: UUID, currency: str, parts: Parts, key: str, on: dt.date,
               memo: str) -> NewEntry:
    """Commit (or, with negative parts, release) the commissioners' funds."""
    return NewEntry(kind="commitment", effective_on=on, contract=contract,
                    idempotency_key=key, memo=memo,
                    legs=_legs(contract, currency, parts, [("committed", 1), ("budget", -1)]))


def accrual(contract: UUID, currency: str, parts: Parts, claim: UUID, on: dt.date
            ) -> NewEntry:
    return NewEntry(kind="accrual", effective_on=on, contract=contract,
                    idempotency_key=f"accrue:{claim}", memo=f"claim {claim} approved",
                    legs=_legs(contract, currency, parts, [
                        ("accrued", 1), ("payable", -1), ("budget", 1), ("committed", -1)]))


def payment(contract: UUID, currency: str, parts: Parts, claim: UUID, run: UUID,
            on: dt.date) -> NewEntry:
    return NewEntry(kind="payment", effective_on=on, contract=contract,
                    idempotency_key=f"pay:{claim}", memo=f"claim {claim} paid in run {run}",
                    legs=_legs(contract, currency, parts, [("payable", 1), ("paid", -1)]))


def clawback(contract: UUID, currency: str, parts: Parts, claim: UUID, on: dt.date, *,
             paid: bool, reverses: UUID, reason: str) -> NewEntry:
    owed = "receivable" if paid else "payable"
    return NewEntry(kind="clawback", effective_on=on, contract=contract,
                    idempotency_key=f"clawback:{claim}", reverses=reverses,
                    memo=f"claim {claim} clawed back", note=reason,
                    legs=_legs(contract, currency, parts, [
                        ("accrued", -1), (owed, 1), ("budget", -1), ("committed", 1)]))
