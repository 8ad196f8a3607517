"""verify-ledger on a journal of random entries, on both engines: unicode and quotes in
every text, entries that reverse nothing and entries that do, negative amounts, several
currencies in one entry, one account twice in an entry, recording times whose fraction
PostgreSQL writes short.

On PostgreSQL the bulk path (`ledger.verify_copy`) builds each entry's canonical bytes
itself, without `ledger.journal`; the hashes in these journals are made by
`ledger.journal.chain_hash`, so a batch the bulk path accepts is one whose bytes are those of
`canonical_bytes`, byte for byte. What the bulk path leaves to the entry-by-entry walk
(control characters and backslashes, amounts beyond 2**40, the entry a checkpoint is
captured at) still verifies, and a change to any column of any row is named at its entry.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest

from core.database import bulk_insert, write_transaction
from ledger import verify_copy
from ledger.journal import GENESIS, EntryFacts, PostingLine, chain_hash
from ledger.tables import Account, JournalEntry, Posting
from ledger.verify import engine_dsn, verify
from tests.helpers import world
from tests.integration.test_tamper import Hostile

PLAIN = "abcxyzÆØÅæøå–“”😀\u2028\u2029\x7f \"',:[]{}/"
WALKED = "\\\n\t\r\x01\x1f"  # what COPY text escapes and JSON escapes: left to the walk
CODES = ["accrued", "payable", 'kode "æ"']
CURRENCIES = ["DKK", "EUR", "NOK"]


def text(rng: random.Random, alphabet: str, most: int = 12) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, most)))


def accounts_of(w) -> list[PostingLine]:
    """Accounts of both contracts, for two organisations, three codes and currencies."""
    return [PostingLine(uuid.uuid4(), contract, org, code, currency, 0)
            for contract in w.contracts.values()
            for org in (w.ids["commissioner"], w.ids["provider"])
            for code in CODES for currency in CURRENCIES]


async def random_journal(w, rng: random.Random, count: int, *, alphabet: str = PLAIN,
                         largest: int = 10**11, accounts: list[PostingLine] | None = None
                         ) -> tuple[list[EntryFacts], list[str]]:
    """`count` balanced entries and their hashes, each chained after its contract's head,
    numbered with gaps now and then (as a rolled-back transaction leaves them), written as
    the posting service writes them."""
    accounts = accounts or accounts_of(w)
    heads = {}
    for r in await JournalEntry.select(JournalEntry.contract, JournalEntry.hash).order_by(
            JournalEntry.seq):
        heads[r["contract"]] = r["hash"]
    head = await JournalEntry.select(JournalEntry.seq).order_by(
        JournalEntry.seq, ascending=False).first()
    seq = head["seq"] if head else 0
    facts: list[EntryFacts] = []
    hashes: list[str] = []
    for _ in range(count):
        seq += rng.choice([1, 1, 1, 2, 7])
        lines = []
        for currency in rng.sample(CURRENCIES, rng.choice([1, 1, 2])):
            pool = [a for a in accounts if a.currency == currency]
            picked = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
            amounts = [rng.randint(-largest, largest) for _ in picked]
            picked.append(rng.choice(picked))  # the same account twice, now and then
            amounts.append(-sum(amounts))
            lines += [PostingLine(a.account, a.contract, a.organisation, a.code, currency, n)
                      for a, n in zip(picked, amounts, strict=True)]
        at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randint(0, 10**7), microseconds=rng.choice(
                [0, 100_000, 120_000, 123_000, 123_400, 123_450, rng.randint(0, 999_999)]))
        e = EntryFacts(seq=seq, id=uuid.uuid4(), kind=text(rng, alphabet, 8) or "accrual",
                       effective_on=dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 900)),
                       recorded_at=at, contract=rng.choice(list(w.contracts.values())),
                       idempotency_key=f"k{seq}:{text(rng, alphabet)}",
                       reverses=rng.choice([None, None, facts[-1].id if facts else None]),
                       memo=text(rng, alphabet, 40), postings=tuple(lines))
        prev = heads.get(e.contract, GENESIS)
        digest = chain_hash(prev, e)
        await _write(e, prev, digest, accounts)
        facts.append(e)
        hashes.append(digest)
        heads[e.contract] = digest
    return facts, hashes


async def _write(e: EntryFacts, prev: str, digest: str, accounts: list[PostingLine]) -> None:
    async with write_transaction():
        known = {r["id"] for r in await Account.select(Account.id)}
        await bulk_insert(Account, [dict(id=a.account, contract=a.contract,
                                         organisation=a.organisation, code=a.code,
                                         currency=a.currency, name=a.code)
                                    for a in accounts if a.account not in known])
        await bulk_insert(JournalEntry, [dict(
            id=e.id, seq=e.seq, kind=e.kind, effective_on=e.effective_on,
            recorded_at=e.recorded_at, contract=e.contract, idempotency_key=e.idempotency_key,
            reverses="" if e.reverses is None else str(e.reverses), memo=e.memo,
            prev_hash=prev, hash=digest)])
        await bulk_insert(Posting, [dict(id=uuid.uuid4(), entry=e.id, entry_seq=e.seq,
                                         account=p.account, amount=p.amount,
                                         currency=p.currency) for p in e.postings])


@pytest.fixture
def bulk_log(monkeypatch):
    """Small batches and blocks, so that a journal of a few hundred entries is read in many
    batches; and every batch's answer from the bulk path."""
    answers: list[bool] = []
    checked = verify_copy.CopyBatch.in_bulk

    def in_bulk(self, walk):
        answers.append(checked(self, walk))
        return answers[-1]

    monkeypatch.setattr(verify_copy, "CHUNK", 7)
    monkeypatch.setattr(verify_copy, "BLOCK", 2048)
    monkeypatch.setattr(verify_copy.CopyBatch, "in_bulk", in_bulk)
    return answers


async def test_the_bulk_bytes_are_the_canonical_bytes(db, bulk_log):
    facts, hashes = await random_journal(await world(), random.Random(15), 300)
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
    assert (report.head_seq, report.head_hash) == (facts[-1].seq, hashes[-1])
    if db.kind == "postgres":
        assert len(bulk_log) > 20 and all(bulk_log)
        # The same journal walked entry by entry gives the same report.
        walked = await _walked(verify_copy.CopyBatch)
        assert walked == report


async def _walked(batch_class) -> object:
    original = batch_class.in_bulk
    batch_class.in_bulk = lambda self, walk: False
    try:
        return await verify(engine_dsn())
    finally:
        batch_class.in_bulk = original


async def test_what_the_bulk_path_leaves_to_the_walk_still_verifies(db, bulk_log):
    rng, w = random.Random(16), await world()
    accounts = accounts_of(w)
    await random_journal(w, rng, 40, accounts=accounts)
    facts, _ = await random_journal(w, rng, 40, alphabet=PLAIN + WALKED, accounts=accounts)
    await random_journal(w, rng, 40, largest=2**45, accounts=accounts)
    report = await verify(engine_dsn(), capture_at=facts[5].seq)
    assert report.ok, report.first_mismatch
    assert report.captured is not None and report.captured.seq == facts[5].seq
    if db.kind == "postgres":
        assert any(bulk_log) and not all(bulk_log)


ENTRY_CHANGES = {
    "id": "id = $1", "seq": "seq = seq + 1000000", "kind": "kind = kind || 'x'",
    "effective_on": "effective_on = effective_on + 1",
    "recorded_at": "recorded_at = recorded_at + interval '1 microsecond'",
    "contract": "contract = (SELECT id FROM contract WHERE id <> journal_entry.contract "
                "LIMIT 1)",
    "idempotency_key": "idempotency_key = idempotency_key || 'x'",
    "reverses": "reverses = CASE WHEN reverses = '' THEN $1 ELSE '' END",
    "memo": "memo = memo || 'ø'", "prev_hash": "prev_hash = reverse(prev_hash)",
    "hash": "hash = reverse(hash)",
}
POSTING_CHANGES = {
    "entry": "entry = (SELECT id FROM journal_entry WHERE seq = posting.entry_seq + 1)",
    "entry_seq": "entry_seq = entry_seq + 1",
    "account": "account = (SELECT a.id FROM account a, account b WHERE b.id = posting.account "
               "AND a.currency = b.currency AND a.id <> b.id LIMIT 1)",
    "amount": "amount = amount + 1", "currency": "currency = 'SEK'",
}
# The same changes in SQLite's words.
SQLITE = {"recorded_at + interval '1 microsecond'": "replace(recorded_at, '2025', '2026')",
          "effective_on + 1": "date(effective_on, '+1 day')",
          "reverse(prev_hash)": "substr(prev_hash, 2) || substr(prev_hash, 1, 1)",
          "reverse(hash)": "substr(hash, 2) || substr(hash, 1, 1)"}


@pytest.mark.parametrize("change", [*ENTRY_CHANGES, *(f"posting.{c}" for c in POSTING_CHANGES)])
async def test_a_change_to_any_column_is_named_at_its_entry(db, bulk_log, change):
    facts, _ = await random_journal(await world(), random.Random(17), 30)
    target = facts[17]
    hostile = Hostile(db.kind, db.url, db.url[len("sqlite:///"):] if db.kind == "sqlite" else "")
    await hostile.disarm()
    if change.startswith("posting."):
        row = await Posting.select(Posting.id).where(Posting.entry_seq == target.seq).first()
        sql = f"UPDATE posting SET {POSTING_CHANGES[change[8:]]} WHERE id = $1"
        args: list[object] = [row["id"]]
    else:
        args = {"id": [uuid.uuid4()], "reverses": [str(facts[3].id)]}.get(change, [])
        sql = (f"UPDATE journal_entry SET {ENTRY_CHANGES[change]} "
               f"WHERE seq = ${len(args) + 1}")
        args.append(target.seq)
    if db.kind == "sqlite":
        for theirs, ours in SQLITE.items():
            sql = sql.replace(theirs, ours)
    await hostile.run(sql, *args)
    report = await verify(engine_dsn())
    assert not report.ok
    assert report.first_mismatch.seq in (target.seq, target.seq + 1), report.first_mismatch
    if db.kind == "postgres":
        assert not all(bulk_log)
