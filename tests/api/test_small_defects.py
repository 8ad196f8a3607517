"""Small defects, each pinned by a test: an overlong Idempotency-Key, a forged session, a
database that cannot be reached, and what an auditor's journal check may show."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from piccolo.engine.sqlite import SQLiteEngine

from api.app import create_app
from contracts.tables import Contract
from core.settings import Settings
from tests.api.test_intake import claim, enrolments
from tests.api.test_ledger_api import paid_contract
from tests.conftest import PG_URL, _with_db
from tests.helpers import active_contract, key, org

PROBLEM = "application/problem+json"


def is_problem(r: httpx.Response, status: int, code: str) -> bool:
    return (r.status_code == status and r.headers["content-type"].startswith(PROBLEM)
            and r.json()["code"] == code)


# 1. Idempotency-Key ------------------------------------------------------------------------

BAD_KEYS = ["k" * 201, "", "two words", b"caf\xe9", "tab\tinside"]


async def test_an_overlong_or_unprintable_idempotency_key_is_refused_on_every_endpoint(
        api, world):
    w = world
    cid, _ = await paid_contract(api, w)
    boss, provider = w.headers("commissioner"), w.headers("provider")
    run = {"period_from": "2024-01-01", "period_to": "2024-12-31"}
    for bad in BAD_KEYS:
        r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json=run,
                           headers={**boss, "Idempotency-Key": bad})
        assert is_problem(r, 422, "invalid_idempotency_key"), (bad, r.status_code, r.text)
        r = await api.post(f"/api/v1/contracts/{cid}/claims",
                           json=[claim("x1", "A-1", "employment", "2024-05-01")],
                           headers={**provider, "Idempotency-Key": bad})
        assert is_problem(r, 422, "invalid_idempotency_key"), (bad, r.status_code, r.text)
        r = await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("B-1"),
                           headers={**provider, "Idempotency-Key": bad})
        assert is_problem(r, 422, "invalid_idempotency_key"), (bad, r.status_code, r.text)
    # Nothing was recorded by the refused requests.
    assert (await api.get(f"/api/v1/contracts/{cid}/payment-runs", headers=boss)).json() == []
    # 200 visible characters is the most a key may have, and it works and replays.
    longest = "k" * 199 + "~"
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json=run,
                       headers={**boss, "Idempotency-Key": longest})
    assert r.status_code == 201, r.text
    again = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json=run,
                           headers={**boss, "Idempotency-Key": longest})
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]


# 2. Forged session ---------------------------------------------------------------------------

def session_cookie(data: dict) -> str:
    """A session cookie sealed with the app's own secret, as api.app seals it."""
    secret = hashlib.sha256(os.environ["VIRKER_SECRET_KEY"].encode()).digest()
    backend = ClientSideSessionBackend(CookieBackendConfig(secret=secret))
    [chunk] = backend.dump_data(data)
    return chunk.decode()


@pytest.mark.parametrize("user_id", ["not-a-uuid", 42, ["x"], {"id": "x"}])
async def test_a_session_naming_no_uuid_is_no_session(api, world, user_id):
    api.cookies.set("session", session_cookie({"user_id": user_id}))
    r = await api.get("/auth/me")
    assert is_problem(r, 401, "unauthenticated"), r.text
    assert r.headers["www-authenticate"] == "Bearer"
    api.cookies.set("session", session_cookie({"user_id": user_id}))
    home = await api.get("/")
    assert home.status_code == 200 and "Virker" in home.text
    # The bad session is cleared, not kept.
    assert 'session=null' in home.headers.get("set-cookie", "")


# 3. The database out of reach ----------------------------------------------------------------

def assert_unavailable(r: httpx.Response) -> None:
    assert is_problem(r, 503, "database_unavailable"), (r.status_code, r.text)
    assert int(r.headers["retry-after"]) > 0
    assert "Traceback" not in r.text


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver.local")


async def test_a_database_out_of_reach_is_503_not_500(db, world):
    headers = world.headers("provider")
    settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                  "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]})
    if db.kind == "postgres":
        from piccolo.engine.postgres import PostgresEngine

        broken = [
            # A database that does not exist (InvalidCatalogNameError).
            PostgresEngine(config={"dsn": _with_db(PG_URL, "virker_no_such_database")}),
            # A port nothing listens on (ConnectionRefusedError / OSError).
            PostgresEngine(config={"dsn": "postgresql://postgres@127.0.0.1:1/test"}),
        ]
        for engine in broken:
            app = create_app(settings, engine, manage_pool=False)
            async with _client(app) as c:
                assert_unavailable(await c.get("/api/v1/contracts", headers=headers))
                assert_unavailable(await c.get("/health"))
        # A pool that is gone mid-flight (asyncpg InterfaceError: pool is closed).
        app = create_app(settings, db.engine, manage_pool=False)
        await db.engine.start_connection_pool(min_size=1, max_size=2)
        async with _client(app) as c:
            assert (await c.get("/api/v1/contracts", headers=headers)).status_code == 200
            await db.engine.pool.close()
            assert_unavailable(await c.get("/api/v1/contracts", headers=headers))
        return
    path = Path(db.engine.connection_kwargs["database"])
    # The file is locked by another writer for longer than the engine waits.
    engine = SQLiteEngine(path=str(path), timeout=0.2)
    app = create_app(settings, engine, manage_pool=False)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        async with _client(app) as c:
            # Authenticating a key records its use: a write, which waits for the lock.
            assert_unavailable(await c.get("/api/v1/contracts", headers=headers))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The file cannot be opened at all.
    app = create_app(settings, SQLiteEngine(path=str(path), timeout=0.2), manage_pool=False)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()
    try:
        async with _client(app) as c:
            assert_unavailable(await c.get("/api/v1/contracts", headers=headers))
            assert_unavailable(await c.get("/health"))
    finally:
        shutil.rmtree(path)


async def test_only_connection_level_errors_count_as_the_database_unavailable(db):
    """Only connection-level errors are 503: a broken query is a bug, and says so."""
    from api.errors import database_unavailable

    if db.kind == "sqlite":
        exc: Exception = sqlite3.OperationalError("no such table: nothing")
    else:
        import asyncpg

        exc = asyncpg.exceptions.UndefinedTableError("relation does not exist")
    assert not database_unavailable(exc)
    # An OSError counts only when the database driver raised it.
    assert not database_unavailable(FileNotFoundError(2, "No such file", "x.pdf"))
    assert not database_unavailable(ValueError("x"))


# 4. What the journal check shows whom --------------------------------------------------------

CHAIN = {"ok", "entries", "head_seq", "head_hash"}


async def test_an_auditor_of_no_contract_sees_the_chain_but_no_amounts(api, world):
    w = world
    await paid_contract(api, w)
    lonely = await org("audit_firm")
    r = await api.get("/api/v1/ledger/verify",
                      headers={"Authorization": f"Bearer {await key(lonely)}"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert CHAIN <= set(report) and isinstance(report["ok"], bool) and report["entries"] >= 0
    assert "totals" not in report and "trial_balance" not in report
    assert report["contracts"] == []


async def test_an_auditor_sees_the_balances_of_its_own_contracts_only(api, world):
    w = world
    cid, _ = await paid_contract(api, w)
    r = await api.get("/api/v1/ledger/verify", headers=w.headers("auditor"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert CHAIN <= set(report) and report["ok"] is True and report["entries"] >= 3
    assert report["first_mismatch"] is None
    assert "totals" not in report and "trial_balance" not in report
    # The world's auditor audits the world's own contract and the one paid_contract made.
    seen = {c["contract_id"]: c for c in report["contracts"]}
    assert set(seen) == {str(cid), str(w.contracts["own"])}
    assert str(w.contracts["other"]) not in seen
    refs = {str(r["id"]): r["reference"] for r in await Contract.select(
        Contract.id, Contract.reference)}
    for contract_id, entry in seen.items():
        assert entry["reference"] == refs[contract_id]
        expected = await api.get(f"/api/v1/contracts/{contract_id}/balance",
                                 headers=w.headers("admin"))
        assert entry["balance"] == expected.json()
    assert seen[str(cid)]["balance"]["accrued"] == 6_000_000
    assert seen[str(cid)]["balance"]["committed"] == 100_000_000

    other = (await api.get("/api/v1/ledger/verify", headers=w.headers("other_auditor"))).json()
    assert [c["contract_id"] for c in other["contracts"]] == [str(w.contracts["other"])]
    assert other["contracts"][0]["balance"]["accrued"] == 0


async def test_an_admin_sees_the_whole_report_and_parties_may_not_look(api, world):
    w = world
    await paid_contract(api, w)
    r = await api.get("/api/v1/ledger/verify", headers=w.headers("admin"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert CHAIN <= set(report) and "totals" in report and "trial_balance" in report
    assert "contracts" not in report
    for who in ("provider", "commissioner", "co_commissioner"):
        r = await api.get("/api/v1/ledger/verify", headers=w.headers(who))
        assert is_problem(r, 403, "auditor_only"), who


async def test_claims_still_need_a_key_and_a_good_one_still_works(api, world):
    """The shared Idempotency-Key reader keeps the intake's rules."""
    cid = await active_contract(world, sampling_rate_bp=0)
    p = world.headers("provider")
    await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("A-1"), headers=p)
    r = await api.post(f"/api/v1/contracts/{cid}/claims",
                       json=[claim("c1", "A-1", "housing_entry", "2024-03-01")], headers=p)
    assert is_problem(r, 422, "idempotency_key_required")
    r = await api.post(f"/api/v1/contracts/{cid}/claims",
                       json=[claim("c1", "A-1", "housing_entry", "2024-03-01")],
                       headers={**p, "Idempotency-Key": "x" * 200})
    assert r.status_code == 201, r.text
