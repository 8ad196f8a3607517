"""The files attached to a statement: the claims (CSV and JSON), the journal entries of the
period (CSV for spreadsheets, JSON with every field the hash covers), and the rejected rows.
Every CSV cell a spreadsheet would run as a formula is neutralised.

The files are written by the database and never held whole: on PostgreSQL the rows leave
the database as finished text (COPY … TO STDOUT, the JSON built per row in SQL), on SQLite
a cursor hands them over in batches; either way each chunk is hashed and deflated into an
anonymous temporary file as it arrives (`Spool`), a worker thread deflating one MiB while
the next is read. `reports.render` copies the deflated bytes into the PDF as they are.

A partner's statement attaches the claims of its own participants and the rejected rows of
the batches it sent; the journal is the contract's, whole (its entries carry claim ids in
their keys and memos, never a pseudonym; a reason a person typed stays in the entry's note,
which is not attached). docs/statements.md gives each file's layout.
"""

from __future__ import annotations

import asyncio
import csv as csvlib
import datetime as dt
import hashlib
import io
import re
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import msgspec
import pandas as pd

if TYPE_CHECKING:
    from reports.snapshot import Snapshot

STEPS = ("sampled", "verified", "disputed", "approved", "paid", "reversed")

# Deflate's fastest level: the attachments are repetitive text, so it already shrinks them
# five- to tenfold, at four to five times the speed of the default level.
LEVEL = 1
BLOCK = 1 << 20
_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="virker-deflate")


class Spool:
    """A file's bytes, deflated into an anonymous temporary file as they are written, with
    their size, SHA-256 (named in the body) and MD5 (the PDF's /CheckSum)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self._deflate = zlib.compressobj(LEVEL)
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self.sha256 = ""
        self.md5 = b""

    @classmethod
    def of(cls, data: bytes) -> Spool:
        spool = cls()
        spool.write(data)
        spool.finish()
        return spool

    def write(self, data: bytes) -> None:
        self._sha256.update(data)
        self._md5.update(data)
        self.size += len(data)
        self.file.write(self._deflate.compress(data))

    def finish(self) -> None:
        self.file.write(self._deflate.flush())
        self.file.flush()
        self.sha256 = self._sha256.hexdigest()
        self.md5 = self._md5.digest()

    def deflated(self) -> bytes:
        """The file as deflated (zlib format, what a PDF's /FlateDecode stream holds)."""
        self.file.seek(0)
        return self.file.read()

    def content(self) -> bytes:
        return zlib.decompress(self.deflated())

    def close(self) -> None:
        self.file.close()


class Sink:
    """Takes one file's chunks as they arrive and hands each MiB to a worker thread to hash
    and deflate, one block behind the reading, so the database goes on writing meanwhile."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._skip = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._pending: asyncio.Future | None = None

    def skip(self, n: int) -> None:
        """Drop the next `n` bytes that arrive (the comma before the first JSON row)."""
        self._skip = n

    async def __call__(self, chunk: bytes) -> None:
        if self._skip:
            dropped = chunk[:self._skip]
            chunk = chunk[len(dropped):]
            self._skip -= len(dropped)
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._size >= BLOCK:
            await self._hand_over()

    async def _hand_over(self) -> None:
        block = b"".join(self._parts)
        self._parts, self._size = [], 0
        if self._pending is not None:
            await self._pending
        self._pending = asyncio.get_running_loop().run_in_executor(
            _threads, self.spool.write, block)

    async def finish(self) -> Spool:
        await self._hand_over()
        if self._pending is not None:
            await self._pending
        await asyncio.get_running_loop().run_in_executor(_threads, self.spool.finish)
        return self.spool


class Attachment(msgspec.Struct, kw_only=True):
    """A file attached to a document: small ones as `data`, large ones written into a
    `spool` by the database."""

    name: str
    description: str
    media_type: str
    data: bytes = b""
    rows: int = 0  # claims, postings, entries or rejected rows it lists
    spool: Spool | None = None

    def spooled(self) -> Spool:
        if self.spool is None:
            self.spool = Spool.of(self.data)
        return self.spool

    def content(self) -> bytes:
        return self.data if self.spool is None else self.spool.content()

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


# A cell a spreadsheet would run as a formula: = + - @ or a tab or line break first. Every
# CSV Virker writes quotes such a cell with a leading apostrophe (OWASP's advice), so that a
# provider's "=HYPERLINK(…)" in evidence_ref reaches the auditor's spreadsheet as text. A
# plain number (-6, +3.5) is left as it is. The JSON attachments keep every value verbatim.
# On PostgreSQL `safe_sql` writes the same rule in SQL.
_FORMULA = re.compile(r"[=+\-@\t\r\n]")
_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?")


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(spreadsheet_safe)
    return out.to_csv(index=False, lineterminator="\n").encode()


def safe_sql(sql: str) -> str:
    """`spreadsheet_safe` in PostgreSQL. Each first character it quotes sorts before "A"
    (= + - @, tab, CR, LF: 61 43 45 64 9 13 10), so a bytewise comparison passes most
    values by before anything costlier is asked."""
    return (f"CASE WHEN {sql} < 'A' COLLATE \"C\" "
            f"AND ascii({sql}) IN (61, 43, 45, 64, 9, 13, 10) "
            f"AND {sql} !~ '^[-+]?[0-9]+(\\.[0-9]+)?$' THEN '''' || {sql} ELSE {sql} END")


def _json(sql: str, kind: str) -> str:
    """PostgreSQL: the JSON text of a value; `kind` is "text" (escaped as JSON does),
    "bare" (uuids and dates: quoted as they are) or "number"."""
    if kind == "text":
        return f"COALESCE(to_json({sql})::text, 'null')"
    if kind == "bare":
        return f"COALESCE('\"' || {sql} || '\"', 'null')"
    return f"COALESCE(({sql})::text, 'null')"


def _json_row(columns: list[tuple[str, str]]) -> str:
    """PostgreSQL: one row as a JSON array, after a comma (the first row's is dropped)."""
    return "',[' || " + " || ',' || ".join(_json(sql, kind) for sql, kind in columns) \
        + " || ']'"


# The claims --------------------------------------------------------------------------------

CLAIM_COLUMNS = ["id", "client_ref", "pseudonym", "line_code", "metric_code", "achieved_on",
                 "value", "evidence_ref", "amount", "currency", "status", "submitted_on",
                 *(f"{s}_on" for s in STEPS), "sample", "payment_run", "batch"]


def within_scope(owner: str, lead: str) -> str:
    """SQL: participant `pa` is visible in the scope of organisation `owner` (parameters),
    those enrolled before partnerships being the lead's when `lead` holds (as
    `outcomes.queries.participants_of` says)."""
    return f"(pa.organisation = {owner} OR ({lead} AND pa.organisation IS NULL))"


def claim_source(scope: bool, counting: bool = False) -> str:
    """The claims of contract $1 submitted before $3 (the period's end; of the participants
    of organisation $4 given a scope, and of those enrolled before partnerships when $5),
    each with the time of each step of its history before $3 and the paid run it was paid
    in: the CTE `claims`, shared by the body's figures and the claim files. `counting`:
    only the columns the body's figures count."""
    steps = ",\n".join(f"MAX(CASE WHEN e.to_status = '{s}' THEN e.recorded_at END) AS {s}_at"
                       for s in STEPS)
    within = f"AND {within_scope('$4', '$5')}" if scope else ""
    participant = "JOIN participant pa ON pa.id = c.participant" if scope or not counting else ""
    columns = ("c.metric_code, c.amount, c.achieved_on" if counting else
               "c.id, c.client_ref, pa.pseudonym, c.line_code, c.metric_code, c.achieved_on, "
               "c.value, c.evidence_ref, c.amount, c.currency")
    run = "" if counting else ", r.run AS payment_run, c.batch"
    runs = "" if counting else "LEFT JOIN claim_runs r ON r.claim = c.id"
    return f"""
claim_steps AS (
  SELECT e.claim AS claim, {steps}
  FROM claim_event e JOIN claim c ON c.id = e.claim
  WHERE c.contract = $1 AND e.recorded_at < $3
  GROUP BY e.claim),
claim_runs AS (
  SELECT l.claim AS claim, l.run AS run
  FROM payment_run_line l JOIN payment_run r ON r.id = l.run
  WHERE r.contract = $1 AND r.status = 'paid' AND r.paid_at < $3),
claims AS (
  SELECT {columns}, c.submitted_at, {", ".join(f"s.{s}_at" for s in STEPS)}, c.sample{run}
  FROM claim c {participant}
  LEFT JOIN claim_steps s ON s.claim = c.id {runs}
  WHERE c.contract = $1 AND c.submitted_at < $3 {within})"""  # noqa: S608 - fixed text


# Received or moved in the period: submitted, or a step recorded, at or after its start.
_IN_PERIOD = " OR ".join(f"{x} >= $2" for x in ["submitted_at", *(f"{s}_at" for s in STEPS)])
_UTC_DATE = "({} AT TIME ZONE 'UTC')::date"
# The status at the period's end: the latest step by then (the first of STEPS on a tie).
_STATUS = ("CASE GREATEST({}) ".format(", ".join(f"{s}_at" for s in STEPS))
           + " ".join(f"WHEN {s}_at THEN '{s}'" for s in STEPS) + " ELSE 'accepted' END")
_CLAIM_SQL = [  # (PostgreSQL expression, JSON kind, spreadsheet-unsafe text)
    ("id", "bare", False), ("client_ref", "text", True), ("pseudonym", "text", True),
    ("line_code", "text", True), ("metric_code", "text", True), ("achieved_on", "bare", False),
    ("value", "text", True), ("evidence_ref", "text", True), ("amount", "number", False),
    ("currency", "text", True), (_STATUS, "text", False),
    *((_UTC_DATE.format(x), "bare", False)
      for x in ["submitted_at", *(f"{s}_at" for s in STEPS)]),
    ("sample", "bare", False), ("payment_run", "bare", False), ("batch", "bare", False)]
# By the UTC day submitted (SQLite keeps times as UTC text), then reference, bytewise.
_CLAIM_ORDER = f"{_UTC_DATE.format('submitted_at')}, client_ref COLLATE \"C\", id"
_CLAIM_ORDER_SQLITE = "substr(submitted_at, 1, 10), client_ref, id"


def _claims_sql(scope: bool, select: str, order: str) -> str:
    return (f"WITH {claim_source(scope)}\nSELECT {select} FROM claims "
            f"WHERE {_IN_PERIOD} ORDER BY {order}")


def _claim_row(row: tuple) -> list:
    """SQLite: a row of the `claims` CTE as the claim files list it."""
    (claim, client_ref, pseudonym, line_code, metric_code, achieved_on, value, evidence_ref,
     amount, currency, submitted_at, *steps_at, sample, run, batch) = row
    stamps = [as_utc(v) for v in steps_at]
    known = [(t, i) for i, t in enumerate(stamps) if t is not None]
    status = STEPS[max(known, key=lambda k: (k[0], -k[1]))[1]] if known else "accepted"
    return [as_text(claim), client_ref, pseudonym, line_code, metric_code, as_text(achieved_on),
            value, evidence_ref, amount, currency, status,
            *(None if t is None else t.date().isoformat()
              for t in [as_utc(submitted_at), *stamps]),
            as_text(sample), as_text(run), as_text(batch)]


def as_utc(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC)  # type: ignore[union-attr]


def as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_opening(header: dict, rows_key: str) -> bytes:
    """A JSON document's start, up to the array its rows go in, one row a line."""
    return msgspec.json.encode(header)[:-1] + f',"{rows_key}":[\n'.encode()


JSON_CLOSING = b"]}\n"


class Lines:
    """SQLite: rows written as CSV and as JSON lines by Python, a batch at a time."""

    def __init__(self, csv_sink: Sink, json_sink: Sink, header: list[str]) -> None:
        self.csv_sink, self.json_sink = csv_sink, json_sink
        self._header = header
        self._first = True
        self.rows = 0

    async def start(self, opening: bytes) -> None:
        await self.csv_sink(self._csv([self._header]))
        await self.json_sink(opening)

    @staticmethod
    def _csv(rows: list[list]) -> bytes:
        out = io.StringIO()
        csvlib.writer(out, lineterminator="\n").writerows(
            [[spreadsheet_safe(v) for v in row] for row in rows])
        return out.getvalue().encode()

    async def write(self, csv_rows: list[list], json_rows: list[list]) -> None:
        if csv_rows:
            await self.csv_sink(self._csv(csv_rows))
        if json_rows:
            lines = b"\n,".join(msgspec.json.encode(r) for r in json_rows) + b"\n"
            await self.json_sink(lines if self._first else b"," + lines)
            self._first = False
        self.rows += len(csv_rows)


async def claim_files(snapshot: Snapshot, args: list, header: dict, whose: str
                      ) -> list[Attachment]:
    """claims.csv and claims.json: every claim received or moved in the period (the
    arguments of `claim_source`)."""
    scope = len(args) > 3
    csv_sink, json_sink = Sink(Spool()), Sink(Spool())
    opening = json_opening({"format": "virker-claims-v1", **header, "columns": CLAIM_COLUMNS},
                       "claims")
    if snapshot.postgres:
        await json_sink(opening)
        json_sink.skip(1)  # the first row's comma
        select_csv = ", ".join(f"{safe_sql(sql) if unsafe else sql} AS {name}" for name, (
            sql, _, unsafe) in zip(CLAIM_COLUMNS, _CLAIM_SQL, strict=True))
        select_json = _json_row([(sql, kind) for sql, kind, _ in _CLAIM_SQL])
        rows, _ = await asyncio.gather(
            snapshot.copy(_claims_sql(scope, select_csv, _CLAIM_ORDER), *args,
                          sink=csv_sink, format="csv", header=True),
            snapshot.copy(_claims_sql(scope, select_json, _CLAIM_ORDER), *args,
                          sink=json_sink, format="csv", quote="\x01", delimiter="\x02"))
    else:
        lines = Lines(csv_sink, json_sink, CLAIM_COLUMNS)
        await lines.start(opening)
        async for batch in snapshot.stream(_claims_sql(scope, "*", _CLAIM_ORDER_SQLITE),
                                           *args):
            listed = [_claim_row(r) for r in batch]
            await lines.write(listed, listed)
        rows = lines.rows
    await json_sink(JSON_CLOSING)
    csv_spool, json_spool = await asyncio.gather(csv_sink.finish(), json_sink.finish())
    return [
        Attachment(name="claims.csv", media_type="text/csv", spool=csv_spool, rows=rows,
                   description=f"Every claim{whose} received or moved in the period, one row "
                               "each; amounts in minor units; *_on columns are the UTC date "
                               "of each step"),
        Attachment(name="claims.json", media_type="application/json", spool=json_spool,
                   rows=rows, description="The same claims as JSON: columns and rows")]


# The rejected rows -------------------------------------------------------------------------


def rejection_file(rejected: list, whose: str = "") -> Attachment:
    data = safe_csv(pd.DataFrame.from_records(
        rejected, columns=["metric_code", "reason", "batch", "row", "client_ref"]))
    return Attachment(name="rejections.csv", media_type="text/csv",
                      data=data, rows=len(rejected),
                      description=f"Rows of the period's claim batches{whose} that were "
                                  "rejected, with the first reason code")
