from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:01:14:000000'
VERSION = '1.38.0'
DESCRIPTION = 'claims and participants are never edited; samples are append-only'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE TRIGGER IF NOT EXISTS sample_draw_no_update BEFORE UPDATE ON sample_draw BEGIN '
            "SELECT RAISE(ABORT, 'sample_draw is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS sample_draw_no_delete BEFORE DELETE ON sample_draw BEGIN '
            "SELECT RAISE(ABORT, 'sample_draw is append-only'); END",
            'CREATE TRIGGER IF NOT EXISTS claim_content_fixed BEFORE UPDATE OF id, contract, '
            'participant, batch, client_ref, line_code, metric_code, achieved_on, value, '
            'evidence_ref, amount, currency, submitted_at ON claim BEGIN SELECT RAISE(ABORT, '
            "'claim rows are never edited or deleted; only status, sample move on'); END",
            'CREATE TRIGGER IF NOT EXISTS claim_no_delete BEFORE DELETE ON claim BEGIN SELECT '
            "RAISE(ABORT, 'claim rows are never edited or deleted; only status, sample move on'); "
            'END',
            'CREATE TRIGGER IF NOT EXISTS participant_content_fixed BEFORE UPDATE OF id, contract, '
            'pseudonym, enrolled_on, age_band, area, cohort, created_at ON participant BEGIN '
            "SELECT RAISE(ABORT, 'participant rows are never edited or deleted'); END",
            'CREATE TRIGGER IF NOT EXISTS participant_no_delete BEFORE DELETE ON participant BEGIN '
            "SELECT RAISE(ABORT, 'participant rows are never edited or deleted'); END",
            'CREATE INDEX IF NOT EXISTS claim_by_sample ON claim (contract, sample)'],
 'postgres': ['CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS sample_draw_append_only ON sample_draw',
              'CREATE TRIGGER sample_draw_append_only BEFORE UPDATE OR DELETE ON sample_draw FOR '
              'EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS sample_draw_no_truncate ON sample_draw',
              'CREATE TRIGGER sample_draw_no_truncate BEFORE TRUNCATE ON sample_draw FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION claim_content_fixed() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id OR NEW.contract "
              'IS DISTINCT FROM OLD.contract OR NEW.participant IS DISTINCT FROM OLD.participant '
              'OR NEW.batch IS DISTINCT FROM OLD.batch OR NEW.client_ref IS DISTINCT FROM '
              'OLD.client_ref OR NEW.line_code IS DISTINCT FROM OLD.line_code OR NEW.metric_code '
              'IS DISTINCT FROM OLD.metric_code OR NEW.achieved_on IS DISTINCT FROM '
              'OLD.achieved_on OR NEW.value IS DISTINCT FROM OLD.value OR NEW.evidence_ref IS '
              'DISTINCT FROM OLD.evidence_ref OR NEW.amount IS DISTINCT FROM OLD.amount OR '
              'NEW.currency IS DISTINCT FROM OLD.currency OR NEW.submitted_at IS DISTINCT FROM '
              "OLD.submitted_at THEN RAISE EXCEPTION 'claim rows are never edited or deleted; only "
              "status, sample move on' USING ERRCODE = '55000'; END IF; RETURN NEW; END $$",
              'DROP TRIGGER IF EXISTS claim_content_fixed ON claim',
              'CREATE TRIGGER claim_content_fixed BEFORE UPDATE OR DELETE ON claim FOR EACH ROW '
              'EXECUTE FUNCTION claim_content_fixed()',
              'DROP TRIGGER IF EXISTS claim_no_truncate ON claim',
              'CREATE TRIGGER claim_no_truncate BEFORE TRUNCATE ON claim FOR EACH STATEMENT '
              'EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION participant_content_fixed() RETURNS trigger LANGUAGE '
              "plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id OR "
              'NEW.contract IS DISTINCT FROM OLD.contract OR NEW.pseudonym IS DISTINCT FROM '
              'OLD.pseudonym OR NEW.enrolled_on IS DISTINCT FROM OLD.enrolled_on OR NEW.age_band '
              'IS DISTINCT FROM OLD.age_band OR NEW.area IS DISTINCT FROM OLD.area OR NEW.cohort '
              'IS DISTINCT FROM OLD.cohort OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN '
              "RAISE EXCEPTION 'participant rows are never edited or deleted' USING ERRCODE = "
              "'55000'; END IF; RETURN NEW; END $$",
              'DROP TRIGGER IF EXISTS participant_content_fixed ON participant',
              'CREATE TRIGGER participant_content_fixed BEFORE UPDATE OR DELETE ON participant FOR '
              'EACH ROW EXECUTE FUNCTION participant_content_fixed()',
              'DROP TRIGGER IF EXISTS participant_no_truncate ON participant',
              'CREATE TRIGGER participant_no_truncate BEFORE TRUNCATE ON participant FOR EACH '
              'STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE INDEX IF NOT EXISTS claim_by_sample ON claim (contract, sample)']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
