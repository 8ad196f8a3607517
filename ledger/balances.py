"""Balances from the postings, at any date: per contract, per organisation, trial balance.

Reads only; plain queries over postings joined to accounts and entries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from uuid import UUID

import msgspec
from piccolo.query.functions.aggregate import Sum

from core.database import any_of
from ledger.tables import JournalEntry, Posting


class ContractBalance(msgspec.Struct, kw_only=True):
    """Amounts in minor units of `currency`, as of `on` (effective dates)."""

    contract_id: UUID
    currency: str
    on: dt.date
    committed: int
    accrued: int
    clawed_back: int
    paid: int
    payable: int
    receivable: int
    remaining: int


async def account_balances(contract: UUID | None = None, organisation: UUID | None = None,
                           on: dt.date | None = None) -> dict[tuple[str, str], int]:
    """(code, currency) → balance, debits positive.

    From the accounts asked for to their postings (an index on posting by account), and
    `on` as the postings of entries effective after it left out (an index on journal_entry
    by effective_on finds those, usually none): no posting is joined to its entry, which
    made every balance as of a day a scan of the whole posting table."""
    sql = ("SELECT a.code AS code, p.currency AS currency, SUM(p.amount) AS total "
           "FROM account a JOIN posting p ON p.account = a.id WHERE a.contract IS NOT NULL")
    args: list[object] = []
    if contract is not None:
        sql += " AND a.contract = {}"
        args.append(contract)
    if organisation is not None:
        sql += " AND a.organisation = {}"
        args.append(organisation)
    if on is not None:
        sql += (" AND NOT EXISTS (SELECT 1 FROM journal_entry e "
                "WHERE e.id = p.entry AND e.effective_on > {})")
        args.append(on)
    rows = await Posting.raw(sql + " GROUP BY a.code, p.currency", *args)
    return {(r["code"], r["currency"]): int(r["total"] or 0) for r in rows}


async def clawed_back(contract: UUID, on: dt.date | None) -> int:
    """What clawbacks took back from the contract's accrued accounts (as of `on`): from the
    clawback entries (an index on journal_entry by kind finds them, usually few) to their
    postings, not from every accrued posting to its entry."""
    sql = ("SELECT SUM(p.amount) AS total FROM journal_entry e "
           "JOIN posting p ON p.entry = e.id JOIN account a ON a.id = p.account "
           "WHERE e.kind = 'clawback' AND a.code = 'accrued' AND a.contract = {}")
    args: list[object] = [contract]
    if on is not None:
        sql += " AND e.effective_on <= {}"
        args.append(on)
    rows = await Posting.raw(sql, *args)
    return -(int(rows[0]["total"] or 0)) if rows else 0


async def contract_balance(contract: UUID, currency: str, on: dt.date) -> ContractBalance:
    b = await account_balances(contract=contract, on=on)

    def bal(code: str) -> int:
        return b.get((code, currency), 0)

    back = await clawed_back(contract, on)
    net_accrued = bal("accrued")
    return ContractBalance(
        contract_id=contract, currency=currency, on=on,
        committed=net_accrued - bal("budget"),
        accrued=net_accrued + back, clawed_back=back, paid=-bal("paid"),
        payable=-bal("payable"), receivable=bal("receivable"), remaining=bal("committed"))


async def trial_balance() -> dict[str, int]:
    rows = await Posting.select(Posting.currency, Sum(Posting.amount, alias="total")).group_by(
        Posting.currency)
    return {r["currency"]: int(r["total"] or 0) for r in rows}


async def accrual_parts(claims: list[UUID]) -> dict[UUID, tuple[UUID, list[tuple[UUID, int]]]]:
    """claim → (accrual entry id, [(commissioner, amount)]) from each claim's accrual."""
    return await claim_parts(claims, "accrue", "accrued")


async def claim_parts(claims: list[UUID], prefix: str, code: str
                      ) -> dict[UUID, tuple[UUID, list[tuple[UUID, int]]]]:
    """claim → (entry id, [(commissioner, amount on `code`)]) from each claim's entry keyed
    `prefix:<claim>` (accrue, pay, clawback)."""
    claim_of = {f"{prefix}:{c}": c for c in claims}
    keys = list(claim_of)
    out: dict[UUID, tuple[UUID, list[tuple[UUID, int]]]] = {}
    for i in range(0, len(keys), 10_000):
        entries = {r["id"]: claim_of[r["idempotency_key"]]
                   for r in await JournalEntry.select(
                       JournalEntry.id, JournalEntry.idempotency_key).where(
                       any_of(JournalEntry.idempotency_key, keys[i:i + 10_000]))}
        if not entries:
            continue
        parts: dict[UUID, list[tuple[UUID, int]]] = defaultdict(list)
        for r in await Posting.select(Posting.entry, Posting.amount,
                                      Posting.account.organisation.as_alias("org")).where(
                any_of(Posting.entry, list(entries)) & (Posting.account.code == code)):
            parts[r["entry"]].append((r["org"], r["amount"]))
        for entry_id, claim in entries.items():
            legs = parts[entry_id]
            out[claim] = (entry_id, sorted(legs, key=lambda p: str(p[0])) if len(legs) > 1
                          else legs)
    return out


async def organisation_balances(organisation: UUID, on: dt.date | None
                                ) -> dict[tuple[str, str], int]:
    return await account_balances(organisation=organisation, on=on)


