"""Signing in to the web UI and using its forms, as a browser would, through the test
client: the session cookie, the CSRF token from its cookie, HTMX's header."""

from __future__ import annotations

import itertools
from uuid import UUID

import msgspec

from contracts import directory
from contracts.schemas import UserIn

PASSWORD = "correct horse battery staple"
_n = itertools.count(1)


async def user(org_id: UUID, role: str, name: str | None = None) -> str:
    """A user of the organisation with the role; returns the e-mail address."""
    email = f"{role}{next(_n)}@virker.example"
    await directory.create_user(None, msgspec.convert(dict(
        organisation_id=str(org_id), email=email, display_name=name or f"{role.title()} User",
        role=role, password=PASSWORD), UserIn))
    return email


def csrf(client) -> str:
    return client.cookies.get("csrftoken") or ""


async def sign_in(client, org_id: UUID, role: str, name: str | None = None,
                  lang: str | None = "en") -> str:
    """Sign the client in as a new user of `org_id` with `role` (signing out whoever was),
    reading the pages in `lang` (None: the language the user would get by default, Danish
    for a Danish organisation); the tests read English unless they say otherwise."""
    client.cookies.clear()
    email = await user(org_id, role, name)
    await sign_in_as(client, email, lang)
    return email


async def sign_in_as(client, email: str, lang: str | None = "en") -> None:
    """Sign the client in as an existing user, reading the pages in `lang`."""
    client.cookies.clear()
    await client.get("/login")
    r = await client.post("/login", data={"email": email, "password": PASSWORD,
                                          "_csrf_token": csrf(client)})
    assert r.status_code == 303, r.text
    if lang is not None:
        r = await client.post("/language", data={"lang": lang, "next": "/",
                                                 "_csrf_token": csrf(client)})
        assert r.status_code == 303, r.text


async def post_form(client, path: str, data: dict | None = None, *, htmx: bool = False):
    """Submit a form on a page: with the CSRF token, as a browser (or HTMX) does."""
    headers = {"HX-Request": "true", "x-csrftoken": csrf(client)} if htmx else {}
    return await client.post(path, data={**(data or {}), "_csrf_token": csrf(client)},
                             headers=headers)


async def fragment(client, path: str):
    """GET a page as HTMX asks for it."""
    return await client.get(path, headers={"HX-Request": "true"})
