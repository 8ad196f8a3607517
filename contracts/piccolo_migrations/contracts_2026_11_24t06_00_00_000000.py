from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = 'composite keys; contract versions and events are append-only'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS contract_version_number ON contract_version '
            '(contract, version)',
            'CREATE UNIQUE INDEX IF NOT EXISTS contract_party_unique ON contract_party (contract, '
            'organisation, role)',
            'CREATE INDEX IF NOT EXISTS contract_party_by_org ON contract_party (organisation, '
            'role)',
            'CREATE INDEX IF NOT EXISTS api_key_by_org ON api_key (organisation)',
            'CREATE INDEX IF NOT EXISTS app_user_by_org ON app_user (organisation)',
            'CREATE TRIGGER IF NOT EXISTS contract_version_no_update BEFORE UPDATE ON '
            "contract_version BEGIN SELECT RAISE(ABORT, 'contract_version is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS contract_version_no_delete BEFORE DELETE ON '
            "contract_version BEGIN SELECT RAISE(ABORT, 'contract_version is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS contract_event_no_update BEFORE UPDATE ON contract_event '
            "BEGIN SELECT RAISE(ABORT, 'contract_event is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS contract_event_no_delete BEFORE DELETE ON contract_event '
            "BEGIN SELECT RAISE(ABORT, 'contract_event is append-only'); END"],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS contract_version_number ON contract_version '
              '(contract, version)',
              'CREATE UNIQUE INDEX IF NOT EXISTS contract_party_unique ON contract_party '
              '(contract, organisation, role)',
              'CREATE INDEX IF NOT EXISTS contract_party_by_org ON contract_party (organisation, '
              'role)',
              'CREATE INDEX IF NOT EXISTS api_key_by_org ON api_key (organisation)',
              'CREATE INDEX IF NOT EXISTS app_user_by_org ON app_user (organisation)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS contract_version_append_only ON contract_version',
              'CREATE TRIGGER contract_version_append_only BEFORE UPDATE OR DELETE ON '
              'contract_version FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS contract_version_no_truncate ON contract_version',
              'CREATE TRIGGER contract_version_no_truncate BEFORE TRUNCATE ON contract_version FOR '
              'EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS contract_event_append_only ON contract_event',
              'CREATE TRIGGER contract_event_append_only BEFORE UPDATE OR DELETE ON contract_event '
              'FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS contract_event_no_truncate ON contract_event',
              'CREATE TRIGGER contract_event_no_truncate BEFORE TRUNCATE ON contract_event FOR '
              'EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='contracts', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
