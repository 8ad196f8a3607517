"""Database engines: one URL in, a Piccolo engine out, bound to every table of every app.

Virker runs on SQLite (embedded default, WAL mode) and PostgreSQL (production). The same
tables, migrations and services serve both; this module is the only place that knows which
engine is in use.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table


def make_engine(url: str) -> Engine:
    """`sqlite:///relative/path`, `sqlite:////absolute/path` or `postgresql://…`."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url[len("sqlite:///") :]
        if not path:
            raise ValueError("a SQLite URL needs a path: sqlite:///var/virker.sqlite")
        return SQLiteEngine(path=path, timeout=30)
    if parts.scheme in ("postgres", "postgresql"):
        return PostgresEngine(config={"dsn": url}, extensions=())
    raise ValueError(f"unsupported database URL scheme: {parts.scheme!r}")


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

    prepare(piccolo_conf_engine())
    ran: list[str] = []
    for app_name in app_names():
        manager = ForwardsMigrationManager(app_name=app_name, migration_id="all", fake=False)
        # Piccolo narrates on stdout; commands such as `virker create-org` print ids there.
        with contextlib.redirect_stdout(io.StringIO()):
            result = await manager.run()
        if not result.success:
            raise RuntimeError(f"migrations of {app_name} failed: {result.message}")
        ran.append(f"{app_name}: {result.message}")
    return ran


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

    Intake looks rows up with IN lists of up to 10,000 values. A generic plan cached while a
    table was still small would scan it comparing every row with every value; a custom plan
    sees the values as constants and hashes them. Only for these lookups: re-planning
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
    """The URL `make_engine` would make `engine` from (for worker processes)."""
    if isinstance(engine, SQLiteEngine):
        return "sqlite:///" + str(Path(engine.connection_kwargs["database"]).resolve())
    return engine.config["dsn"]
