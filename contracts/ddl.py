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


def only_columns_change(table: str, mutable: tuple[str, ...], fixed: tuple[str, ...],
                        engine_type: str) -> list[str]:
    """Triggers that let UPDATE touch only `mutable` columns and refuse DELETE: for rows
    whose content is fixed once recorded but whose status moves on."""
    message = f"{table} rows are never edited or deleted"
    if mutable:
        message += f"; only {', '.join(mutable)} move on"
    if engine_type == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_content_fixed BEFORE UPDATE OF "
            f"{', '.join(fixed)} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END",
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
        ]
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed)
    return [
        f"CREATE OR REPLACE FUNCTION {table}_content_fixed() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' OR {changed} THEN "
        f"RAISE EXCEPTION '{message}' USING ERRCODE = '55000'; END IF; "
        f"RETURN NEW; END $$",
        f"DROP TRIGGER IF EXISTS {table}_content_fixed ON {table}",
        f"CREATE TRIGGER {table}_content_fixed BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_content_fixed()",
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
