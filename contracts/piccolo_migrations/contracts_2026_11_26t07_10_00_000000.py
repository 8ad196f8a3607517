from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T07:10:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "a user's language in the web UI; whether one person alone may approve a payment run"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['ALTER TABLE "app_user" ADD COLUMN "language" VARCHAR(8) NULL',
            'ALTER TABLE "organisation" ADD COLUMN "single_approver" BOOLEAN NOT NULL '
            'DEFAULT 0'],
 'postgres': ['ALTER TABLE app_user ADD COLUMN IF NOT EXISTS language varchar(8) NULL',
              'ALTER TABLE organisation ADD COLUMN IF NOT EXISTS single_approver boolean NOT '
              'NULL DEFAULT false']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='contracts', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
