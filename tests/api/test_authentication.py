"""API keys for the API; password, session and CSRF for the web UI."""

from __future__ import annotations

import re

import msgspec

from contracts import directory
from contracts.schemas import UserIn


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
    assert r.status_code == 200 and "Signed in as Mette Holm" in r.text


async def test_front_page_and_schema_are_public(api, db):
    home = await api.get("/")
    assert home.status_code == 200 and "/schema" in home.text and "Virker" in home.text
    schema = await api.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/contracts" in paths and "/api/v1/contracts/{contract_id}/activate" in paths
    health = await api.get("/health")
    assert health.json() == {"status": "ok", "database": db.kind}
