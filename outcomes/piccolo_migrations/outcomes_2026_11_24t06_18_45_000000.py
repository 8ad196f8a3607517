from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, run_all, unique_index

ID = "2026-11-24T06:18:45:000000"
VERSION = "1.38.0"
DESCRIPTION = "a claim is in at most one payment run"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outcomes", description=DESCRIPTION)

    async def run():
        await run_all([
            unique_index("payment_run_line_claim", "payment_run_line", "claim"),
            index("payment_run_line_by_run", "payment_run_line", "run"),
            index("payment_run_by_contract", "payment_run", "contract", "status"),
            *append_only("payment_run_line", engine_type()),
        ])

    manager.add_raw(run)
    return manager
