"""The ledger on PostgreSQL: a payment run over 100,000 approved claims against the
one-transaction-per-transfer pattern with row locks (as pgledger does it) and against
django-hordak's batched transfers on the same PostgreSQL, and verify-ledger over 1,000,000
entries.

    make benchmark-deps    # django-hordak in its own virtualenv, .venv-hordak
    .venv/bin/python -m benchmarks.ledger [--claims 100000] [--entries 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
import uuid

import asyncpg

from benchmarks.common import ROOT, drop, machine, recreate, seed

BENCH, BASE, VERIFY = "virker_bench_ledger", "virker_bench_ledger_base", "virker_bench_verify"
PAID, HORDAK = "virker_bench_ledger_paid", "virker_bench_ledger_hordak"
HORDAK_PYTHON = ROOT / ".venv-hordak" / "bin" / "python"


async def approved(url: str, n: int) -> tuple[uuid.UUID, object]:
    """A contract with `n` approved claims, made through intake and approval."""
    from contracts.identity import Principal
    from outcomes import intake, verification
    from outcomes.schemas import ClaimIn

    ids = await seed(url, participants=n, sampling_rate_bp=0)
    cid = ids["contract_id"]
    provider = Principal(organisation_id=ids["provider_id"], role="provider", label="bench")
    for start in range(0, n, 10_000):
        rows = [(i, ClaimIn(client_ref=f"c{i}", pseudonym=f"P-{i}", metric_code="employment",
                            achieved_on=dt.date(2024, 6, 1), evidence_ref="e"), [])
                for i in range(start, min(n, start + 10_000))]
        await intake.submit_claims(intake.Submission(
            principal=provider, contract_id=cid, kind="claims", idempotency_key=f"b{start}",
            body_hash=str(start)), rows)
    from contracts import service

    boss_org = (await service.commissioner_ids(cid))[0]
    boss = Principal(organisation_id=boss_org, role="commissioner", label="bench")
    await verification.draw_sample(boss, cid, "bench-seed")
    from outcomes.tables import Claim

    claim_ids = [r["id"] for r in await Claim.select(Claim.id).where(Claim.contract == cid)]
    for start in range(0, n, 20_000):
        await verification.approve(boss, cid, claim_ids[start:start + 20_000], "bench")
    # As a live Virker has them: statistics of its tables (autovacuum keeps them) and a
    # checkpoint after the approvals (the app signs the journal's head every hour), so that
    # the run verifies and signs what it adds to the journal, not the approvals as well.
    from core.database import piccolo_conf_engine
    from ledger import checkpoints

    await piccolo_conf_engine().run_ddl("ANALYZE")
    await checkpoints.write_after_change()
    return cid, boss


async def pay(cid, boss) -> tuple[float, int, float]:
    """Draft, approve and pay one run of every approved claim: (seconds, postings added,
    seconds of those spent on the checkpoint that paying signs at its end)."""
    from contracts.identity import Principal
    from ledger import checkpoints
    from ledger.tables import Posting
    from outcomes import payments
    from outcomes.schemas import PaymentRunIn

    sign, signing = checkpoints.write_after_change, [0.0]

    async def timed_sign():
        started = time.perf_counter()
        try:
            return await sign()
        finally:
            signing[0] += time.perf_counter() - started

    before = await Posting.count()
    checkpoints.write_after_change = timed_sign
    try:
        started = time.perf_counter()
        run, _ = await payments.create_run(boss, cid, PaymentRunIn(
            period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)), None, "run")
        await payments.approve_run(Principal(organisation_id=boss.organisation_id,
                                             role="commissioner", label="bench: checker"),
                                   run.id)
        await payments.pay_run(boss, run.id)
        took = time.perf_counter() - started
    finally:
        checkpoints.write_after_change = sign
    return took, await Posting.count() - before, signing[0]


def payment_runs(claims: int, rounds: int) -> tuple[list[tuple[float, int, float]], bool]:
    """The payment run `rounds` times, each on a fresh copy of one database of `claims`
    approved claims; the rounds, and whether every paid journal verifies."""
    from core.database import bind, make_engine
    from ledger.verify import verify

    template = asyncio.run(recreate(BENCH))
    cid, boss = asyncio.run(approved(template, claims))
    results, ok = [], True
    try:
        for _ in range(rounds):
            url = asyncio.run(recreate(PAID, template=BENCH))
            bind(make_engine(url))
            results.append(asyncio.run(pay(cid, boss)))
            ok = ok and asyncio.run(verify(url)).ok
    finally:
        asyncio.run(drop(PAID))
        asyncio.run(drop(BENCH))
    return results, ok


def hordak(transfers: int) -> dict:
    """django-hordak's rates (`benchmarks/hordak_baseline.py`, in .venv-hordak) on a fresh
    database of the same PostgreSQL."""
    url = asyncio.run(recreate(HORDAK))
    try:
        done = subprocess.run([str(HORDAK_PYTHON), str(ROOT / "benchmarks" / "hordak_baseline.py"),
                               "--url", url, "--transfers", str(transfers)],
                              cwd=ROOT, capture_output=True, text=True)
    finally:
        asyncio.run(drop(HORDAK))
    if done.returncode != 0:
        raise RuntimeError(f"the django-hordak baseline failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


BASELINE_SCHEMA = """
CREATE TABLE accounts (id uuid PRIMARY KEY, balance bigint NOT NULL DEFAULT 0,
                       version bigint NOT NULL DEFAULT 0);
CREATE TABLE transfers (id uuid PRIMARY KEY, from_account uuid NOT NULL REFERENCES accounts,
                        to_account uuid NOT NULL REFERENCES accounts, amount bigint NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE entries (id uuid PRIMARY KEY, account uuid NOT NULL REFERENCES accounts,
                      transfer uuid NOT NULL REFERENCES transfers, amount bigint NOT NULL,
                      balance_after bigint NOT NULL, version bigint NOT NULL);
CREATE INDEX ON entries (account);
"""


async def baseline(url: str, n: int) -> tuple[float, int]:
    """Each payment in its own transaction: lock both accounts FOR UPDATE (in id order),
    move the balances, insert the transfer and its two entries."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(BASELINE_SCHEMA)
        payable, paid = sorted([uuid.uuid4(), uuid.uuid4()])
        await conn.executemany("INSERT INTO accounts (id) VALUES ($1)", [(payable,), (paid,)])
        started = time.perf_counter()
        for _ in range(n):
            async with conn.transaction():
                rows = await conn.fetch("SELECT id, balance, version FROM accounts "
                                        "WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                                        [payable, paid])
                state = {r["id"]: (r["balance"], r["version"]) for r in rows}
                transfer = uuid.uuid4()
                await conn.execute("INSERT INTO transfers (id, from_account, to_account, "
                                   "amount) VALUES ($1, $2, $3, $4)",
                                   transfer, paid, payable, 3_500_000)
                for account, amount in ((payable, 3_500_000), (paid, -3_500_000)):
                    balance, version = state[account]
                    await conn.execute("UPDATE accounts SET balance = $2, version = $3 "
                                       "WHERE id = $1", account, balance + amount, version + 1)
                    await conn.execute("INSERT INTO entries VALUES ($1, $2, $3, $4, $5, $6)",
                                       uuid.uuid4(), account, transfer, amount,
                                       balance + amount, version + 1)
        return time.perf_counter() - started, 2 * n
    finally:
        await conn.close()


async def journal_of(url: str, n: int) -> None:
    """Write `n` balanced, correctly chained entries straight into a fresh journal."""
    from core.database import bind, make_engine, migrate
    from ledger.journal import GENESIS, EntryFacts, PostingLine, chain_hash

    bind(make_engine(url))
    await migrate()
    conn = await asyncpg.connect(url)
    try:
        a, b, org, cid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await conn.execute("INSERT INTO organisation (id, name, kind, identifier, created_at) "
                           "VALUES ($1, 'Bench', 'municipality', 'DK-CVR-1', now())", org)
        await conn.execute("INSERT INTO contract (id, reference, title, intervention, "
                           "provider, currency, status, version, created_at) VALUES "
                           "($1, 'BENCH', 'Bench', '', $2, 'DKK', 'active', 1, now())",
                           cid, org)
        await conn.execute("INSERT INTO account (id, contract, organisation, code, currency, "
                           "name) VALUES ($1, $3, $4, 'payable', 'DKK', 'a'), "
                           "($2, $3, $4, 'paid', 'DKK', 'b')", a, b, cid, org)
        prev, at = GENESIS, dt.datetime.now(dt.UTC)
        for start in range(1, n + 1, 100_000):
            entries, postings = [], []
            for seq in range(start, min(n, start + 99_999) + 1):
                eid = uuid.uuid4()
                amount = 100 + seq % 7
                lines = (PostingLine(a, cid, org, "payable", "DKK", amount),
                         PostingLine(b, cid, org, "paid", "DKK", -amount))
                facts = EntryFacts(seq=seq, id=eid, kind="payment",
                                   effective_on=dt.date(2025, 1, 1), recorded_at=at,
                                   contract=cid, idempotency_key=f"pay:{seq}", reverses=None,
                                   memo="", postings=lines)
                digest = chain_hash(prev, facts)
                entries.append((eid, seq, "payment", dt.date(2025, 1, 1), at, cid,
                                f"pay:{seq}", "", "", prev, digest))
                postings += [(uuid.uuid4(), eid, seq, p.account, p.amount, p.currency)
                             for p in lines]
                prev = digest
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "journal_entry", records=entries,
                    columns=["id", "seq", "kind", "effective_on", "recorded_at", "contract",
                             "idempotency_key", "reverses", "memo", "prev_hash", "hash"])
                await conn.copy_records_to_table(
                    "posting", records=postings,
                    columns=["id", "entry", "entry_seq", "account", "amount", "currency"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def floor(url: str) -> tuple[float, int]:
    """The least any verifier must do: read the same rows (COPY out of PostgreSQL) and
    SHA-256 the same canonical bytes once each, chained. The bytes are built beforehand,
    outside the timing, so the floor is reading plus hashing alone."""
    import hashlib
    import io

    from ledger.journal import GENESIS, canonical_bytes, timestamp

    conn = await asyncpg.connect(url)
    try:
        accounts = {r["id"]: r for r in await conn.fetch(
            "SELECT id, contract, organisation, code FROM account")}
        posts: dict[int, list] = {}
        for r in await conn.fetch("SELECT entry_seq, account, currency, amount FROM posting"):
            a = accounts[r["account"]]
            posts.setdefault(r["entry_seq"], []).append(
                (str(r["account"]), str(a["contract"]), str(a["organisation"]), a["code"],
                 r["currency"], r["amount"]))
        blobs = [canonical_bytes(e["seq"], str(e["id"]), e["kind"],
                                 e["effective_on"].isoformat(), timestamp(e["recorded_at"]),
                                 str(e["contract"]), e["idempotency_key"], None, e["memo"],
                                 posts[e["seq"]])
                 for e in await conn.fetch("SELECT * FROM journal_entry ORDER BY seq")]
        started = time.perf_counter()
        for table in ("account", "journal_entry", "posting"):
            await conn.copy_from_table(table, output=io.BytesIO(), format="binary")
        prev = bytes.fromhex(GENESIS)
        sha256 = hashlib.sha256
        for blob in blobs:
            prev = bytes.fromhex(sha256(prev + blob).hexdigest())
        return time.perf_counter() - started, len(blobs)
    finally:
        await conn.close()


def verify_only(entries: int, rounds: int) -> None:
    """verify-ledger (the auditor's mode, `ledger.verify.verify`) beside its floor, taken
    in turn `rounds` times on the same journal so that both see the same load; medians."""
    import statistics

    from ledger.verify import verify

    verify_url = asyncio.run(recreate(VERIFY))
    try:
        asyncio.run(journal_of(verify_url, entries))
        floors, verifies, ok = [], [], True
        for _ in range(rounds):
            floor_s, n = asyncio.run(floor(verify_url))
            started = time.perf_counter()
            report = asyncio.run(verify(verify_url))
            verifies.append(time.perf_counter() - started)
            floors.append(floor_s)
            ok = ok and report.ok and report.entries == n
    finally:
        asyncio.run(drop(VERIFY))
    floor_s, verify_s = statistics.median(floors), statistics.median(verifies)
    print(f"machine: {machine()}")
    print(f"floor, COPY the rows out and SHA-256 the same bytes: {floor_s:.2f} s, "
          f"{n / floor_s:,.0f} entries/s (rounds: {', '.join(f'{t:.2f}' for t in floors)})")
    print(f"verify-ledger over {n} entries: {verify_s:.2f} s, {n / verify_s:,.0f} entries/s, "
          f"ok={ok} (rounds: {', '.join(f'{t:.2f}' for t in verifies)})")
    print(f"ratio to the floor: {floor_s / verify_s:.2f} (target >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pay-rounds", type=int, default=3,
                        help="the payment run this often, each on a fresh copy of the same "
                             "approved claims; the median is reported")
    parser.add_argument("--hordak-transfers", type=int, default=None,
                        help="transfers per way for django-hordak (default: --claims)")
    parser.add_argument("--no-hordak", action="store_true",
                        help="leave django-hordak out (it needs `make benchmark-deps`)")
    parser.add_argument("--verify-only", action="store_true",
                        help="only verify-ledger against its floor")
    parser.add_argument("--rounds", type=int, default=3,
                        help="verify-only: floor and verify-ledger taken in turn this often; "
                             "the medians are reported")
    args = parser.parse_args()

    from ledger.verify import verify

    if args.verify_only:
        verify_only(args.entries, args.rounds)
        return

    if not args.no_hordak and not HORDAK_PYTHON.exists():
        sys.exit("django-hordak is measured in its own virtualenv: run `make benchmark-deps` "
                 "first (or pass --no-hordak)")
    rounds, ok = payment_runs(args.claims, args.pay_rounds)
    run_s, postings, signing_s = sorted(rounds)[len(rounds) // 2]
    base_url = asyncio.run(recreate(BASE))
    base_s, base_postings = asyncio.run(baseline(base_url, args.claims))
    hordak_rates = None if args.no_hordak else hordak(args.hordak_transfers or args.claims)

    verify_url = asyncio.run(recreate(VERIFY))
    asyncio.run(journal_of(verify_url, args.entries))
    started = time.perf_counter()
    report = asyncio.run(verify(verify_url))
    verify_s = time.perf_counter() - started
    for name in (BASE, VERIFY):
        asyncio.run(drop(name))

    # One payment is one entry of two postings (one commissioner), as one baseline
    # transfer and one hordak transaction are two entries and two legs.
    payments = postings // 2
    pay_rate, base_rate = payments / run_s, base_postings / 2 / base_s
    print(f"machine: {machine()}")
    print(f"payment run over {args.claims} approved claims: {run_s:.2f} s (median of "
          f"{', '.join(f'{r[0]:.2f}' for r in rounds)}), of which {signing_s:.2f} s the "
          f"checkpoint it signs; {payments:,} payments, {pay_rate:,.0f} payments/s, "
          f"{postings / run_s:,.0f} postings/s (journals verify: {ok})")
    print(f"baseline, one transaction per payment with row locks: {base_s:.2f} s, "
          f"{base_rate:,.0f} payments/s; ratio {pay_rate / base_rate:.1f} (target >= 3)")
    if hordak_rates is not None:
        print(f"django-hordak {hordak_rates['hordak']} (Django {hordak_rates['django']}), "
              f"batches of 1,000 in one atomic block each:")
        for way in ("transfer_to", "bulk_create"):
            r = hordak_rates[way]
            print(f"  {way}: {r['transfers']:,} transfers in {r['seconds']:.2f} s, "
                  f"{r['per_second']:,.0f} transfers/s; ratio {pay_rate / r['per_second']:.1f}")
        print("  target: >= 28 x hordak's batched rate")
    print(f"verify-ledger over {report.entries} entries: {verify_s:.2f} s, "
          f"{report.entries / verify_s:,.0f} entries/s (target >= 300,000), ok={report.ok}")


if __name__ == "__main__":
    main()
