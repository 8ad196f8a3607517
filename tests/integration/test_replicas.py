"""Stateless replicas behind a load balancer: two real `virker serve` processes on one
PostgreSQL database, with the same VIRKER_SECRET_KEY, and a commissioner whose requests
land on either.

The session lives in the database (`web_session`), so the server that did not sign the user
in knows them; the CSRF token is signed with the shared secret, so a form token one server
handed out is good on the other; and signing out on one ends the session on both, even for
whoever kept a copy of the cookie. A third server with a secret of its own refuses the
token, which is why every replica must be given the same one (docs/deployment.md). And
replicas that start together, each migrating first, migrate one at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from benchmarks.common import logged_server
from core.database import bind, make_engine
from tests.helpers import active_contract, world
from tests.web.helpers import PASSWORD, user

PG_URL = os.environ.get("VIRKER_TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="replicas share a PostgreSQL database "
                                          "(VIRKER_TEST_DATABASE_URL)"),
    pytest.mark.parametrize("engine_kind", ["postgres"]),
]
SHARED_SECRET = "replicas-share-this-secret-" + uuid.uuid4().hex


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def database(engine_kind, pg_template):
    """A migrated database with the test world, an active contract and a commissioner who
    signs in to the web UI. Yields (url, contract id, e-mail address)."""
    name = f"deploy_replicas_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    url = urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))
    try:
        bind(make_engine(url))
        w = await world()
        cid = await active_contract(w)
        email = await user(w.ids["commissioner"], "commissioner")
        yield url, cid, email
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def servers(stack: ExitStack, url: str, folder: Path, *secrets: str) -> list[str]:
    """One `virker serve` per secret, on its own port, all on the database at `url`."""
    bases = []
    for i, secret in enumerate(secrets):
        env = {"VIRKER_SECRET_KEY": secret, "VIRKER_ENV": "production",
               "VIRKER_CHECKPOINT_INTERVAL": "0", "VIRKER_REPORT_WORKERS": "1",
               "VIRKER_CHECKPOINT_KEY": str(folder / "signing.key")}
        base, _ = stack.enter_context(logged_server(url, folder / f"server-{i}.log", env=env))
        bases.append(base)
    return bases


def status_of_parts(html: str) -> dict[str, str]:
    """The publication page's status per part, as its checkboxes say it."""
    return {m.group(1): "public" if m.group(2) else "private"
            for m in re.finditer(r'name="public" value="([a-z_]+)"( checked)?', html)}


def test_a_commissioner_moves_between_two_servers_on_one_database(database, tmp_path):
    url, cid, email = database
    page = f"/contracts/{cid}/publication"
    with ExitStack() as stack:
        a, b, stranger = servers(stack, url, tmp_path, SHARED_SECRET, SHARED_SECRET,
                                 "a-secret-of-its-own-" + uuid.uuid4().hex)
        # One browser: cookies go to every port of 127.0.0.1, as to one load balancer.
        browser = stack.enter_context(httpx.Client(timeout=30))

        # Signed in on A, with the form token A handed out.
        assert browser.get(a + "/login").status_code == 200
        token_a = browser.cookies["csrftoken"]
        r = browser.post(a + "/login", data={"email": email, "password": PASSWORD,
                                             "_csrf_token": token_a})
        assert r.status_code == 303, r.text
        session = browser.cookies["session"]

        # On B: the session is known, the form page loads, and A's token is good.
        r = browser.get(b + page)
        assert r.status_code == 200, r.text
        assert status_of_parts(r.text)["contract"] == "private"
        assert browser.cookies["csrftoken"] == token_a  # B kept A's token
        r = browser.post(b + page, data={"public": "contract", "confirmed": "yes",
                                         "_csrf_token": token_a})
        assert r.status_code == 303, r.text
        # A sees what B wrote.
        assert status_of_parts(browser.get(a + page).text)["contract"] == "public"

        # And the other way: a token B hands out is good on A.
        browser.cookies.delete("csrftoken")
        assert browser.get(b + page).status_code == 200
        token_b = browser.cookies["csrftoken"]
        assert token_b != token_a
        r = browser.post(a + page, data={"public": ["contract", "rate_card"],
                                         "confirmed": "yes", "_csrf_token": token_b})
        assert r.status_code == 303, r.text
        parts = status_of_parts(browser.get(b + page).text)
        assert parts["contract"] == parts["rate_card"] == "public"

        # The token is checked: a wrong one is refused on either server, and a server with
        # a secret of its own refuses the shared one.
        for base in (a, b):
            r = browser.post(base + page, data={"public": "contract",
                                                "_csrf_token": "x" + token_b[1:]})
            assert r.status_code == 403, (base, r.text)
        r = browser.post(stranger + page, data={"public": "contract", "confirmed": "yes",
                                                "_csrf_token": token_b})
        assert r.status_code == 403, r.text
        assert status_of_parts(browser.get(a + page).text)["rate_card"] == "public"

        # Signed out on B: A no longer takes the session, not even from a kept cookie
        # (which it took a moment before).
        r = httpx.get(a + page, cookies={"session": session}, follow_redirects=False)
        assert r.status_code == 200, r.status_code
        r = browser.post(b + "/logout", data={"_csrf_token": token_b})
        assert r.status_code == 303, r.text
        for base in (a, b):
            r = httpx.get(base + page, cookies={"session": session}, follow_redirects=False)
            assert r.status_code in (302, 303) and "/login" in r.headers["location"], (
                base, r.status_code)


async def test_replicas_that_start_together_migrate_one_at_a_time(engine_kind):
    name = f"deploy_migrate_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))
    env = {**os.environ, "VIRKER_DATABASE_URL": url, "VIRKER_SECRET_KEY": SHARED_SECRET}
    virker = str(Path(sys.executable).parent / "virker")
    try:
        runs = [subprocess.Popen([virker, "migrate"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
        errors = [run.communicate(timeout=300)[1] for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0], errors
        conn = await asyncpg.connect(url)
        try:
            ran = [(r["app_name"], r["name"])
                   for r in await conn.fetch("SELECT app_name, name FROM migration")]
        finally:
            await conn.close()
        assert ran and len(ran) == len(set(ran))  # each migration ran once
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
