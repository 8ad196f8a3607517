"""Accounts, journal entries, postings, checkpoints and the erasable notes beside the
journal; money in integer minor units.

Nothing in the journal is NULL (an entry that reverses nothing has '' in `reverses`), and
every posting names its entry twice, by id and by sequence number, bound together by a
constraint (a foreign key on PostgreSQL, a trigger on SQLite): see the ledger migrations.
"""

from piccolo.columns import (
    UUID,
    BigInt,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from contracts.tables import Contract, Organisation


class Account(Table):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    organisation = ForeignKey(references=Organisation, null=False)
    code = Varchar(length=32)
    currency = Varchar(length=3)
    name = Varchar(length=200)


class JournalEntry(Table, tablename="journal_entry"):
    id = UUID(primary_key=True)
    seq = BigInt(unique=True)
    kind = Varchar(length=32)
    effective_on = Date()
    recorded_at = Timestamptz()
    contract = ForeignKey(references=Contract, null=False)
    idempotency_key = Varchar(length=200, unique=True)
    reverses = Varchar(length=36, default="")
    memo = Text()
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)


class JournalFormat(Table, tablename="journal_format"):
    """From which sequence number on the entries follow a format (append-only, written by the
    migrations): format 2 chains every entry to the one before it in the whole journal,
    format 3 to the one before it of the same contract (docs/ledger.md)."""

    id = UUID(primary_key=True)
    version = Integer()
    from_seq = BigInt()
    recorded_at = Timestamptz()


class Posting(Table):
    id = UUID(primary_key=True)
    entry = ForeignKey(references=JournalEntry, null=False)
    # The entry's sequence number again, so that a verifier streams postings in journal
    # order from an index instead of sorting a join.
    entry_seq = BigInt()
    account = ForeignKey(references=Account, null=False)
    amount = BigInt()
    currency = Varchar(length=3)


class Checkpoint(Table):
    id = UUID(primary_key=True)
    seq = BigInt()
    head_hash = Varchar(length=64)
    totals = Text()
    signature = Varchar(length=128)
    public_key = Varchar(length=64)
    created_at = Timestamptz()
    # The signed document exactly as signed, so that anyone can check the signature.
    document = Text(default="")


class JournalNote(Table, tablename="journal_note"):
    """Free text a person wrote about an entry (a clawback's reason). Outside the hash
    chain, so that it can be erased when it must be; the entry keeps only codes."""

    id = UUID(primary_key=True)
    entry = ForeignKey(references=JournalEntry, null=False)
    text = Text()
    recorded_at = Timestamptz()
