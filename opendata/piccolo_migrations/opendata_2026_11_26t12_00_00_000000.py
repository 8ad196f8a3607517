from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T12:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "reference library (INDIGO), exchange rates, publication decisions"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
_TABLES = {
    'reference_project': (
        'id {uuid} PRIMARY KEY, code varchar(64) NOT NULL UNIQUE, name text NOT NULL, '
        'stage varchar(100) NULL, country varchar(100) NULL, policy_sectors text NOT NULL '
        "DEFAULT '', social_challenge text NOT NULL DEFAULT '', intervention text NOT NULL "
        "DEFAULT '', target_population text NOT NULL DEFAULT '', start_text varchar(32) NULL, "
        'start_on date NULL, end_text varchar(32) NULL, end_on date NULL, currency varchar(3) '
        'NULL, max_outcome_payment bigint NULL, outcome_payments_made bigint NULL, source '
        'varchar(200) NOT NULL, data text NOT NULL, content_hash varchar(64) NOT NULL, '
        'imported_at timestamptz NOT NULL'),
    'reference_metric': (
        'id {uuid} PRIMARY KEY, project {uuid} NOT NULL REFERENCES reference_project (id), '
        "metric_id varchar(64) NOT NULL, definition text NOT NULL DEFAULT '', "
        "target_population text NOT NULL DEFAULT '', target text NOT NULL DEFAULT '', "
        "validation_method text NOT NULL DEFAULT '', data_source text NOT NULL DEFAULT '', "
        "policy_sector text NOT NULL DEFAULT ''"),
    'reference_price': (
        'id {uuid} PRIMARY KEY, project {uuid} NOT NULL REFERENCES reference_project (id), '
        'metric_id varchar(64) NOT NULL, currency varchar(3) NOT NULL, amount bigint NOT NULL, '
        "max_amount bigint NULL, description text NOT NULL DEFAULT '', notes text NOT NULL "
        "DEFAULT ''"),
    'reference_import': (
        'id {uuid} PRIMARY KEY, source text NOT NULL, started_at timestamptz NOT NULL, '
        'finished_at timestamptz NOT NULL, projects integer NOT NULL, loaded integer NOT NULL, '
        'unchanged integer NOT NULL, skipped integer NOT NULL, report text NOT NULL'),
    'exchange_rate': (
        'id {uuid} PRIMARY KEY, currency varchar(3) NOT NULL, on_date date NOT NULL, per_eur '
        'varchar(32) NOT NULL, source varchar(200) NOT NULL'),
    'publication': (
        'id {uuid} PRIMARY KEY, contract {uuid} NOT NULL REFERENCES contract (id), field '
        'varchar(64) NOT NULL, status varchar(16) NOT NULL, decided_by varchar(100) NOT NULL, '
        'decided_at timestamptz NOT NULL'),
}
_INDEXES = [
    'CREATE INDEX IF NOT EXISTS reference_metric_by_project ON reference_metric (project)',
    'CREATE INDEX IF NOT EXISTS reference_price_by_project ON reference_price (project)',
    'CREATE UNIQUE INDEX IF NOT EXISTS exchange_rate_once ON exchange_rate (currency, on_date)',
    'CREATE INDEX IF NOT EXISTS publication_by_contract ON publication (contract, field)',
]
STATEMENTS = {
    'sqlite': [f'CREATE TABLE IF NOT EXISTS {t} ({c.format(uuid="UUID")})'
               for t, c in _TABLES.items()] + _INDEXES + [
        "CREATE TRIGGER IF NOT EXISTS publication_no_update BEFORE UPDATE ON publication "
        "BEGIN SELECT RAISE(ABORT, 'publication is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS publication_no_delete BEFORE DELETE ON publication "
        "BEGIN SELECT RAISE(ABORT, 'publication is append-only'); END"],
    'postgres': [f'CREATE TABLE IF NOT EXISTS {t} ({c.format(uuid="uuid")})'
                 for t, c in _TABLES.items()] + _INDEXES + [
        "CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
        "'55000'; END $$",
        'DROP TRIGGER IF EXISTS publication_append_only ON publication',
        'CREATE TRIGGER publication_append_only BEFORE UPDATE OR DELETE ON publication FOR '
        'EACH ROW EXECUTE FUNCTION virker_refuse_change()',
        'DROP TRIGGER IF EXISTS publication_no_truncate ON publication',
        'CREATE TRIGGER publication_no_truncate BEFORE TRUNCATE ON publication FOR EACH '
        'STATEMENT EXECUTE FUNCTION virker_refuse_change()'],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='opendata', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
