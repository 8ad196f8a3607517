"""One document's reads, all from one snapshot of the database, on either engine.

A statement's body and its attached files must tell the same story while claims are being
approved and runs paid, so every figure and every file of one document is read from one
snapshot: on PostgreSQL from several connections whose REPEATABLE READ transactions share
the snapshot the first one exports (`pg_export_snapshot`), so that the database writes the
attachments side by side; on SQLite from one connection in one read transaction (WAL keeps
it steady while others write).

Queries are written once with `$1, $2, …` parameters (SQLite gets them as `?1, ?2, …`).
`copy` has PostgreSQL write a query's rows as text (COPY … TO STDOUT) straight into a sink;
`stream` hands SQLite's rows over in batches for Python to write. Either way no attachment
is ever whole in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from piccolo.engine.base import Engine

from core.database import is_sqlite

BATCH = 5_000
# PostgreSQL sorts the journal's postings in memory rather than on disk; each connection
# of a snapshot may take this much for it.
WORK_MEM = "64MB"
_PARAM = re.compile(r"\$(\d+)")


class Snapshot:
    """Reads from one snapshot; open it with `Snapshot.open(engine)`."""

    def __init__(self, engine: Engine, connections: int) -> None:
        self.engine = engine
        self.postgres = not is_sqlite(engine)
        self._limit = connections
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._snapshot: str | None = None
        self._opening = asyncio.Lock()
        self._freed = asyncio.Condition()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, engine: Engine, connections: int = 8) -> AsyncIterator[Snapshot]:
        """A snapshot of `engine`'s database, read through up to `connections` connections
        at once on PostgreSQL (one on SQLite)."""
        snapshot = cls(engine, connections if not is_sqlite(engine) else 1)
        try:
            yield snapshot
        finally:
            await snapshot._close()

    # Connections ---------------------------------------------------------------------------

    async def _connect(self) -> Any:
        if not self.postgres:
            conn = await self.engine.get_connection()
            conn.row_factory = None
            await conn.execute("BEGIN")
            return conn
        conn = await self.engine.get_new_connection()
        await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if self._snapshot is None:
            self._snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        else:
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{self._snapshot}'")
        await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        await conn.execute("SET LOCAL DateStyle = 'ISO'")
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
        # The document's queries already run side by side, one per connection.
        await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        return conn

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        async with self._freed:
            while not self._idle and len(self._all) >= self._limit:
                await self._freed.wait()
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                self._all.append(None)  # reserve its place while it connects
        if conn is None:
            try:
                async with self._opening:  # the first exports the snapshot the rest share
                    conn = await self._connect()
            except BaseException:
                self._all.remove(None)
                raise
            self._all[self._all.index(None)] = conn
        try:
            yield conn
        finally:
            async with self._freed:
                self._idle.append(conn)
                self._freed.notify()

    async def _close(self) -> None:
        for conn in self._all:
            if conn is None:
                continue
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
            with contextlib.suppress(Exception):
                await conn.close()
        self._all.clear()
        self._idle.clear()

    # Reads ---------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql if self.postgres else _PARAM.sub(r"?\1", sql)

    async def fetch(self, sql: str, *args: object) -> list[tuple]:
        """Every row of `sql`, as tuples."""
        async with self._connection() as conn:
            if self.postgres:
                return [tuple(r) for r in await conn.fetch(sql, *args)]
            async with conn.execute(self._sql(sql), args) as cursor:
                return list(await cursor.fetchall())

    async def stream(self, sql: str, *args: object) -> AsyncIterator[list[tuple]]:
        """SQLite: the rows of `sql` in batches, holding one batch at a time (on
        PostgreSQL, `copy` has the database write them)."""
        async with self._connection() as conn:
            if self.postgres:
                raise RuntimeError("on PostgreSQL the database writes the rows: use copy")
            async with conn.execute(self._sql(sql), args) as cursor:
                while batch := await cursor.fetchmany(BATCH):
                    yield list(batch)

    async def copy(self, sql: str, *args: object, sink: Callable[[bytes], Awaitable[None]],
                   **options: object) -> int:
        """PostgreSQL only: the database writes the rows of `sql` as text (COPY options
        such as `format="csv"`) into `sink`, chunk by chunk; returns how many rows."""
        if not self.postgres:
            raise RuntimeError("COPY is PostgreSQL's; on SQLite, stream the rows")
        async with self._connection() as conn:
            status = await conn.copy_from_query(sql, *args, output=sink, **options)
        return int(status.split()[-1])
