"""The one way into the journal: `post()`.

Inside the caller's transaction it takes the journal's append lock (an advisory lock on
PostgreSQL; SQLite's IMMEDIATE transaction is one already), skips entries whose
idempotency key is already in the journal, opens missing accounts, checks that each entry
balances per currency, numbers the entries without gaps, chains their hashes and writes
entries and postings in bulk. Callers take their contract's lock first, then post: the
lock order is always contract, then journal.
"""

from __future__ import annotations

from uuid import UUID

from contracts.errors import Invalid
from core.clock import now
from core.database import any_of, bulk_insert
from core.ids import new_id
from ledger.journal import (
    GENESIS,
    EntryFacts,
    Leg,
    NewEntry,
    PostingLine,
    chain_hash,
    check_entry,
)
from ledger.tables import Account, JournalEntry, JournalNote, Posting

__all__ = ["ACCOUNT_CODES", "LedgerError", "Leg", "NewEntry", "post"]

JOURNAL_LOCK = 0x7669726B  # "virk"

# The chart of accounts kept per contract and organisation (see docs/ledger.md).
ACCOUNT_CODES = ("budget", "committed", "accrued", "payable", "paid", "receivable")


class LedgerError(Invalid):
    code = "entry_unbalanced"


async def lock_journal() -> None:
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        await engine.run_ddl(f"SELECT pg_advisory_xact_lock({JOURNAL_LOCK})")


async def head() -> tuple[int, str]:
    row = await JournalEntry.select(JournalEntry.seq, JournalEntry.hash).order_by(
        JournalEntry.seq, ascending=False).first()
    return (0, GENESIS) if row is None else (row["seq"], row["hash"])


async def existing(keys: list[str]) -> dict[str, UUID]:
    found: dict[str, UUID] = {}
    for i in range(0, len(keys), 10_000):
        for r in await JournalEntry.select(JournalEntry.id, JournalEntry.idempotency_key).where(
                any_of(JournalEntry.idempotency_key, keys[i:i + 10_000])):
            found[r["idempotency_key"]] = r["id"]
    return found


async def accounts_for(legs: list[Leg]) -> dict[tuple, UUID]:
    """Account ids for the legs' (contract, organisation, code, currency), opening missing
    accounts. Runs under the journal lock, so two writers cannot open the same one."""
    wanted = {(leg.contract, leg.organisation, leg.code, leg.currency) for leg in legs}
    contracts = list({k[0] for k in wanted})
    known = {(r["contract"], r["organisation"], r["code"], r["currency"]): r["id"]
             for r in await Account.select().where(any_of(Account.contract, contracts))}
    missing = [k for k in wanted if k not in known]
    rows = []
    for contract, organisation, code, currency in missing:
        if code not in ACCOUNT_CODES:
            raise ValueError(f"no account code {code}")
        account_id = new_id()
        known[(contract, organisation, code, currency)] = account_id
        rows.append(dict(id=account_id, contract=contract, organisation=organisation,
                         code=code, currency=currency, name=code))
    await bulk_insert(Account, rows)
    return known


async def post(entries: list[NewEntry]) -> dict[str, UUID]:
    """Append `entries`; returns idempotency key → entry id, for new and earlier entries."""
    if not entries:
        return {}
    for e in entries:
        problem = check_entry([(leg.currency, leg.amount) for leg in e.legs])
        if problem:
            raise LedgerError(f"{e.kind} {e.idempotency_key}: {problem}")
    await lock_journal()
    done = await existing([e.idempotency_key for e in entries])
    fresh, seen = [], set(done)
    for e in entries:
        if e.idempotency_key not in seen:
            seen.add(e.idempotency_key)
            fresh.append(e)
    if not fresh:
        return done
    accounts = await accounts_for([leg for e in fresh for leg in e.legs])
    seq, prev = await head()
    recorded_at = now()
    entry_rows, posting_rows, note_rows = [], [], []
    for e in fresh:
        seq += 1
        entry_id = new_id()
        lines = tuple(PostingLine(accounts[(leg.contract, leg.organisation, leg.code,
                                            leg.currency)], leg.contract, leg.organisation,
                                  leg.code, leg.currency, leg.amount)
                      for leg in e.legs)
        facts = EntryFacts(seq=seq, id=entry_id, kind=e.kind, effective_on=e.effective_on,
                           recorded_at=recorded_at, contract=e.contract,
                           idempotency_key=e.idempotency_key, reverses=e.reverses,
                           memo=e.memo, postings=lines)
        digest = chain_hash(prev, facts)
        entry_rows.append(dict(id=entry_id, seq=seq, kind=e.kind, effective_on=e.effective_on,
                               recorded_at=recorded_at, contract=e.contract,
                               idempotency_key=e.idempotency_key,
                               reverses="" if e.reverses is None else str(e.reverses),
                               memo=e.memo, prev_hash=prev, hash=digest))
        if e.note:
            note_rows.append(dict(id=new_id(), entry=entry_id, text=e.note,
                                  recorded_at=recorded_at))
        posting_rows += [dict(id=new_id(), entry=entry_id, entry_seq=seq, account=p.account,
                              amount=p.amount, currency=p.currency) for p in lines]
        prev = digest
        done[e.idempotency_key] = entry_id
    await bulk_insert(JournalEntry, entry_rows)
    await bulk_insert(Posting, posting_rows)
    await bulk_insert(JournalNote, note_rows)
    return done
