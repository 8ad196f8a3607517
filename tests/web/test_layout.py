"""What every page shares: signing in and back, the language, errors as pages."""

from __future__ import annotations

import re

from tests.web.helpers import PASSWORD, csrf, sign_in, user


async def test_a_page_without_a_session_sends_to_sign_in_and_back(api, world):
    browser = {"Accept": "text/html,application/xhtml+xml"}
    r = await api.get("/language", headers=browser)  # a POST-only page: 405 is a page too
    assert r.status_code == 405 and "text/html" in r.headers["content-type"]
    r = await api.get("/no/such/page", headers=browser)
    assert r.status_code == 404 and "Not found" in r.text
    r = await api.get("/api/v1/no/such", headers=browser)
    assert r.headers["content-type"] == "application/problem+json"
    email = await user(world.ids["commissioner"], "commissioner", "Mette Holm")
    page = await api.get("/login?next=/queue%3Ftab%3Dapprove")
    assert 'name="next" value="/queue?tab=approve"' in page.text
    r = await api.post("/login", data={"email": email, "password": PASSWORD,
                                       "next": "/queue?tab=approve",
                                       "_csrf_token": csrf(api)})
    assert r.status_code == 303 and r.headers["location"] == "/queue?tab=approve"


async def test_sign_in_never_sends_to_another_site(api, world):
    email = await user(world.ids["commissioner"], "commissioner")
    await api.get("/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        r = await api.post("/login", data={"email": email, "password": PASSWORD,
                                           "next": target, "_csrf_token": csrf(api)})
        assert r.headers["location"] == "/", target


async def test_the_language_is_chosen_and_remembered(api, world):
    # A Danish municipality's user reads Danish by default; English when chosen, and again
    # after signing in anew.
    email = await sign_in(api, world.ids["commissioner"], "commissioner", "Mette Holm",
                          lang=None)
    home = await api.get("/")
    assert '<html lang="da">' in home.text
    r = await api.post("/language", data={"lang": "en", "next": "/",
                                          "_csrf_token": csrf(api)})
    assert r.status_code == 303
    assert '<html lang="en">' in (await api.get("/")).text
    api.cookies.clear()
    await api.get("/login")
    await api.post("/login", data={"email": email, "password": PASSWORD,
                                   "_csrf_token": csrf(api)})
    assert '<html lang="en">' in (await api.get("/")).text


async def test_a_visitor_gets_the_language_the_browser_asks_for(api, db):
    r = await api.get("/login", headers={"Accept-Language": "nb-NO,nb;q=0.9,en;q=0.5"})
    assert '<html lang="nb">' in r.text
    r = await api.get("/login", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="en">' in r.text


async def test_every_page_template_carries_no_inline_script():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "api"
    for template in [*root.glob("templates/*.html"), *root.glob("web/templates/**/*.html")]:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", text), template.name
