from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import engine_type, run_all, unique_index

ID = "2026-11-26T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "no NULL in the journal; postings bound to their entry; erasable notes"

# What a posting or entry must never hold, checked at INSERT on SQLite (PostgreSQL has
# NOT NULL and a foreign key). The verifier checks the same, since a database
# administrator can drop any of these.
SQLITE_GUARDS = [
    "CREATE TRIGGER IF NOT EXISTS journal_entry_not_null BEFORE INSERT ON journal_entry "
    "WHEN NEW.id IS NULL OR NEW.seq IS NULL OR NEW.kind IS NULL OR NEW.effective_on IS NULL "
    "OR NEW.recorded_at IS NULL OR NEW.contract IS NULL OR NEW.idempotency_key IS NULL "
    "OR NEW.reverses IS NULL OR NEW.memo IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'journal entries hold no NULL'); END",
    "CREATE TRIGGER IF NOT EXISTS account_not_null BEFORE INSERT ON account "
    "WHEN NEW.contract IS NULL OR NEW.organisation IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'accounts belong to a contract and an organisation'); END",
    "CREATE TRIGGER IF NOT EXISTS posting_bound_to_entry BEFORE INSERT ON posting "
    "WHEN NOT EXISTS (SELECT 1 FROM journal_entry "
    "WHERE id = NEW.entry AND seq = NEW.entry_seq) "
    "BEGIN SELECT RAISE(ABORT, 'a posting belongs to its entry by id and sequence'); END",
]

POSTGRES = [
    "ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_append_only",
    "UPDATE journal_entry SET reverses = '' WHERE reverses IS NULL",
    "ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_append_only",
    "ALTER TABLE journal_entry ALTER COLUMN reverses SET DEFAULT ''",
    "ALTER TABLE journal_entry ALTER COLUMN reverses SET NOT NULL",
    "ALTER TABLE journal_entry ALTER COLUMN contract SET NOT NULL",
    "ALTER TABLE account ALTER COLUMN contract SET NOT NULL",
    "ALTER TABLE account ALTER COLUMN organisation SET NOT NULL",
    "ALTER TABLE posting DROP CONSTRAINT IF EXISTS posting_bound_to_entry",
    "ALTER TABLE posting ADD CONSTRAINT posting_bound_to_entry FOREIGN KEY (entry, entry_seq) "
    "REFERENCES journal_entry (id, seq)",
    "CREATE TABLE IF NOT EXISTS journal_note (id uuid PRIMARY KEY, "
    "entry uuid NOT NULL REFERENCES journal_entry (id), text text NOT NULL, "
    "recorded_at timestamptz NOT NULL)",
]

SQLITE = [
    # Existing entries that reverse nothing get '' instead of NULL; the bytes they were
    # hashed with are the same (docs/ledger.md), so no hash changes.
    "DROP TRIGGER IF EXISTS journal_entry_no_update",
    "UPDATE journal_entry SET reverses = '' WHERE reverses IS NULL",
    "CREATE TRIGGER IF NOT EXISTS journal_entry_no_update BEFORE UPDATE ON journal_entry "
    "BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END",
    *SQLITE_GUARDS,
    'CREATE TABLE IF NOT EXISTS "journal_note" ("id" UUID PRIMARY KEY NOT NULL, '
    '"entry" UUID NOT NULL REFERENCES "journal_entry" ("id"), "text" TEXT NOT NULL, '
    '"recorded_at" TIMESTAMPTZ NOT NULL)',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        await run_all([
            unique_index("journal_entry_id_seq", "journal_entry", "id", "seq"),
            *(POSTGRES if kind == "postgres" else SQLITE),
            "CREATE INDEX IF NOT EXISTS journal_note_by_entry ON journal_note (entry)",
        ])

    manager.add_raw(run)
    return manager
