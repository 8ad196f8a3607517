from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T03:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = 'no NULL in the journal; postings bound to their entry; erasable notes'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS journal_entry_id_seq ON journal_entry (id, seq)',
            'DROP TRIGGER IF EXISTS journal_entry_no_update',
            "UPDATE journal_entry SET reverses = '' WHERE reverses IS NULL",
            'CREATE TRIGGER IF NOT EXISTS journal_entry_no_update BEFORE UPDATE ON journal_entry '
            "BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS journal_entry_not_null BEFORE INSERT ON journal_entry '
            'WHEN NEW.id IS NULL OR NEW.seq IS NULL OR NEW.kind IS NULL OR NEW.effective_on IS '
            'NULL OR NEW.recorded_at IS NULL OR NEW.contract IS NULL OR NEW.idempotency_key IS '
            'NULL OR NEW.reverses IS NULL OR NEW.memo IS NULL OR NEW.prev_hash IS NULL OR NEW.hash '
            "IS NULL BEGIN SELECT RAISE(ABORT, 'journal entries hold no NULL'); END",
            'CREATE TRIGGER IF NOT EXISTS account_not_null BEFORE INSERT ON account WHEN '
            "NEW.contract IS NULL OR NEW.organisation IS NULL BEGIN SELECT RAISE(ABORT, 'accounts "
            "belong to a contract and an organisation'); END",
            'CREATE TRIGGER IF NOT EXISTS posting_bound_to_entry BEFORE INSERT ON posting WHEN NOT '
            'EXISTS (SELECT 1 FROM journal_entry WHERE id = NEW.entry AND seq = NEW.entry_seq) '
            "BEGIN SELECT RAISE(ABORT, 'a posting belongs to its entry by id and sequence'); END",
            'CREATE TABLE IF NOT EXISTS "journal_note" ("id" UUID PRIMARY KEY NOT NULL, "entry" '
            'UUID NOT NULL REFERENCES "journal_entry" ("id"), "text" TEXT NOT NULL, "recorded_at" '
            'TIMESTAMPTZ NOT NULL)',
            'CREATE INDEX IF NOT EXISTS journal_note_by_entry ON journal_note (entry)'],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS journal_entry_id_seq ON journal_entry (id, seq)',
              'ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_append_only',
              "UPDATE journal_entry SET reverses = '' WHERE reverses IS NULL",
              'ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_append_only',
              "ALTER TABLE journal_entry ALTER COLUMN reverses SET DEFAULT ''",
              'ALTER TABLE journal_entry ALTER COLUMN reverses SET NOT NULL',
              'ALTER TABLE journal_entry ALTER COLUMN contract SET NOT NULL',
              'ALTER TABLE account ALTER COLUMN contract SET NOT NULL',
              'ALTER TABLE account ALTER COLUMN organisation SET NOT NULL',
              'ALTER TABLE posting DROP CONSTRAINT IF EXISTS posting_bound_to_entry',
              'ALTER TABLE posting ADD CONSTRAINT posting_bound_to_entry FOREIGN KEY (entry, '
              'entry_seq) REFERENCES journal_entry (id, seq)',
              'CREATE TABLE IF NOT EXISTS journal_note (id uuid PRIMARY KEY, entry uuid NOT NULL '
              'REFERENCES journal_entry (id), text text NOT NULL, recorded_at timestamptz NOT '
              'NULL)',
              'CREATE INDEX IF NOT EXISTS journal_note_by_entry ON journal_note (entry)']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='ledger', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
