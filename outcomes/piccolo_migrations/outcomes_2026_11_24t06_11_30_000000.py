from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import run_all, unique_index

ID = "2026-11-24T06:11:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "one usage row per contract and line"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outcomes", description=DESCRIPTION)

    async def run():
        await run_all([unique_index("contract_usage_line", "contract_usage", "contract",
                                    "line_code")])

    manager.add_raw(run)
    return manager
