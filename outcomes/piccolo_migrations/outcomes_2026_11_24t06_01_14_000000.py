from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, only_columns_change, run_all

ID = "2026-11-24T06:01:14:000000"
VERSION = "1.38.0"
DESCRIPTION = "claims and participants are never edited; samples are append-only"

CLAIM_FIXED = ("id", "contract", "participant", "batch", "client_ref", "line_code",
               "metric_code", "achieved_on", "value", "evidence_ref", "amount", "currency",
               "submitted_at")
PARTICIPANT_FIXED = ("id", "contract", "pseudonym", "enrolled_on", "age_band", "area",
                     "cohort", "created_at")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outcomes", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        # The append-only helper defines virker_refuse_change() on PostgreSQL, used below.
        await run_all([
            *append_only("sample_draw", kind),
            *only_columns_change("claim", ("status", "sample"), CLAIM_FIXED, kind),
            *only_columns_change("participant", (), PARTICIPANT_FIXED, kind),
            index("claim_by_sample", "claim", "contract", "sample"),
        ])

    manager.add_raw(run)
    return manager
