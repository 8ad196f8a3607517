"""API keys for the API; password, session and CSRF for the web UI."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import httpx
import msgspec
import pytest

from contracts import directory
from contracts.errors import Invalid
from contracts.schemas import UserIn
from contracts.tables import LoginAttempt


async def test_the_api_wants_a_valid_bearer_key(api, world):
    for headers, code in [({}, "unauthenticated"),
                          ({"Authorization": "Basic abc"}, "invalid_authorization"),
                          ({"Authorization": "Bearer vk_not_a_key"}, "invalid_api_key")]:
        r = await api.get("/api/v1/contracts", headers=headers)
        assert r.status_code == 401
        assert r.json()["code"] == code
        assert r.headers["www-authenticate"] == "Bearer"


async def test_a_key_is_shown_once_works_and_stops_working_when_revoked(api, world):
    r = await api.post("/api/v1/api-keys", json={"label": "case system"},
                       headers=world.headers("provider"))
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    assert key.startswith("vk_") and created["role"] == "provider"
    mine = {"Authorization": f"Bearer {key}"}
    assert (await api.get("/api/v1/contracts", headers=mine)).status_code == 200

    listed = (await api.get("/api/v1/api-keys", headers=world.headers("provider"))).json()
    assert key not in str(listed)
    entry = next(k for k in listed if k["id"] == created["id"])
    assert entry["last_used_at"] is not None
    assert key.startswith(entry["prefix"])

    r = await api.delete(f"/api/v1/api-keys/{created['id']}", headers=world.headers("provider"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = await api.get("/api/v1/contracts", headers=mine)
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"


async def test_an_organisation_cannot_mint_keys_for_others_or_above_its_role(api, world):
    r = await api.post("/api/v1/api-keys", json={
        "label": "x", "organisation_id": str(world.ids["commissioner"])},
        headers=world.headers("provider"))
    assert r.status_code == 403 and r.json()["code"] == "other_organisation"
    r = await api.post("/api/v1/api-keys", json={"label": "x", "role": "admin"},
                       headers=world.headers("provider"))
    assert r.status_code == 403 and r.json()["code"] == "role_escalation"
    r = await api.delete(f"/api/v1/api-keys/{(await _any_key(api, world, 'commissioner'))}",
                         headers=world.headers("provider"))
    assert r.status_code == 404
    r = await api.post("/api/v1/api-keys", json={
        "label": "for the fund", "organisation_id": str(world.ids["co_commissioner"])},
        headers=world.headers("admin"))
    assert r.status_code == 201 and r.json()["role"] == "commissioner"


async def _any_key(api, world, who: str) -> str:
    keys = (await api.get("/api/v1/api-keys", headers=world.headers(who))).json()
    return keys[0]["id"]


async def _user(world, email="mette@roskilde.example", password="correct horse battery"):
    await directory.create_user(None, msgspec.convert(dict(
        organisation_id=str(world.ids["commissioner"]), email=email, display_name="Mette Holm",
        role="commissioner", password=password), UserIn))


def _csrf(client) -> str:
    return client.cookies.get("csrftoken")


async def test_sign_in_with_password_gives_a_session(api, world):
    await _user(world)
    await api.get("/login")
    r = await api.post("/auth/login", json={"email": "mette@roskilde.example",
                                            "password": "correct horse battery"},
                       headers={"x-csrftoken": _csrf(api)})
    assert r.status_code == 201 and r.json()["role"] == "commissioner"
    me = await api.get("/auth/me")
    assert me.status_code == 200 and me.json()["email"] == "mette@roskilde.example"
    # The session does not open the API: that takes an API key.
    assert (await api.get("/api/v1/contracts")).status_code == 401
    r = await api.post("/auth/logout", headers={"x-csrftoken": _csrf(api)})
    assert r.status_code == 204
    assert (await api.get("/auth/me")).status_code == 401


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(api, world):
    await _user(world)
    await api.get("/login")
    answers = []
    for email, password in [("mette@roskilde.example", "wrong password!"),
                            ("nobody@roskilde.example", "correct horse battery")]:
        r = await api.post("/auth/login", json={"email": email, "password": password},
                           headers={"x-csrftoken": _csrf(api)})
        answers.append((r.status_code, r.json()["code"], r.json()["detail"]))
    assert answers[0] == answers[1] == (401, "invalid_credentials", "wrong email or password")


async def test_sign_in_without_the_csrf_token_is_refused(api, world):
    await _user(world)
    r = await api.post("/auth/login", json={"email": "mette@roskilde.example",
                                            "password": "correct horse battery"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await api.get("/auth/me")).status_code == 401


async def test_the_sign_in_form_works_in_a_browser_flow(api, world):
    await _user(world)
    page = await api.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    r = await api.post("/login", data={"email": "mette@roskilde.example",
                                       "password": "wrong", "_csrf_token": token})
    assert r.status_code == 401 and "Wrong email or password" in r.text
    r = await api.post("/login", data={"email": "mette@roskilde.example",
                                       "password": "correct horse battery",
                                       "_csrf_token": token}, follow_redirects=True)
    # A Danish municipality's commissioner reads Danish once signed in.
    assert r.status_code == 200 and "Logget ind som Mette Holm" in r.text


async def test_front_page_and_schema_are_public(api, db):
    home = await api.get("/")
    assert home.status_code == 200 and "/schema" in home.text and "Virker" in home.text
    schema = await api.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/contracts" in paths and "/api/v1/contracts/{contract_id}/activate" in paths
    health = await api.get("/health")
    assert health.json() == {"status": "ok", "database": db.kind}


# Passwords that are easy to guess --------------------------------------------------------------


async def test_a_common_or_weak_password_is_refused_naming_the_field(api, world):
    body = {"organisation_id": str(world.ids["commissioner"]), "email": "ny@roskilde.example",
            "display_name": "Mette Holm", "role": "commissioner"}
    for weak, says in [("password1234", "very common password"),
                       ("Password1234!", "similar to a commonly used password"),
                       ("qwertyuiop123", "common"),
                       ("aaaaaaaaaaaaaaaa", "Repeats"),
                       ("mette holm 1234", "Add another word")]:
        r = await api.post("/api/v1/users", json={**body, "password": weak},
                           headers=world.headers("admin"))
        assert r.status_code == 422, weak
        problem = r.json()
        assert problem["code"] == "weak_password"
        assert problem["errors"][0]["field"] == "password"
        assert says in problem["errors"][0]["message"], (weak, problem)
    # Still the minimum length first.
    r = await api.post("/api/v1/users", json={**body, "password": "Kx9#"},
                       headers=world.headers("admin"))
    assert r.status_code == 400
    r = await api.post("/api/v1/users", json={**body, "password": "correct horse battery staple"},
                       headers=world.headers("admin"))
    assert r.status_code == 201


async def test_the_command_line_refuses_a_weak_password_too(db, world):
    with pytest.raises(Invalid) as refused:
        await _user(world, email="svag@roskilde.example", password="password1234")
    assert refused.value.code == "weak_password"


# Throttled sign-in -----------------------------------------------------------------------------


def _client_from(api, address: str):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api._transport.app,
                                                           client=(address, 40000)),
                             base_url="http://testserver.local")


async def _sign_in(client, email, password):
    if client.cookies.get("csrftoken") is None:
        await client.get("/login")
    return await client.post("/auth/login", json={"email": email, "password": password},
                             headers={"x-csrftoken": _csrf(client)})


def _assert_throttled(r):
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "too_many_attempts"
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60


async def _forget_the_window():
    for row in await LoginAttempt.select():
        await LoginAttempt.update({
            LoginAttempt.attempted_at: row["attempted_at"] - dt.timedelta(minutes=16)}).where(
            LoginAttempt.id == row["id"])


async def test_five_failed_sign_ins_make_an_account_wait(api, world):
    await _user(world)
    await _user(world, email="kollega@roskilde.example")
    for _ in range(5):
        r = await _sign_in(api, "Mette@Roskilde.example", "wrong password!")
        assert r.status_code == 401
    # The sixth is refused before the password is looked at, the right one included...
    _assert_throttled(await _sign_in(api, "mette@roskilde.example", "correct horse battery"))
    # ...from any address,
    async with _client_from(api, "198.51.100.7") as elsewhere:
        _assert_throttled(await _sign_in(elsewhere, "mette@roskilde.example",
                                         "correct horse battery"))
    # while another account may still sign in from the same address.
    r = await _sign_in(api, "kollega@roskilde.example", "correct horse battery")
    assert r.status_code == 201
    # Refused attempts do not lengthen the wait: once the window has passed, it is over.
    assert await LoginAttempt.count().where(
        LoginAttempt.email == "mette@roskilde.example") == 5
    await _forget_the_window()
    r = await _sign_in(api, "mette@roskilde.example", "correct horse battery")
    assert r.status_code == 201
    assert await LoginAttempt.count() == 0


async def test_a_successful_sign_in_clears_the_accounts_failures(api, world):
    await _user(world)
    for _ in range(3):
        for _ in range(4):
            assert (await _sign_in(api, "mette@roskilde.example", "not it at all")
                    ).status_code == 401
        assert (await _sign_in(api, "mette@roskilde.example", "correct horse battery")
                ).status_code == 201


async def test_many_failures_from_one_address_make_that_address_wait(api, world):
    await _user(world)
    async with _client_from(api, "203.0.113.9") as sprayer:
        for n in range(20):
            r = await _sign_in(sprayer, f"guess{n}@roskilde.example", "Summer2025!")
            assert r.status_code == 401
        _assert_throttled(await _sign_in(sprayer, "mette@roskilde.example",
                                         "correct horse battery"))
    # Other addresses are not held up; the account itself had no failures.
    async with _client_from(api, "192.0.2.44") as colleague:
        assert (await _sign_in(colleague, "mette@roskilde.example", "correct horse battery")
                ).status_code == 201


async def test_attempts_sent_at_once_get_no_more_than_the_limit(api, world):
    await _user(world)
    await api.get("/login")
    answers = await asyncio.gather(*[
        api.post("/auth/login", json={"email": "mette@roskilde.example",
                                      "password": f"guess number {n}"},
                 headers={"x-csrftoken": _csrf(api)}) for n in range(12)])
    codes = sorted(r.status_code for r in answers)
    assert codes.count(401) <= 5 and set(codes) <= {401, 429}
    assert codes.count(429) >= 7


async def test_the_sign_in_form_says_when_to_try_again(api, world):
    await _user(world)
    page = await api.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    for _ in range(5):
        await api.post("/login", data={"email": "mette@roskilde.example", "password": "nope",
                                       "_csrf_token": token})
    r = await api.post("/login", data={"email": "mette@roskilde.example",
                                       "password": "correct horse battery", "_csrf_token": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Too many failed sign-ins. Try again in 15 minutes." in r.text
