from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:18:00:000000'
VERSION = '1.38.0'
DESCRIPTION = 'the journal is append-only and every entry balances'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS account_key ON account (contract, organisation, '
            'code, currency)',
            'CREATE UNIQUE INDEX IF NOT EXISTS journal_entry_seq ON journal_entry (seq)',
            'CREATE INDEX IF NOT EXISTS posting_by_seq ON posting (entry_seq)',
            'CREATE INDEX IF NOT EXISTS posting_by_entry ON posting (entry)',
            'CREATE INDEX IF NOT EXISTS posting_by_account ON posting (account)',
            'CREATE INDEX IF NOT EXISTS journal_entry_by_contract ON journal_entry (contract, '
            'effective_on)',
            'CREATE TRIGGER IF NOT EXISTS journal_entry_no_update BEFORE UPDATE ON journal_entry '
            "BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS journal_entry_no_delete BEFORE DELETE ON journal_entry '
            "BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS posting_no_update BEFORE UPDATE ON posting BEGIN SELECT '
            "RAISE(ABORT, 'posting is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS posting_no_delete BEFORE DELETE ON posting BEGIN SELECT '
            "RAISE(ABORT, 'posting is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS account_no_update BEFORE UPDATE ON account BEGIN SELECT '
            "RAISE(ABORT, 'account is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS account_no_delete BEFORE DELETE ON account BEGIN SELECT '
            "RAISE(ABORT, 'account is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS checkpoint_no_update BEFORE UPDATE ON checkpoint BEGIN '
            "SELECT RAISE(ABORT, 'checkpoint is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS checkpoint_no_delete BEFORE DELETE ON checkpoint BEGIN '
            "SELECT RAISE(ABORT, 'checkpoint is append-only'); END"],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS account_key ON account (contract, organisation, '
              'code, currency)',
              'CREATE UNIQUE INDEX IF NOT EXISTS journal_entry_seq ON journal_entry (seq)',
              'CREATE INDEX IF NOT EXISTS posting_by_seq ON posting (entry_seq)',
              'CREATE INDEX IF NOT EXISTS posting_by_entry ON posting (entry)',
              'CREATE INDEX IF NOT EXISTS posting_by_account ON posting (account)',
              'CREATE INDEX IF NOT EXISTS journal_entry_by_contract ON journal_entry (contract, '
              'effective_on)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS journal_entry_append_only ON journal_entry',
              'CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON journal_entry '
              'FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS journal_entry_no_truncate ON journal_entry',
              'CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON journal_entry FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS posting_append_only ON posting',
              'CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON posting FOR EACH ROW '
              'EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS posting_no_truncate ON posting',
              'CREATE TRIGGER posting_no_truncate BEFORE TRUNCATE ON posting FOR EACH STATEMENT '
              'EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS account_append_only ON account',
              'CREATE TRIGGER account_append_only BEFORE UPDATE OR DELETE ON account FOR EACH ROW '
              'EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS account_no_truncate ON account',
              'CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON account FOR EACH STATEMENT '
              'EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS checkpoint_append_only ON checkpoint',
              'CREATE TRIGGER checkpoint_append_only BEFORE UPDATE OR DELETE ON checkpoint FOR '
              'EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS checkpoint_no_truncate ON checkpoint',
              'CREATE TRIGGER checkpoint_no_truncate BEFORE TRUNCATE ON checkpoint FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              '\n'
              'CREATE OR REPLACE FUNCTION virker_entry_balances() RETURNS trigger\n'
              'LANGUAGE plpgsql AS $$\n'
              'DECLARE\n'
              '    unbalanced record;\n'
              '    n integer;\n'
              'BEGIN\n'
              '    SELECT count(*) INTO n FROM posting WHERE entry = NEW.entry;\n'
              '    IF n < 2 THEN\n'
              "        RAISE EXCEPTION 'journal entry % has % posting(s); it needs two or more', "
              'NEW.entry, n\n'
              "            USING ERRCODE = '23514';\n"
              '    END IF;\n'
              '    SELECT currency, sum(amount) AS total INTO unbalanced FROM posting\n'
              '        WHERE entry = NEW.entry GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;\n'
              '    IF FOUND THEN\n'
              "        RAISE EXCEPTION 'journal entry % does not balance: % % off', NEW.entry,\n"
              "            unbalanced.total, unbalanced.currency USING ERRCODE = '23514';\n"
              '    END IF;\n'
              '    RETURN NULL;\n'
              'END $$\n',
              'DROP TRIGGER IF EXISTS posting_balanced ON posting',
              'CREATE CONSTRAINT TRIGGER posting_balanced AFTER INSERT ON posting DEFERRABLE '
              'INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION virker_entry_balances()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='ledger', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
