"""The one way into the journal: `post()`.

Each contract's entries form a hash chain of their own (docs/ledger.md). Inside the
caller's transaction `post` takes the append lock of each contract it posts to (an advisory
lock per contract on PostgreSQL, taken in contract order; SQLite's IMMEDIATE transaction is
one already), skips entries whose idempotency key is already in the journal, opens missing
accounts, checks that each entry balances per currency, numbers the entries from the
journal's sequence (unique across the journal and rising within each contract), chains
each entry to its contract's entry before it and writes entries and postings in bulk.
Callers take their contract's lock first, then post: the lock order is always contract,
then its chain. Contracts append side by side: no lock is shared between two of them.

A payment run posts 100,000 entries at once. They are written in chunks, and while the
database takes one chunk (its foreign keys, indexes and triggers are most of the time) the
next is numbered and hashed: the two run side by side on two cores instead of one after
the other. The chain is still made in order, by one builder, before anything is written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from hashlib import sha256
from uuid import UUID

from contracts.errors import Invalid
from core.clock import now
from core.database import any_of, bulk_insert
from core.ids import new_id
from ledger.journal import GENESIS, Leg, NewEntry, canonical_bytes, check_entry, timestamp
from ledger.tables import Account, JournalEntry, JournalNote, Posting

__all__ = ["ACCOUNT_CODES", "LedgerError", "Leg", "NewEntry", "post"]

JOURNAL_LOCK = 0x7669726B  # "virk": with a contract's number, the lock of its chain

# Entries per write, and per step of the builder between which a write may go on.
CHUNK = 5_000
STEP = 500

# The chart of accounts kept per contract and organisation (see docs/ledger.md).
ACCOUNT_CODES = ("budget", "committed", "accrued", "payable", "paid", "receivable")


class LedgerError(Invalid):
    code = "entry_unbalanced"


def chain_key(contract: UUID) -> int:
    """The second half of a contract's chain lock: the last 32 bits of its id, random in
    the ids Virker makes (two contracts that share them merely wait for each other)."""
    return int.from_bytes(contract.bytes[-4:], "big", signed=True)


async def lock_chains(contracts: list[UUID]) -> None:
    """Take the append lock of each contract's chain, in one order for every writer."""
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        for key in sorted({chain_key(c) for c in contracts}):
            await engine.run_ddl(f"SELECT pg_advisory_xact_lock({JOURNAL_LOCK}, {key})")


async def heads(contracts: list[UUID]) -> dict[UUID, str]:
    """The hash of each contract's last entry (contracts with none are left out)."""
    found: dict[UUID, str] = {}
    for contract in contracts:
        row = await JournalEntry.select(JournalEntry.hash).where(
            JournalEntry.contract == contract).order_by(
            JournalEntry.seq, ascending=False).first()
        if row is not None:
            found[contract] = row["hash"]
    return found


async def numbers(count: int) -> list[int]:
    """`count` fresh sequence numbers, rising: from the journal's sequence on PostgreSQL
    (unique, never reused, gaps where a transaction rolled back), after the highest on
    SQLite (one writer at a time)."""
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        rows = await JournalEntry.raw(
            "SELECT nextval('journal_seq') AS n FROM generate_series(1, {})", count)
        return sorted(r["n"] for r in rows)
    row = await JournalEntry.select(JournalEntry.seq).order_by(
        JournalEntry.seq, ascending=False).first()
    last = 0 if row is None else row["seq"]
    return list(range(last + 1, last + 1 + count))


async def existing(keys: list[str]) -> dict[str, UUID]:
    found: dict[str, UUID] = {}
    for i in range(0, len(keys), 10_000):
        for r in await JournalEntry.select(JournalEntry.id, JournalEntry.idempotency_key).where(
                any_of(JournalEntry.idempotency_key, keys[i:i + 10_000])):
            found[r["idempotency_key"]] = r["id"]
    return found


async def accounts_for(legs: list[Leg]) -> dict[tuple, UUID]:
    """Account ids for the legs' (contract, organisation, code, currency), opening missing
    accounts. Runs under the chains' locks (accounts belong to one contract each), so two
    writers cannot open the same one."""
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


class _Builder:
    """Rows for fresh entries, numbered and chained per contract in the order they are
    asked for."""

    def __init__(self, accounts: dict[tuple, UUID], seqs: list[int],
                 heads: dict[UUID, str]) -> None:
        self.accounts, self.seqs = accounts, iter(seqs)
        # Each contract's last hash, as hex and as bytes.
        self.heads = {c: (h, bytes.fromhex(h)) for c, h in heads.items()}
        self.genesis = (GENESIS, bytes.fromhex(GENESIS))
        self.recorded_at = now()
        # The text forms the canonical bytes use, made once per account, contract and day
        # rather than once per posting.
        self.stamp = timestamp(self.recorded_at)
        self.facts = {key: (str(account), str(key[0]), str(key[1]), key[2])
                      for key, account in accounts.items()}
        self.contracts: dict[UUID, str] = {}
        self.days: dict[dt.date, str] = {}

    def rows(self, entries: list[NewEntry], done: dict[str, UUID]
             ) -> tuple[list[dict], list[dict], list[dict]]:
        accounts, facts, recorded_at = self.accounts, self.facts, self.recorded_at
        seqs, heads, genesis = self.seqs, self.heads, self.genesis
        entry_rows, posting_rows, note_rows = [], [], []
        for e in entries:
            seq = next(seqs)
            prev, chain = heads.get(e.contract, genesis)
            entry_id = new_id()
            lines = []
            for leg in e.legs:
                key = (leg.contract, leg.organisation, leg.code, leg.currency)
                posting_rows.append(dict(id=new_id(), entry=entry_id, entry_seq=seq,
                                         account=accounts[key], amount=leg.amount,
                                         currency=leg.currency))
                lines.append((*facts[key], leg.currency, leg.amount))
            contract = self.contracts.get(e.contract) or self.contracts.setdefault(
                e.contract, str(e.contract))
            day = self.days.get(e.effective_on) or self.days.setdefault(
                e.effective_on, e.effective_on.isoformat())
            # hash = sha256(prev_hash || canonical(entry)), as `ledger.journal.chain_hash`.
            digest = sha256(chain + canonical_bytes(
                seq, str(entry_id), e.kind, day, self.stamp, contract, e.idempotency_key,
                None if e.reverses is None else str(e.reverses), e.memo, lines))
            hexdigest = digest.hexdigest()
            heads[e.contract] = (hexdigest, digest.digest())
            entry_rows.append(dict(id=entry_id, seq=seq, kind=e.kind,
                                   effective_on=e.effective_on, recorded_at=recorded_at,
                                   contract=e.contract, idempotency_key=e.idempotency_key,
                                   reverses="" if e.reverses is None else str(e.reverses),
                                   memo=e.memo, prev_hash=prev, hash=hexdigest))
            if e.note:
                note_rows.append(dict(id=new_id(), entry=entry_id, text=e.note,
                                      recorded_at=recorded_at))
            done[e.idempotency_key] = entry_id
        return entry_rows, posting_rows, note_rows


async def _write(entry_rows: list[dict], posting_rows: list[dict], note_rows: list[dict]
                 ) -> None:
    await bulk_insert(JournalEntry, entry_rows)
    await bulk_insert(Posting, posting_rows)
    await bulk_insert(JournalNote, note_rows)


async def post(entries: list[NewEntry]) -> dict[str, UUID]:
    """Append `entries`; returns idempotency key → entry id, for new and earlier entries."""
    if not entries:
        return {}
    for e in entries:
        problem = check_entry([(leg.currency, leg.amount) for leg in e.legs])
        if problem:
            raise LedgerError(f"{e.kind} {e.idempotency_key}: {problem}")
    await lock_chains([e.contract for e in entries])
    done = await existing([e.idempotency_key for e in entries])
    fresh, seen = [], set(done)
    for e in entries:
        if e.idempotency_key not in seen:
            seen.add(e.idempotency_key)
            fresh.append(e)
    if not fresh:
        return done
    contracts = list(dict.fromkeys(e.contract for e in fresh))
    builder = _Builder(await accounts_for([leg for e in fresh for leg in e.legs]),
                       await numbers(len(fresh)), await heads(contracts))
    writing: asyncio.Task | None = None
    try:
        for start in range(0, len(fresh), CHUNK):
            end = min(len(fresh), start + CHUNK)
            chunk: tuple[list[dict], list[dict], list[dict]] = ([], [], [])
            for step in range(start, end, STEP):
                for rows, more in zip(chunk, builder.rows(fresh[step:min(end, step + STEP)],
                                                          done), strict=True):
                    rows += more
                if writing is not None:
                    await asyncio.sleep(0)  # the chunk before goes on being written
            if writing is not None:
                await writing
            # A task of the same transaction: the context, and so Piccolo's current
            # transaction, is copied into it; only one statement runs at a time.
            writing = asyncio.create_task(_write(*chunk))
        await writing
    except BaseException:
        if writing is not None and not writing.done():
            # Let the connection finish the statement it is in before the caller rolls
            # back; what it raises is of no more interest than what is raised here.
            await asyncio.gather(writing, return_exceptions=True)
        raise
    return done
