from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T07:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "metric categories for comparison; commissioners' decisions on advice"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['ALTER TABLE "metric" ADD COLUMN "category" VARCHAR(64) NULL',
            'CREATE TABLE IF NOT EXISTS "advice_decision" ("id" UUID PRIMARY KEY NOT NULL, '
            '"contract" UUID NOT NULL REFERENCES "contract" ("id"), "subject" VARCHAR(64) NOT '
            'NULL, "decision" VARCHAR(16) NOT NULL, "band" VARCHAR(32) NOT NULL, "advice" TEXT '
            'NOT NULL, "justification" TEXT NOT NULL, "draft_terms" TEXT NULL, "organisation" '
            'UUID NOT NULL REFERENCES "organisation" ("id"), "decided_by" VARCHAR(100) NOT '
            'NULL, "decided_at" TIMESTAMPTZ NOT NULL)',
            'CREATE INDEX IF NOT EXISTS advice_decision_by_contract ON advice_decision '
            '(contract, decided_at)',
            'CREATE INDEX IF NOT EXISTS advice_decision_by_subject ON advice_decision '
            '(subject, decided_at)',
            'CREATE TRIGGER IF NOT EXISTS advice_decision_no_update BEFORE UPDATE ON '
            "advice_decision BEGIN SELECT RAISE(ABORT, 'advice_decision is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS advice_decision_no_delete BEFORE DELETE ON '
            "advice_decision BEGIN SELECT RAISE(ABORT, 'advice_decision is append-only'); END"],
 'postgres': ['ALTER TABLE metric ADD COLUMN IF NOT EXISTS category varchar(64) NULL',
              'CREATE TABLE IF NOT EXISTS advice_decision (id uuid PRIMARY KEY, contract uuid '
              'NOT NULL REFERENCES contract (id), subject varchar(64) NOT NULL, decision '
              'varchar(16) NOT NULL, band varchar(32) NOT NULL, advice text NOT NULL, '
              'justification text NOT NULL, draft_terms text NULL, organisation uuid NOT NULL '
              'REFERENCES organisation (id), decided_by varchar(100) NOT NULL, decided_at '
              'timestamptz NOT NULL)',
              'CREATE INDEX IF NOT EXISTS advice_decision_by_contract ON advice_decision '
              '(contract, decided_at)',
              'CREATE INDEX IF NOT EXISTS advice_decision_by_subject ON advice_decision '
              '(subject, decided_at)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS advice_decision_append_only ON advice_decision',
              'CREATE TRIGGER advice_decision_append_only BEFORE UPDATE OR DELETE ON '
              'advice_decision FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS advice_decision_no_truncate ON advice_decision',
              'CREATE TRIGGER advice_decision_no_truncate BEFORE TRUNCATE ON advice_decision '
              'FOR EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='contracts', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
