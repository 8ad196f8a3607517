"""Browser tests: Debian's Chromium, driven by Playwright, against a real `virker serve`.

Each engine gets one server for the browser tests (stopped when they are done), on a free
loopback port, with a database of its own, migrated and with the demo loaded: SQLite always,
and PostgreSQL (a fresh database beside VIRKER_TEST_DATABASE_URL) when that is set. Tests
that change data make their own contracts through the JSON API (tests/browser/helpers.py
`Scene`), so that they never depend on one another.

Screenshots (every page the tests look at, and the page as it was when a test failed) go to
var/screenshots/<run>/<engine>/, with axe's report beside a page that has any violation; the
session prints the folder at its end. The last few runs' folders are kept.

Playwright's own browser download is never used: Chromium is Debian's (`make test` installs
it). When it cannot start, the tests are skipped with the reason, and the summary says so;
with VIRKER_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.browser import helpers

CHROMIUM = os.environ.get("VIRKER_CHROMIUM", "/usr/bin/chromium")
PG_URL = os.environ.get("VIRKER_TEST_DATABASE_URL", "")
REQUIRE_BROWSER = os.environ.get("VIRKER_REQUIRE_BROWSER") == "1"
ROOT = Path(__file__).resolve().parents[2]
RUN = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
SCREENSHOTS = ROOT / "var" / "screenshots" / RUN
KEEP_RUNS = 5
_browser_state: dict[str, object] = {"ran": 0, "skipped": None}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium against a live server")


# The server -------------------------------------------------------------------------------


class LiveServer:
    def __init__(self, kind: str, url: str, database_url: str, log: Path) -> None:
        self.kind, self.url, self.database_url, self.log = kind, url, database_url, log

    def __repr__(self) -> str:
        return f"LiveServer({self.kind}, {self.url})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _virker() -> list[str]:
    script = Path(sys.executable).parent / "virker"
    return [str(script)] if script.exists() else [sys.executable, "-c",
                                                  "from api.cli import main; main()"]


def _in_thread(fn) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, fn()).result()


def _pg_database(name: str, create: bool) -> str:
    import asyncpg

    async def job() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _in_thread(job)
    return urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))


def _errors_in(path: Path, offset: int) -> str:
    """What the server logged from `offset` on, without its access log."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join([line for line in text if not line.startswith("INFO:")][-80:])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# `virker migrate` and `virker demo` in one process, with a connection pool on PostgreSQL:
# the CLI opens a connection per query there, which makes the demo take ~50 s instead of ~12.
LOAD_DEMO = """
import asyncio, os
from piccolo.engine.postgres import PostgresEngine
from api.demo import load_demo
from core.database import bind, make_engine, migrate

async def main():
    engine = make_engine(os.environ["VIRKER_DATABASE_URL"])
    bind(engine)
    pooled = isinstance(engine, PostgresEngine)
    if pooled:
        await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        await migrate()
        await load_demo()
    finally:
        if pooled:
            await engine.close_connection_pool()

asyncio.run(main())
"""


@pytest.fixture(scope="package", params=["sqlite", "postgres"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """`virker serve` with the demo, on SQLite or PostgreSQL; stopped after the browser
    tests."""
    kind = request.param
    if kind == "postgres" and not PG_URL:
        pytest.skip("PostgreSQL skipped: VIRKER_TEST_DATABASE_URL is not set")
    folder = tmp_path_factory.mktemp(f"browser-{kind}")
    pg_name = f"virker_browser_{os.getpid()}"
    database_url = (f"sqlite:///{folder / 'virker.sqlite'}" if kind == "sqlite"
                    else _pg_database(pg_name, create=True))
    port = _free_port()
    env = {**os.environ, "VIRKER_DATABASE_URL": database_url, "VIRKER_ENV": "development",
           "VIRKER_SECRET_KEY": "browser-tests-" + secrets.token_hex(24),
           "VIRKER_HOST": "127.0.0.1", "VIRKER_PORT": str(port),
           "VIRKER_CHECKPOINT_KEY": str(folder / "signing.key"),
           "VIRKER_CHECKPOINT_INTERVAL": "0"}
    log = folder / "server.log"
    done = subprocess.run([sys.executable, "-c", LOAD_DEMO], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"loading the demo failed:\n{done.stderr[-3000:]}"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_virker(), "serve", "--host", "127.0.0.1", "--port",
                                 str(port)], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    server = LiveServer(kind, f"http://127.0.0.1:{port}", database_url, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"virker serve stopped ({proc.returncode}):\n{_tail(log)}")
            try:
                if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"virker serve did not answer /health:\n{_tail(log)}")
            time.sleep(0.2)
        helpers.ENGINE = kind
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if kind == "postgres":
            _pg_database(pg_name, create=False)


@pytest.fixture(scope="package")
def scene(live_server: LiveServer):
    """The demo's ids on this server, and contracts made for a test (helpers.Scene)."""
    s = helpers.Scene(live_server.url)
    yield s
    s.close()


# The browser ------------------------------------------------------------------------------


def _cannot(reason: str) -> None:
    _browser_state["skipped"] = reason
    if REQUIRE_BROWSER:
        pytest.fail(f"VIRKER_REQUIRE_BROWSER=1 and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    """Debian's Chromium through Playwright's sync API (the tests are plain functions)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _cannot("Browser tests skipped: the playwright package is not installed "
                "(`make test` installs it with the dev extras)")
    if not os.access(CHROMIUM, os.X_OK):
        _cannot(f"Browser tests skipped: no Chromium at {CHROMIUM} "
                "(`make test` installs Debian's chromium)")
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                                  args=["--no-sandbox"])
        except Error as exc:
            _cannot(f"Browser tests skipped: Chromium at {CHROMIUM} did not start: "
                    f"{str(exc).splitlines()[0]}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in sorted(SCREENSHOTS.parent.iterdir())[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
        helpers.SCREENSHOTS = SCREENSHOTS
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(browser, live_server: LiveServer, request: pytest.FixtureRequest):
    """Pages in fresh browser contexts (each its own cookies: its own signed-in user).
    A test that fails leaves a screenshot of every page it had open."""
    contexts = []
    # What the server logs while the test runs is shown with its failure.
    request.node.server_log = (live_server.log, live_server.log.stat().st_size
                               if live_server.log.exists() else 0)

    def make(locale: str = "en-GB", storage_state: dict | None = None):
        context = browser.new_context(base_url=live_server.url, locale=locale,
                                      viewport={"width": 1280, "height": 900},
                                      storage_state=storage_state)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        # What a person would not see but a page must not do: scripts refused by the
        # Content-Security-Policy, uncaught errors, what it loads that is not there (a
        # browser's own request for /favicon.ico aside).
        page.problems = []
        page.on("console", lambda m: _console(page, m))
        page.on("pageerror", lambda e: page.problems.append(f"uncaught: {e}"))
        page.on("response", lambda r: _response(page, r))
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    for context in contexts:
        if failed is not None and failed.failed:
            for n, page in enumerate(context.pages):
                try:
                    helpers.shot(page, f"FAILED-{request.node.name}-{n}")
                except Exception:  # a page that crashed has no picture
                    pass
        context.close()
    _browser_state["ran"] = int(_browser_state["ran"]) + 1


def _console(page, message) -> None:
    # A failed load is reported by _response with its address.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        page.problems.append(f"console: {message.text}")


def _response(page, response) -> None:
    request = response.request
    if (response.status >= 400 and not request.is_navigation_request()
            and not response.url.endswith("/favicon.ico")):
        page.problems.append(f"{request.method} {response.url}: {response.status}")


@pytest.fixture(scope="package")
def session_of(browser, live_server: LiveServer):
    """`session_of(email)`: the cookies of a session signed in through the form (in
    English), made once per user, for tests that are about a page rather than signing in."""
    states: dict[str, dict] = {}

    def get(email: str) -> dict:
        if email not in states:
            context = browser.new_context(base_url=live_server.url, locale="en-GB")
            try:
                helpers.sign_in(context.new_page(), email)
                states[email] = context.storage_state()
            finally:
                context.close()
        return states[email]

    return get


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.rep_call = report
        logged = _errors_in(*item.server_log) if report.failed and hasattr(
            item, "server_log") else ""
        if logged:  # the server's side of it: a 500's traceback is there, not in the browser
            report.sections.append(("server log", logged))
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _browser_state["skipped"]:
        terminalreporter.write_line(str(_browser_state["skipped"]), yellow=True, bold=True)
    elif _browser_state["ran"] and SCREENSHOTS.exists():
        terminalreporter.write_line(
            f"Browser: {_browser_state['ran']} tests ran in Chromium; screenshots in "
            f"{SCREENSHOTS.relative_to(ROOT)}/")
