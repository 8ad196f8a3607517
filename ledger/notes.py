"""Notes beside the journal: the free text people wrote about an entry (a clawback's
reason). The hash-chained entry keeps only codes and references; its note can be read and,
when data protection requires it, erased without touching the chain."""

from __future__ import annotations

from uuid import UUID

from core.database import write_transaction
from ledger.tables import JournalNote


async def of_entry(entry_id: UUID) -> list[str]:
    return [r["text"] for r in await JournalNote.select(JournalNote.text).where(
        JournalNote.entry == entry_id).order_by(JournalNote.recorded_at)]


async def erase(entry_id: UUID) -> int:
    """Delete the notes of an entry; returns how many there were."""
    async with write_transaction():
        rows = await JournalNote.delete().where(JournalNote.entry == entry_id).returning(
            JournalNote.id)
    return len(rows)
