"""A batch's API key, the caller's standing on the contract and an earlier batch under its
Idempotency-Key are read in one query before the contract's lock: every caller gets the
answer any other request would give it, a retry is answered without waiting for the lock,
and nobody who may not write takes it."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import asynccontextmanager

import asyncpg
import pytest

from outcomes.tables import Claim, IntakeBatch
from tests.api.test_intake import claim, enrolments, post_claims, setup

ROWS = [claim("c1", "ROS-1", "housing_entry", "2024-03-01")]


@pytest.mark.parametrize("kind", ["claims", "participants"])
async def test_a_batch_without_a_valid_key_is_refused_as_any_request_is(api, world, kind):
    w = world
    cid = await setup(api, w)
    r = await api.post("/api/v1/api-keys", json={"label": "case system"},
                       headers=w.headers("provider"))
    revoked = r.json()
    await api.delete(f"/api/v1/api-keys/{revoked['id']}", headers=w.headers("provider"))
    body = ROWS if kind == "claims" else enrolments("ROS-1")
    for headers, code in [({}, "unauthenticated"),
                          ({"Authorization": "Basic abc"}, "invalid_authorization"),
                          ({"Authorization": "Bearer vk_not_a_key"}, "invalid_api_key"),
                          ({"Authorization": f"Bearer {revoked['key']}"}, "invalid_api_key")]:
        r = await api.post(f"/api/v1/contracts/{cid}/{kind}", json=body,
                           headers={**headers, "Idempotency-Key": "k"})
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["code"] == code
        assert r.headers["www-authenticate"] == "Bearer"
    assert await Claim.count() == 0


async def test_a_key_that_sends_a_batch_is_marked_as_used(api, world):
    w = world
    cid = await setup(api, w)
    created = (await api.post("/api/v1/api-keys", json={"label": "case system"},
                              headers=w.headers("provider"))).json()
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("ROS-1"),
                       headers={"Authorization": f"Bearer {created['key']}"})
    assert r.status_code == 201
    listed = (await api.get("/api/v1/api-keys", headers=w.headers("provider"))).json()
    assert next(k for k in listed if k["id"] == created["id"])["last_used_at"] is not None


async def test_each_caller_is_answered_as_for_any_other_request_on_the_contract(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    expected = {"provider": (201, None), "commissioner": (403, "provider_only"),
                "co_commissioner": (403, "provider_only"), "admin": (403, "provider_only"),
                "auditor": (403, "read_only"), "other_provider": (404, "contract_not_found"),
                "other_commissioner": (404, "contract_not_found")}
    for who, (status, code) in expected.items():
        r = await post_claims(api, w, cid, ROWS, who=who)
        assert r.status_code == status, (who, r.text)
        if code:
            assert r.json()["code"] == code, who
    r = await post_claims(api, w, uuid.uuid4(), ROWS)
    assert r.status_code == 404 and r.json()["code"] == "contract_not_found"
    r = await api.post(f"/api/v1/contracts/{cid}/participants", json=enrolments("ROS-2"),
                       headers=w.headers("commissioner"))
    assert r.status_code == 403 and r.json()["code"] == "provider_only"
    assert await Claim.count() == 1


async def test_a_provider_is_not_told_of_another_providers_batch_under_the_same_key(api,
                                                                                    world):
    w = world
    cid = await setup(api, w, "ROS-1")
    assert (await post_claims(api, w, cid, ROWS, key="shared")).status_code == 201
    r = await post_claims(api, w, w.contracts["other"], ROWS, key="shared",
                          who="other_provider")
    assert r.status_code == 409 and r.json()["code"] == "contract_not_active"


@asynccontextmanager
async def contract_locked(db, contract_id):
    """Another writer holding the contract's lock: its row lock on PostgreSQL, the
    database's write lock on SQLite."""
    if db.kind == "postgres":
        conn = await asyncpg.connect(db.url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT id FROM contract WHERE id = $1 FOR UPDATE",
                                   contract_id)
                yield
        finally:
            await conn.close()
    else:
        conn = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()


async def test_a_retry_and_a_stranger_are_answered_while_another_batch_holds_the_lock(
        db, api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    first = await post_claims(api, w, cid, ROWS, key="batch-1")
    assert first.status_code == 201
    # Keys are marked as used at most once a minute, and that mark is a write (which on
    # SQLite waits for the lock like any other): the stranger's key has just been used.
    await api.get("/api/v1/contracts", headers=w.headers("other_provider"))
    async with contract_locked(db, cid):
        again = await asyncio.wait_for(post_claims(api, w, cid, ROWS, key="batch-1"), 10)
        other = await asyncio.wait_for(post_claims(api, w, cid, [
            claim("c2", "ROS-1", "employment", "2024-03-01")], key="batch-1"), 10)
        stranger = await asyncio.wait_for(post_claims(api, w, cid, ROWS,
                                                      who="other_provider"), 10)
    assert again.status_code == 200 and again.json() == first.json()
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert stranger.status_code == 404
    assert await IntakeBatch.count().where(IntakeBatch.kind == "claims") == 1
