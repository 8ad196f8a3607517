"""The ledger on both engines: accruals, payment runs, clawbacks, balances, the database's
own refusals, tampering found, and the books confirmed by Beancount."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from contracts.errors import Conflict
from ledger import checkpoints
from ledger.balances import contract_balance, trial_balance
from ledger.tables import JournalEntry, Posting
from ledger.verify import engine_dsn, verify
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from outcomes.tables import Claim
from tests.helpers import active_contract, principal, world

VIRKER = str(Path(sys.executable).parent / "virker")
ENROLLED = dt.date(2024, 2, 1)


async def approved_claims(w, n: int, **terms) -> tuple:
    """An active contract with `n` approved housing-entry claims (15,000 DKK each)."""
    cid = await active_contract(w, sampling_rate_bp=0, **terms)
    provider = principal(w.ids["provider"], "provider")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
                         for i in range(1, n + 1)])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(i, ClaimIn(client_ref=f"c{i}", pseudonym=f"P-{i}",
                                     metric_code="housing_entry",
                                     achieved_on=ENROLLED + dt.timedelta(days=30),
                                     evidence_ref="lease"), []) for i in range(1, n + 1)])
    boss = principal(w.ids["commissioner"], "commissioner")
    await verification.draw_sample(boss, cid, "seed-0000")
    ids = [r.id for r in report.results]
    await verification.approve(boss, cid, ids, "")
    return cid, ids, boss


async def test_approval_accrues_split_between_co_commissioners(db):
    w = await world()
    cid, ids, boss = await approved_claims(w, 3)
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.committed, b.accrued, b.paid, b.remaining) == (
        100_000_000, 3 * 1_500_000, 0, 100_000_000 - 3 * 1_500_000)
    assert b.payable == 3 * 1_500_000
    parts = await Posting.select(Posting.amount, Posting.account.organisation.as_alias("org")
                                 ).where(Posting.account.code == "accrued")
    by_org = {}
    for p in parts:
        by_org[p["org"]] = by_org.get(p["org"], 0) + p["amount"]
    assert by_org == {w.ids["commissioner"]: 2_700_000, w.ids["co_commissioner"]: 1_800_000}
    assert await trial_balance() == {"DKK": 0}
    # Approving again accrues nothing more.
    again = await verification.approve(boss, cid, ids, "")
    assert again.accrued.amount == 0
    assert await JournalEntry.count().where(JournalEntry.kind == "accrual") == 3


async def test_a_payment_run_pays_each_claim_once(db):
    w = await world()
    cid, _, boss = await approved_claims(w, 4)
    period = PaymentRunIn(period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31))
    run, _ = await payments.create_run(boss, cid, period, None, "h")
    assert (run.status, run.claims, run.total.amount) == ("draft", 4, 6_000_000)
    with pytest.raises(Conflict) as err:
        await payments.pay_run(boss, run.id)
    assert err.value.code == "run_not_approved"
    with pytest.raises(Conflict) as err:
        await payments.create_run(boss, cid, period, None, "h2")
    assert err.value.code == "nothing_to_pay"  # the claims are in the draft run already
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    paid = await payments.pay_run(boss, run.id)
    again = await payments.pay_run(boss, run.id)
    assert paid.status == again.status == "paid"
    assert await JournalEntry.count().where(JournalEntry.kind == "payment") == 4
    assert await Claim.count().where(Claim.status == "paid") == 4
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.paid, b.payable) == (6_000_000, 0)


async def test_clawbacks_reverse_approved_and_paid_claims(db):
    w = await world()
    cid, ids, boss = await approved_claims(w, 2)
    run, _ = await payments.create_run(boss, cid, PaymentRunIn(
        period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "h")
    await payments.approve_run(msgspec.structs.replace(boss, label="test:checker"), run.id)
    await payments.pay_run(boss, run.id)
    await payments.clawback(boss, ids[0], "the tenancy ended after a week")
    await payments.clawback(boss, ids[0], "asked twice")  # nothing more happens
    b = await contract_balance(cid, "DKK", dt.date.today())
    assert (b.accrued, b.clawed_back, b.paid, b.receivable) == (
        3_000_000, 1_500_000, 3_000_000, 1_500_000)
    assert b.remaining == 100_000_000 - 1_500_000
    back = await JournalEntry.select().where(JournalEntry.kind == "clawback")
    accrual = await JournalEntry.select(JournalEntry.id).where(
        JournalEntry.idempotency_key == f"accrue:{ids[0]}").first()
    assert len(back) == 1 and back[0]["reverses"] == str(accrual["id"])
    assert (await Claim.select(Claim.status).where(Claim.id == ids[0]).first())["status"] == \
        "reversed"
    with pytest.raises(Conflict):
        await verification.approve(boss, cid, [ids[0]], "")
    assert (await verify(engine_dsn())).ok


async def test_balances_are_reproducible_at_any_date(db):
    w = await world()
    cid, _, _ = await approved_claims(w, 2)
    before = await contract_balance(cid, "DKK", dt.date(2023, 12, 31))
    assert (before.committed, before.accrued) == (0, 0)
    at_start = await contract_balance(cid, "DKK", dt.date(2024, 1, 1))
    assert (at_start.committed, at_start.accrued) == (100_000_000, 0)


async def test_the_journal_tables_refuse_update_and_delete(db):
    w = await world()
    await approved_claims(w, 1)
    for query in (JournalEntry.update({JournalEntry.memo: "x"}, force=True),
                  JournalEntry.delete(force=True),
                  Posting.update({Posting.amount: 0}, force=True),
                  Posting.delete(force=True)):
        with pytest.raises(Exception, match="append-only"):
            await query
    assert (await verify(engine_dsn())).ok


async def test_postgres_refuses_an_unbalanced_entry_at_commit(db):
    if db.kind != "postgres":
        pytest.skip("the deferred constraint trigger is PostgreSQL's")
    w = await world()
    await approved_claims(w, 1)
    entry = await JournalEntry.select().order_by(JournalEntry.seq, ascending=False).first()
    account = await Posting.select(Posting.account).first()
    import asyncpg

    conn = await asyncpg.connect(db.url)
    try:
        with pytest.raises(asyncpg.PostgresError, match="does not balance"):
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO journal_entry (id, seq, kind, effective_on, recorded_at, "
                    "contract, idempotency_key, memo, prev_hash, hash) VALUES "
                    "(gen_random_uuid(), $1, 'x', current_date, now(), $3, 'forged', '', $2, "
                    "$2)", entry["seq"] + 1, entry["hash"], entry["contract"])
                eid = await conn.fetchval("SELECT id FROM journal_entry WHERE seq = $1",
                                          entry["seq"] + 1)
                for amount in (100, -99):
                    await conn.execute(
                        "INSERT INTO posting (id, entry, entry_seq, account, amount, currency) "
                        "VALUES (gen_random_uuid(), $1, $2, $3, $4, 'DKK')", eid,
                        entry["seq"] + 1, account["account"], amount)
    finally:
        await conn.close()
    assert await JournalEntry.count().where(JournalEntry.idempotency_key == "forged") == 0


async def test_fifty_simultaneous_approvals_accrue_once(db):
    w = await world()
    cid = await active_contract(w, sampling_rate_bp=0)
    provider = principal(w.ids["provider"], "provider")
    await intake.submit_participants(intake.Submission(
        principal=provider, contract_id=cid, kind="participants", idempotency_key=None,
        body_hash="p"), [(1, ParticipantIn(pseudonym="P-1", enrolled_on=ENROLLED), [])])
    report, _ = await intake.submit_claims(intake.Submission(
        principal=provider, contract_id=cid, kind="claims", idempotency_key="k",
        body_hash="c"), [(1, ClaimIn(client_ref="c1", pseudonym="P-1",
                                     metric_code="housing_entry",
                                     achieved_on=ENROLLED + dt.timedelta(days=3),
                                     evidence_ref="lease"), [])])
    boss = principal(w.ids["commissioner"], "commissioner")
    await verification.draw_sample(boss, cid, "seed-0000")
    claim = report.results[0].id
    results = await asyncio.gather(*[verification.approve(boss, cid, [claim], "")
                                     for _ in range(50)], return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(r.accrued.amount for r in results) == 1_500_000
    assert await JournalEntry.count().where(JournalEntry.kind == "accrual") == 1


async def test_tampering_is_named_by_verify_and_by_the_checkpoint(db, tmp_path):
    w = await world()
    await approved_claims(w, 3)
    key = tmp_path / "signing.key"
    signed, _ = await checkpoints.create(key, engine_dsn())
    trusted = checkpoints.trusted_key(None, key)
    assert (await checkpoints.check(signed, engine_dsn(), trusted)).ok
    target = await JournalEntry.select(JournalEntry.id, JournalEntry.seq).where(
        JournalEntry.kind == "accrual").order_by(JournalEntry.seq).first()
    if db.kind == "sqlite":
        await db.engine.run_ddl("DROP TRIGGER posting_no_update")
    else:
        await db.engine.run_ddl("DROP TRIGGER posting_append_only ON posting")
        await db.engine.run_ddl("ALTER TABLE posting DISABLE TRIGGER posting_balanced")
    posting = await Posting.select(Posting.id, Posting.amount).where(
        Posting.entry == target["id"]).first()
    await Posting.update({Posting.amount: posting["amount"] + 100}).where(
        Posting.id == posting["id"])
    report = await verify(engine_dsn())
    assert not report.ok
    assert report.first_mismatch.seq == target["seq"]
    assert report.first_mismatch.entry_id == str(target["id"])
    result = await checkpoints.check(signed, engine_dsn(), trusted)
    assert not result.ok and result.seq == target["seq"]
    out = subprocess.run([VIRKER, "verify-ledger"], capture_output=True,
                         text=True, env={**os.environ, "VIRKER_DATABASE_URL": db.url},
                         check=False)
    assert out.returncode == 1
    assert f"entry {target['seq']} ({target['id']})" in out.stderr


async def test_a_forged_checkpoint_is_refused(db, tmp_path):
    w = await world()
    await approved_claims(w, 1)
    signed, _ = await checkpoints.create(tmp_path / "k", engine_dsn())
    trusted = checkpoints.trusted_key(None, tmp_path / "k")
    doc = msgspec.json.decode(signed.document)
    doc["seq"] = 1
    forged = checkpoints.SignedCheckpoint(document=msgspec.json.encode(doc).decode(),
                                          signature=signed.signature,
                                          public_key=signed.public_key)
    assert (await checkpoints.check(forged, engine_dsn(), trusted)).problem == \
        "the checkpoint is not signed by the trusted key"
    other = await checkpoints.check(signed, engine_dsn(), trusted_public_key="00" * 32)
    assert not other.ok


async def test_bean_check_confirms_the_exported_demo_books(db, tmp_path):
    env = {**os.environ, "VIRKER_DATABASE_URL": db.url}
    assert subprocess.run([VIRKER, "demo"], env=env, capture_output=True,
                          check=False).returncode == 0
    books = tmp_path / "virker.beancount"
    out = subprocess.run([VIRKER, "export-beancount", "-o", str(books)], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    text = books.read_text()
    assert text.count(" * ") >= 40 and '"clawback"' in text and '"payment"' in text
    bean_check = str(Path(sys.executable).parent / "bean-check")
    checked = subprocess.run([bean_check, str(books)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # bean-check is no rubber stamp: an unbalanced copy fails.
    broken = tmp_path / "broken.beancount"
    broken.write_text(text.replace("-6000.00 DKK", "-6000.01 DKK", 1))
    assert subprocess.run([bean_check, str(broken)], capture_output=True,
                          check=False).returncode != 0


async def test_every_kind_of_text_in_a_memo_or_key_verifies(db):
    """The verifier rebuilds the bytes in Python from raw values: whatever text an entry
    holds, what the posting service hashed is what the verifier hashes."""
    from core.database import write_transaction
    from ledger.posting import Leg, NewEntry, post

    w = await world()
    cid = await active_contract(w)
    org = w.ids["commissioner"]
    memos = ['quote " and backslash \\', "tab\tnewline\nbell\x07", "Ærø – 😀 ü", "", "\u2028"]
    async with write_transaction():
        await post([NewEntry(kind="test", effective_on=dt.date(2025, 1, 1), contract=cid,
                             idempotency_key=f"memo-{i}-\"{m}", memo=m,
                             legs=[Leg(cid, org, "committed", 1, "DKK"),
                                   Leg(cid, org, "budget", -1, "DKK")])
                    for i, m in enumerate(memos)])
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
    assert report.entries == await JournalEntry.count()


async def test_a_clawback_reason_stays_outside_the_chain_and_can_be_erased(db):
    from ledger import notes
    from ledger.tables import JournalNote

    w = await world()
    cid, ids, boss = await approved_claims(w, 1)
    reason = "participant moved to Odense, case worker Jens Hansen confirmed"
    await payments.clawback(boss, ids[0], reason)
    entry = await JournalEntry.select().where(JournalEntry.kind == "clawback").first()
    assert "Odense" not in entry["memo"] and "Hansen" not in entry["memo"]
    assert await notes.of_entry(entry["id"]) == [reason]
    assert await notes.erase(entry["id"]) == 1
    assert await JournalNote.count() == 0
    report = await verify(engine_dsn())
    assert report.ok, report.first_mismatch
