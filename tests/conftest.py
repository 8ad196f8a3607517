"""Test set-up: every test that asks for `db` runs on SQLite and, when
VIRKER_TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL too.

Each engine is migrated once per session into a template; each test gets a fresh copy
(a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL), so tests never see each
other's rows and the append-only tables need no cleaning.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from piccolo.engine.base import Engine

os.environ.setdefault("VIRKER_SECRET_KEY", "test-secret-" + "x" * 32)
# Checkpoints written after payment runs are signed with a key of the test session's own.
os.environ.setdefault("VIRKER_CHECKPOINT_KEY",
                      os.path.join(tempfile.mkdtemp(prefix="virker-keys-"), "signing.key"))

from core.database import bind, make_engine, migrate

PG_URL = os.environ.get("VIRKER_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("VIRKER_REQUIRE_POSTGRES") == "1"
ENGINES = ["sqlite", "postgres"]
_ran_on_pg: list[str] = []


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def run_in_thread(fn) -> None:
    """Run an async job on its own loop in a thread: session fixtures are first asked for
    from inside a test's running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, fn()).result()


@dataclass
class TestDB:
    engine: Engine
    url: str
    kind: str


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "virker.sqlite"
    bind(make_engine(f"sqlite:///{path}"))
    run_in_thread(migrate)
    return path


@pytest.fixture(scope="session")
def pg_template() -> str:
    if not PG_URL:
        pytest.skip("PostgreSQL skipped: VIRKER_TEST_DATABASE_URL is not set")
    name = f"virker_template_{os.getpid()}"

    async def create() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        bind(make_engine(_with_db(PG_URL, name)))
        await migrate()

    run_in_thread(create)
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_in_thread(drop)


@pytest.fixture(params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def db(engine_kind: str, request: pytest.FixtureRequest, tmp_path: Path):
    """A migrated, empty database of the parametrised engine, bound to every table."""
    if engine_kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "virker.sqlite"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        bind(engine)
        yield TestDB(engine=engine, url=url, kind="sqlite")
        return
    template = request.getfixturevalue("pg_template")
    name = f"virker_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    url = _with_db(PG_URL, name)
    engine = make_engine(url)
    bind(engine)
    try:
        yield TestDB(engine=engine, url=url, kind="postgres")
    finally:
        if engine.pool is not None:
            await engine.close_connection_pool()
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and "[postgres" in report.nodeid:
        _ran_on_pg.append(report.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _ran_on_pg:
        terminalreporter.write_line(f"PostgreSQL: {len(_ran_on_pg)} tests passed on PostgreSQL.")
    elif not PG_URL:
        terminalreporter.write_line(
            "PostgreSQL: SKIPPED. The integration tests ran on SQLite only; set "
            "VIRKER_TEST_DATABASE_URL=postgresql://user@host/db to run them on PostgreSQL too.",
            yellow=True, bold=True)
    else:
        terminalreporter.write_line("PostgreSQL: no test passed on PostgreSQL.", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_PG and not _ran_on_pg and exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
async def api(db: TestDB):
    """An HTTP client for the app on the test database.

    App, client and PostgreSQL pool share the test's event loop (Litestar's test client
    would run the lifespan, and so the pool, on a loop of its own).
    """
    import httpx

    from api.app import create_app
    from core.settings import Settings

    settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                  "VIRKER_SECRET_KEY": os.environ["VIRKER_SECRET_KEY"]})
    app = create_app(settings, db.engine, manage_pool=False)
    if db.kind == "postgres":
        await db.engine.start_connection_pool(min_size=1, max_size=10)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
async def world(db: TestDB):
    from tests.helpers import world as build

    return await build()
