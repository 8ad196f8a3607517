"""Database engines: one URL in, a Piccolo engine out, bound to every table of every app.

Virker runs on SQLite (embedded default, WAL mode) and PostgreSQL (production). The same
tables, migrations and services serve both; this module is the only place that knows which
engine is in use.

On PostgreSQL a second URL may name a read replica (docs/deployment.md). Code that may read
figures a few seconds old says so with `replica_reads()` (or `@on_replica` on a route); in
there, a read (SELECT or WITH) that runs outside a transaction goes to the replica. A
transaction, and so every write and every check that decides under a lock, stays on the
primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import io
import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import asyncpg
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString
from piccolo.table import Table

P = ParamSpec("P")
T = TypeVar("T")
_replica_reads: contextvars.ContextVar[bool] = contextvars.ContextVar("virker_replica_reads",
                                                                      default=False)
_READ = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
REPLICA_CONNECT_SECONDS = 5
REPLICA_RETRY_SECONDS = 30.0
REPLICA_UNREACHABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError,
                       asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
                       asyncpg.TooManyConnectionsError)
log = logging.getLogger("virker.database")


def make_engine(url: str, read_url: str = "") -> Engine:
    """`sqlite:///relative/path`, `sqlite:////absolute/path` or `postgresql://…`; with
    `read_url` (PostgreSQL), the primary with that read replica beside it."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if read_url:
            raise ValueError("a read replica needs a PostgreSQL primary")
        path = url[len("sqlite:///") :]
        if not path:
            raise ValueError("a SQLite URL needs a path: sqlite:///var/virker.sqlite")
        return SQLiteEngine(path=path, timeout=30)
    if parts.scheme in ("postgres", "postgresql"):
        if read_url and read_url != url:
            return ReplicatedEngine(url, read_url)
        return PostgresEngine(config={"dsn": url}, extensions=())
    raise ValueError(f"unsupported database URL scheme: {parts.scheme!r}")


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Within: queries outside a transaction may read from the read replica, when there is
    one. For figures that may be seconds old (effect, comparisons, the public pages), never
    for what decides about money or shows a user what they have just done."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def on_replica(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`replica_reads()` around a coroutine function (a route handler: below its `@get`).
    The session and authentication around the handler stay on the primary."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with replica_reads():
            return await fn(*args, **kwargs)

    return wrapper


class ReplicatedEngine(PostgresEngine):
    """The PostgreSQL primary, with a read replica (Piccolo's `extra_nodes["read"]`) that
    takes the queries of `replica_reads()` that run outside a transaction and read.

    A transaction is always the primary's: writes go in one (`write_transaction`), and so
    do reads that must see them. A statement outside a transaction that does not begin
    with SELECT or WITH (Piccolo's INSERT, UPDATE, DELETE) goes to the primary too; and
    should a write still reach a real standby, it fails there (read-only transaction)
    rather than going anywhere else.

    A replica that cannot be reached is no outage: its reads go to the primary, which has
    everything the replica has, and the replica is tried again REPLICA_RETRY_SECONDS later.
    A read the standby cancelled (a conflict with recovery) is read again on the primary.
    """

    def __init__(self, url: str, read_url: str) -> None:
        self.replica = PostgresEngine(
            config={"dsn": read_url, "timeout": REPLICA_CONNECT_SECONDS}, extensions=())
        self._replica_down_until = 0.0
        super().__init__(config={"dsn": url}, extensions=(),
                         extra_nodes={"read": self.replica})

    def reader(self, querystring: QueryString | None = None) -> PostgresEngine:
        """The engine that runs `querystring` now (or that a worker reads from now)."""
        if (_replica_reads.get() and self.current_transaction.get() is None
                and (querystring is None or _READ.match(querystring.template))
                and time.monotonic() >= self._replica_down_until):
            return self.replica
        return self

    async def run_querystring(self, querystring, in_pool: bool = True):
        engine = self.reader(querystring)
        if engine is not self:
            try:
                return await engine.run_querystring(querystring, in_pool=in_pool)
            except REPLICA_UNREACHABLE as exc:
                self._replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
                log.warning("read replica unreachable (%s); reading from the primary for "
                            "%.0f s", exc, REPLICA_RETRY_SECONDS)
            except asyncpg.SerializationError:  # cancelled by the standby's recovery
                pass
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def start_connection_pool(self, **kwargs) -> None:
        await super().start_connection_pool(**kwargs)
        # No connection is made now: the app starts while the replica is away.
        await self.replica.start_connection_pool(**{**kwargs, "min_size": 0})

    async def close_connection_pool(self) -> None:
        await super().close_connection_pool()
        await self.replica.close_connection_pool()


def prepare(engine: Engine) -> None:
    """Make the engine's storage ready: for SQLite, its folder and WAL mode.

    WAL lets readers go on while one writer writes; it is a property of the file, so
    setting it once is enough.
    """
    if isinstance(engine, SQLiteEngine):
        path = engine.connection_kwargs["database"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")


def app_names() -> list[str]:
    """The Piccolo apps in piccolo_conf's registry, in the order they migrate."""
    import piccolo_conf

    return [config.app_name for config in piccolo_conf.APP_REGISTRY.app_configs.values()]


def all_tables() -> list[type[Table]]:
    """Every table of every app in piccolo_conf's registry."""
    import piccolo_conf

    return [t for config in piccolo_conf.APP_REGISTRY.app_configs.values()
            for t in config.table_classes]


def bind(engine: Engine) -> None:
    """Point piccolo_conf and every table at `engine`.

    Piccolo resolves a table's engine once and caches it; the tests run the same code on
    SQLite and PostgreSQL in one process, so the cache is reset here.
    """
    from piccolo.apps.migrations.tables import Migration

    import piccolo_conf

    piccolo_conf.DB = engine
    for table in [*all_tables(), Migration]:
        table._meta.db = engine


def piccolo_conf_engine() -> Engine:
    import piccolo_conf

    return piccolo_conf.DB


def is_sqlite(engine: Engine) -> bool:
    return engine.engine_type == "sqlite"


async def migrate() -> list[str]:
    """Run every pending migration of every app on the bound engine; returns what ran."""
    from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager

    engine = piccolo_conf_engine()
    prepare(engine)
    ran: list[str] = []
    async with _migrating_alone(engine):
        for app_name in app_names():
            manager = ForwardsMigrationManager(app_name=app_name, migration_id="all",
                                               fake=False)
            # Piccolo narrates on stdout; commands such as `virker create-org` print ids.
            with contextlib.redirect_stdout(io.StringIO()):
                result = await manager.run()
            if not result.success:
                raise RuntimeError(f"migrations of {app_name} failed: {result.message}")
            ran.append(f"{app_name}: {result.message}")
    return ran


MIGRATION_LOCK = 0x7669726D  # "virm"; the journal's is "virk"


@contextlib.asynccontextmanager
async def _migrating_alone(engine: Engine):
    """Replicas that start together (each runs `virker migrate` first) migrate one at a
    time on PostgreSQL: the others wait for the lock, then find nothing left to do. The
    lock is held by a connection of its own and ends with it."""
    if not isinstance(engine, PostgresEngine):
        yield
        return
    conn = await engine.get_new_connection()
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        yield
    finally:
        await conn.close()


def write_transaction(engine: Engine | None = None):
    """A transaction for writes. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so
    two writers queue instead of one failing half-way with 'database is locked'."""
    engine = engine or piccolo_conf_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def is_unique_violation(exc: BaseException) -> bool:
    import asyncpg

    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


async def bulk_insert(table: type[Table], rows: list[dict]) -> None:
    """Insert many rows inside the current transaction, the fastest way each engine has:
    COPY on PostgreSQL, executemany on SQLite. Every column of `table` must be in each row.
    """
    if not rows:
        return
    engine = table._meta.db
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk_insert runs inside a transaction")
    columns = [c._meta.db_column_name for c in table._meta.columns]
    records = [tuple(row[c] for c in columns) for row in rows]
    name = table._meta.tablename
    if isinstance(engine, SQLiteEngine):
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        await transaction.connection.executemany(
            f'INSERT INTO "{name}" ({names}) VALUES ({marks})', records)  # noqa: S608
    else:
        await transaction.connection.copy_records_to_table(name, columns=columns,
                                                           records=records)


@contextlib.asynccontextmanager
async def custom_plans():
    """Plan the enclosed queries afresh with their values (PostgreSQL; inside a transaction).

    A payment run looks accruals up with IN lists of up to 10,000 values. A generic plan
    cached while a table was still small would scan it comparing every row with every value;
    a custom plan sees the values as constants and hashes them. Only for these lookups: re-planning
    everything (asyncpg's own catalogue queries included) would cost more than it saves.
    """
    engine = piccolo_conf_engine()
    if isinstance(engine, SQLiteEngine):
        yield
        return
    await engine.run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
    try:
        yield
    finally:
        await engine.run_ddl("SET LOCAL plan_cache_mode = auto")


def any_of(column: Column, values: list) -> WhereRaw:
    """`column IN values` as one parameter, however many values: an array on PostgreSQL,
    a JSON list on SQLite. Piccolo's `is_in` binds one parameter per value, which costs
    time in Python and in the planner when a batch looks up 10,000 rows."""
    table = column._meta.table._meta.tablename
    name = f'"{table}"."{column._meta.db_column_name}"'
    engine = column._meta.table._meta.db
    if isinstance(engine, SQLiteEngine):
        # Identifiers come from the table definitions; values travel as parameters.
        return WhereRaw(f"{name} IN (SELECT value FROM json_each({{}}))",  # noqa: S608
                        json.dumps([str(v) for v in values]))
    sql_type = "uuid" if column.value_type is uuid.UUID else "text"
    return WhereRaw(f"{name} = ANY({{}}::{sql_type}[])", list(values))


def engine_url(engine: Engine) -> str:
    """The URL of the database `engine` reads from now (for worker processes, which read
    for themselves): the replica's within `replica_reads()`, else the primary's."""
    if isinstance(engine, SQLiteEngine):
        return "sqlite:///" + str(Path(engine.connection_kwargs["database"]).resolve())
    if isinstance(engine, ReplicatedEngine):
        return engine.reader().config["dsn"]
    return engine.config["dsn"]


def _transaction_of(engine: Engine, what: str):
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError(f"{what} runs inside a transaction")
    return transaction


async def insert_records(table: type[Table], columns: tuple[str, ...] | list[str],
                         records: list[tuple]) -> None:
    """Insert rows given as tuples in the order of `columns`, inside the current
    transaction: binary COPY on PostgreSQL, executemany on SQLite. For thousands of rows
    built at once, where a tuple each costs less than the dict each `bulk_insert` takes."""
    if not records:
        return
    engine = table._meta.db
    transaction = _transaction_of(engine, "insert_records")
    name = table._meta.tablename
    if isinstance(engine, SQLiteEngine):
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        await transaction.connection.executemany(
            f'INSERT INTO "{name}" ({names}) VALUES ({marks})', records)  # noqa: S608
    else:
        await transaction.connection.copy_records_to_table(name, columns=list(columns),
                                                           records=records)


async def fetch_records(sql: str, *args) -> list:
    """The rows of `sql` (PostgreSQL, with $1, $2, … for `args`) as records indexed by
    position, read on the current transaction's connection: for reads of thousands of rows,
    where a dict made of each row costs more than the query itself."""
    engine = piccolo_conf_engine()
    if isinstance(engine, SQLiteEngine):
        raise RuntimeError("fetch_records is for PostgreSQL")
    return await _transaction_of(engine, "fetch_records").connection.fetch(sql, *args)
