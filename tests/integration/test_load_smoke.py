"""The load benchmark (benchmarks/load.py) for a few seconds against a real server with two
workers on PostgreSQL, so that it keeps working as the API changes: providers, commissioners,
auditors and web pages at once, every request answered without an error, claims approved
and paid, and the journal lock's probe measuring something."""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from benchmarks import load
from benchmarks.common import logged_server

PG_URL = os.environ.get("VIRKER_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL, reason="the load benchmark runs on PostgreSQL: "
                                                   "set VIRKER_TEST_DATABASE_URL")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database():
    name = f"virker_load_smoke_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("engine", ["postgres"])
def test_many_organisations_at_once_get_no_error_and_their_claims_paid(engine, database,
                                                                        tmp_path, monkeypatch):
    monkeypatch.setenv("VIRKER_CHECKPOINT_KEY", str(tmp_path / "signing.key"))
    world = asyncio.run(load.seed(database, contracts=4, commissioners=2, participants=100,
                                  approval_claims=30, history=10))
    mix = load.Settings(concurrency=4, duration=6, batch=20, enrol_batch=60,
                        approve_group=10, pay_at=20,
                        weights={"provider": 40, "commissioner": 40, "auditor": 4, "page": 16})
    tally = load.Tally()
    with logged_server(database, tmp_path / "server.log", workers=2) as (base, _):
        asyncio.run(load.run_mix(base, world, mix, tally))
        alone = [asyncio.run(load.approvals(base, world, spread,
                                            load.Settings(concurrency=4, duration=2), 5))
                 for spread in (True, False)]

    assert not tally.errors, tally.examples
    # Every part of the mix ran: enrolment once the first participants all had a claim,
    # the verification steps, a payment run paid by the second key, statements and pages.
    assert {"claims", "enrol", "draw", "verify", "approve", "run: draft", "run: approve",
            "run: pay", "statement.pdf"} <= set(tally.ms)
    assert any(kind.startswith("page ") for kind in tally.ms)
    assert tally.accrued > 0
    for run in alone:
        assert not run.errors, run.examples
        assert run.accrued > 0

    found = load.probe(database, world, levels=[1, 2], seconds=1, group=5, per_level=80,
                       hold_sizes=[1, 10], hold_reps=2)
    assert [r["k"] for r in found["levels"]] == [1, 2]
    assert all(r["rate"] > 0 and 0 <= r["wait_share"] <= 1 for r in found["levels"])
    assert found["holds"][10]["hold"] > 0
