from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:18:45:000000'
VERSION = '1.38.0'
DESCRIPTION = 'a claim is in at most one payment run'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS payment_run_line_claim ON payment_run_line (claim)',
            'CREATE INDEX IF NOT EXISTS payment_run_line_by_run ON payment_run_line (run)',
            'CREATE INDEX IF NOT EXISTS payment_run_by_contract ON payment_run (contract, status)',
            'CREATE TRIGGER IF NOT EXISTS payment_run_line_no_update BEFORE UPDATE ON '
            "payment_run_line BEGIN SELECT RAISE(ABORT, 'payment_run_line is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS payment_run_line_no_delete BEFORE DELETE ON '
            "payment_run_line BEGIN SELECT RAISE(ABORT, 'payment_run_line is append-only'); END"],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS payment_run_line_claim ON payment_run_line '
              '(claim)',
              'CREATE INDEX IF NOT EXISTS payment_run_line_by_run ON payment_run_line (run)',
              'CREATE INDEX IF NOT EXISTS payment_run_by_contract ON payment_run (contract, '
              'status)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS payment_run_line_append_only ON payment_run_line',
              'CREATE TRIGGER payment_run_line_append_only BEFORE UPDATE OR DELETE ON '
              'payment_run_line FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS payment_run_line_no_truncate ON payment_run_line',
              'CREATE TRIGGER payment_run_line_no_truncate BEFORE TRUNCATE ON payment_run_line FOR '
              'EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
