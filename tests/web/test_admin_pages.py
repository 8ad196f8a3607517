"""Administration in the browser: organisations, users and their roles, API keys, and the
organisation setting that lets one person draft and approve payment runs alone. For
administrators only; what they create works (a user signs in, a key calls the API)."""

from __future__ import annotations

import re

from contracts import directory
from tests.helpers import principal
from tests.web.helpers import PASSWORD, csrf, post_form, sign_in, sign_in_as

PAGES = ("/admin", "/admin/users", "/admin/keys", "/admin/roles")


async def test_only_administrators_have_the_administration(api, world):
    w = world
    for who, role in (("commissioner", "commissioner"), ("provider", "provider"),
                      ("auditor", "auditor")):
        await sign_in(api, w.ids[who], role)
        for path in PAGES:
            assert (await api.get(path)).status_code == 403, (who, path)
        r = await post_form(api, "/admin/users", {
            "organisation_id": str(w.ids[who]), "email": "x@virker.example",
            "display_name": "X", "role": "admin", "password": PASSWORD})
        assert r.status_code == 403
        r = await post_form(api, f"/admin/organisations/{w.ids[who]}/single-approver",
                            {"allowed": "on"})
        assert r.status_code == 403
    await sign_in(api, w.ids["admin"], "admin")
    for path in PAGES:
        r = await api.get(path)
        assert r.status_code == 200, (path, r.text)
        assert 'aria-current="page"' in r.text


async def test_an_organisation_is_registered_and_refused_next_to_its_field(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    r = await post_form(api, "/admin/organisations", {
        "name": "Aarhus Kommune", "kind": "municipality", "identifier": "DK-CVR-55133018"})
    assert r.status_code == 303 and r.headers["location"] == "/admin?done=organisation"
    r = await api.get("/admin?done=organisation")
    assert "The organisation is registered." in r.text and "Aarhus Kommune" in r.text
    r = await post_form(api, "/admin/organisations", {
        "name": "Odense", "kind": "municipality", "identifier": "not an identifier"})
    assert r.status_code == 422
    assert re.search(r'id="identifier"[^>]*>.*?<p class="field-error"', r.text, re.S)
    assert 'value="not an identifier"' in r.text  # what was typed is shown back
    r = await post_form(api, "/admin/organisations", {
        "name": "Again", "kind": "municipality", "identifier": "DK-CVR-55133018"})
    assert r.status_code == 409
    assert re.search(r'id="identifier"[^>]*>.*?<p class="field-error"[^>]*>an organisation '
                     r"with identifier", r.text, re.S)


async def test_an_administrator_creates_a_user_who_can_then_sign_in(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    form = {"organisation_id": str(w.ids["commissioner"]), "email": "sofie@aarhus.example",
            "display_name": "Sofie Lund", "role": "commissioner", "password": PASSWORD}
    r = await post_form(api, "/admin/users", {**form, "password": "short"})
    assert r.status_code == 422
    assert re.search(r'id="password"[^>]*>.*?<p class="field-error"', r.text, re.S)
    assert 'value="sofie@aarhus.example"' in r.text and "short" not in r.text
    r = await post_form(api, "/admin/users", form)
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=user"
    r = await api.get("/admin/users?done=user")
    assert "The user is created" in r.text and "sofie@aarhus.example" in r.text
    r = await post_form(api, "/admin/users", form)
    assert r.status_code == 409
    assert re.search(r'id="email"[^>]*>.*?<p class="field-error"[^>]*>a user with this email',
                     r.text, re.S)
    # The user signs in and works as a commissioner.
    await sign_in_as(api, "sofie@aarhus.example")
    r = await api.get("/auth/me")
    assert r.json()["role"] == "commissioner" and r.json()["display_name"] == "Sofie Lund"


async def test_a_deactivated_user_cannot_sign_in_until_reactivated(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    await post_form(api, "/admin/users", {
        "organisation_id": str(w.ids["provider"]), "email": "jens@ngo.example",
        "display_name": "Jens Berg", "role": "provider", "password": PASSWORD})
    users = await directory.list_users(principal(w.ids["admin"], "admin"))
    user = next(u for u in users if u.email == "jens@ngo.example")
    page = await api.get(f"/admin/users?organisation={w.ids['provider']}")
    assert "Deactivate Jens Berg" in page.text and "<details>" in page.text
    r = await post_form(api, f"/admin/users/{user.id}/deactivate")
    assert r.status_code == 303
    assert not (await directory.get_user(user.id)).active
    admin_cookies = dict(api.cookies)
    api.cookies.clear()
    await api.get("/login")
    r = await api.post("/login", data={"email": "jens@ngo.example", "password": PASSWORD,
                                       "_csrf_token": csrf(api)})
    assert r.status_code == 401
    api.cookies.clear()
    api.cookies.update(admin_cookies)
    r = await post_form(api, f"/admin/users/{user.id}/activate")
    assert r.status_code == 303 and (await directory.get_user(user.id)).active
    await sign_in_as(api, "jens@ngo.example")


async def test_an_administrator_creates_and_revokes_an_organisations_api_key(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    r = await post_form(api, "/admin/keys", {"organisation_id": str(w.ids["auditor"]),
                                             "label": ""})
    assert r.status_code == 422
    assert re.search(r'id="label"[^>]*>.*?<p class="field-error"', r.text, re.S)
    r = await post_form(api, "/admin/keys", {"organisation_id": str(w.ids["auditor"]),
                                             "label": "Audit robot"})
    assert r.status_code == 201, r.text
    secret = re.search(r'id="new-key" type="text" readonly value="([^"]+)"', r.text).group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    r = await api.get("/api/v1/contracts", headers=bearer)
    assert r.status_code == 200  # an auditor's key: the audit firm's default role
    r = await api.get(f"/admin/keys?organisation={w.ids['auditor']}")
    assert secret not in r.text
    row = next(x for x in r.text.split("<tr") if "Audit robot" in x)
    assert "auditor" in row
    revoke = re.search(r'action="(/admin/keys/[0-9a-f-]+/revoke)"', row).group(1)
    assert (await post_form(api, revoke)).status_code == 303
    assert (await api.get("/api/v1/contracts", headers=bearer)).status_code == 401


async def test_one_person_may_be_allowed_to_draft_and_approve_payment_runs(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    org = w.ids["commissioner"]
    assert not await directory.single_approver(org)
    r = await post_form(api, f"/admin/organisations/{org}/single-approver", {"allowed": "on"})
    assert r.status_code == 303
    assert await directory.single_approver(org)
    r = await api.get("/admin?done=single_approver")
    assert re.search(rf'id="single-{org}" name="allowed" value="on" checked', r.text)
    r = await post_form(api, f"/admin/organisations/{org}/single-approver", {})
    assert r.status_code == 303 and not await directory.single_approver(org)


async def test_the_roles_say_what_each_may_do(api, world):
    w = world
    await sign_in(api, w.ids["admin"], "admin")
    r = await api.get("/admin/roles")
    for role in ("commissioner", "provider", "auditor", "administrator"):
        assert f'<th scope="row">{role}</th>' in r.text
