from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T05:10:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "server-side web sessions and the sign-in throttle's attempts"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE TABLE IF NOT EXISTS "web_session" ("key_hash" VARCHAR(64) PRIMARY KEY NOT '
            'NULL, "data" BLOB NOT NULL, "app_user" UUID NULL REFERENCES "app_user" ("id"), '
            '"created_at" TIMESTAMPTZ NOT NULL, "expires_at" TIMESTAMPTZ NULL)',
            'CREATE INDEX IF NOT EXISTS web_session_by_user ON web_session (app_user)',
            'CREATE INDEX IF NOT EXISTS web_session_by_expiry ON web_session (expires_at)',
            'CREATE TABLE IF NOT EXISTS "login_attempt" ("id" UUID PRIMARY KEY NOT NULL, "email" '
            'VARCHAR(254) NOT NULL, "address" VARCHAR(64) NULL, "attempted_at" TIMESTAMPTZ NOT '
            'NULL)',
            'CREATE INDEX IF NOT EXISTS login_attempt_by_email ON login_attempt (email, '
            'attempted_at)',
            'CREATE INDEX IF NOT EXISTS login_attempt_by_address ON login_attempt (address, '
            'attempted_at)',
            'CREATE INDEX IF NOT EXISTS login_attempt_by_time ON login_attempt (attempted_at)'],
 'postgres': ['CREATE TABLE IF NOT EXISTS web_session (key_hash varchar(64) PRIMARY KEY, data bytea '
              'NOT NULL, app_user uuid NULL REFERENCES app_user (id), created_at timestamptz NOT '
              'NULL, expires_at timestamptz NULL)',
              'CREATE INDEX IF NOT EXISTS web_session_by_user ON web_session (app_user)',
              'CREATE INDEX IF NOT EXISTS web_session_by_expiry ON web_session (expires_at)',
              'CREATE TABLE IF NOT EXISTS login_attempt (id uuid PRIMARY KEY, email varchar(254) '
              'NOT NULL, address varchar(64) NULL, attempted_at timestamptz NOT NULL)',
              'CREATE INDEX IF NOT EXISTS login_attempt_by_email ON login_attempt (email, '
              'attempted_at)',
              'CREATE INDEX IF NOT EXISTS login_attempt_by_address ON login_attempt (address, '
              'attempted_at)',
              'CREATE INDEX IF NOT EXISTS login_attempt_by_time ON login_attempt (attempted_at)']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='contracts', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
