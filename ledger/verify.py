"""Recompute the journal from its first entry: sequence without gaps, every entry's hash
from its canonical bytes and the hash before it, every entry balanced per currency, and the
trial balance zero. The first entry that does not match is named.

On PostgreSQL the journal is streamed over a plain asyncpg connection with the values cast
to text in SQL, which is what makes a million entries a matter of seconds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
import msgspec

from ledger.journal import FORMAT_VERSION, GENESIS, timestamp
from ledger.tables import JournalEntry, Posting

CHUNK = 50_000
_encode = msgspec.json.Encoder().encode


class Mismatch(msgspec.Struct, kw_only=True):
    seq: int
    entry_id: str
    problem: str


class VerifyReport(msgspec.Struct, kw_only=True):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    totals: dict[str, dict[str, int]]
    first_mismatch: Mismatch | None = None
    trial_balance: dict[str, int] = {}


# One row per entry: seq, id, kind, effective_on, recorded_at, contract, key, reverses,
# memo, prev_hash, hash, and its postings as (account, currency, amount, code).
Row = tuple


async def _pg_rows(dsn: str) -> AsyncIterator[tuple[Row, list[tuple]]]:
    conn = await asyncpg.connect(dsn)
    try:
        last = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM journal_entry")
        for start in range(1, last + 1, CHUNK):
            end = start + CHUNK - 1
            entries = await conn.fetch(
                "SELECT seq, id::text, kind, effective_on::text, recorded_at, contract::text, "
                "idempotency_key, reverses, memo, prev_hash, hash FROM journal_entry "
                "WHERE seq BETWEEN $1 AND $2 ORDER BY seq", start, end)
            postings = await conn.fetch(
                "SELECT p.entry_seq, p.account::text, p.currency, p.amount, a.code "
                "FROM posting p JOIN account a ON a.id = p.account "
                "WHERE p.entry_seq BETWEEN $1 AND $2", start, end)
            grouped: dict[int, list[tuple]] = defaultdict(list)
            for p in postings:
                grouped[p[0]].append((p[1], p[2], p[3], p[4]))
            for e in entries:
                yield tuple(e), grouped.get(e[0], [])
    finally:
        await conn.close()


async def _piccolo_rows() -> AsyncIterator[tuple[Row, list[tuple]]]:
    last = await JournalEntry.select(JournalEntry.seq).order_by(
        JournalEntry.seq, ascending=False).first()
    for start in range(1, (last["seq"] if last else 0) + 1, CHUNK):
        end = start + CHUNK - 1
        entries = await JournalEntry.select().where(
            (JournalEntry.seq >= start) & (JournalEntry.seq <= end)).order_by(JournalEntry.seq)
        grouped: dict[int, list[tuple]] = defaultdict(list)
        for p in await Posting.select(Posting.entry_seq, Posting.account, Posting.currency,
                                      Posting.amount,
                                      Posting.account.code.as_alias("code")).where(
                (Posting.entry_seq >= start) & (Posting.entry_seq <= end)):
            grouped[p["entry_seq"]].append((str(p["account"]), p["currency"], p["amount"],
                                            p["code"]))
        for e in entries:
            row = (e["seq"], str(e["id"]), e["kind"], e["effective_on"].isoformat(),
                   e["recorded_at"], None if e["contract"] is None else str(e["contract"]),
                   e["idempotency_key"], e["reverses"], e["memo"], e["prev_hash"], e["hash"])
            yield row, grouped.get(e["seq"], [])


async def verify(dsn: str | None = None, *, upto: int | None = None) -> VerifyReport:
    """`dsn`: a PostgreSQL URL to stream from; otherwise the bound engine (SQLite)."""
    rows = _pg_rows(dsn) if dsn else _piccolo_rows()
    prev, expected_seq, count = GENESIS, 1, 0
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    trial: dict[str, int] = defaultdict(int)
    sha256 = hashlib.sha256
    mismatch: Mismatch | None = None
    async for e, postings in rows:
        seq = e[0]
        if upto is not None and seq > upto:
            break
        problem = None
        if seq != expected_seq:
            problem = f"sequence jumps from {expected_seq - 1} to {seq}"
        elif e[9] != prev:
            problem = "prev_hash does not match the hash of the entry before"
        else:
            lines = sorted((p[0], p[1], p[2]) for p in postings)
            canonical = _encode([
                FORMAT_VERSION, seq, e[1], e[2], e[3],
                e[4] if isinstance(e[4], str) else timestamp(e[4]), e[5], e[6], e[7], e[8],
                [list(p) for p in lines]])
            digest = sha256(bytes.fromhex(prev) + canonical).hexdigest()
            if digest != e[10]:
                problem = "the stored hash does not match the entry's contents"
            else:
                sums: dict[str, int] = defaultdict(int)
                for _, currency, amount in lines:
                    sums[currency] += amount
                off = {c: t for c, t in sums.items() if t}
                if len(lines) < 2 or off:
                    problem = f"the postings do not balance: {dict(off)}"
        if problem:
            mismatch = Mismatch(seq=seq, entry_id=e[1], problem=problem)
            break
        for _, currency, amount, code in postings:
            totals[currency][code] += amount
            trial[currency] += amount
        prev, expected_seq, count = e[10], seq + 1, count + 1
    return VerifyReport(
        ok=mismatch is None and not any(trial.values()), entries=count,
        head_seq=expected_seq - 1, head_hash=prev,
        totals={c: dict(sorted(v.items())) for c, v in totals.items()},
        first_mismatch=mismatch, trial_balance=dict(trial))


def engine_dsn() -> str | None:
    """The PostgreSQL URL of the bound engine, or None on SQLite."""
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        return engine.config.get("dsn")
    return None


