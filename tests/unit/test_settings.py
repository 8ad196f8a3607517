"""The settings that size and place a deployment beyond one machine (docs/deployment.md):
how many report workers render documents, and the read replica's URL. A value that cannot
work stops Virker at start with a message naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError

PG = "postgresql://virker@db.example/virker"
REPLICA = "postgresql://virker@replica.example/virker"
STRONG = "a-long-random-secret-nobody-published-" + "q" * 16


def settings(**env: str) -> Settings:
    return Settings.from_env({"VIRKER_DATABASE_URL": PG, "VIRKER_SECRET_KEY": STRONG, **env})


def test_two_report_workers_unless_told_otherwise():
    assert settings().report_workers == 2
    assert settings(VIRKER_REPORT_WORKERS="6").report_workers == 6
    assert settings(VIRKER_REPORT_WORKERS=" 3 ").report_workers == 3


@pytest.mark.parametrize(("value", "says"), [
    ("0", "VIRKER_REPORT_WORKERS is 0; use 1 to 64"),
    ("-2", "VIRKER_REPORT_WORKERS is -2; use 1 to 64"),
    ("65", "VIRKER_REPORT_WORKERS is 65; use 1 to 64"),
    ("two", "VIRKER_REPORT_WORKERS is 'two'; it takes a whole number"),
    ("1.5", "VIRKER_REPORT_WORKERS is '1.5'; it takes a whole number"),
])
def test_a_report_worker_count_that_cannot_work_is_refused_by_name(value, says):
    with pytest.raises(SettingsError, match=says):
        settings(VIRKER_REPORT_WORKERS=value)


def test_the_report_pool_is_sized_by_the_settings(monkeypatch):
    from core import settings as module
    from reports import pool

    monkeypatch.setattr(module, "get_settings", lambda: settings(VIRKER_REPORT_WORKERS="5"))
    monkeypatch.setattr(pool, "get_settings", module.get_settings)
    assert pool.workers() == 5


def test_other_numbers_name_their_variable_too():
    with pytest.raises(SettingsError, match="VIRKER_PORT is 'http'"):
        settings(VIRKER_PORT="http")
    with pytest.raises(SettingsError, match="VIRKER_SMALL_CELL_K is 'five'"):
        settings(VIRKER_SMALL_CELL_K="five")


def test_without_a_read_url_everything_reads_the_primary():
    assert settings().read_database_url == ""
    assert settings(VIRKER_READ_DATABASE_URL=REPLICA).read_database_url == REPLICA


def test_a_read_replica_is_postgresql_beside_a_postgresql_primary():
    with pytest.raises(SettingsError, match="VIRKER_READ_DATABASE_URL must be a postgresql"):
        settings(VIRKER_READ_DATABASE_URL="sqlite:///var/replica.sqlite")
    with pytest.raises(SettingsError, match="needs a PostgreSQL primary"):
        Settings.from_env({"VIRKER_DATABASE_URL": "sqlite:///var/v.sqlite",
                           "VIRKER_ENV": "development", "VIRKER_SECRET_KEY": STRONG,
                           "VIRKER_READ_DATABASE_URL": REPLICA})


def test_every_variable_the_deployment_guide_names_is_one_virker_reads():
    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "deployment.md").read_text()
    code = "\n".join(p.read_text() for folder in ("core", "api", "ledger", "reports")
                     for p in (root / folder).rglob("*.py"))
    named = set(re.findall(r"VIRKER_[A-Z0-9_]+", guide))
    assert {"VIRKER_READ_DATABASE_URL", "VIRKER_REPORT_WORKERS"} <= named
    assert not {name for name in named if name not in code}
