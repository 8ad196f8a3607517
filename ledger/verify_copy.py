"""The journal read out of PostgreSQL with COPY for `ledger.verify`, and checked in bulk.

Entries come as COPY text: each value as PostgreSQL's own output function for its type
writes it (the session fixes DateStyle ISO and TimeZone UTC), which for uuid, bigint and
date is already the text the canonical bytes hold. Postings come as COPY binary, rows of a
fixed width that numpy decodes at once. The two streams run on two connections that share
one exported snapshot, so that PostgreSQL writes the next rows while Python checks the last.
No function or operator of the database builds any byte that is hashed: the queries only
select columns, filter on a sequence number and sort.

A batch of entries is checked in bulk (`CopyBatch.in_bulk`): sequence numbers, chain links,
the binding of each posting to its entry by id and by sequence number, accounts and
currencies, the balance of each entry, then the canonical bytes built a group of entries at
a time with one format per number of postings, byte for byte what `ledger.journal`
writes, and every hash. When any of it does not hold, or the batch holds something the bulk
path does not handle (a NULL, an escape, a control character, an amount beyond 2**40, the
entry a checkpoint is captured at), nothing is taken from the bulk check: the batch is
decoded into rows and walked entry by entry, which names the first failure exactly as it
would on its own.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import itertools
import operator
import re
import struct
import uuid
from collections.abc import AsyncIterator
from functools import lru_cache

import asyncpg
import msgspec
import numpy as np

from ledger.journal import FORMAT_VERSION, GENESIS, LEGACY_VERSION
from ledger.verify import CHUNK, Batch, _after, _time, _Walk

SESSION = ("SET search_path = pg_catalog, pg_temp; SET TimeZone = 'UTC'; "
           "SET DateStyle = 'ISO, YMD'; "
           # the counts run beside the check: one process each, not a pool of workers
           "SET max_parallel_workers_per_gather = 0")
BLOCK = 1 << 20  # bytes handed from a COPY stream to the check at a time
QUEUE = 32  # blocks a stream may run ahead of the check
LINE = 256  # about the bytes of an entry's line: batches are CHUNK lines or so
LIMIT = 1 << 40  # amounts beyond this are summed as Python integers, entry by entry

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# A posting as COPY binary writes it: field count, then each field's length and value.
POSTING_ROW = np.dtype([
    ("n", ">i2"), ("l0", ">i4"), ("id", "V16"), ("l1", ">i4"), ("entry", "V16"),
    ("l2", ">i4"), ("seq", ">i8"), ("l3", ">i4"), ("account", "V16"), ("l4", ">i4"),
    ("amount", ">i8"), ("l5", ">i4"), ("currency", "S3")])
POSTING_LENGTHS = (("n", 6), ("l0", 16), ("l1", 16), ("l2", 8), ("l3", 16), ("l4", 8),
                   ("l5", 3))
SEQ_AT = 2 + 4 + 16 + 4 + 16 + 4

# Bytes the bulk path leaves to the walk: a backslash (COPY's NULL and escapes) and control
# characters other than COPY's tab and newline (JSON would escape them).
_WALKED = bytes(1 if (b < 0x20 and b not in b"\t\n") or b == ord("\\") else 0
                for b in range(256))
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_ESCAPED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
_HEAD = b'%d,"%b","%b","%b","%b","%b","%b",%b,"%b",['
_encode = msgspec.json.Encoder().encode
_GENESIS = GENESIS.encode()
_digest = type(hashlib.sha256()).digest
_sha256, _unhex = hashlib.sha256, binascii.a2b_hex
_quote = operator.methodcaller("replace", b'"', b'\\"')

# uuid text (8-4-4-4-12, lowercase) to its 16 bytes
_DASHES = [8, 13, 18, 23]
_DIGITS = [i for i in range(36) if i not in _DASHES]
_NIBBLE = np.full(256, 255, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


@lru_cache(maxsize=128)
def _format(postings: int, version: int) -> bytes:
    """prev_hash (32 bytes) and the canonical bytes of an entry with this many postings, as
    one %-format: the entry's fields, then each posting's prefix (account and its facts)
    and amount."""
    return (b"%b[" + str(version).encode() + b"," + _HEAD
            + b",".join([b"%b%d]"] * postings) + b"]]")


class _Times(dict):
    """Recording times as COPY writes them → their text in the canonical bytes."""

    def __missing__(self, key: bytes) -> bytes:
        value = self[key] = _encode(_time(key.decode()))[1:-1]
        return value


class _Reverses(dict):
    def __missing__(self, key: bytes) -> bytes:
        value = self[key] = b'"' + key + b'"'
        return value


def _uuid_bytes(texts: list[bytes]) -> np.ndarray | None:
    """(n, 16) bytes of n uuids in their text form; None if one is not in that form."""
    raw = np.frombuffer(b"".join(texts), np.uint8)
    if raw.size != 36 * len(texts):
        return None
    rows = raw.reshape(-1, 36)
    if not (rows[:, _DASHES] == ord("-")).all():
        return None
    nibbles = _NIBBLE[rows[:, _DIGITS]]
    if (nibbles == 255).any():
        return None
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]


def _take(values, index: np.ndarray) -> list:
    picked = operator.itemgetter(*index.tolist())(values)
    return list(picked) if len(index) > 1 else [picked]


class _Accounts:
    """The walk's whole accounts indexed for the bulk check. A posting's account is found
    by the two halves of its 16 bytes xor-ed (`keys`, sorted), then both halves compared;
    by position: the text id, the posting prefix of the canonical bytes (account, contract,
    organisation, code, currency), the currency, and the rank of the id as text."""

    def __init__(self, accounts: dict) -> None:
        ids, raw, prefixes, currencies = [], [], [], []
        for text_id, ((_, contract, organisation, code), currency) in accounts.items():
            try:
                key = uuid.UUID(text_id)
            except ValueError:
                continue
            encoded = currency.encode()
            if str(key) != text_id or len(encoded) != 3:
                continue  # left to the walk
            ids.append(text_id)
            raw.append(key.bytes)
            prefixes.append(_encode([text_id, contract, organisation, code, currency, 0])[:-2])
            currencies.append(encoded)
        self.ids = ids
        halves = np.frombuffer(b"".join(raw), ">u8").reshape(-1, 2).astype(np.uint64)
        self.high, self.low = halves[:, 0].copy(), halves[:, 1].copy()
        keys = self.high ^ self.low
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        # Bytes sort as the lowercase text does.
        self.rank = np.empty(len(ids), np.int64)
        self.rank[np.lexsort((self.low, self.high))] = np.arange(len(ids))
        self.prefix = np.array(prefixes, dtype=object)
        self.currency = np.array(currencies, dtype="S3")

    def find(self, ids: np.ndarray) -> np.ndarray | None:
        """Positions of these 16-byte account ids; None if one is not a known account."""
        if not self.ids:
            return None
        halves = np.ascontiguousarray(ids).view(">u8").reshape(-1, 2).astype(np.uint64)
        high, low = halves[:, 0], halves[:, 1]
        where = np.searchsorted(self.keys, high ^ low)
        np.minimum(where, len(self.keys) - 1, out=where)
        position = self.order[where]
        if not (np.array_equal(self.high[position], high)
                and np.array_equal(self.low[position], low)):
            return None
        return position


class CopyBatch(Batch):
    def __init__(self, source: CopySource, text: bytes, postings: np.ndarray | list[tuple]
                 ) -> None:
        self.source, self.text, self.postings = source, text, postings

    def rows(self) -> tuple[list[tuple], list[tuple]]:
        entries = [_entry_row(line) for line in self.text.split(b"\n")[:-1]]
        postings = self.postings
        if not isinstance(postings, list):
            postings = _posting_tuples(postings)
        return entries, sorted(postings, key=_walk_order)

    def in_bulk(self, walk: _Walk) -> bool:
        postings, text = self.postings, self.text
        if isinstance(postings, list) or b"\x01" in text.translate(_WALKED):
            return False
        if not text.isascii():
            try:
                text.decode()
            except UnicodeDecodeError:
                return False
        # Every line has the 11 columns (COPY writes no other); a line that had not would
        # shift every column after it, which the checks below would not pass.
        flat = text.replace(b"\n", b"\t").split(b"\t")
        count, extra = divmod(len(flat) - 1, 11)
        if extra or not count:
            return False
        ids, seqs, kinds, effective, recorded, contracts, keys, reverses, memos, prevs, \
            hashes = (flat[i:-1:11] for i in range(11))
        try:
            numbers = list(map(int, seqs))
        except ValueError:
            return False
        if seqs != list(map(b"%d".__mod__, numbers)):
            return False
        first, last = numbers[0], numbers[-1]
        legacy = last < walk.chains_from
        if legacy:  # format 2: one chain, numbered without gaps
            if (numbers != list(range(walk.expected, walk.expected + count))
                    or (walk.capture_at is not None and first <= walk.capture_at <= last)
                    or prevs[0] != walk.prev.encode() or prevs[1:] != hashes[:-1]):
                return False
        elif first < walk.chains_from or first <= walk.seq or any(
                b <= a for a, b in itertools.pairwise(numbers)):
            return False
        # Each contract's chain: the entry before is its contract's last one. A batch that
        # holds an entry a checkpoint covers, or one a capture must look at, is walked.
        heads, covered, capture = walk.last, walk.covered, walk.capture
        if capture is not None and first <= walk.capture_state.seq <= last:
            return False
        chained: dict[bytes, tuple[int, bytes]] = {}
        for number, contract, prev, digest in zip(numbers, contracts, prevs, hashes,
                                                  strict=True):
            before = chained.get(contract)
            if before is None:
                text_contract = contract.decode()
                if covered and text_contract in covered \
                        and number <= covered[text_contract][0]:
                    return False
                if capture is not None and (text_contract not in capture
                                            or number >= capture[text_contract].seq):
                    return False
                head = heads.get(text_contract)
                before = (0, _GENESIS) if head is None else (head[0], head[1].encode())
            elif capture is not None and number >= capture[contract.decode()].seq:
                return False
            if not legacy and prev != before[1]:
                return False
            chained[contract] = (number, digest)

        # Postings: filed under these entries in order, two or more each, bound by id.
        n = len(postings)
        seq_of = postings["seq"].astype(np.int64)
        entry_numbers = np.array(numbers, np.int64)
        group = np.minimum(np.searchsorted(entry_numbers, seq_of), count - 1)
        if not np.array_equal(entry_numbers[group], seq_of):
            return False  # a posting filed under a number no entry of the batch has
        if n < 2 * count or group[0] != 0 or group[-1] != count - 1 or (np.diff(group) < 0).any():
            return False
        per_entry = np.bincount(group, minlength=count)
        if per_entry.min() < 2:
            return False
        entry_ids = _uuid_bytes(ids)
        if entry_ids is None or not np.array_equal(
                np.ascontiguousarray(postings["entry"]).view(np.uint8).reshape(n, 16),
                entry_ids[group]):
            return False
        # Accounts: known, whole, in the posting's currency; amounts that balance.
        accounts = self.source.accounts_for(walk)
        position = accounts.find(postings["account"])
        if position is None:
            return False
        currency = postings["currency"]
        if not np.array_equal(accounts.currency[position], currency):
            return False
        amounts = postings["amount"].astype(np.int64)
        if ((amounts >= LIMIT) | (amounts <= -LIMIT)).any():
            return False
        starts = np.cumsum(per_entry) - per_entry
        if (currency == currency[0]).all():
            if np.add.reduceat(amounts, starts).any():
                return False
        else:
            codes, code = np.unique(currency, return_inverse=True)
            sums = np.zeros((count, len(codes)), np.int64)
            np.add.at(sums, (group, code), amounts)
            if sums.any():
                return False

        # The canonical bytes and the hashes, a group of entries with as many postings at
        # a time; postings sorted by account (its text sorts as its bytes do), then amount.
        place = group * len(accounts.ids) + accounts.rank[position]
        order = np.argsort(place, kind="stable")
        if not (np.diff(place[order]) > 0).all():  # an account twice in an entry
            order = np.lexsort((amounts, place))
        prefix, amount = accounts.prefix[position[order]], amounts[order]
        if b'"' in text:  # JSON escapes a quote; nothing else here needs it (see above)
            ids, kinds, effective, contracts, keys, reverses, memos = (
                list(map(_quote, c)) for c in (ids, kinds, effective, contracts, keys,
                                                reverses, memos))
        # Hashes compared as bytes: every stored one is 64 lowercase hex digits.
        stored = b"".join(hashes)
        if len(stored) != 64 * count or stored.translate(None, b"0123456789abcdef"):
            return False
        try:
            linked = list(map(_unhex, prevs))
        except binascii.Error:
            return False
        digests = list(map(_unhex, hashes))
        version = LEGACY_VERSION if legacy else FORMAT_VERSION
        fields = [linked, list(numbers), ids, kinds, effective,
                  list(map(self.source.times.__getitem__, recorded)), contracts, keys,
                  list(map(self.source.reverses.__getitem__, reverses)), memos]
        sizes = np.unique(per_entry)
        for size in sizes.tolist():
            if len(sizes) == 1:
                columns, base, expected = fields, starts, digests
            else:
                which = np.flatnonzero(per_entry == size)
                columns, base = [_take(f, which) for f in fields], starts[which]
                expected = _take(digests, which)
            for j in range(size):
                columns = [*columns, prefix[base + j].tolist(), amount[base + j].tolist()]
            blobs = map(_format(size, version).__mod__, zip(*columns, strict=True))
            if list(map(_digest, map(_sha256, blobs))) != expected:
                return False

        # Every check held: move the walk past the batch.
        # Sums per account, exact in float64: each 20-bit half of an amount below 2**40,
        # summed over fewer than 2**33 postings, stays below 2**53.
        low = amounts & 0xFFFFF
        high = (amounts - low) >> 20
        touched = np.flatnonzero(np.bincount(position, minlength=len(accounts.ids)))
        moved = (np.bincount(position, high, len(accounts.ids))[touched].astype(np.int64) << 20) \
            + np.bincount(position, low, len(accounts.ids))[touched].astype(np.int64)
        for where, amount_moved in zip(touched.tolist(), moved.tolist(), strict=True):
            walk.by_id[accounts.ids[where]] += amount_moved
        if legacy:
            walk.prev, walk.expected = hashes[-1].decode(), last + 1
        for contract, (number, digest) in chained.items():
            heads[contract.decode()] = (number, digest.decode())
        walk.seq, walk.head_hash = last, hashes[-1].decode()
        walk.entries_seen += count
        walk.postings_seen += n
        return True


# Decoding rows for the entry-by-entry walk --------------------------------------------------


def _unescape(value: bytes) -> bytes:
    def one(m: re.Match) -> bytes:
        if m.group(1):
            return bytes([int(m.group(1), 8) & 0xFF])
        if m.group(2):
            return bytes([int(m.group(2), 16)])
        return _ESCAPED.get(m.group(3), m.group(3))
    return _ESCAPE.sub(one, value)


def _field(value: bytes) -> str | None:
    if value == b"\\N":
        return None
    if b"\\" in value:
        value = _unescape(value)
    return value.decode("utf-8", "replace")


def _entry_row(line: bytes) -> tuple:
    row = [_field(v) for v in line.split(b"\t")]
    try:
        row[1] = int(row[1])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pass  # NULL or not a number: the walk names it
    return tuple(row)


def _walk_order(p: tuple) -> tuple:
    """Postings as the walk reads them: by entry_seq, then id (uuid order is the order of
    the lowercase text)."""
    return (type(p[2]) is not int, p[2] if type(p[2]) is int else 0, str(p[0]))


def _posting_tuples(rows: np.ndarray) -> list[tuple]:
    return [(str(uuid.UUID(bytes=p["id"].tobytes())), str(uuid.UUID(bytes=p["entry"].tobytes())),
             int(p["seq"]), str(uuid.UUID(bytes=p["account"].tobytes())), int(p["amount"]),
             p["currency"].decode("utf-8", "replace")) for p in rows]


def _posting_value(column: int, raw: bytes | None) -> object:
    if raw is None:
        return None
    if column in (0, 1, 3) and len(raw) == 16:
        return str(uuid.UUID(bytes=raw))
    if column in (2, 4) and len(raw) in (2, 4, 8):
        return int.from_bytes(raw, "big", signed=True)
    return raw.decode("utf-8", "replace")


def _posting_rows(buf: bytes, at: int) -> tuple[list[tuple], int, bool]:
    """Decode whole COPY binary rows of any shape from `at`: (rows, where the next row
    starts, whether the trailer was reached)."""
    rows, size = [], len(buf)
    while at + 2 <= size:
        (fields,) = struct.unpack_from(">h", buf, at)
        if fields == -1:
            return rows, at + 2, True
        pos, row = at + 2, []
        for column in range(fields):
            if pos + 4 > size:
                return rows, at, False
            (length,) = struct.unpack_from(">i", buf, pos)
            pos += 4
            if length == -1:
                row.append(None)
                continue
            if pos + length > size:
                return rows, at, False
            row.append(_posting_value(column, buf[pos:pos + length]))
            pos += length
        rows.append(tuple(row))
        at = pos
    return rows, at, False


# The streams ------------------------------------------------------------------------------


class _Stream:
    """One COPY … TO STDOUT running on its own connection, handed on in blocks; then, on
    the same connection, the statements in `then`."""

    def __init__(self, conn, sql: str, fmt: str, then: tuple[str, ...] = ()) -> None:
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE)
        self.received = 0
        self.task = asyncio.create_task(self._run(conn, sql, fmt, then))

    async def _run(self, conn, sql: str, fmt: str, then: tuple[str, ...]) -> list:
        parts: list[bytes] = []
        size = 0

        async def sink(data: bytes) -> None:
            nonlocal parts, size
            parts.append(data)
            size += len(data)
            self.received += len(data)
            if size >= BLOCK:
                block, parts, size = parts, [], 0
                await self.queue.put(block)

        try:
            await conn.copy_from_query(sql, output=sink, format=fmt)
            if parts:
                await self.queue.put(parts)
            await self.queue.put(None)
        except Exception as exc:
            await self.queue.put(exc)
            raise
        return [await conn.fetchval(text) for text in then]

    async def get(self) -> list[bytes] | None:
        """The next pieces of the stream, or None at its end."""
        block = await self.queue.get()
        if isinstance(block, Exception):
            raise block
        return block


class _Postings:
    """The posting stream (COPY binary), read up to a sequence number at a time: as fixed
    rows in a numpy array while every row has the expected shape, as decoded tuples once
    one does not (a NULL, a currency of another length)."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.buf = b""
        self.header = False
        self.done = False
        self.checked = 0  # rows of `buf` known to have the fixed shape
        self.decoded: list[tuple] | None = None

    async def _more(self) -> None:
        block = await self.stream.get()
        if block is None:
            self.done = True
        else:
            self.buf = b"".join([self.buf, *block])
        if not self.header:
            if len(self.buf) < 19 and not self.done:
                return
            if self.buf[:11] != SIGNATURE:
                raise ValueError("the posting stream is not COPY binary")
            (extension,) = struct.unpack_from(">i", self.buf, 15)
            self.buf = self.buf[19 + extension:]
            self.header = True
        if self.decoded is not None:
            rows, at, end = _posting_rows(self.buf, 0)
            self.decoded += rows
            self.buf = self.buf[at:]
            self.done = self.done or end
            return
        if self.done:
            if self.buf[-2:] != b"\xff\xff" or (len(self.buf) - 2) % POSTING_ROW.itemsize:
                self._to_tuples()
                return
            self.buf = self.buf[:-2]
        whole = len(self.buf) // POSTING_ROW.itemsize
        rows = np.frombuffer(self.buf, POSTING_ROW, count=whole)[self.checked:]
        if not all((rows[name] == value).all() for name, value in POSTING_LENGTHS):
            self._to_tuples()
        else:
            self.checked = whole

    def _to_tuples(self) -> None:
        rows, at, end = _posting_rows(self.buf, 0)
        self.decoded, self.buf = rows, self.buf[at:]
        self.done = self.done or end

    def _seq(self, i: int) -> int:
        (seq,) = struct.unpack_from(">q", self.buf, i * POSTING_ROW.itemsize + SEQ_AT)
        return seq

    async def upto(self, last: float) -> np.ndarray | list[tuple]:
        """Every posting before the first whose entry_seq exceeds `last`."""
        while True:
            if self.decoded is not None:
                rows = self.decoded
                if self.done or (rows and _after(rows[-1][2], last)):
                    cut = next((i for i, p in enumerate(rows) if _after(p[2], last)),
                               len(rows))
                    self.decoded = rows[cut:]
                    return rows[:cut]
            elif self.done or (self.checked and self._seq(self.checked - 1) > last):
                rows = np.frombuffer(self.buf, POSTING_ROW, count=self.checked)
                after = rows["seq"] > last
                cut = int(after.argmax()) if after.any() else self.checked
                self.buf = self.buf[cut * POSTING_ROW.itemsize:]
                self.checked -= cut
                return rows[:cut]
            await self._more()

    async def first_left(self) -> tuple | None:
        """The first posting not yet read (in the walk's order), if any."""
        while True:
            if self.decoded:
                first = self.decoded[0]
                break
            if self.decoded is None and self.checked:
                first = _posting_tuples(np.frombuffer(self.buf, POSTING_ROW, count=1))[0]
                break
            if self.done:
                return None
            await self._more()
        if type(first[2]) is not int:
            return first
        rows = await self.upto(first[2])
        return min(rows if isinstance(rows, list) else _posting_tuples(rows), key=_walk_order)


class _Lines:
    """The entry stream (COPY text), a batch of whole lines at a time."""

    def __init__(self, stream: _Stream) -> None:
        self.stream, self.rest, self.done = stream, b"", False

    async def take(self, at_least: int) -> bytes:
        """Whole lines, `at_least` bytes of them unless the stream ends first."""
        parts, size = [self.rest], len(self.rest)
        while size < at_least and not self.done:
            block = await self.stream.get()
            if block is None:
                self.done = True
            else:
                parts += block
                size += sum(map(len, block))
        data = b"".join(parts)
        cut = data.rfind(b"\n") + 1
        if size >= 2 * at_least:  # a block far larger than a batch: cut it
            cut = data.rfind(b"\n", 0, at_least) + 1 or cut
        self.rest = data[cut:]
        if self.done and self.rest:
            raise ValueError("the entry stream ends inside a row")
        return data[:cut]


class CopySource:
    """The journal in one snapshot, on two connections (entries, postings)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.left: tuple | None = None
        self.times, self.reverses = _Times(), _Reverses({b"": b"null"})
        self.streams: list[_Stream] = []
        self._accounts: tuple[int, _Accounts] | None = None

    async def __aenter__(self) -> CopySource:
        self.conn = await asyncpg.connect(self.dsn)
        self.conns = [self.conn]
        try:
            await self.conn.execute(SESSION)
            await self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = await self.conn.fetchval("SELECT pg_export_snapshot()")
            self.other = await asyncpg.connect(self.dsn)
            self.conns.append(self.other)
            await self.other.execute(SESSION)
            await self.other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            await self.other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        for stream in self.streams:
            if not stream.task.done():
                stream.task.cancel()
            try:
                await stream.task
            except BaseException:  # noqa: S110 - the stream's error was raised where it was read
                pass
        for conn in self.conns:
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()

    @staticmethod
    def sql(text: str, since: int | None = None) -> str:
        # Tables named with their schema: nothing else on the search path is consulted.
        text = text.replace("FROM ", "FROM public.")
        return text if since is None else text.replace("$since", str(int(since)))

    async def fetch(self, text: str) -> list:
        return await self.conn.fetch(self.sql(text))

    def accounts_for(self, walk: _Walk) -> _Accounts:
        if self._accounts is None or self._accounts[0] != id(walk.accounts):
            self._accounts = (id(walk.accounts), _Accounts(walk.accounts))
        return self._accounts[1]

    async def batches(self, q: dict[str, str], since: int | None) -> AsyncIterator[Batch]:
        entries = _Stream(self.conn, self.sql(q["entries"], since), "text", then=(
            self.sql(q["count_postings"], since), self.sql(q["count_entries"], since)))
        postings = _Stream(self.other, self.sql(q["postings_by_seq"], since), "binary")
        self.streams = [entries, postings]
        lines, posts = _Lines(entries), _Postings(postings)
        while text := await lines.take(CHUNK * LINE):
            yield CopyBatch(self, text, await posts.upto(_last_line_seq(text)))
            await self._drain()
        self.left = await posts.first_left()

    async def _drain(self) -> None:
        """Take in what PostgreSQL has written while the last batch was checked, so that it
        writes the next rows while the next batch is: the socket buffers alone hold less
        than a batch."""
        for _ in range(1000):
            before = sum(stream.received for stream in self.streams)
            for _ in range(4):
                await asyncio.sleep(0)
            if sum(stream.received for stream in self.streams) == before:
                return

    async def counts(self, q: dict[str, str], since: int | None) -> tuple[int, int]:
        posting_count, entry_count = await self.streams[0].task
        return posting_count, entry_count


def _last_line_seq(text: bytes) -> float:
    """The sequence number a batch's postings are read up to: its last entry's, or the
    last that is a number (an entry whose seq is not ends the walk before later postings
    matter)."""
    end = len(text) - 1
    while end > 0:
        start = text.rfind(b"\n", 0, end) + 1
        fields = text[start:end].split(b"\t", 2)
        if len(fields) > 1 and fields[1].lstrip(b"-").isdigit():
            return int(fields[1])
        end = start - 1
    return float("-inf")
