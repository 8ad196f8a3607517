from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T11:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "citizen voice: instruments, survey waves, invitations, responses, deletions"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
_APPEND_ONLY_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op} BEFORE {op.upper()} ON {t} BEGIN "
    f"SELECT RAISE(ABORT, '{t} is append-only'); END"
    for t in ("voice_instrument", "voice_deletion") for op in ("update", "delete")]
_APPEND_ONLY_POSTGRES = [
    "CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = '55000'; END $$",
] + [sql for t in ("voice_instrument", "voice_deletion") for sql in (
    f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}",
    f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
    "EXECUTE FUNCTION virker_refuse_change()",
    f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}",
    f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
    "EXECUTE FUNCTION virker_refuse_change()")]

_INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS voice_instrument_code ON voice_instrument "
    "(organisation, code)",
    "CREATE INDEX IF NOT EXISTS survey_wave_by_contract ON survey_wave (contract)",
    "CREATE INDEX IF NOT EXISTS voice_invitation_by_wave ON voice_invitation (wave)",
    "CREATE INDEX IF NOT EXISTS voice_response_by_wave ON voice_response (wave)",
    "CREATE INDEX IF NOT EXISTS voice_response_by_contract ON voice_response (contract)",
    # One answer per participant and wave; anonymous answers (no participant) are not held
    # by it, on either engine (NULLs are distinct).
    "CREATE UNIQUE INDEX IF NOT EXISTS voice_response_once ON voice_response "
    "(wave, participant)",
    "CREATE INDEX IF NOT EXISTS voice_deletion_by_contract ON voice_deletion (contract)",
]

STATEMENTS = {
    'sqlite': [
        'CREATE TABLE IF NOT EXISTS "voice_instrument" ("id" UUID PRIMARY KEY NOT NULL, '
        '"organisation" UUID NOT NULL REFERENCES "organisation" ("id"), "code" VARCHAR(64) NOT '
        'NULL, "name" VARCHAR(200) NOT NULL, "licence" TEXT NOT NULL, "definition" TEXT NOT '
        'NULL, "created_at" TIMESTAMPTZ NOT NULL, "created_by" VARCHAR(100) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS "survey_wave" ("id" UUID PRIMARY KEY NOT NULL, "contract" '
        'UUID NOT NULL REFERENCES "contract" ("id"), "title" VARCHAR(200) NOT NULL, '
        '"instrument_code" VARCHAR(64) NOT NULL, "instrument_owner" UUID NULL REFERENCES '
        '"organisation" ("id"), "timepoint" VARCHAR(32) NOT NULL, "days" INTEGER NULL, '
        '"opens_on" DATE NOT NULL, "closes_on" DATE NOT NULL, "link_days" INTEGER NOT NULL '
        'DEFAULT 30, "retention_days" INTEGER NOT NULL DEFAULT 365, "created_at" TIMESTAMPTZ '
        'NOT NULL, "created_by" VARCHAR(100) NOT NULL, "you_said" TEXT NULL, "we_did" TEXT '
        'NULL, "answered_at" TIMESTAMPTZ NULL, "answered_by" VARCHAR(100) NULL, '
        '"comments_removed_on" DATE NULL)',
        'CREATE TABLE IF NOT EXISTS "voice_invitation" ("id" UUID PRIMARY KEY NOT NULL, "wave" '
        'UUID NOT NULL REFERENCES "survey_wave" ("id"), "token_hash" VARCHAR(64) NOT NULL '
        'UNIQUE, "sealed" VARCHAR(32) NOT NULL, "issued_by" UUID NOT NULL REFERENCES '
        '"organisation" ("id"), "issued_on" DATE NOT NULL, "expires_on" DATE NOT NULL, '
        '"used_on" DATE NULL)',
        'CREATE TABLE IF NOT EXISTS "voice_response" ("id" UUID PRIMARY KEY NOT NULL, "wave" '
        'UUID NOT NULL REFERENCES "survey_wave" ("id"), "contract" UUID NOT NULL REFERENCES '
        '"contract" ("id"), "participant" UUID NULL REFERENCES "participant" ("id"), "mode" '
        'VARCHAR(16) NOT NULL, "submitted_on" DATE NOT NULL, "answers" TEXT NOT NULL, '
        '"scores" TEXT NOT NULL, "comment" TEXT NULL, "comment_status" VARCHAR(16) NOT NULL '
        'DEFAULT \'none\', "moderated_by" VARCHAR(100) NULL, "moderated_on" DATE NULL, '
        '"recorded_by" UUID NULL REFERENCES "organisation" ("id"))',
        'CREATE TABLE IF NOT EXISTS "voice_deletion" ("id" UUID PRIMARY KEY NOT NULL, '
        '"contract" UUID NOT NULL REFERENCES "contract" ("id"), "pseudonym" VARCHAR(64) NOT '
        'NULL, "responses" INTEGER NOT NULL, "requested_by" VARCHAR(100) NOT NULL, '
        '"organisation" UUID NOT NULL REFERENCES "organisation" ("id"), "deleted_at" '
        'TIMESTAMPTZ NOT NULL)',
        *_INDEXES, *_APPEND_ONLY_SQLITE],
    'postgres': [
        'CREATE TABLE IF NOT EXISTS voice_instrument (id uuid PRIMARY KEY, organisation uuid '
        'NOT NULL REFERENCES organisation (id), code varchar(64) NOT NULL, name varchar(200) '
        'NOT NULL, licence text NOT NULL, definition text NOT NULL, created_at timestamptz NOT '
        'NULL, created_by varchar(100) NOT NULL)',
        'CREATE TABLE IF NOT EXISTS survey_wave (id uuid PRIMARY KEY, contract uuid NOT NULL '
        'REFERENCES contract (id), title varchar(200) NOT NULL, instrument_code varchar(64) '
        'NOT NULL, instrument_owner uuid NULL REFERENCES organisation (id), timepoint '
        'varchar(32) NOT NULL, days integer NULL, opens_on date NOT NULL, closes_on date NOT '
        'NULL, link_days integer NOT NULL DEFAULT 30, retention_days integer NOT NULL DEFAULT '
        '365, created_at timestamptz NOT NULL, created_by varchar(100) NOT NULL, you_said text '
        'NULL, we_did text NULL, answered_at timestamptz NULL, answered_by varchar(100) NULL, '
        'comments_removed_on date NULL)',
        'CREATE TABLE IF NOT EXISTS voice_invitation (id uuid PRIMARY KEY, wave uuid NOT NULL '
        'REFERENCES survey_wave (id), token_hash varchar(64) NOT NULL UNIQUE, sealed '
        'varchar(32) NOT NULL, issued_by uuid NOT NULL REFERENCES organisation (id), issued_on '
        'date NOT NULL, expires_on date NOT NULL, used_on date NULL)',
        'CREATE TABLE IF NOT EXISTS voice_response (id uuid PRIMARY KEY, wave uuid NOT NULL '
        'REFERENCES survey_wave (id), contract uuid NOT NULL REFERENCES contract (id), '
        'participant uuid NULL REFERENCES participant (id), mode varchar(16) NOT NULL, '
        'submitted_on date NOT NULL, answers text NOT NULL, scores text NOT NULL, comment text '
        'NULL, comment_status varchar(16) NOT NULL DEFAULT \'none\', moderated_by varchar(100) '
        'NULL, moderated_on date NULL, recorded_by uuid NULL REFERENCES organisation (id))',
        'CREATE TABLE IF NOT EXISTS voice_deletion (id uuid PRIMARY KEY, contract uuid NOT NULL '
        'REFERENCES contract (id), pseudonym varchar(64) NOT NULL, responses integer NOT NULL, '
        'requested_by varchar(100) NOT NULL, organisation uuid NOT NULL REFERENCES '
        'organisation (id), deleted_at timestamptz NOT NULL)',
        *_INDEXES, *_APPEND_ONLY_POSTGRES],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='voice', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
