"""The pieces of a statement's attached files that need no database: the spool that hashes
and deflates a file as it is written, the sink that feeds it, and which hash format each
journal entry follows."""

from __future__ import annotations

import asyncio
import hashlib
import zlib

from reports.attachments import Sink, Spool
from reports.journal_files import _version, _version_sql


def test_a_spool_deflates_what_it_is_given_and_names_its_digests():
    data = b"seq,kind\n" + b"".join(b"%d,accrual\n" % i for i in range(50_000))
    spool = Spool()
    for i in range(0, len(data), 7_777):  # in pieces, as a database hands them over
        spool.write(data[i:i + 7_777])
    spool.finish()
    assert spool.size == len(data)
    assert spool.sha256 == hashlib.sha256(data).hexdigest()
    assert spool.md5 == hashlib.md5(data).digest()
    assert zlib.decompress(spool.deflated()) == spool.content() == data
    assert len(spool.deflated()) < len(data) / 4
    spool.close()


def test_the_sink_drops_the_first_rows_comma_and_keeps_the_order_of_its_blocks():
    async def feed() -> bytes:
        sink = Sink(Spool())
        await sink(b'{"rows":[\n')
        sink.skip(1)
        for i in range(30_000):  # several blocks, handed to the thread one behind the other
            await sink(b',[%d,"%s"]\n' % (i, b"x" * 40))
        await sink(b"]}\n")
        return (await sink.finish()).content()

    text = asyncio.run(feed())
    lines = text.split(b"\n")
    assert lines[0] == b'{"rows":[' and lines[1].startswith(b'[0,"') and lines[-2] == b"]}"
    assert [int(line.lstrip(b",[").split(b",")[0]) for line in lines[1:-2]] == list(
        range(30_000))


def test_each_entry_follows_the_hash_format_recorded_from_its_number_on():
    assert [_version([], seq) for seq in (1, 500)] == [2, 2]
    formats = [(101, 3)]
    assert [_version(formats, seq) for seq in (1, 100, 101, 5_000)] == [2, 2, 3, 3]
    assert _version_sql([]) == "2"
    assert _version_sql(formats) == "(CASE WHEN e.seq >= 101 THEN 3 ELSE 2 END)"
