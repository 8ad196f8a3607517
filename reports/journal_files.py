"""journal.csv and journal.json: the contract's journal entries effective in a statement's
period, written by the database (`reports.attachments` says how), and laid out to be short:
journal.csv one row per posting for spreadsheets, journal.json one line per entry with every
field its hash covers, what each entry would repeat said once at the top (docs/statements.md
gives the layout and a script that re-hashes it without Virker).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING
from uuid import UUID

from ledger.journal import timestamp
from reports.attachments import (
    JSON_CLOSING,
    Attachment,
    Lines,
    Sink,
    Spool,
    as_text,
    as_utc,
    json_opening,
    safe_sql,
)

if TYPE_CHECKING:
    from reports.snapshot import Snapshot

JOURNAL_CSV_COLUMNS = ["seq", "kind", "effective_on", "idempotency_key", "reverses",
                       "account", "organisation", "amount", "currency"]
ENTRY_COLUMNS = ["version", "seq", "id", "kind", "effective_on", "recorded_at",
                 "idempotency_key", "reverses", "memo", "postings", "prev_hash", "hash"]
POSTING_COLUMNS = ["account", "currency", "amount"]
HASH = ("hash = sha256(bytes.fromhex(prev_hash) || canonical), canonical = the JSON array "
        "[version, seq, id, kind, effective_on, recorded_at, contract_id, idempotency_key, "
        "reverses, memo, postings], each posting [account id, its contract, organisation and "
        "code, currency, amount] sorted by account, currency, amount, without whitespace "
        "(docs/ledger.md); a posting's account is its index in accounts, or [id, contract, "
        "organisation, code] for an account of another contract; a null prev_hash is the "
        "hash on the line before (docs/statements.md)")
# The journal's first hash format: entries before the first number `journal_format` records
# (where there is one) follow it.
FIRST_FORMAT = 2
_ENTRIES = ("journal_entry e WHERE e.contract = $1 AND e.effective_on >= $2 "
            "AND e.effective_on <= $3")
_JOURNAL_CSV = f"""
SELECT e.seq AS seq, {safe_sql('e.kind')} AS kind, e.effective_on AS effective_on,
       {safe_sql('e.idempotency_key')} AS idempotency_key,
       {safe_sql("NULLIF(e.reverses, '')")} AS reverses, {safe_sql('a.code')} AS account,
       {safe_sql('o.identifier')} AS organisation, p.amount AS amount,
       {safe_sql('p.currency')} AS currency
FROM {_ENTRIES.replace(' WHERE ', ' JOIN posting p ON p.entry_seq = e.seq '
                       'JOIN account a ON a.id = p.account '
                       'LEFT JOIN organisation o ON o.id = a.organisation WHERE ')}
ORDER BY e.seq, p.account, p.currency, p.amount"""  # noqa: S608 - fixed text
_LEG = ("'[' || COALESCE((array_position($4::uuid[], p.account) - 1)::text, (SELECT "
        "json_build_array(a.id, a.contract, a.organisation, a.code)::text FROM account a "
        "WHERE a.id = p.account), 'null') || ',' || to_json(p.currency)::text || ',' "
        "|| p.amount || ']'")
_JOURNAL_JSON = f"""
WITH legs AS (
  SELECT entry_seq, string_agg(leg, ',') AS legs FROM (
    SELECT p.entry_seq, {_LEG} AS leg
    FROM {_ENTRIES.replace(' WHERE ', ' JOIN posting p ON p.entry_seq = e.seq WHERE ')}
    ORDER BY p.entry_seq, p.account, p.currency, p.amount) s
  GROUP BY entry_seq)
SELECT ',[' || {{version}} || ',' || e.seq || ',"' || e.id || '",'
       || to_json(e.kind)::text || ',"' || e.effective_on || '","'
       || to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '",'
       || to_json(e.idempotency_key)::text || ','
       || COALESCE(to_json(NULLIF(e.reverses, ''))::text, 'null') || ','
       || to_json(e.memo)::text || ',[' || COALESCE(l.legs, '') || '],'
       || CASE WHEN e.prev_hash = lag(e.hash) OVER (ORDER BY e.seq) THEN 'null'
               ELSE '"' || e.prev_hash || '"' END
       || ',"' || e.hash || '"]'
FROM {_ENTRIES.replace(' WHERE ', ' LEFT JOIN legs l ON l.entry_seq = e.seq WHERE ')}
ORDER BY e.seq"""  # noqa: S608 - fixed text
_JOURNAL_ROWS = f"""
SELECT e.seq, e.id, e.kind, e.effective_on, e.recorded_at, e.idempotency_key, e.reverses,
       e.memo, e.prev_hash, e.hash, p.account, p.currency, p.amount, a.contract,
       a.organisation, a.code, o.identifier
FROM {_ENTRIES.replace(' WHERE ', ' LEFT JOIN posting p ON p.entry_seq = e.seq '
                       'LEFT JOIN account a ON a.id = p.account '
                       'LEFT JOIN organisation o ON o.id = a.organisation WHERE ')}
ORDER BY e.seq, p.account, p.currency, p.amount"""  # noqa: S608 - fixed text
_ACCOUNTS = """
SELECT a.id, a.contract, a.organisation, a.code, a.currency, o.identifier
FROM account a LEFT JOIN organisation o ON o.id = a.organisation
WHERE a.contract = $1 ORDER BY a.id"""


async def journal_files(snapshot: Snapshot, contract_id: UUID, period_from: dt.date,
                        period_to: dt.date, header: dict) -> list[Attachment]:
    """journal.csv (one row per posting, for spreadsheets) and journal.json (one line per
    entry with every field its hash covers) for the contract's entries effective in the
    period."""
    accounts = await snapshot.fetch(_ACCOUNTS, contract_id)
    index = {as_text(a[0]): i for i, a in enumerate(accounts)}
    formats = await _formats(snapshot)
    opening = json_opening({
        "format": "virker-journal-v2", **header, "hash": HASH,
        "accounts": [{"id": as_text(a[0]), "contract": as_text(a[1]), "organisation": as_text(a[2]),
                      "code": a[3], "currency": a[4], "organisation_identifier": a[5]}
                     for a in accounts],
        "columns": ENTRY_COLUMNS, "posting_columns": POSTING_COLUMNS}, "entries")
    csv_sink, json_sink = Sink(Spool()), Sink(Spool())
    args = (contract_id, period_from, period_to)
    if snapshot.postgres:
        await json_sink(opening)
        json_sink.skip(1)
        postings, entries = await asyncio.gather(
            snapshot.copy(_JOURNAL_CSV, *args, sink=csv_sink, format="csv", header=True),
            snapshot.copy(_JOURNAL_JSON.replace("{version}", _version_sql(formats)), *args,
                          [a[0] for a in accounts], sink=json_sink,
                          format="csv", quote="\x01", delimiter="\x02"))
    else:
        lines = Lines(csv_sink, json_sink, JOURNAL_CSV_COLUMNS)
        await lines.start(opening)
        walk = _JournalWalk(index, formats)
        async for batch in snapshot.stream(_JOURNAL_ROWS, *args):
            await lines.write(*walk.rows(batch))
        await lines.write(*walk.rows([], last=True))
        postings, entries = lines.rows, walk.entries
    await json_sink(JSON_CLOSING)
    csv_spool, json_spool = await asyncio.gather(csv_sink.finish(), json_sink.finish())
    return [
        Attachment(name="journal.csv", media_type="text/csv", spool=csv_spool, rows=postings,
                   description="The contract's journal entries effective in the period, one "
                               "row per posting; amounts in minor units, debits positive"),
        Attachment(name="journal.json", media_type="application/json", spool=json_spool,
                   rows=entries,
                   description="The same entries as JSON, with every field the hash chain "
                               "covers, so that each entry's hash can be recomputed")]


async def _formats(snapshot: Snapshot) -> list[tuple[int, int]]:
    """(first sequence number, hash format) from which entries follow each format the
    journal has recorded in `journal_format`, in order; empty where it records none."""
    exists = ("SELECT to_regclass('journal_format') IS NOT NULL" if snapshot.postgres else
              "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'journal_format'")
    if not (await snapshot.fetch(exists))[0][0]:
        return []
    return [(int(seq), int(version)) for version, seq in await snapshot.fetch(
        "SELECT version, from_seq FROM journal_format ORDER BY from_seq")]


def _version(formats: list[tuple[int, int]], seq: int) -> int:
    version = FIRST_FORMAT
    for first, v in formats:
        if seq >= first:
            version = v
    return version


def _version_sql(formats: list[tuple[int, int]]) -> str:
    cases = " ".join(f"WHEN e.seq >= {int(first)} THEN {int(v)}"
                     for first, v in reversed(formats))
    return f"(CASE {cases} ELSE {FIRST_FORMAT} END)" if cases else str(FIRST_FORMAT)


class _JournalWalk:
    """SQLite: the rows of `_JOURNAL_ROWS` (one per posting, in order) as journal.csv's
    rows and journal.json's entries, an entry being written once its last posting is
    read."""

    def __init__(self, index: dict[str | None, int], formats: list[tuple[int, int]]) -> None:
        self.index = index
        self.formats = formats
        self.entries = 0
        self._entry: list | None = None
        self._hash: str | None = None  # the previous entry's

    def rows(self, batch: list[tuple], last: bool = False) -> tuple[list[list], list[list]]:
        csv_rows, json_rows = [], []
        for (seq, entry_id, kind, effective_on, recorded_at, key, reverses, memo, prev_hash,
             hash_, account, currency, amount, contract, organisation, code,
             identifier) in batch:
            if seq != (self._entry[1] if self._entry else None):
                if self._entry is not None:
                    json_rows.append(self._entry)
                self._entry = [_version(self.formats, seq), seq, as_text(entry_id), kind,
                               as_text(effective_on), timestamp(as_utc(recorded_at)), key,
                               reverses or None, memo, [],
                               None if prev_hash == self._hash else prev_hash, hash_]
                self._hash = hash_
                self.entries += 1
            if account is None:
                continue
            where = self.index.get(as_text(account))
            self._entry[9].append([
                [as_text(account), as_text(contract), as_text(organisation), code]
                if where is None else where, currency, amount])
            csv_rows.append([seq, kind, as_text(effective_on), key, reverses or None, code,
                             identifier, amount, currency])
        if last and self._entry is not None:
            json_rows.append(self._entry)
            self._entry = None
        return csv_rows, json_rows
