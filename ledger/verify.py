"""Verify the journal the way an auditor must be able to rely on: trusting nothing in the
database but its raw column values.

The verifier reads every account, every entry and every posting (no row is skipped by a
filter it expects to hold), in one consistent snapshot, and rebuilds each entry's canonical
bytes here in Python with `ledger.journal` (docs/ledger.md), never with the database's
string functions or operators, which a database administrator can redefine. It checks:

- the sequence runs 1, 2, 3 … without gap or repeat, and each entry's prev_hash is the
  hash before it;
- each entry's hash is sha256(prev_hash || canonical bytes), the bytes covering every
  posting's account, and that account's contract, organisation, code and currency;
- every posting names its entry by id and by sequence number alike, its account exists and
  is in the posting's currency, and each entry has two or more postings that balance;
- no value anywhere is NULL (a NULL is a mismatch, never skipped);
- no posting or entry lies outside the chain.

The first entry, posting or account that fails is named. With `since`, verification starts
from a signed checkpoint's state (its head and per-account balances) instead of the first
entry: what a checkpoint covers is then taken as proven by its signature.

On PostgreSQL the session runs with `search_path = pg_catalog, pg_temp` in a read-only
REPEATABLE READ transaction, so that no object in another schema is resolved and entries
and postings come from the same moment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import msgspec

from ledger.journal import GENESIS, canonical_bytes, check_entry, timestamp
from ledger.tables import JournalEntry

CHUNK = 20_000

ENTRY_COLUMNS = ("id", "seq", "kind", "effective_on", "recorded_at", "contract",
                 "idempotency_key", "reverses", "memo", "prev_hash", "hash")
POSTING_COLUMNS = ("id", "entry", "entry_seq", "account", "amount", "currency")
ACCOUNT_COLUMNS = ("id", "contract", "organisation", "code", "currency")


class Mismatch(msgspec.Struct, kw_only=True):
    seq: int
    entry_id: str
    problem: str
    account_id: str | None = None
    posting_id: str | None = None


class AccountBalance(msgspec.Struct, kw_only=True, array_like=True):
    """One account's balance: what a posting's meaning depends on, and the sum."""

    contract: str
    organisation: str
    code: str
    currency: str
    balance: int


class JournalState(msgspec.Struct, kw_only=True):
    """The journal at one entry: its sequence number, hash and every account's balance."""

    seq: int
    head_hash: str
    accounts: list[AccountBalance]


class VerifyReport(msgspec.Struct, kw_only=True):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    totals: dict[str, dict[str, int]]
    first_mismatch: Mismatch | None = None
    trial_balance: dict[str, int] = {}
    accounts: list[AccountBalance] = []
    # With `capture_at`: the state at that entry, for comparing with a checkpoint.
    captured: JournalState | None = None


# Sources: raw rows from each engine ---------------------------------------------------------


class _Postgres:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def __aenter__(self) -> _Postgres:
        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.execute("SET search_path = pg_catalog, pg_temp")
        self.tx = self.conn.transaction(isolation="repeatable_read", readonly=True)
        await self.tx.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.tx.rollback()
        finally:
            await self.conn.close()

    def sql(self, text: str) -> str:
        # Tables named with their schema: nothing else on the search path is consulted.
        return text.replace("FROM ", "FROM public.").replace("$since", "$1")

    async def fetch(self, text: str, *args: object) -> list:
        return await self.conn.fetch(self.sql(text), *args)

    async def chunks(self, text: str, *args: object) -> AsyncIterator[list]:
        cursor = await self.conn.cursor(self.sql(text), *args)
        while batch := await cursor.fetch(CHUNK):
            yield batch


class _Sqlite:
    def __init__(self, engine) -> None:
        self.engine = engine

    async def __aenter__(self) -> _Sqlite:
        self.conn = await self.engine.get_connection()
        self.conn.row_factory = None
        await self.conn.execute("BEGIN")  # one snapshot for every read below
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.conn.execute("ROLLBACK")
        finally:
            await self.conn.close()

    def sql(self, text: str) -> str:
        return text.replace("$since", "?")

    async def fetch(self, text: str, *args: object) -> list:
        async with self.conn.execute(self.sql(text), args) as cursor:
            return list(await cursor.fetchall())

    async def chunks(self, text: str, *args: object) -> AsyncIterator[list]:
        async with self.conn.execute(self.sql(text), args) as cursor:
            while batch := await cursor.fetchmany(CHUNK):
                yield batch


def _queries(since: bool) -> dict[str, str]:
    entry_where = "WHERE seq > $since " if since else ""
    posting_where = "AND entry_seq > $since " if since else ""
    return {
        "accounts": f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM account",  # noqa: S608
        "entries": f"SELECT {', '.join(ENTRY_COLUMNS)} FROM journal_entry "  # noqa: S608
                   f"{entry_where}ORDER BY seq",
        "postings": f"SELECT {', '.join(POSTING_COLUMNS)} FROM posting "  # noqa: S608
                    f"WHERE entry_seq IS NOT NULL {posting_where}ORDER BY entry_seq, id",
        "count_entries": f"SELECT count(*) FROM journal_entry {entry_where}",  # noqa: S608
        "count_postings": "SELECT count(*) FROM posting "  # noqa: S608
                          + ("WHERE entry_seq > $since" if since else ""),
        "stray_posting": "SELECT id, entry, entry_seq FROM posting "
                         "WHERE entry_seq IS NULL LIMIT 1",
    }


# The check ---------------------------------------------------------------------------------


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _date(value: object) -> str:
    return value if isinstance(value, str) else value.isoformat()  # type: ignore[union-attr]


def _time(value: object) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return timestamp(value)  # type: ignore[arg-type]


class _Fail(Exception):
    def __init__(self, mismatch: Mismatch) -> None:
        self.mismatch = mismatch


def _accounts(rows: list) -> tuple[dict, dict]:
    """raw id → ((id, contract, organisation, code) as text, currency) for whole accounts,
    and raw id → the NULL column's name for accounts that are not."""
    whole, broken = {}, {}
    for r in rows:
        if None in tuple(r):
            broken[r[0]] = next(n for n, v in zip(ACCOUNT_COLUMNS, r, strict=True) if v is None)
        else:
            whole[r[0]] = ((_text(r[0]), _text(r[1]), _text(r[2]), r[3]), r[4])
    return whole, broken


async def _check(source, since: JournalState | None, capture_at: int | None) -> VerifyReport:
    q = _queries(since is not None)
    args = () if since is None else (since.seq,)
    accounts, broken = _accounts(await source.fetch(q["accounts"]))
    entry_count = (await source.fetch(q["count_entries"], *args))[0][0]
    posting_count = (await source.fetch(q["count_postings"], *args))[0][0]

    # Balances per account id while reading; per (contract, organisation, code, currency)
    # at the end. A checkpoint's balances come keyed by facts and stay so.
    by_id: dict[object, int] = defaultdict(int)
    start_balances: dict[tuple[str, str, str, str], int] = defaultdict(int)
    prev, expected = GENESIS, 1
    if since is not None:
        prev, expected = since.head_hash, since.seq + 1
        for a in since.accounts:
            start_balances[(a.contract, a.organisation, a.code, a.currency)] += a.balance

    def state_now() -> list[AccountBalance]:
        return _account_list(_by_facts(by_id, accounts, start_balances))

    captured = None
    if capture_at is not None and since is not None and capture_at == since.seq:
        captured = JournalState(seq=since.seq, head_hash=since.head_hash,
                                accounts=state_now())
    entries_seen = postings_seen = 0
    sha256, fromhex = hashlib.sha256, bytes.fromhex
    mismatch: Mismatch | None = None
    pit = aiter(source.chunks(q["postings"], *args))
    prows: list = []
    pi, pdone = 0, False
    last_time = last_time_text = last_date = last_date_text = None
    last_contract = last_contract_text = None
    try:
        async for chunk in source.chunks(q["entries"], *args):
            for row in chunk:
                raw_id, seq = row[0], row[1]
                entry_id = "" if raw_id is None else _text(raw_id)
                if None in tuple(row):
                    name = next(n for n, v in zip(ENTRY_COLUMNS, row, strict=True) if v is None)
                    raise _Fail(Mismatch(seq=seq if seq is not None else expected,
                                         entry_id=entry_id,
                                         problem=f"the entry's {name} is NULL"))
                if seq != expected:
                    problem = (f"entry {seq} appears twice" if seq < expected
                               else f"the sequence jumps from {expected - 1} to {seq}")
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=problem))
                if row[9] != prev:
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=(
                        "prev_hash does not match the hash of the entry before")))
                lines, moves = [], []
                while True:
                    if pi >= len(prows):
                        if pdone:
                            break
                        try:
                            prows, pi = await anext(pit), 0
                        except StopAsyncIteration:
                            pdone = True
                        continue
                    p = prows[pi]
                    if p[2] > seq:
                        break
                    pi += 1
                    account = accounts.get(p[3])
                    if (p[2] < seq or p[1] != raw_id or None in tuple(p) or account is None
                            or account[1] != p[5]):
                        _posting_problem(p, seq, entry_id, account, broken)
                    lines.append((*account[0], p[5], p[4]))
                    moves.append((p[3], p[4]))
                postings_seen += len(lines)
                if row[4] != last_time:
                    last_time, last_time_text = row[4], _time(row[4])
                if row[3] != last_date:
                    last_date, last_date_text = row[3], _date(row[3])
                if row[5] != last_contract:
                    last_contract, last_contract_text = row[5], _text(row[5])
                digest = sha256(fromhex(prev) + canonical_bytes(
                    seq, entry_id, row[2], last_date_text, last_time_text, last_contract_text,
                    row[6], row[7] or None, row[8], lines)).hexdigest()
                if digest != row[10]:
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=(
                        "the stored hash does not match the entry's contents")))
                problem = check_entry([(line[4], line[5]) for line in lines])
                if problem:
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=problem))
                for account_id, amount in moves:
                    by_id[account_id] += amount
                prev, expected = row[10], seq + 1
                entries_seen += 1
                if seq == capture_at:
                    captured = JournalState(seq=seq, head_hash=prev, accounts=state_now())
        stray = prows[pi] if pi < len(prows) else None
        if stray is None and not pdone:
            stray = next(iter(await anext(pit, [])), None)
        if stray is not None:
            raise _Fail(Mismatch(seq=stray[2], entry_id=_text(stray[1]), posting_id=_text(
                stray[0]), problem=f"posting {stray[0]} names entry sequence {stray[2]}, "
                                   "which is not in the chain"))
        if postings_seen != posting_count:
            row = (await source.fetch(q["stray_posting"]) or [(None, None, None)])[0]
            raise _Fail(Mismatch(seq=expected, entry_id=_text(row[1] or ""),
                                 posting_id=None if row[0] is None else _text(row[0]),
                                 problem=f"{posting_count - postings_seen} posting(s) "
                                         "belong to no entry of the chain"))
        if entries_seen != entry_count:
            raise _Fail(Mismatch(seq=expected, entry_id="", problem=(
                f"{entry_count - entries_seen} entr(y/ies) lie outside the chain")))
    except _Fail as fail:
        mismatch = fail.mismatch

    head_seq = expected - 1
    account_list = state_now()
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    trial: dict[str, int] = defaultdict(int)
    for a in account_list:
        totals[a.currency][a.code] += a.balance
        trial[a.currency] += a.balance
    return VerifyReport(
        ok=mismatch is None and not any(trial.values()),
        entries=head_seq, head_seq=head_seq, head_hash=prev,
        totals={c: dict(sorted(v.items())) for c, v in sorted(totals.items())},
        first_mismatch=mismatch, trial_balance=dict(trial), accounts=account_list,
        captured=captured)


def _posting_problem(p, seq: int, entry_id: str, account, broken: dict) -> None:
    """Raise the mismatch of a posting that does not belong where it is read."""
    posting_id = "" if p[0] is None else _text(p[0])
    for name, value in zip(POSTING_COLUMNS, p, strict=True):
        if value is None:
            raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id,
                                 problem=f"posting {posting_id}'s {name} is NULL"))
    if p[2] < seq:
        raise _Fail(Mismatch(seq=p[2], entry_id=_text(p[1]), posting_id=posting_id,
                             problem=f"posting {posting_id} names entry sequence {p[2]}, "
                                     "which is not in the chain"))
    if _text(p[1]) != entry_id:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id, problem=(
            f"posting {posting_id} is filed under entry {seq} but names entry {p[1]}")))
    account_id = _text(p[3])
    if p[3] in broken:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, account_id=account_id,
                             problem=f"account {account_id}'s {broken[p[3]]} is NULL"))
    if account is None:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id,
                             account_id=account_id,
                             problem=f"posting {posting_id}'s account {account_id} does "
                                     "not exist"))
    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, account_id=account_id,
                         posting_id=posting_id,
                         problem=f"account {account_id} is in {account[1]} but posting "
                                 f"{posting_id} is in {p[5]}"))


def _by_facts(by_id: dict, accounts: dict, start: dict) -> dict:
    out = defaultdict(int, start)
    for account_id, amount in by_id.items():
        (_, contract, organisation, code), currency = accounts[account_id]
        out[(contract, organisation, code, currency)] += amount
    return out


def _account_list(balances: dict[tuple[str, str, str, str], int]) -> list[AccountBalance]:
    return [AccountBalance(contract=k[0], organisation=k[1], code=k[2], currency=k[3],
                           balance=v) for k, v in sorted(balances.items())]


async def verify(dsn: str | None = None, *, since: JournalState | None = None,
                 capture_at: int | None = None) -> VerifyReport:
    """Verify the journal: `dsn` a PostgreSQL URL, otherwise the bound engine (SQLite).

    `since`: start from this (signed) state instead of the first entry. `capture_at`: also
    report the journal's state at that entry (`report.captured`).
    """
    source = _Postgres(dsn) if dsn else _Sqlite(JournalEntry._meta.db)
    async with source:
        return await _check(source, since, capture_at)


def engine_dsn() -> str | None:
    """The PostgreSQL URL of the bound engine, or None on SQLite."""
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        return engine.config.get("dsn")
    return None
