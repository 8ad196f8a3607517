"""A hostile database administrator against the journal, on both engines.

Each attack first disarms what the database itself enforces (triggers, NOT NULL, the
posting-to-entry binding), as someone who controls the database can, then changes the
journal. Verification must fail and name the entry, posting or account concerned; attacks
that also rewrite the hash chain must be caught by a checkpoint checked against the public
key the auditor trusts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import sqlite3
import uuid
from dataclasses import dataclass

import asyncpg
import msgspec
import pytest

from core.ids import new_id
from ledger import checkpoints
from ledger.journal import GENESIS, canonical_bytes, timestamp
from ledger.tables import Account, JournalEntry, Posting
from ledger.verify import engine_dsn, verify
from outcomes import payments
from outcomes.schemas import PaymentRunIn
from tests.helpers import world
from tests.integration.test_ledger import ENROLLED, approved_claims

SQLITE_GUARDS = [
    "journal_entry_no_update", "journal_entry_no_delete", "posting_no_update",
    "posting_no_delete", "account_no_update", "account_no_delete", "posting_bound_to_entry",
    "journal_entry_not_null", "account_not_null",
]


@dataclass
class Hostile:
    """Raw SQL as the database's administrator, with every guard of the journal removed."""

    kind: str
    url: str
    path: str = ""

    async def run(self, sql: str, *args: object) -> list:
        if self.kind == "postgres":
            conn = await asyncpg.connect(self.url)
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()
        values = [str(a) if isinstance(a, uuid.UUID) else a for a in args]
        sql = sql.replace("$1", "?").replace("$2", "?").replace("$3", "?").replace("$4", "?")
        conn = sqlite3.connect(self.path)
        try:
            rows = conn.execute(sql, values).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    async def disarm(self) -> None:
        if self.kind == "postgres":
            for table in ("journal_entry", "posting", "account"):
                await self.run(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
            for column in ("hash", "memo", "contract", "reverses"):
                await self.run(f"ALTER TABLE journal_entry ALTER COLUMN {column} DROP NOT NULL")
            await self.run("ALTER TABLE posting ALTER COLUMN entry_seq DROP NOT NULL")
            await self.run("ALTER TABLE posting DROP CONSTRAINT posting_bound_to_entry")
            return
        for name in SQLITE_GUARDS:
            await self.run(f"DROP TRIGGER IF EXISTS {name}")
        # SQLite keeps NOT NULL in the table's text: an administrator rewrites that text.
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA writable_schema = ON")
            for column in ('"hash" VARCHAR(64)', '"memo" TEXT', '"entry_seq" INTEGER'):
                conn.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
                             "WHERE type = 'table'", (f"{column} NOT NULL", column))
            conn.commit()
        finally:
            conn.close()

    async def rehash(self, from_seq: int = 1) -> None:
        """Recompute every hash from `from_seq` on, each in its contract's chain, as an
        attacker who read docs/ledger.md would after changing something, so that the chains
        alone look whole."""
        accounts = {str(r["id"]): r for r in await Account.select()}
        entries = await JournalEntry.select().order_by(JournalEntry.seq)
        postings: dict[int, list] = {}
        for p in await Posting.select():
            postings.setdefault(p["entry_seq"], []).append(p)
        last: dict = {}  # each contract's chain: its last hash
        for e in entries:
            prev = last.get(e["contract"], GENESIS)
            if e["seq"] >= from_seq:
                lines = [(str(p["account"]), str(accounts[str(p["account"])]["contract"]),
                          str(accounts[str(p["account"])]["organisation"]),
                          accounts[str(p["account"])]["code"], p["currency"], p["amount"])
                         for p in postings.get(e["seq"], [])]
                digest = hashlib.sha256(bytes.fromhex(prev) + canonical_bytes(
                    e["seq"], str(e["id"]), e["kind"], e["effective_on"].isoformat(),
                    timestamp(e["recorded_at"]), str(e["contract"]), e["idempotency_key"],
                    e["reverses"] or None, e["memo"], lines)).hexdigest()
                await self.run("UPDATE journal_entry SET prev_hash = $1, hash = $2 "
                               "WHERE id = $3", prev, digest, e["id"])
                last[e["contract"]] = digest
            else:
                last[e["contract"]] = e["hash"]


async def paid_books(db, tmp_path):
    """Three approved claims, one paid run; a checkpoint signed with the auditor's trusted
    key; the hostile administrator ready."""
    w = await world()
    cid, ids, boss = await approved_claims(w, 3)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=ENROLLED, period_to=dt.date(2030, 1, 1)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    key = tmp_path / "auditor-kept.key"
    signed, report = await checkpoints.create(key, engine_dsn())
    assert report.ok
    trusted = checkpoints.trusted_key(None, key)
    path = db.url[len("sqlite:///"):] if db.kind == "sqlite" else ""
    hostile = Hostile(db.kind, db.url, path)
    await hostile.disarm()
    return w, cid, signed, trusted, hostile


async def first_seq_of(account_id) -> int:
    row = await Posting.select(Posting.entry_seq).where(Posting.account == account_id).order_by(
        Posting.entry_seq).first()
    return row["entry_seq"]


async def account_of(w, code: str, org: str = "commissioner") -> dict:
    return await Account.select().where((Account.code == code) & (
        Account.organisation == w.ids[org])).first()


async def failing(signed=None, trusted=None):
    report = await verify(engine_dsn())
    assert not report.ok
    assert report.first_mismatch is not None
    result = None
    if signed is not None:
        result = await checkpoints.check(signed, engine_dsn(), trusted)
        assert not result.ok
    return report.first_mismatch, result


# One test per attack ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["organisation", "contract"])
async def test_an_account_moved_to_another_owner_is_named(db, tmp_path, field):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    account = await account_of(w, "accrued")
    new_owner = w.ids["other_commissioner"] if field == "organisation" else \
        w.contracts["other"]
    await hostile.run(f"UPDATE account SET {field} = $1 WHERE id = $2", new_owner,
                      account["id"])
    m, result = await failing(signed, trusted)
    assert m.seq == await first_seq_of(account["id"])
    assert "hash" in m.problem
    assert result.seq == m.seq


async def test_an_account_given_another_code_is_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    account = await account_of(w, "accrued")
    await hostile.run("UPDATE account SET code = 'receivable' WHERE id = $1", account["id"])
    m, _ = await failing(signed, trusted)
    assert m.seq == await first_seq_of(account["id"])


async def test_an_account_in_another_currency_is_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    account = await account_of(w, "paid")
    await hostile.run("UPDATE account SET currency = 'EUR' WHERE id = $1", account["id"])
    m, _ = await failing(signed, trusted)
    assert m.account_id == str(account["id"])


@pytest.mark.parametrize("entry_seq", [10**12, 0, -1])
async def test_extra_balanced_postings_outside_the_chain_are_named(db, tmp_path, entry_seq):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    entry = await JournalEntry.select().where(JournalEntry.kind == "accrual").first()
    a, b = await account_of(w, "accrued"), await account_of(w, "payable")
    ids = [new_id(), new_id()]
    for pid, account, amount in ((ids[0], a, 1_000_000), (ids[1], b, -1_000_000)):
        await hostile.run("INSERT INTO posting (id, entry, entry_seq, account, amount, currency) "
                          f"VALUES ($1, $2, {entry_seq}, $3, $4, 'DKK')", pid, entry["id"],
                          account["id"], amount)
    # The balances the application shows include them: that is what makes it an attack.
    m, result = await failing(signed, trusted)
    assert m.posting_id in {str(i) for i in ids}
    assert "not in the chain" in m.problem


async def test_a_posting_without_a_sequence_number_is_found(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    entry = await JournalEntry.select().where(JournalEntry.kind == "accrual").first()
    a, b = await account_of(w, "accrued"), await account_of(w, "payable")
    ids = [new_id(), new_id()]
    for pid, account, amount in ((ids[0], a, 5), (ids[1], b, -5)):
        await hostile.run("INSERT INTO posting (id, entry, entry_seq, account, amount, currency) "
                          "VALUES ($1, $2, NULL, $3, $4, 'DKK')", pid, entry["id"],
                          account["id"], amount)
    m, _ = await failing()
    assert m.posting_id in {str(i) for i in ids}


async def test_a_posting_moved_to_another_entry_is_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    accrual, payment = await JournalEntry.select().where(JournalEntry.kind == "accrual").first(
    ), await JournalEntry.select().where(JournalEntry.kind == "payment").first()
    posting = await Posting.select().where(Posting.entry == accrual["id"]).first()
    await hostile.run("UPDATE posting SET entry = $1 WHERE id = $2", payment["id"],
                      posting["id"])
    m, result = await failing(signed, trusted)
    assert m.seq == accrual["seq"] and m.posting_id == str(posting["id"])
    assert result.seq == accrual["seq"]


async def test_a_changed_amount_is_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    posting = await Posting.select().where(Posting.entry_seq == 3).first()
    await hostile.run("UPDATE posting SET amount = amount + 100 WHERE id = $1", posting["id"])
    m, _ = await failing(signed, trusted)
    assert m.seq == 3


async def test_a_backdated_entry_is_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    entry = await JournalEntry.select().where(JournalEntry.kind == "payment").first()
    await hostile.run("UPDATE journal_entry SET effective_on = $1 WHERE id = $2",
                      dt.date(1995, 1, 1), entry["id"])
    m, _ = await failing(signed, trusted)
    assert m.seq == entry["seq"] and m.entry_id == str(entry["id"])


@pytest.mark.parametrize("column", ["hash", "memo"])
async def test_a_null_in_the_journal_is_a_mismatch(db, tmp_path, column):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    entry = await JournalEntry.select().where(JournalEntry.kind == "accrual").first()
    await hostile.run(f"UPDATE journal_entry SET {column} = NULL WHERE id = $1", entry["id"])
    m, result = await failing(signed, trusted)
    assert m.seq == entry["seq"] and column in m.problem


async def test_an_operator_planted_in_public_changes_nothing(db, tmp_path):
    """The old verifier let PostgreSQL build the bytes, and an operator ||(text, bigint)
    in the public schema made it build the original bytes for altered rows."""
    if db.kind != "postgres":
        pytest.skip("operators are PostgreSQL's")
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    posting = await Posting.select().where(Posting.entry_seq == 3).first()
    await hostile.run(
        "CREATE FUNCTION public.lie(a text, b bigint) RETURNS text LANGUAGE sql IMMUTABLE AS "
        f"$$ SELECT a || (CASE WHEN b = {posting['amount'] + 100} THEN "
        f"{posting['amount']} ELSE b END)::text $$")
    await hostile.run("CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = bigint, "
                      "FUNCTION = public.lie)")
    await hostile.run("UPDATE posting SET amount = amount + 100 WHERE id = $1", posting["id"])
    m, result = await failing(signed, trusted)
    assert m.seq == 3


async def test_a_deleted_entry_breaks_its_contracts_chain(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    entry = await JournalEntry.select().where(JournalEntry.seq == 2).first()
    await hostile.run("DELETE FROM posting WHERE entry = $1", entry["id"])
    await hostile.run("DELETE FROM journal_entry WHERE id = $1", entry["id"])
    m, result = await failing(signed, trusted)
    assert m.seq == 3 and "the contract's entry before" in m.problem


async def test_truncation_is_caught_by_the_checkpoint(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    last = await JournalEntry.select().order_by(JournalEntry.seq, ascending=False).first()
    await hostile.run("DELETE FROM posting WHERE entry_seq = $1", last["seq"])
    await hostile.run("DELETE FROM journal_entry WHERE seq = $1", last["seq"])
    # The shorter chain is whole by itself; the signed head is what it no longer reaches.
    assert (await verify(engine_dsn())).ok
    result = await checkpoints.check(signed, engine_dsn(), trusted)
    assert not result.ok and result.seq == last["seq"] and "ends at" in result.problem


async def test_reordered_entries_are_named(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    for a, b in ((2, -2), (3, 2), (-2, 3)):
        await hostile.run("UPDATE journal_entry SET seq = $1 WHERE seq = $2", b, a)
        await hostile.run("UPDATE posting SET entry_seq = $1 WHERE entry_seq = $2", b, a)
    m, result = await failing(signed, trusted)
    assert m.seq == 2


async def test_a_rewritten_and_rehashed_journal_fails_its_checkpoint(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    posting = await Posting.select().where(
        (Posting.entry_seq == 3) & (Posting.amount > 0)).first()
    await hostile.run("UPDATE posting SET amount = amount + 100 WHERE id = $1", posting["id"])
    other = await Posting.select().where(
        (Posting.entry_seq == 3) & (Posting.amount < 0)).first()
    await hostile.run("UPDATE posting SET amount = amount - 100 WHERE id = $1", other["id"])
    await hostile.rehash(3)
    assert (await verify(engine_dsn())).ok  # the chain alone cannot tell
    result = await checkpoints.check(signed, engine_dsn(), trusted)
    assert not result.ok and result.account is not None


async def test_a_re_attribution_rehashed_is_named_by_its_account(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    account = await account_of(w, "paid", "co_commissioner")
    await hostile.run("UPDATE account SET organisation = $1 WHERE id = $2",
                      w.ids["other_commissioner"], account["id"])
    await hostile.rehash()
    assert (await verify(engine_dsn())).ok
    result = await checkpoints.check(signed, engine_dsn(), trusted)
    assert not result.ok
    assert result.account.code == "paid"
    assert {result.account.organisation} <= {str(w.ids["co_commissioner"]),
                                             str(w.ids["other_commissioner"])}


async def test_an_entry_inserted_before_the_checkpoint_fails_it(db, tmp_path):
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    head = await JournalEntry.count()
    for seq in range(head, 1, -1):  # make room at 2
        await hostile.run("UPDATE journal_entry SET seq = $1 WHERE seq = $2", seq + 1, seq)
        await hostile.run("UPDATE posting SET entry_seq = $1 WHERE entry_seq = $2", seq + 1,
                          seq)
    a, b = await account_of(w, "committed"), await account_of(w, "budget")
    eid = new_id()
    await hostile.run(
        "INSERT INTO journal_entry (id, seq, kind, effective_on, recorded_at, contract, "
        "idempotency_key, reverses, memo, prev_hash, hash) VALUES ($1, 2, 'commitment', "
        f"'2024-01-01', '2024-01-01T00:00:00+00:00', $2, 'inserted', '', '', '{GENESIS}', "
        f"'{GENESIS}')", eid, cid)
    for account, amount in ((a, 7), (b, -7)):
        await hostile.run("INSERT INTO posting (id, entry, entry_seq, account, amount, currency) "
                          "VALUES ($1, $2, 2, $3, $4, 'DKK')", new_id(), eid, account["id"],
                          amount)
    await hostile.rehash(2)
    assert (await verify(engine_dsn())).ok
    result = await checkpoints.check(signed, engine_dsn(), trusted)
    assert not result.ok


# The key an auditor trusts -------------------------------------------------------------------


async def test_a_checkpoint_re_signed_by_the_database_is_refused(db, tmp_path):
    """Whoever controls the database can rewrite it and sign a new checkpoint with a key of
    their own; the key found beside the checkpoint is never what it is checked against."""
    w, cid, signed, trusted, hostile = await paid_books(db, tmp_path)
    posting = await Posting.select().where(Posting.entry_seq == 3).first()
    await hostile.run("UPDATE posting SET amount = amount + 1 WHERE id = $1", posting["id"])
    await hostile.run("UPDATE posting SET amount = amount - 1 WHERE id = (SELECT id FROM "
                      "posting WHERE entry_seq = 3 AND id <> $1 LIMIT 1)", posting["id"])
    await hostile.rehash(3)
    forged, _ = await checkpoints.create(tmp_path / "attacker.key", engine_dsn())
    assert forged.public_key != trusted
    result = await checkpoints.check(forged, engine_dsn(), trusted)
    assert not result.ok and "trusted key" in result.problem
    with pytest.raises(checkpoints.UntrustedKey):
        await checkpoints.check(forged, engine_dsn(), "")


async def test_a_checkpoint_follows_every_paid_payment_run(db, tmp_path):
    w = await world()
    cid, ids, boss = await approved_claims(w, 2)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=ENROLLED, period_to=dt.date(2030, 1, 1)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    head = await JournalEntry.select().order_by(JournalEntry.seq, ascending=False).first()
    trusted = checkpoints.trusted_key(None)  # the configured signing key's public half
    doc = await checkpoints.latest_proven(trusted)
    assert doc is not None and doc.seq == head["seq"] and doc.head_hash == head["hash"]
    signed = checkpoints.SignedCheckpoint(**{k: v for k, v in (await _row(doc.seq)).items()})
    assert (await checkpoints.check(signed, engine_dsn(), trusted)).ok
    assert msgspec.json.decode(signed.document)["format"] == checkpoints.FORMAT


async def _row(seq: int) -> dict:
    from ledger.tables import Checkpoint

    row = await Checkpoint.select(Checkpoint.document, Checkpoint.signature,
                                  Checkpoint.public_key).where(Checkpoint.seq == seq).order_by(
        Checkpoint.created_at, ascending=False).first()
    return row


async def test_the_server_signs_the_head_at_its_interval(db, tmp_path):
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from core.settings import Settings

    w = await world()
    await approved_claims(w, 1)  # no payment run: nothing signed yet
    checkpoints.load_or_create_key(checkpoints.key_path())
    assert await checkpoints.latest_proven(checkpoints.trusted_key(None)) is None
    settings = Settings.from_env({"VIRKER_DATABASE_URL": db.url,
                                  "VIRKER_SECRET_KEY": "s" * 40,
                                  "VIRKER_CHECKPOINT_INTERVAL": "1"})
    # The test client runs the app (and its PostgreSQL pool) on a loop of its own: the test
    # only waits while it runs, and reads the database once it has stopped.
    async with AsyncTestClient(app=create_app(settings, db.engine)) as client:
        assert (await client.get("/health")).status_code == 200
        await asyncio.sleep(2.5)
    doc = await checkpoints.latest_proven(checkpoints.trusted_key(None))
    head = await JournalEntry.select().order_by(JournalEntry.seq, ascending=False).first()
    assert doc is not None and doc.seq == head["seq"] and doc.head_hash == head["hash"]
