"""DDL that Piccolo's column types cannot express, written for both engines.

Used by migrations: composite unique indexes, and triggers that make tables append-only.
"""

from __future__ import annotations


def unique_index(name: str, table: str, *columns: str) -> str:
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})"


def index(name: str, table: str, *columns: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})"


def append_only(table: str, engine_type: str) -> list[str]:
    """Triggers that refuse UPDATE and DELETE on `table` (SQLSTATE 55000 / SQLite ABORT)."""
    message = f"{table} is append-only"
    if engine_type == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for op in ("UPDATE", "DELETE")
        ]
    return [
        "CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = '55000'; "
        "END $$",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()",
    ]


async def run_all(statements: list[str]) -> None:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    assert engine is not None
    for sql in statements:
        await engine.run_ddl(sql)


def engine_type() -> str:
    from piccolo.engine import engine_finder

    engine = engine_finder()
    assert engine is not None
    return engine.engine_type
