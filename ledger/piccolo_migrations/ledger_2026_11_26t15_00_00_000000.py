from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T15:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = 'one hash chain per contract: entries numbered from a sequence, chained per contract'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
#
# Entries recorded before this migration keep the journal-wide chain of format 2; every entry
# from the next number on is chained to its contract's previous entry (format 3). The number
# where format 3 begins is recorded once, in `journal_format`: a verifier reads it to know
# which rule each entry follows (a changed number breaks the hashes of the entries it moves).
STATEMENTS = {'sqlite': ['CREATE TABLE IF NOT EXISTS journal_format (id CHAR(36) PRIMARY KEY NOT NULL, '
            'version INTEGER NOT NULL, from_seq INTEGER NOT NULL, recorded_at DATETIME NOT NULL)',
            'CREATE INDEX IF NOT EXISTS journal_entry_by_contract ON journal_entry (contract, seq)',
            "INSERT INTO journal_format (id, version, from_seq, recorded_at) SELECT "
            "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
            "substr(hex(randomblob(2)), 2) || '-8' || substr(hex(randomblob(2)), 2) || '-' || "
            "hex(randomblob(6))), 3, coalesce(max(seq), 0) + 1, strftime('%Y-%m-%d %H:%M:%f', "
            "'now') || '+00:00' FROM journal_entry WHERE NOT EXISTS (SELECT 1 FROM journal_format)",
            'CREATE TRIGGER IF NOT EXISTS journal_format_no_update BEFORE UPDATE ON journal_format '
            "BEGIN SELECT RAISE(ABORT, 'the journal format is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS journal_format_no_delete BEFORE DELETE ON journal_format '
            "BEGIN SELECT RAISE(ABORT, 'the journal format is append-only'); END"],
 'postgres': ['CREATE TABLE IF NOT EXISTS journal_format (id UUID PRIMARY KEY NOT NULL, '
              'version INTEGER NOT NULL, from_seq BIGINT NOT NULL, '
              'recorded_at TIMESTAMPTZ NOT NULL)',
              'CREATE INDEX IF NOT EXISTS journal_entry_by_contract ON journal_entry (contract, seq)',
              'CREATE SEQUENCE IF NOT EXISTS journal_seq',
              "SELECT setval('journal_seq', coalesce((SELECT max(seq) FROM journal_entry), 0) + 1, "
              'false)',
              'INSERT INTO journal_format (id, version, from_seq, recorded_at) SELECT '
              'gen_random_uuid(), 3, coalesce(max(seq), 0) + 1, now() FROM journal_entry '
              'WHERE NOT EXISTS (SELECT 1 FROM journal_format)',
              'CREATE OR REPLACE FUNCTION journal_format_append_only() RETURNS trigger '
              "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the journal format is append-only'; "
              'END $$',
              'DROP TRIGGER IF EXISTS journal_format_append_only ON journal_format',
              'CREATE TRIGGER journal_format_append_only BEFORE UPDATE OR DELETE ON '
              'journal_format FOR EACH ROW EXECUTE FUNCTION journal_format_append_only()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='ledger', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
