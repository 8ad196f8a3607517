"""The posting service writes a large posting in chunks, building the next while the
database takes one: on both engines the journal it leaves is the one written at once,
gap-free, chained and verifiable, and a failure in any chunk leaves nothing behind."""

from __future__ import annotations

import datetime as dt

import pytest

from core.database import write_transaction
from ledger import posting
from ledger.posting import Leg, NewEntry, post
from ledger.tables import JournalEntry, JournalNote, Posting
from ledger.verify import engine_dsn, verify
from tests.helpers import active_contract, world


def _entries(cid, org, n: int, start: int = 0) -> list[NewEntry]:
    return [NewEntry(kind="test", effective_on=dt.date(2025, 1, 1 + i % 28), contract=cid,
                     idempotency_key=f"chunk-{i}", memo=f"entry {i}",
                     note="a note" if i % 5 == 0 else "",
                     legs=[Leg(cid, org, "committed", 100 + i, "DKK"),
                           Leg(cid, org, "budget", -(100 + i), "DKK")])
            for i in range(start, start + n)]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(posting, "CHUNK", 7)
    monkeypatch.setattr(posting, "STEP", 3)


async def test_entries_written_in_chunks_are_numbered_chained_and_verify(db, small_chunks):
    w = await world()
    cid = await active_contract(w)
    org = w.ids["commissioner"]
    before = await JournalEntry.count()
    async with write_transaction():
        done = await post(_entries(cid, org, 30))
    # Posting again changes nothing and answers with the same entries.
    async with write_transaction():
        again = await post(_entries(cid, org, 30))
    assert again == done and len(done) == 30
    rows = await JournalEntry.select(JournalEntry.id, JournalEntry.seq,
                                     JournalEntry.idempotency_key).order_by(JournalEntry.seq)
    assert len(rows) == before + 30 and len({r["seq"] for r in rows}) == before + 30
    # Numbered in the order they were posted, each chunk after the one before.
    assert [r["idempotency_key"] for r in rows[before:]] == [f"chunk-{i}" for i in range(30)]
    assert {r["idempotency_key"]: r["id"] for r in rows[before:]} == done
    assert await Posting.count().where(Posting.entry.is_in(list(done.values()))) == 60
    assert await JournalNote.count() == 6
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
    assert report.entries == before + 30


async def test_a_chunk_that_fails_leaves_no_entry_behind(db, small_chunks, monkeypatch):
    """The third chunk fails after its entries are written: the whole posting is rolled
    back with the transaction, the chunks before it too, and the journal still verifies."""
    w = await world()
    cid = await active_contract(w)
    org = w.ids["commissioner"]
    before = await JournalEntry.count()
    write, chunks = posting._write, []

    async def failing_third(entry_rows, posting_rows, note_rows):
        chunks.append(len(entry_rows))
        if len(chunks) == 3:
            await posting.bulk_insert(JournalEntry, entry_rows)
            raise RuntimeError("the connection was lost")
        await write(entry_rows, posting_rows, note_rows)

    monkeypatch.setattr(posting, "_write", failing_third)
    with pytest.raises(RuntimeError, match="connection was lost"):
        async with write_transaction():
            await post(_entries(cid, org, 20))
    assert chunks == [7, 7, 6]
    assert await JournalEntry.count() == before
    assert await Posting.count() == await Posting.count().where(
        Posting.entry.is_in(JournalEntry.select(JournalEntry.id)))
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
