"""Migrations build the whole schema from empty on both engines, and agreed terms are
protected by the database itself."""

from __future__ import annotations

import pytest

from contracts.tables import ContractEvent, ContractVersion
from core.database import all_tables, migrate
from tests.helpers import world

EXPECTED = {
    "organisation", "app_user", "api_key", "metric", "contract", "contract_version",
    "contract_party", "contract_event", "participant", "intake_batch", "sample_draw", "claim",
    "claim_event", "contract_usage", "payment_run", "payment_run_line",
    "account", "journal_entry", "journal_format", "posting", "checkpoint", "journal_note",
    "contract_proposal", "contract_acceptance", "web_session", "login_attempt",
    "advice_decision", "cohort_evaluation",
    "voice_instrument", "survey_wave", "voice_invitation", "voice_response", "voice_deletion",
    "reference_project", "reference_metric", "reference_price", "reference_import",
    "exchange_rate", "publication",
}


async def table_names(db) -> set[str]:
    if db.kind == "sqlite":
        rows = await db.engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await db.engine.run_ddl(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
    return {r["name"] for r in rows}


async def test_migrations_build_every_table_on_an_empty_database(db):
    # `db` is a copy of a template that `migrate()` built from an empty database.
    names = await table_names(db)
    assert EXPECTED <= names
    assert {t._meta.tablename for t in all_tables()} == EXPECTED


async def test_migrate_again_changes_nothing(db):
    before = await table_names(db)
    messages = await migrate()
    assert all("No migrations need to be run" in m for m in messages)
    assert await table_names(db) == before


async def test_agreed_terms_cannot_be_edited_or_deleted_even_by_sql(db):
    await world()
    with pytest.raises(Exception, match="append-only"):
        await ContractVersion.update({ContractVersion.reason: "rewritten"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await ContractVersion.delete(force=True)
    with pytest.raises(Exception, match="append-only"):
        await ContractEvent.delete(force=True)
    assert await ContractVersion.count() == 2
