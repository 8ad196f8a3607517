"""A read replica named by VIRKER_READ_DATABASE_URL (PostgreSQL only).

The replica here is a copy of the primary (CREATE DATABASE … TEMPLATE) that then differs from
it, as a standby that is some seconds behind does: the provider has another name on it, and
the participants enrolled after the copy are not on it yet. It is read-only
(default_transaction_read_only, as a hot standby is), so a write sent to it fails the test.
The effect figures, the comparisons and the public figures show the replica's data; the
writes, and the pages that show a user what they have just done, the primary's. Without a
read URL, everything is the primary's, as before.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from piccolo.querystring import QueryString

from api.app import create_app
from contracts.tables import Organisation
from core.database import (
    ReplicatedEngine,
    bind,
    engine_url,
    make_engine,
    piccolo_conf_engine,
    replica_reads,
)
from core.settings import Settings
from tests.helpers import active_contract, world
from tests.web.helpers import sign_in

PG_URL = os.environ.get("VIRKER_TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="a read replica needs PostgreSQL "
                                          "(VIRKER_TEST_DATABASE_URL)"),
    pytest.mark.parametrize("engine_kind", ["postgres"]),
]
SUBJECT = "housing_entry"  # a metric the contract pays for
REPLICA_NAME = "Provider (as the replica has it)"


def url_of(name: str) -> str:
    return urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def on(url: str, sql: str, *args) -> list:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def databases(engine_kind, pg_template):
    """A migrated primary with the test world and a contract whose contract, rate card and
    results are public; and, made from it, a read-only replica on which the provider has
    another name. Yields (primary url, replica url, world, contract id)."""
    suffix = uuid.uuid4().hex[:10]
    primary, replica = f"deploy_primary_{suffix}", f"deploy_replica_{suffix}"
    await admin(f'CREATE DATABASE "{primary}" TEMPLATE "{pg_template}"')
    try:
        bind(make_engine(url_of(primary)))
        w = await world()
        cid = await active_contract(w)
        app = create_app(_settings(url_of(primary)), manage_pool=False)
        async with _client(app) as c:
            r = await c.put(f"/api/v1/contracts/{cid}/publication",
                            headers=w.headers("commissioner"),
                            json={"parts": {"contract": "public", "rate_card": "public",
                                            "results": "public"}})
            assert r.status_code == 200, r.text
        # Every connection to the primary is closed (no pool runs): it can be copied.
        await admin(f'CREATE DATABASE "{replica}" TEMPLATE "{primary}"')
        try:
            await on(url_of(replica), "UPDATE organisation SET name = $1 WHERE id = $2",
                     REPLICA_NAME, w.ids["provider"])
            await admin(f'ALTER DATABASE "{replica}" SET default_transaction_read_only = on')
            yield url_of(primary), url_of(replica), w, cid
        finally:
            await admin(f'DROP DATABASE IF EXISTS "{replica}" WITH (FORCE)')
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{primary}" WITH (FORCE)')


def _settings(url: str, read_url: str = "") -> Settings:
    env = {"VIRKER_DATABASE_URL": url, "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]}
    if read_url:
        env["VIRKER_READ_DATABASE_URL"] = read_url
    return Settings.from_env(env)


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver.local")


async def _served(settings: Settings):
    """The app as `virker serve` builds it from `settings`, with its connection pools."""
    app = create_app(settings, manage_pool=False)
    engine = piccolo_conf_engine()
    await engine.start_connection_pool(min_size=1, max_size=4)
    return app, engine


async def enrol(c: httpx.AsyncClient, w, cid, *pseudonyms: str) -> None:
    rows = [{"pseudonym": p, "enrolled_on": "2025-01-15", "age_band": "25-29",
             "area": "Roskilde"} for p in pseudonyms]
    r = await c.post(f"/api/v1/contracts/{cid}/participants", json=rows,
                     headers=w.headers("provider"))
    assert r.status_code == 201, r.text


def enrolled(effect: dict) -> int:
    line = next(li for li in effect["lines"] if li["metric_code"] == SUBJECT)
    return line["total"]["enrolled"] or 0


async def test_published_figures_come_from_the_replica_and_writes_go_to_the_primary(
        databases):
    primary, replica, w, cid = databases
    app, engine = await _served(_settings(primary, replica))
    assert isinstance(engine, ReplicatedEngine)
    try:
        async with _client(app) as c:
            # A write, and the page that shows it to whoever wrote it: the primary.
            await enrol(c, w, cid, "RR-1", "RR-2", "RR-3")
            r = await c.get(f"/api/v1/contracts/{cid}/participants", params={"count": "true"},
                            headers=w.headers("provider"))
            assert r.status_code == 200 and r.json()["total"] == 3, r.text

            # The effect figures: the replica, which has no participant yet.
            r = await c.get(f"/api/v1/contracts/{cid}/effect",
                            headers=w.headers("commissioner"))
            assert r.status_code == 200, r.text
            assert r.json()["provider_name"] == REPLICA_NAME
            assert enrolled(r.json()) == 0
            r = await c.get(f"/api/v1/comparisons/{SUBJECT}", headers=w.headers("admin"))
            assert r.status_code == 200, r.text
            assert REPLICA_NAME in r.text

            # The comparison page: the session is the primary's, the figures the replica's.
            await sign_in(c, w.ids["commissioner"], "commissioner")
            r = await c.get(f"/compare/{SUBJECT}")
            assert r.status_code == 200, r.text
            assert REPLICA_NAME in r.text

            # The public figures and exports, without a key: the replica.
            r = await c.get(f"/api/v1/what-works/{SUBJECT}")
            assert r.status_code == 200, r.text
            assert {u["provider_name"] for u in r.json()["units"]} == {REPLICA_NAME}
            r = await c.get(f"/what-works/{SUBJECT}.csv")
            assert r.status_code == 200 and REPLICA_NAME in r.text
            r = await c.get("/api/v1/open-data/ocds.json")
            assert r.status_code == 200 and REPLICA_NAME in r.text

            # A commissioner publishes the payments: the decision is written to the primary
            # and read back from it at once; the public pages show it once the replica has
            # it (this one never will).
            r = await c.put(f"/api/v1/contracts/{cid}/publication",
                            headers=w.headers("commissioner"),
                            json={"parts": {"payments": "public"}})
            assert r.status_code == 200, r.text
            r = await c.get(f"/api/v1/contracts/{cid}/publication",
                            headers=w.headers("provider"))
            status = {p["part"]: p["status"] for p in r.json()["parts"]}
            assert status["payments"] == "public"
            r = await c.get(f"/api/v1/what-works/{SUBJECT}")
            assert {tuple(u["published"]) for u in r.json()["units"]} == {
                ("contract", "rate_card", "results")}
            # A party's own export reads the primary.
            r = await c.get(f"/api/v1/contracts/{cid}/exports/ocds.json",
                            headers=w.headers("commissioner"))
            assert r.status_code == 200 and REPLICA_NAME not in r.text
    finally:
        await engine.close_connection_pool()
    # Nothing was written to the replica (it is read-only: a write would have failed).
    assert not await on(replica, "SELECT 1 FROM participant")
    assert len(await on(primary, "SELECT 1 FROM participant")) == 3


async def test_without_a_read_url_everything_reads_the_primary(databases):
    primary, _, w, cid = databases
    app, engine = await _served(_settings(primary))
    assert not isinstance(engine, ReplicatedEngine)
    try:
        async with _client(app) as c:
            await enrol(c, w, cid, "P-1", "P-2")
            r = await c.get(f"/api/v1/contracts/{cid}/effect",
                            headers=w.headers("commissioner"))
            assert r.status_code == 200, r.text
            assert r.json()["provider_name"] != REPLICA_NAME
            assert enrolled(r.json()) == 2
            r = await c.get(f"/api/v1/what-works/{SUBJECT}")
            assert REPLICA_NAME not in r.text
    finally:
        await engine.close_connection_pool()


@pytest.mark.filterwarnings("ignore:.*Unable to connect")  # Piccolo's check at start
async def test_a_replica_that_cannot_be_reached_leaves_the_reads_to_the_primary(databases):
    primary, _, w, cid = databases
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        gone = urlunsplit(urlsplit(PG_URL)._replace(netloc=f"postgres@127.0.0.1:"
                                                           f"{s.getsockname()[1]}"))
    app, engine = await _served(_settings(primary, gone))
    try:
        async with _client(app) as c:
            await enrol(c, w, cid, "G-1")
            for _ in range(2):  # the first finds the replica gone, the second skips it
                r = await c.get(f"/api/v1/contracts/{cid}/effect",
                                headers=w.headers("commissioner"))
                assert r.status_code == 200, r.text
                assert enrolled(r.json()) == 1
            r = await c.get(f"/api/v1/what-works/{SUBJECT}")
            assert r.status_code == 200 and REPLICA_NAME not in r.text
    finally:
        await engine.close_connection_pool()


async def test_writes_and_transactions_stay_on_the_primary_among_replica_reads(databases):
    primary, replica, w, _ = databases
    engine = make_engine(primary, replica)
    bind(engine)
    name = "SELECT name FROM organisation WHERE id = $1"
    provider = w.ids["provider"]
    with replica_reads():
        assert engine_url(engine) == replica  # what a report worker then reads from
        rows = await engine.run_querystring(_sql(name, provider))
        assert rows[0]["name"] == REPLICA_NAME
        async with engine.transaction():
            assert engine_url(engine) == primary
            rows = await engine.run_querystring(_sql(name, provider))
            assert rows[0]["name"] != REPLICA_NAME
        # A write outside a transaction goes to the primary too (the replica would refuse).
        await Organisation.update({Organisation.name: "Renamed on the primary"}).where(
            Organisation.id == provider)
        assert (await Organisation.select(Organisation.name).where(
            Organisation.id == provider).first())["name"] == REPLICA_NAME
    assert engine_url(engine) == primary
    rows = await engine.run_querystring(_sql(name, provider))
    assert rows[0]["name"] == "Renamed on the primary"


def _sql(sql: str, *args) -> QueryString:
    return QueryString(sql.replace("$1", "{}"), *args)

