from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, run_all, unique_index

ID = "2026-11-24T06:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite keys; claim history is append-only"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outcomes", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        await run_all(
            [
                unique_index("participant_pseudonym", "participant", "contract", "pseudonym"),
                unique_index("claim_client_ref", "claim", "contract", "client_ref"),
                index("claim_by_participant", "claim", "participant", "metric_code"),
                index("claim_by_contract_status", "claim", "contract", "status"),
                unique_index(
                    "intake_batch_key", "intake_batch", "contract", "organisation", "kind",
                    "idempotency_key",
                ),
                index("claim_event_by_claim", "claim_event", "claim"),
                *append_only("claim_event", kind),
                *append_only("intake_batch", kind),
            ]
        )

    manager.add_raw(run)
    return manager
