"""Server-side sessions: the cookie is only a random id, the database says what it means, so
signing out, a changed password or a deactivated user ends a session on every replica."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import httpx
import msgspec

from api.app import create_app
from api.sessions import DatabaseStore
from contracts import directory
from contracts.schemas import UserIn
from contracts.tables import WebSession
from core.settings import Settings

EMAIL = "mette@roskilde.example"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "plum kettle under the bridge"


def make_app(db):
    settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                  "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]})
    return create_app(settings, db.engine, manage_pool=False)


def browser(app, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)),
                             base_url="http://testserver.local")


async def create_user(world, email=EMAIL, password=PASSWORD):
    return await directory.create_user(None, msgspec.convert(dict(
        organisation_id=str(world.ids["commissioner"]), email=email, display_name="Mette Holm",
        role="commissioner", password=password), UserIn))


async def sign_in(client, email=EMAIL, password=PASSWORD) -> httpx.Response:
    if client.cookies.get("csrftoken") is None:
        await client.get("/login")
    return await client.post("/auth/login", json={"email": email, "password": password},
                             headers={"x-csrftoken": client.cookies.get("csrftoken")})


def csrf(client) -> dict[str, str]:
    return {"x-csrftoken": client.cookies.get("csrftoken")}


async def me_with(app, session_cookie: str) -> int:
    """What /auth/me answers to a browser that presents only this session cookie."""
    async with browser(app) as other:
        other.cookies.set("session", session_cookie)
        return (await other.get("/auth/me")).status_code


async def test_the_cookie_holds_a_random_id_and_the_row_its_user(api, world):
    user = await create_user(world)
    assert (await sign_in(api)).status_code == 201
    cookie = api.cookies.get("session")
    assert len(cookie) == 64 and int(cookie, 16) >= 0
    assert str(user.id) not in cookie
    rows = await WebSession.select()
    assert len(rows) == 1
    # Only the id's hash is kept: a copy of the table opens no session.
    assert rows[0]["key_hash"] == hashlib.sha256(cookie.encode()).hexdigest()
    assert rows[0]["app_user"] == user.id
    expires_in = rows[0]["expires_at"] - rows[0]["created_at"]
    assert expires_in == dt.timedelta(hours=8)


async def test_pages_and_api_calls_without_a_sign_in_store_nothing(api, world):
    await api.get("/")
    await api.get("/login")
    await api.get("/api/v1/contracts", headers=world.headers("provider"))
    await api.get("/health")
    assert api.cookies.get("session") is None
    assert await WebSession.count() == 0


async def test_after_signing_out_the_old_cookie_no_longer_works(db, api, world):
    await create_user(world)
    await sign_in(api)
    old = api.cookies.get("session")
    app = make_app(db)
    assert await me_with(app, old) == 200
    r = await api.post("/auth/logout", headers=csrf(api))
    assert r.status_code == 204
    assert await WebSession.count() == 0
    assert await me_with(app, old) == 401


async def test_signing_out_with_the_form_ends_the_session_too(db, api, world):
    await create_user(world)
    await sign_in(api)
    old = api.cookies.get("session")
    r = await api.post("/logout", data={"_csrf_token": api.cookies.get("csrftoken")})
    assert r.status_code == 303
    assert await me_with(make_app(db), old) == 401


async def test_a_password_change_ends_every_session_of_the_user(db, api, world):
    await create_user(world)
    app = make_app(db)
    async with browser(app) as laptop, browser(app) as phone:
        await sign_in(laptop)
        await sign_in(phone)
        laptop_before, phone_before = laptop.cookies.get("session"), phone.cookies.get("session")
        r = await laptop.post("/auth/password", headers=csrf(laptop), json={
            "current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert r.status_code == 204, r.text
        # Every session that existed has ended, on every browser...
        assert await me_with(app, laptop_before) == 401
        assert await me_with(app, phone_before) == 401
        assert (await phone.get("/auth/me")).status_code == 401
        # ...and the browser that changed it goes on under a new one.
        assert laptop.cookies.get("session") not in (None, laptop_before)
        assert (await laptop.get("/auth/me")).status_code == 200
        assert await WebSession.count() == 1
    async with browser(app) as fresh:
        assert (await sign_in(fresh, password=PASSWORD)).status_code == 401
        assert (await sign_in(fresh, password=NEW_PASSWORD)).status_code == 201


async def test_a_password_change_proves_the_current_one_and_wants_a_strong_new_one(api, world):
    await create_user(world)
    await sign_in(api)
    r = await api.post("/auth/password", headers=csrf(api), json={
        "current_password": "not my password", "new_password": NEW_PASSWORD})
    assert r.status_code == 422 and r.json()["code"] == "wrong_password"
    assert r.json()["errors"][0]["field"] == "current_password"
    r = await api.post("/auth/password", headers=csrf(api), json={
        "current_password": PASSWORD, "new_password": "password1234"})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    error = r.json()["errors"][0]
    assert error["field"] == "new_password" and "common password" in error["message"]
    r = await api.post("/auth/password", headers=csrf(api), json={
        "current_password": PASSWORD, "new_password": PASSWORD})
    assert r.status_code == 422 and r.json()["code"] == "password_unchanged"
    # Nothing changed: the session and the password are the ones there were.
    assert (await api.get("/auth/me")).status_code == 200
    assert (await directory.login(EMAIL, PASSWORD)).role == "commissioner"


async def test_a_password_change_needs_the_csrf_token_and_a_session(api, world):
    await create_user(world)
    await sign_in(api)
    r = await api.post("/auth/password", json={"current_password": PASSWORD,
                                                "new_password": NEW_PASSWORD})
    assert r.status_code == 403
    async with browser(make_app_from(api)) as stranger:
        await stranger.get("/login")
        r = await stranger.post("/auth/password", headers=csrf(stranger), json={
            "current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert r.status_code == 401
    assert (await directory.login(EMAIL, PASSWORD)).role == "commissioner"


def make_app_from(client: httpx.AsyncClient):
    return client._transport.app


async def test_two_replicas_on_one_database_share_a_session(db, world):
    await create_user(world)
    if db.kind == "postgres":
        await db.engine.start_connection_pool(min_size=1, max_size=4)
    one, two = make_app(db), make_app(db)
    async with browser(one) as first, browser(two) as second:
        await sign_in(first)
        cookie = first.cookies.get("session")
        second.cookies.set("session", cookie)
        r = await second.get("/auth/me")
        assert r.status_code == 200 and r.json()["email"] == EMAIL
        await second.get("/login")  # a CSRF token of its own
        assert (await second.post("/auth/logout", headers=csrf(second))).status_code == 204
        # Signed out on one replica is signed out on the other.
        assert (await first.get("/auth/me")).status_code == 401


async def test_a_session_id_planted_before_sign_in_is_never_adopted(api, world):
    await create_user(world)
    planted = "ab" * 32
    api.cookies.set("session", planted, domain="testserver.local")
    await sign_in(api)
    assert api.cookies.get("session") != planted
    assert await WebSession.count() == 1
    assert await me_with(make_app_from(api), planted) == 401


async def test_signing_in_again_replaces_the_session(api, world):
    await create_user(world)
    await sign_in(api)
    first = api.cookies.get("session")
    await sign_in(api)
    assert api.cookies.get("session") != first
    assert await me_with(make_app_from(api), first) == 401
    assert await WebSession.count() == 1


async def test_an_expired_session_is_refused_and_its_cookie_cleared(api, world):
    await create_user(world)
    await sign_in(api)
    await WebSession.update({WebSession.expires_at: dt.datetime.now(dt.UTC)
                             - dt.timedelta(seconds=1)}, force=True)
    assert (await api.get("/auth/me")).status_code == 401
    assert await WebSession.count() == 0
    # The next page the browser loads tells it to forget the cookie.
    r = await api.get("/")
    assert "Signed in" not in r.text
    assert "Max-Age=0" in r.headers.get("set-cookie", "")
    assert api.cookies.get("session") is None


async def test_deactivating_a_user_ends_their_sessions(api, world):
    user = await create_user(world)
    await sign_in(api)
    r = await api.post(f"/api/v1/users/{user.id}/deactivate", headers=world.headers("admin"))
    assert r.status_code == 200
    assert await WebSession.count() == 0
    assert (await api.get("/auth/me")).status_code == 401


async def test_the_store_keeps_values_until_they_expire(db):
    store = DatabaseStore()
    await store.set("a", b"\x00\xffbytes", expires_in=60)
    await store.set("b", "text")
    assert await store.get("a") == b"\x00\xffbytes"
    assert await store.get("b") == b"text"
    assert await store.exists("a") and not await store.exists("nothing")
    assert 55 <= await store.expires_in("a") <= 60
    assert await store.expires_in("b") is None
    await store.set("a", b"again", expires_in=dt.timedelta(seconds=-1))
    assert await store.get("a") is None and not await store.exists("a")
    await store.set("c", b"c", expires_in=30)
    await store.get("c", renew_for=3600)
    assert await store.expires_in("c") > 3000
    await store.delete("b")
    assert await store.get("b") is None
    await store.delete_all()
    assert await WebSession.count() == 0


async def test_the_store_forgets_expired_rows_when_it_writes(db):
    store = DatabaseStore()
    await store.set("old", b"x", expires_in=dt.timedelta(seconds=-5))
    await store.set("new", b"y", expires_in=60)
    assert await WebSession.count() == 1
