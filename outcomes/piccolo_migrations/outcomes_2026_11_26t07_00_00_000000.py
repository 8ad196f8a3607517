from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T07:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "who enrolled each participant (lead or partner); cohort evaluations"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does. Participants enrolled
# before partners existed were enrolled by the contract's (lead) provider.
STATEMENTS = {'sqlite': ['ALTER TABLE "participant" ADD COLUMN "organisation" UUID NULL REFERENCES '
            '"organisation" ("id")',
            'UPDATE participant SET organisation = (SELECT provider FROM contract WHERE '
            'contract.id = participant.contract) WHERE organisation IS NULL',
            'CREATE INDEX IF NOT EXISTS participant_by_organisation ON participant (contract, '
            'organisation)',
            'CREATE TABLE IF NOT EXISTS "cohort_evaluation" ("id" UUID PRIMARY KEY NOT NULL, '
            '"contract" UUID NOT NULL REFERENCES "contract" ("id"), "line_code" VARCHAR(64) NOT '
            'NULL, "cohort" VARCHAR(64) NOT NULL, "evaluation_on" DATE NOT NULL, "n" INTEGER '
            'NOT NULL, "achieved" INTEGER NOT NULL, "rate_bp" INTEGER NOT NULL, "threshold_bp" '
            'INTEGER NOT NULL, "reached" BOOLEAN NOT NULL, "claims" INTEGER NOT NULL DEFAULT '
            '0, "amount" INTEGER NOT NULL DEFAULT 0, "currency" VARCHAR(3) NOT NULL, '
            '"evaluated_at" TIMESTAMPTZ NOT NULL, "evaluated_by" VARCHAR(100) NOT NULL)',
            'CREATE UNIQUE INDEX IF NOT EXISTS cohort_evaluation_once ON cohort_evaluation '
            '(contract, line_code)',
            'CREATE TRIGGER IF NOT EXISTS cohort_evaluation_no_update BEFORE UPDATE ON '
            "cohort_evaluation BEGIN SELECT RAISE(ABORT, 'cohort_evaluation is append-only'); "
            'END',
            'CREATE TRIGGER IF NOT EXISTS cohort_evaluation_no_delete BEFORE DELETE ON '
            "cohort_evaluation BEGIN SELECT RAISE(ABORT, 'cohort_evaluation is append-only'); "
            'END'],
 'postgres': ['ALTER TABLE participant ADD COLUMN IF NOT EXISTS organisation uuid NULL '
              'REFERENCES organisation (id)',
              'UPDATE participant SET organisation = contract.provider FROM contract WHERE '
              'contract.id = participant.contract AND participant.organisation IS NULL',
              'CREATE INDEX IF NOT EXISTS participant_by_organisation ON participant (contract, '
              'organisation)',
              'CREATE TABLE IF NOT EXISTS cohort_evaluation (id uuid PRIMARY KEY, contract uuid '
              'NOT NULL REFERENCES contract (id), line_code varchar(64) NOT NULL, cohort '
              'varchar(64) NOT NULL, evaluation_on date NOT NULL, n integer NOT NULL, achieved '
              'integer NOT NULL, rate_bp integer NOT NULL, threshold_bp integer NOT NULL, '
              'reached boolean NOT NULL, claims integer NOT NULL DEFAULT 0, amount bigint NOT '
              'NULL DEFAULT 0, currency varchar(3) NOT NULL, evaluated_at timestamptz NOT NULL, '
              'evaluated_by varchar(100) NOT NULL)',
              'CREATE UNIQUE INDEX IF NOT EXISTS cohort_evaluation_once ON cohort_evaluation '
              '(contract, line_code)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS cohort_evaluation_append_only ON cohort_evaluation',
              'CREATE TRIGGER cohort_evaluation_append_only BEFORE UPDATE OR DELETE ON '
              'cohort_evaluation FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS cohort_evaluation_no_truncate ON cohort_evaluation',
              'CREATE TRIGGER cohort_evaluation_no_truncate BEFORE TRUNCATE ON cohort_evaluation '
              'FOR EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
