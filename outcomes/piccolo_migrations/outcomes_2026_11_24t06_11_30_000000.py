from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-24T06:11:30:000000'
VERSION = '1.38.0'
DESCRIPTION = 'one usage row per contract and line'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE UNIQUE INDEX IF NOT EXISTS contract_usage_line ON contract_usage (contract, '
            'line_code)'],
 'postgres': ['CREATE UNIQUE INDEX IF NOT EXISTS contract_usage_line ON contract_usage (contract, '
              'line_code)']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
