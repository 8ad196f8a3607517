"""One hash chain per contract: two contracts append side by side without waiting for each
other, each entry chains to its own contract's entry before it, and entries recorded before
chains per contract (format 2, one chain for the whole journal) still verify beside them."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid

import asyncpg
import pytest

from core.database import bulk_insert, write_transaction
from ledger import checkpoints, entries
from ledger.journal import GENESIS, canonical_bytes, timestamp
from ledger.posting import post
from ledger.tables import Account, JournalEntry, Posting
from ledger.verify import engine_dsn, verify
from tests.helpers import world

DAY = dt.date(2026, 1, 5)


def commit(w, name: str, key: str, amount: int = 1_000):
    return entries.commitment(w.contracts[name], "DKK", [(w.ids["commissioner"], amount)],
                              key, DAY, f"committed {key}")


async def test_each_entry_chains_to_its_own_contracts_entry_before(db):
    w = await world()
    for key, name in (("a1", "own"), ("b1", "other"), ("a2", "own"), ("b2", "other")):
        async with write_transaction():
            await post([commit(w, name, key)])
    rows = {r["idempotency_key"]: r for r in await JournalEntry.select()}
    assert rows["a1"]["prev_hash"] == GENESIS and rows["b1"]["prev_hash"] == GENESIS
    assert rows["a2"]["prev_hash"] == rows["a1"]["hash"]
    assert rows["b2"]["prev_hash"] == rows["b1"]["hash"]
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
    assert {(h.contract, h.seq, h.hash) for h in report.heads} == {
        (str(w.contracts["own"]), rows["a2"]["seq"], rows["a2"]["hash"]),
        (str(w.contracts["other"]), rows["b2"]["seq"], rows["b2"]["hash"])}


async def test_two_contracts_append_without_waiting_for_each_other(db):
    if db.kind != "postgres":
        pytest.skip("SQLite has one writer at a time")
    w = await world()
    holding, release = asyncio.Event(), asyncio.Event()

    async def slow_own() -> None:
        async with write_transaction():
            await post([commit(w, "own", "slow")])
            holding.set()
            await release.wait()  # the contract's chain stays locked until this commits

    slow = asyncio.create_task(slow_own())
    await holding.wait()
    try:
        async with asyncio.timeout(10):
            async with write_transaction():
                await post([commit(w, "other", "fast")])
        # The other contract's entry is in while the first transaction still holds its lock.
        conn = await asyncpg.connect(db.url)
        try:
            keys = {r["idempotency_key"] for r in
                    await conn.fetch("SELECT idempotency_key FROM journal_entry")}
        finally:
            await conn.close()
        assert keys == {"fast"}
    finally:
        release.set()
        await slow
    assert (await verify(engine_dsn())).ok


async def test_one_contracts_appends_still_queue(db):
    if db.kind != "postgres":
        pytest.skip("SQLite has one writer at a time")
    w = await world()
    holding, release = asyncio.Event(), asyncio.Event()

    async def slow_own() -> None:
        async with write_transaction():
            await post([commit(w, "own", "first")])
            holding.set()
            await release.wait()

    slow = asyncio.create_task(slow_own())
    await holding.wait()

    async def second() -> None:
        async with write_transaction():
            await post([commit(w, "own", "second")])

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.5)
    assert not waiting.done()  # the same contract's chain: it waits for the first to commit
    release.set()
    await slow
    await waiting
    rows = {r["idempotency_key"]: r for r in await JournalEntry.select()}
    assert rows["second"]["prev_hash"] == rows["first"]["hash"]
    assert (await verify(engine_dsn())).ok


async def _legacy_journal(db, w, count: int) -> list[dict]:
    """`count` entries of format 2 (one chain across both contracts, numbered 1, 2, 3 …), as
    a journal recorded before chains per contract holds them, with `journal_format` saying
    format 3 begins after them."""
    org = w.ids["commissioner"]
    accounts = {}
    for name, cid in w.contracts.items():
        for code in ("committed", "budget"):
            accounts[(name, code)] = uuid.uuid4()
    async with write_transaction():
        await bulk_insert(Account, [dict(id=a, contract=w.contracts[name], organisation=org,
                                         code=code, currency="DKK", name=code)
                                    for (name, code), a in accounts.items()])
    prev, rows = GENESIS, []
    at = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    for seq in range(1, count + 1):
        name = ("own", "other")[seq % 2]
        cid, eid = w.contracts[name], uuid.uuid4()
        lines = [(str(accounts[(name, "committed")]), str(cid), str(org), "committed", "DKK", 5),
                 (str(accounts[(name, "budget")]), str(cid), str(org), "budget", "DKK", -5)]
        digest = hashlib.sha256(bytes.fromhex(prev) + canonical_bytes(
            seq, str(eid), "commitment", DAY.isoformat(), timestamp(at), str(cid),
            f"old:{seq}", None, "before", lines, 2)).hexdigest()
        rows.append(dict(id=eid, seq=seq, kind="commitment", effective_on=DAY, recorded_at=at,
                         contract=cid, idempotency_key=f"old:{seq}", reverses="",
                         memo="before", prev_hash=prev, hash=digest))
        prev = digest
    async with write_transaction():
        await bulk_insert(JournalEntry, rows)
        await bulk_insert(Posting, [
            dict(id=uuid.uuid4(), entry=r["id"], entry_seq=r["seq"],
                 account=accounts[(name, code)], amount=amount, currency="DKK")
            for r, name in ((r, "own" if r["contract"] == w.contracts["own"] else "other")
                            for r in rows)
            for code, amount in (("committed", 5), ("budget", -5))])
    await _set_format_start(db, count + 1)
    return rows


async def _set_format_start(db, start: int) -> None:
    """Where format 3 begins, as the migration records it on a journal of `start - 1`
    entries (the record is append-only: its guard is lifted for this)."""
    if db.kind == "postgres":
        conn = await asyncpg.connect(db.url)
        try:
            await conn.execute("ALTER TABLE journal_format DISABLE TRIGGER USER")
            await conn.execute("UPDATE journal_format SET from_seq = $1", start)
            await conn.execute("ALTER TABLE journal_format ENABLE TRIGGER USER")
            await conn.execute("SELECT setval('journal_seq', $1, false)", start)
        finally:
            await conn.close()
    else:
        import sqlite3

        conn = sqlite3.connect(db.url[len("sqlite:///"):])
        try:
            conn.execute("DROP TRIGGER IF EXISTS journal_format_no_update")
            conn.execute("UPDATE journal_format SET from_seq = ?", (start,))
            conn.commit()
        finally:
            conn.close()


async def test_entries_from_before_chains_per_contract_verify_beside_the_new(db, tmp_path):
    w = await world()
    legacy = await _legacy_journal(db, w, 5)
    assert (await verify(engine_dsn())).ok
    for key, name in (("n1", "own"), ("n2", "other")):
        async with write_transaction():
            await post([commit(w, name, key)])
    rows = {r["idempotency_key"]: r for r in await JournalEntry.select()}
    # The first entry of format 3 chains to its contract's last entry of format 2.
    last_own = max((r for r in legacy if r["contract"] == w.contracts["own"]),
                   key=lambda r: r["seq"])
    assert rows["n1"]["prev_hash"] == last_own["hash"] and rows["n1"]["seq"] == 6
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
    key = tmp_path / "k.key"
    signed, _ = await checkpoints.create(key, engine_dsn())
    trusted = checkpoints.public_hex(checkpoints.load_or_create_key(key))
    assert (await checkpoints.check(signed, engine_dsn(), trusted)).ok
    # Moving where format 3 begins breaks the hashes of the entries it moves.
    await _set_format_start(db, 4)
    broken = await verify(engine_dsn())
    assert not broken.ok and broken.first_mismatch.seq == 4
