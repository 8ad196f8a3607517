"""Verify the journal the way an auditor must be able to rely on: trusting nothing in the
database but its raw column values.

The verifier reads every account, every entry and every posting (no row is skipped by a
filter it expects to hold), in one consistent snapshot, and rebuilds each entry's canonical
bytes here in Python (docs/ledger.md), never with the database's string functions or
operators, which a database administrator can redefine. It checks:

- each contract's entries form one chain (format 3): sequence numbers rise without repeat,
  and each entry's prev_hash is the hash of its contract's entry before it (64 zeros for its
  first); entries from before chains per contract (format 2, numbered below the start that
  `journal_format` records) run 1, 2, 3 … without gap, each chained to the entry before it;
- each entry's hash is sha256(prev_hash || canonical bytes), the bytes covering every
  posting's account, and that account's contract, organisation, code and currency;
- every posting names its entry by id and by sequence number alike, its account exists and
  is in the posting's currency, and each entry has two or more postings that balance;
- no value anywhere is NULL (a NULL is a mismatch, never skipped);
- no posting or entry lies outside the chain.

The first entry, posting or account that fails is named. With `since`, verification starts
from a signed checkpoint's state (its head and per-account balances) instead of the first
entry: what a checkpoint covers (each contract's chain up to its signed head) is then taken
as proven by its signature. With `capture`, the state a checkpoint signed is rebuilt from
the journal as it is now: each signed head's entry and every account's balance over the
entries the heads cover.

The journal is read in batches of entries, each with the postings filed under them. A batch
is walked entry by entry here (`_Walk.entries`, which names the first failure); on
PostgreSQL `ledger.verify_copy` reads the rows with COPY and first checks a batch in bulk,
walking it entry by entry only when something in it does not hold, so that the named
failure is the same either way. The walk keeps each contract's head and the balances.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import aclosing

import msgspec

from ledger.journal import (
    FORMAT_VERSION,
    GENESIS,
    LEGACY_VERSION,
    canonical_bytes,
    check_entry,
    timestamp,
)
from ledger.tables import JournalEntry

CHUNK = 20_000

ENTRY_COLUMNS = ("id", "seq", "kind", "effective_on", "recorded_at", "contract",
                 "idempotency_key", "reverses", "memo", "prev_hash", "hash")
POSTING_COLUMNS = ("id", "entry", "entry_seq", "account", "amount", "currency")
ACCOUNT_COLUMNS = ("id", "contract", "organisation", "code", "currency")


class Mismatch(msgspec.Struct, kw_only=True):
    seq: int
    entry_id: str
    problem: str
    account_id: str | None = None
    posting_id: str | None = None


class AccountBalance(msgspec.Struct, kw_only=True, array_like=True):
    """One account's balance: what a posting's meaning depends on, and the sum."""

    contract: str
    organisation: str
    code: str
    currency: str
    balance: int


class ChainHead(msgspec.Struct, kw_only=True, array_like=True):
    """A contract's chain at its last entry."""

    contract: str
    seq: int
    hash: str


class JournalState(msgspec.Struct, kw_only=True):
    """The journal at a moment: its last entry's sequence number and hash, each contract's
    chain head and every account's balance. (A state from before chains per contract has
    no heads: its one chain ended at `seq`.)"""

    seq: int
    head_hash: str
    accounts: list[AccountBalance]
    heads: list[ChainHead] = []


class VerifyReport(msgspec.Struct, kw_only=True):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    totals: dict[str, dict[str, int]]
    first_mismatch: Mismatch | None = None
    trial_balance: dict[str, int] = {}
    accounts: list[AccountBalance] = []
    # With `capture_at` or `capture`: the state a checkpoint signed, as the journal has it.
    captured: JournalState | None = None
    # Each contract's chain head, sorted by contract.
    heads: list[ChainHead] = []


def queries(since: bool) -> dict[str, str]:
    """The statements every source runs; `$since` stands for the checkpoint's sequence
    number. Tables are named without a schema here; each source names it."""
    entry_where = "WHERE seq > $since " if since else ""
    posting_where = "AND entry_seq > $since " if since else ""
    return {
        "accounts": f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM account",  # noqa: S608
        "entries": f"SELECT {', '.join(ENTRY_COLUMNS)} FROM journal_entry "  # noqa: S608
                   f"{entry_where}ORDER BY seq",
        "postings": f"SELECT {', '.join(POSTING_COLUMNS)} FROM posting "  # noqa: S608
                    f"WHERE entry_seq IS NOT NULL {posting_where}ORDER BY entry_seq, id",
        # The same in journal order only, for a reader that orders each entry's postings
        # by id itself (sorting them in the database costs more than reading them).
        "postings_by_seq": f"SELECT {', '.join(POSTING_COLUMNS)} FROM posting "  # noqa: S608
                           f"WHERE entry_seq IS NOT NULL {posting_where}ORDER BY entry_seq",
        "count_entries": f"SELECT count(*) FROM journal_entry {entry_where}",  # noqa: S608
        "count_postings": "SELECT count(*) FROM posting "  # noqa: S608
                          + ("WHERE entry_seq > $since" if since else ""),
        "stray_posting": "SELECT id, entry, entry_seq FROM posting "
                         "WHERE entry_seq IS NULL LIMIT 1",
        "format": "SELECT version, from_seq FROM journal_format",
        # Where each contract's chain begins and ends, for starting after a checkpoint.
        "chains": "SELECT contract, min(seq), max(seq) FROM journal_entry GROUP BY contract",
    }


class Batch:
    """Entries in journal order and the postings filed under them (every posting whose
    entry_seq is at most the last entry's), as rows of ENTRY_COLUMNS and POSTING_COLUMNS."""

    def __init__(self, entries: list[tuple], postings: list[tuple]) -> None:
        self._rows = entries, postings

    def in_bulk(self, walk: _Walk) -> bool:
        """Check the whole batch at once and move the walk past it; False (the walk
        unchanged) when the batch must be walked entry by entry."""
        return False

    def rows(self) -> tuple[list[tuple], list[tuple]]:
        return self._rows


# SQLite: rows through a cursor ----------------------------------------------------------------


class _Sqlite:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.left: tuple | None = None  # the first posting after the last entry

    async def __aenter__(self) -> _Sqlite:
        self.conn = await self.engine.get_connection()
        self.conn.row_factory = None
        await self.conn.execute("BEGIN")  # one snapshot for every read below
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.conn.execute("ROLLBACK")
        finally:
            await self.conn.close()

    async def fetch(self, text: str, *args: object) -> list:
        async with self.conn.execute(text.replace("$since", "?"), args) as cursor:
            return list(await cursor.fetchall())

    async def counts(self, q: dict[str, str], since: int | None) -> tuple[int, int]:
        """How many postings and entries there are (after `since`)."""
        args = () if since is None else (since,)
        return ((await self.fetch(q["count_postings"], *args))[0][0],
                (await self.fetch(q["count_entries"], *args))[0][0])

    async def batches(self, q: dict[str, str], since: int | None) -> AsyncIterator[Batch]:
        args = () if since is None else (since,)
        async with self.conn.execute(q["entries"].replace("$since", "?"), args) as entries, \
                self.conn.execute(q["postings"].replace("$since", "?"), args) as postings:
            pending: list[tuple] = []
            done = False
            while rows := await entries.fetchmany(CHUNK):
                last = _last_seq(rows)
                while not done and (not pending or not _after(pending[-1][2], last)):
                    more = await postings.fetchmany(CHUNK)
                    pending += more
                    done = not more
                cut = next((i for i, p in enumerate(pending) if _after(p[2], last)),
                           len(pending))
                yield Batch(rows, pending[:cut])
                pending = pending[cut:]
            self.left = pending[0] if pending else (await postings.fetchone())


def _after(seq: object, last: float) -> bool:
    """Is a posting's entry_seq beyond `last`? (One that is not a number never is: the
    walk names it where it is read.)"""
    return type(seq) is int and seq > last


def _last_seq(rows: list[tuple]) -> float:
    """The sequence number up to which a batch's postings are read: its last entry's. An
    entry whose seq is not a number ends the walk before any posting after it is needed."""
    for row in reversed(rows):
        if type(row[1]) is int:
            return row[1]
    return float("-inf")


# The walk, entry by entry ----------------------------------------------------------------------


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _date(value: object) -> str:
    return value if isinstance(value, str) else value.isoformat()  # type: ignore[union-attr]


def _time(value: object) -> str:
    """The recording time as the canonical bytes write it; a stored value that is not a
    time is kept as it is, so that it can never match a hash made from a time."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return timestamp(value)  # type: ignore[arg-type]


class _Fail(Exception):
    def __init__(self, mismatch: Mismatch) -> None:
        self.mismatch = mismatch


def accounts_of(rows: list) -> tuple[dict, dict]:
    """id as text → ((id, contract, organisation, code) as text, currency) for whole
    accounts, and id → the NULL column's name for accounts that are not."""
    whole, broken = {}, {}
    for r in rows:
        if None in tuple(r):
            broken[_text(r[0])] = next(n for n, v in zip(ACCOUNT_COLUMNS, r, strict=True)
                                       if v is None)
        else:
            whole[_text(r[0])] = ((_text(r[0]), _text(r[1]), _text(r[2]), r[3]), r[4])
    return whole, broken


class _Walk:
    """The journal walked in sequence order: each contract's chain head, the entries from
    before chains per contract (their head and next number), and every account's balance so
    far (by account id; by the account's facts at the end)."""

    def __init__(self, accounts: dict, broken: dict, since: JournalState | None,
                 capture_at: int | None, capture: JournalState | None = None,
                 chains_from: float = float("inf")) -> None:
        self.accounts, self.broken = accounts, broken
        self.by_id: dict[str, int] = defaultdict(int)
        self.start: dict[tuple[str, str, str, str], int] = defaultdict(int)
        # Entries numbered from here on are chained per contract (format 3).
        self.chains_from = chains_from
        # Format 2: the one chain's head and the number the next entry must have.
        self.prev, self.expected = GENESIS, 1
        # Each contract's last entry (as text) → its (seq, hash); the journal's last entry.
        self.last: dict[str, tuple[int, str]] = {}
        self.seq, self.head_hash = 0, GENESIS
        self.capture_at = capture_at
        self.capture = None if capture is None else {h.contract: h for h in capture.heads}
        self.capture_state = capture
        self.found: dict[str, ChainHead] = {}
        self.capture_hash = ""
        # With `capture`: what entries the signed heads do not cover moved, by account id.
        self.uncovered: dict[str, int] = defaultdict(int)
        self.captured: JournalState | None = None
        self.entries_seen = self.postings_seen = 0
        self._last: tuple = (None, None, None, None, None, None)
        if since is not None:
            self.prev, self.expected = since.head_hash, since.seq + 1
            self.seq, self.head_hash = since.seq, since.head_hash
            self.last = {h.contract: (h.seq, h.hash) for h in since.heads}
            for a in since.accounts:
                self.start[(a.contract, a.organisation, a.code, a.currency)] += a.balance
            if capture_at == since.seq:
                self.captured = JournalState(seq=since.seq, head_hash=since.head_hash,
                                             accounts=self.state_now())
        # After a checkpoint: entries its heads cover are read again but not counted again.
        self.covered = dict(self.last) if since is not None and since.heads else {}

    def state_now(self, less: dict[str, int] | None = None) -> list[AccountBalance]:
        out = defaultdict(int, self.start)
        for account_id, amount in self.by_id.items():
            (_, contract, organisation, code), currency = self.accounts[account_id]
            out[(contract, organisation, code, currency)] += amount - (
                less.get(account_id, 0) if less else 0)
        return [AccountBalance(contract=k[0], organisation=k[1], code=k[2], currency=k[3],
                               balance=v) for k, v in sorted(out.items())]

    def entries(self, rows: list[tuple], postings: list[tuple]) -> None:
        """Walk a batch entry by entry; raise `_Fail` at the first thing that does not
        hold."""
        accounts, by_id, sha256, fromhex = self.accounts, self.by_id, hashlib.sha256, bytes.fromhex
        last_time, last_time_text, last_date, last_date_text, last_contract, \
            last_contract_text = self._last
        pi, pn = 0, len(postings)
        for row in rows:
            raw_id, seq = row[0], row[1]
            entry_id = "" if raw_id is None else _text(raw_id)
            expected = self.expected if self.seq < self.chains_from - 1 else self.seq + 1
            if None in row:
                name = next(n for n, v in zip(ENTRY_COLUMNS, row, strict=True) if v is None)
                raise _Fail(Mismatch(seq=seq if type(seq) is int else expected,
                                     entry_id=entry_id,
                                     problem=f"the entry's {name} is NULL"))
            if type(seq) is not int:
                raise _Fail(Mismatch(seq=expected, entry_id=entry_id,
                                     problem=f"the entry's seq {seq!r} is not a whole number"))
            if row[5] != last_contract:
                last_contract, last_contract_text = row[5], _text(row[5])
            contract = last_contract_text
            covered = self.covered.get(contract)
            if covered is not None and seq <= covered[0]:
                # Proven by the checkpoint: skip it and its postings.
                while pi < pn and not _after(postings[pi][2], seq):
                    pi += 1
                    self.postings_seen += 1
                self.entries_seen += 1
                continue
            legacy = seq < self.chains_from
            if legacy:
                if seq != self.expected:
                    problem = (f"entry {seq} appears twice" if seq < self.expected
                               else f"the sequence jumps from {self.expected - 1} to {seq}")
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=problem))
                prev = self.prev
            else:
                if seq <= self.seq:
                    raise _Fail(Mismatch(seq=seq, entry_id=entry_id,
                                         problem=f"entry {seq} appears twice"))
                prev = self.last.get(contract, (0, GENESIS))[1]
            if row[9] != prev:
                raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=(
                    "prev_hash does not match the hash of the entry before" if legacy else
                    "prev_hash does not match the hash of the contract's entry before")))
            lines, moves = [], []
            while pi < pn:
                p = postings[pi]
                if _after(p[2], seq):
                    break
                pi += 1
                account_id = p[3] if type(p[3]) is str else _text(p[3])
                account = accounts.get(account_id)
                if (p[2] != seq or p[1] != raw_id or None in p or account is None
                        or account[1] != p[5] or type(p[4]) is not int):
                    _posting_problem(p, seq, entry_id, account, self.broken)
                lines.append((*account[0], p[5], p[4]))
                moves.append((account_id, p[4]))
            self.postings_seen += len(lines)
            if row[4] != last_time:
                last_time, last_time_text = row[4], _time(row[4])
            if row[3] != last_date:
                last_date, last_date_text = row[3], _date(row[3])
            self._last = (last_time, last_time_text, last_date, last_date_text, last_contract,
                          last_contract_text)
            digest = sha256(fromhex(prev) + canonical_bytes(
                seq, entry_id, row[2], last_date_text, last_time_text, contract,
                row[6], row[7] or None, row[8], lines,
                LEGACY_VERSION if legacy else FORMAT_VERSION)).hexdigest()
            if digest != row[10]:
                raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=(
                    "the stored hash does not match the entry's contents")))
            problem = check_entry([(line[4], line[5]) for line in lines])
            if problem:
                raise _Fail(Mismatch(seq=seq, entry_id=entry_id, problem=problem))
            for account_id, amount in moves:
                by_id[account_id] += amount
            if legacy:
                self.prev, self.expected = row[10], seq + 1
            self.last[contract] = (seq, row[10])
            self.seq, self.head_hash = seq, row[10]
            self.entries_seen += 1
            if self.capture is not None:
                self._captured(contract, seq, row[10], moves)
            if seq == self.capture_at:
                self.captured = JournalState(seq=seq, head_hash=self.prev,
                                             accounts=self.state_now())

    def _captured(self, contract: str, seq: int, digest: str, moves: list) -> None:
        """With `capture`: note a signed head's entry as found, and what an entry the heads
        do not cover moved."""
        head = self.capture.get(contract)  # type: ignore[union-attr]
        if head is not None and seq == head.seq:
            self.found[contract] = ChainHead(contract=contract, seq=seq, hash=digest)
        if seq == self.capture_state.seq:  # type: ignore[union-attr]
            self.capture_hash = digest
        if head is None or seq > head.seq:
            for account_id, amount in moves:
                self.uncovered[account_id] += amount

    def finish(self, left: tuple | None, posting_count: int, entry_count: int,
               stray: tuple | None) -> None:
        """After the last entry: nothing may be left over. `left` is the first posting not
        filed under an entry, `stray` one without a sequence number."""
        if left is not None:
            raise _Fail(Mismatch(seq=left[2], entry_id=_text(left[1]),
                                 posting_id=_text(left[0]),
                                 problem=f"posting {left[0]} names entry sequence {left[2]}, "
                                         "which is not in the chain"))
        if self.postings_seen != posting_count:
            row = stray or (None, None, None)
            raise _Fail(Mismatch(seq=self.seq + 1, entry_id=_text(row[1] or ""),
                                 posting_id=None if row[0] is None else _text(row[0]),
                                 problem=f"{posting_count - self.postings_seen} posting(s) "
                                         "belong to no entry of the chain"))
        if self.entries_seen != entry_count:
            raise _Fail(Mismatch(seq=self.seq + 1, entry_id="", problem=(
                f"{entry_count - self.entries_seen} entr(y/ies) lie outside the chain")))

    def report(self, mismatch: Mismatch | None) -> VerifyReport:
        account_list = self.state_now()
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        trial: dict[str, int] = defaultdict(int)
        for a in account_list:
            totals[a.currency][a.code] += a.balance
            trial[a.currency] += a.balance
        captured = self.captured
        if self.capture_state is not None:
            signed = self.capture_state
            captured = JournalState(
                seq=signed.seq, head_hash=self.capture_hash,
                heads=[self.found[h.contract] for h in signed.heads
                       if h.contract in self.found],
                accounts=self.state_now(self.uncovered))
        return VerifyReport(
            ok=mismatch is None and not any(trial.values()),
            entries=self.entries_seen, head_seq=self.seq, head_hash=self.head_hash,
            totals={c: dict(sorted(v.items())) for c, v in sorted(totals.items())},
            first_mismatch=mismatch, trial_balance=dict(trial), accounts=account_list,
            captured=captured,
            heads=[ChainHead(contract=c, seq=seq, hash=h)
                   for c, (seq, h) in sorted(self.last.items())])


def _posting_problem(p: tuple, seq: int, entry_id: str, account, broken: dict) -> None:
    """Raise the mismatch of a posting that does not belong where it is read."""
    posting_id = "" if p[0] is None else _text(p[0])
    for name, value in zip(POSTING_COLUMNS, p, strict=True):
        if value is None:
            raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id,
                                 problem=f"posting {posting_id}'s {name} is NULL"))
    if type(p[2]) is not int:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id, problem=(
            f"posting {posting_id}'s entry_seq {p[2]!r} is not a whole number")))
    if p[2] < seq:
        raise _Fail(Mismatch(seq=p[2], entry_id=_text(p[1]), posting_id=posting_id,
                             problem=f"posting {posting_id} names entry sequence {p[2]}, "
                                     "which is not in the chain"))
    if _text(p[1]) != entry_id:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id, problem=(
            f"posting {posting_id} is filed under entry {seq} but names entry {p[1]}")))
    if type(p[4]) is not int:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id, problem=(
            f"posting {posting_id}'s amount {p[4]!r} is not a whole number")))
    account_id = _text(p[3])
    if account_id in broken:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, account_id=account_id,
                             problem=f"account {account_id}'s {broken[account_id]} is NULL"))
    if account is None:
        raise _Fail(Mismatch(seq=seq, entry_id=entry_id, posting_id=posting_id,
                             account_id=account_id,
                             problem=f"posting {posting_id}'s account {account_id} does "
                                     "not exist"))
    raise _Fail(Mismatch(seq=seq, entry_id=entry_id, account_id=account_id,
                         posting_id=posting_id,
                         problem=f"account {account_id} is in {account[1]} but posting "
                                 f"{posting_id} is in {p[5]}"))


async def _check(source, since: JournalState | None, capture_at: int | None,
                 capture: JournalState | None = None) -> VerifyReport:
    q = queries(since is not None)
    accounts, broken = accounts_of(await source.fetch(q["accounts"]))
    chains_from = min((row[1] for row in await source.fetch(q["format"])
                       if row[0] == FORMAT_VERSION and type(row[1]) is int),
                      default=float("inf"))
    since_seq = None if since is None else await _start(source, q, since)
    walk = _Walk(accounts, broken, since, capture_at, capture, chains_from)
    mismatch: Mismatch | None = None
    try:
        async with aclosing(source.batches(q, since_seq)) as batches:
            async for batch in batches:
                if not batch.in_bulk(walk):
                    walk.entries(*batch.rows())
        posting_count, entry_count = await source.counts(q, since_seq)
        stray = None
        if walk.postings_seen != posting_count:
            stray = next(iter(await source.fetch(q["stray_posting"])), None)
        walk.finish(source.left, posting_count, entry_count, stray)
    except _Fail as fail:
        mismatch = fail.mismatch
    return walk.report(mismatch)


async def _start(source, q: dict[str, str], since: JournalState) -> int:
    """The sequence number after which the entries a checkpoint does not cover lie: each
    contract's chain grows only after its signed head, and a chain the checkpoint does not
    know may begin anywhere."""
    if not since.heads:
        return since.seq
    heads = {h.contract: h.seq for h in since.heads}
    start = since.seq
    for contract, first, last in await source.fetch(q["chains"]):
        head = heads.get(_text(contract))
        if head is None:
            start = min(start, first - 1)
        elif last > head:
            start = min(start, head)
    return start


async def verify(dsn: str | None = None, *, since: JournalState | None = None,
                 capture_at: int | None = None, capture: JournalState | None = None
                 ) -> VerifyReport:
    """Verify the journal: `dsn` a PostgreSQL URL, otherwise the bound engine (SQLite).

    `since`: start from this (signed) state instead of the first entry. `capture_at`: also
    report the journal's state at that entry of the one chain of format 2
    (`report.captured`); `capture`: also report the state the signed heads of a checkpoint
    cover.
    """
    if dsn:
        from ledger.verify_copy import CopySource

        source = CopySource(dsn)
    else:
        source = _Sqlite(JournalEntry._meta.db)
    async with source:
        return await _check(source, since, capture_at, capture)


def engine_dsn() -> str | None:
    """The PostgreSQL URL of the bound engine, or None on SQLite."""
    engine = JournalEntry._meta.db
    if engine.engine_type == "postgres":
        return engine.config.get("dsn")
    return None
