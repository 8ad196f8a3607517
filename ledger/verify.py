"""Recompute the journal from its first entry: sequence without gaps, every entry's hash
from its canonical bytes and the hash before it, every entry balanced per currency, and the
trial balance zero. The first entry that does not match is named.

On PostgreSQL the journal is streamed over a plain asyncpg connection with the values cast
to text in SQL, which is what makes a million entries a matter of seconds.
"""

from __future__ import annotations

import asyncio
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


# PostgreSQL builds each entry's canonical bytes itself (docs/ledger.md): to_json() escapes
# strings exactly as the format says, and the postings are listed in the format's order.
# Python then only hashes, so a million entries take seconds, not minutes.
CANONICAL_SQL = """
WITH p AS (
  SELECT entry_seq, count(*) AS n,
         string_agg('["' || account || '",' || to_json(currency)::text || ',' || amount
                    || ']', ',' ORDER BY account, currency, amount) AS lines
  FROM posting WHERE entry_seq BETWEEN $1 AND $2 GROUP BY entry_seq
)
SELECT e.seq, e.id::text,
  '[1,' || e.seq || ',"' || e.id || '",' || to_json(e.kind)::text || ',"' || e.effective_on
  || '","' || to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  || '",' || coalesce('"' || e.contract || '"', 'null') || ','
  || to_json(e.idempotency_key)::text || ',' || coalesce(to_json(e.reverses)::text, 'null')
  || ',' || to_json(e.memo)::text || ',[' || coalesce(p.lines, '') || ']]',
  e.prev_hash, e.hash, coalesce(p.n, 0)
FROM journal_entry e LEFT JOIN p ON p.entry_seq = e.seq
WHERE e.seq BETWEEN $1 AND $2 ORDER BY e.seq
"""

# The same, hashed inside PostgreSQL: each row's hash recomputed from its stored prev_hash,
# and the chain's links checked with lag(). Only the chunk's first and last rows and the
# first row that fails come back.
IN_DATABASE_SQL = """
WITH p AS (
  SELECT entry_seq, count(*) AS n,
         string_agg('["' || account || '",' || to_json(currency)::text || ',' || amount
                    || ']', ',' ORDER BY account, currency, amount) AS lines
  FROM posting WHERE entry_seq BETWEEN $1 AND $2 GROUP BY entry_seq
), c AS (
  SELECT e.seq, e.id::text AS id, e.prev_hash, e.hash, coalesce(p.n, 0) AS n,
    encode(sha256(decode(e.prev_hash, 'hex') || convert_to(
      '[1,' || e.seq || ',"' || e.id || '",' || to_json(e.kind)::text || ',"'
      || e.effective_on || '","'
      || to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
      || '",' || coalesce('"' || e.contract || '"', 'null') || ','
      || to_json(e.idempotency_key)::text || ',' || coalesce(to_json(e.reverses)::text, 'null')
      || ',' || to_json(e.memo)::text || ',[' || coalesce(p.lines, '') || ']]', 'UTF8')),
      'hex') AS computed,
    lag(e.hash) OVER (ORDER BY e.seq) AS hash_before,
    lag(e.seq) OVER (ORDER BY e.seq) AS seq_before
  FROM journal_entry e LEFT JOIN p ON p.entry_seq = e.seq
  WHERE e.seq BETWEEN $1 AND $2
), checked AS (
  SELECT seq, id, prev_hash, hash, n,
    CASE WHEN seq_before IS NOT NULL AND seq <> seq_before + 1 THEN 'gap'
         WHEN hash_before IS NOT NULL AND prev_hash <> hash_before THEN 'link'
         WHEN computed <> hash THEN 'hash'
         WHEN n < 2 THEN 'postings' END AS problem
  FROM c
)
SELECT seq, id, prev_hash, hash, n, problem FROM checked
WHERE problem IS NOT NULL OR seq = (SELECT min(seq) FROM c) OR seq = (SELECT max(seq) FROM c)
ORDER BY seq
"""

PROBLEMS = {
    "gap": "the sequence has a gap before this entry",
    "link": "prev_hash does not match the hash of the entry before",
    "hash": "the stored hash does not match the entry's contents",
    "postings": "the postings do not balance",
}

UNBALANCED_SQL = """
SELECT entry_seq FROM posting WHERE entry_seq BETWEEN $1 AND $2
GROUP BY entry_seq, currency HAVING sum(amount) <> 0 ORDER BY entry_seq LIMIT 1
"""

TOTALS_SQL = """
SELECT a.code, p.currency, sum(p.amount)::bigint AS total FROM posting p
JOIN account a ON a.id = p.account WHERE p.entry_seq <= $1 GROUP BY a.code, p.currency
"""


async def _fetch(pool: asyncpg.Pool, start: int, end: int, in_database: bool
                 ) -> tuple[list, int | None]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(IN_DATABASE_SQL if in_database else CANONICAL_SQL, start, end)
        return rows, await conn.fetchval(UNBALANCED_SQL, start, end)


async def _verify_pg(dsn: str, upto: int | None, in_database: bool) -> VerifyReport:
    # Two connections build the next chunks while this process hashes the current one.
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
    try:
        last = await pool.fetchval("SELECT coalesce(max(seq), 0) FROM journal_entry")
        if upto is not None:
            last = min(last, upto)
        starts = list(range(1, last + 1, CHUNK))
        pending = [asyncio.ensure_future(_fetch(pool, s, min(last, s + CHUNK - 1),
                                                in_database)) for s in starts[:2]]
        prev, expected, count = GENESIS, 1, 0
        mismatch: Mismatch | None = None
        sha256 = hashlib.sha256
        for k in range(len(starts)):
            rows, unbalanced = await pending[k]
            if k + 2 < len(starts):
                s = starts[k + 2]
                pending.append(asyncio.ensure_future(
                    _fetch(pool, s, min(last, s + CHUNK - 1), in_database)))
            if in_database:
                mismatch = _check_chunk(rows, unbalanced, expected, prev)
                if mismatch is None and rows:
                    expected, prev = rows[-1][0] + 1, rows[-1][3]
                    count = expected - 1
            for seq, entry_id, canonical, prev_hash, digest, n in ([] if in_database else rows):
                problem = None
                if seq != expected:
                    problem = f"sequence jumps from {expected - 1} to {seq}"
                elif prev_hash != prev:
                    problem = "prev_hash does not match the hash of the entry before"
                elif sha256(bytes.fromhex(prev) + canonical.encode()).hexdigest() != digest:
                    problem = "the stored hash does not match the entry's contents"
                elif n < 2 or seq == unbalanced:
                    problem = "the postings do not balance"
                if problem:
                    mismatch = Mismatch(seq=seq, entry_id=entry_id, problem=problem)
                    break
                prev, expected, count = digest, seq + 1, count + 1
            if mismatch:
                break
        for task in pending:
            if not task.done():
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if mismatch is None and count < last:
            mismatch = Mismatch(seq=expected, entry_id="", problem="the entry is missing")
        if mismatch is not None:
            count = expected = mismatch.seq
            count -= 1
            prev = await pool.fetchval("SELECT hash FROM journal_entry WHERE seq = $1",
                                       mismatch.seq - 1) or GENESIS
            if not mismatch.entry_id:
                found = await pool.fetchval("SELECT id::text FROM journal_entry WHERE seq = $1",
                                            mismatch.seq)
                mismatch.entry_id = found or ""
        totals: dict[str, dict[str, int]] = defaultdict(dict)
        trial: dict[str, int] = defaultdict(int)
        for code, currency, total in await pool.fetch(TOTALS_SQL, expected - 1):
            totals[currency][code] = total
            trial[currency] += total
    finally:
        await pool.close()
    return VerifyReport(
        ok=mismatch is None and not any(trial.values()), entries=count,
        head_seq=expected - 1, head_hash=prev,
        totals={c: dict(sorted(v.items())) for c, v in totals.items()},
        first_mismatch=mismatch, trial_balance=dict(trial))


def _check_chunk(rows: list, unbalanced: int | None, expected: int, prev: str
                 ) -> Mismatch | None:
    """A chunk checked in the database: its first row must continue the chain; otherwise
    the earliest row that failed, or the earliest unbalanced entry."""
    if not rows:
        return None
    seq, entry_id, prev_hash = rows[0][0], rows[0][1], rows[0][2]
    if seq != expected:
        return Mismatch(seq=seq, entry_id=entry_id,
                        problem=f"sequence jumps from {expected - 1} to {seq}")
    if prev_hash != prev:
        return Mismatch(seq=seq, entry_id=entry_id, problem=PROBLEMS["link"])
    found = [(r[0], r[1], PROBLEMS[r[5]]) for r in rows if r[5]][:1]
    if unbalanced is not None:
        found.append((unbalanced, "", PROBLEMS["postings"]))
    if not found:
        return None
    seq, entry_id, problem = min(found)
    return Mismatch(seq=seq, entry_id=entry_id, problem=problem)


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


async def verify(dsn: str | None = None, *, upto: int | None = None,
                 independent: bool = False) -> VerifyReport:
    """`dsn`: a PostgreSQL URL to stream from; otherwise the bound engine (SQLite).

    On PostgreSQL the hashes are recomputed inside the database unless `independent`, when
    they are recomputed here in Python from the canonical bytes the database builds.
    """
    if dsn:
        return await _verify_pg(dsn, upto, in_database=not independent)
    rows = _piccolo_rows()
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


