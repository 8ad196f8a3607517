from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:00:01:000000'
VERSION = '1.38.0'
DESCRIPTION = 'composite keys; claim history is append-only'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS participant_pseudonym ON participant (contract, '
            'pseudonym)',
            'CREATE UNIQUE INDEX IF NOT EXISTS claim_client_ref ON claim (contract, client_ref)',
            'CREATE INDEX IF NOT EXISTS claim_by_participant ON claim (participant, metric_code)',
            'CREATE INDEX IF NOT EXISTS claim_by_contract_status ON claim (contract, status)',
            'CREATE UNIQUE INDEX IF NOT EXISTS intake_batch_key ON intake_batch (contract, '
            'organisation, kind, idempotency_key)',
            'CREATE INDEX IF NOT EXISTS claim_event_by_claim ON claim_event (claim)',
            'CREATE TRIGGER IF NOT EXISTS claim_event_no_update BEFORE UPDATE ON claim_event BEGIN '
            "SELECT RAISE(ABORT, 'claim_event is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS claim_event_no_delete BEFORE DELETE ON claim_event BEGIN '
            "SELECT RAISE(ABORT, 'claim_event is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS intake_batch_no_update BEFORE UPDATE ON intake_batch '
            "BEGIN SELECT RAISE(ABORT, 'intake_batch is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS intake_batch_no_delete BEFORE DELETE ON intake_batch '
            "BEGIN SELECT RAISE(ABORT, 'intake_batch is append-only'); END"],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS participant_pseudonym ON participant (contract, '
              'pseudonym)',
              'CREATE UNIQUE INDEX IF NOT EXISTS claim_client_ref ON claim (contract, client_ref)',
              'CREATE INDEX IF NOT EXISTS claim_by_participant ON claim (participant, metric_code)',
              'CREATE INDEX IF NOT EXISTS claim_by_contract_status ON claim (contract, status)',
              'CREATE UNIQUE INDEX IF NOT EXISTS intake_batch_key ON intake_batch (contract, '
              'organisation, kind, idempotency_key)',
              'CREATE INDEX IF NOT EXISTS claim_event_by_claim ON claim_event (claim)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS claim_event_append_only ON claim_event',
              'CREATE TRIGGER claim_event_append_only BEFORE UPDATE OR DELETE ON claim_event FOR '
              'EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS claim_event_no_truncate ON claim_event',
              'CREATE TRIGGER claim_event_no_truncate BEFORE TRUNCATE ON claim_event FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS intake_batch_append_only ON intake_batch',
              'CREATE TRIGGER intake_batch_append_only BEFORE UPDATE OR DELETE ON intake_batch FOR '
              'EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS intake_batch_no_truncate ON intake_batch',
              'CREATE TRIGGER intake_batch_no_truncate BEFORE TRUNCATE ON intake_batch FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
