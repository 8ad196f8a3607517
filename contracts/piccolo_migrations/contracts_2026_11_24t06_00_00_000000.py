from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, run_all, unique_index

ID = "2026-11-24T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite keys; contract versions and events are append-only"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="contracts", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        await run_all(
            [
                unique_index("contract_version_number", "contract_version", "contract", "version"),
                unique_index("contract_party_unique", "contract_party", "contract", "organisation", "role"),
                index("contract_party_by_org", "contract_party", "organisation", "role"),
                index("api_key_by_org", "api_key", "organisation"),
                index("app_user_by_org", "app_user", "organisation"),
                *append_only("contract_version", kind),
                *append_only("contract_event", kind),
            ]
        )

    manager.add_raw(run)
    return manager
