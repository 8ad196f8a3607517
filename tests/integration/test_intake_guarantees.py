"""Intake's guarantees on both engines: idempotency under concurrency, atomicity under
faults, caps under any sequence of batches, reproducible samples."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.errors import Conflict
from outcomes import intake, sampling, usage, verification
from outcomes.rules import COUNTED
from outcomes.schemas import ClaimIn, ParticipantIn
from outcomes.tables import Claim, ClaimEvent, IntakeBatch
from tests.helpers import active_contract, principal, world

ENROLLED = dt.date(2024, 2, 1)


def sub(w, cid, kind="claims", key=None, body="b") -> intake.Submission:
    return intake.Submission(principal=principal(w.ids["provider"], "provider"),
                             contract_id=cid, kind=kind, idempotency_key=key, body_hash=body)


async def enrol(w, cid, n: int) -> None:
    rows = [(i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
            for i in range(1, n + 1)]
    await intake.submit_participants(sub(w, cid, "participants"), rows)


def claims(n: int, metric="housing_entry", days=30, prefix="c") -> list:
    return [(i, ClaimIn(client_ref=f"{prefix}{i}", pseudonym=f"P-{i}", metric_code=metric,
                        achieved_on=ENROLLED + dt.timedelta(days=days),
                        evidence_ref=f"lease-{i}"), []) for i in range(1, n + 1)]


async def test_twenty_identical_submissions_at_once_create_one_set(db):
    w = await world()
    cid = await active_contract(w)
    await enrol(w, cid, 50)
    results = await asyncio.gather(*[
        intake.submit_claims(sub(w, cid, key="same-key", body="h"), claims(50))
        for _ in range(20)])
    assert sum(not replayed for _, replayed in results) == 1
    assert len({r.batch_id for r, _ in results}) == 1
    assert await Claim.count() == 50
    assert await IntakeBatch.count().where(IntakeBatch.kind == "claims") == 1


async def test_simultaneous_batches_with_the_same_refs_accrue_once(db):
    w = await world()
    cid = await active_contract(w)
    await enrol(w, cid, 30)
    results = await asyncio.gather(*[
        intake.submit_claims(sub(w, cid, key=f"key-{i}", body=f"h{i}"), claims(30))
        for i in range(10)])
    assert await Claim.count() == 30
    ids = {tuple(r.id for r in report.results) for report, _ in results}
    assert len(ids) == 1  # every batch names the same 30 claims


async def test_the_contract_cap_holds_under_simultaneous_batches(db):
    w = await world()
    # Room for exactly 7 housing entries of 15,000 DKK.
    cid = await active_contract(w, cap={"amount": 7 * 1_500_000 + 1, "currency": "DKK"})
    await enrol(w, cid, 40)
    await asyncio.gather(*[
        intake.submit_claims(sub(w, cid, key=f"k{i}", body=f"h{i}"),
                             claims(40, prefix=f"b{i}-")) for i in range(4)])
    counted = await Claim.select(Claim.amount).where(Claim.status.is_in(list(COUNTED)))
    assert sum(r["amount"] for r in counted) == 7 * 1_500_000


async def test_a_fault_mid_batch_leaves_no_partial_batch(db):
    w = await world()
    cid = await active_contract(w, cap={"amount": 10**10, "currency": "DKK"})
    await enrol(w, cid, 300)
    if db.kind == "sqlite":
        trigger = ("CREATE TRIGGER boom BEFORE INSERT ON claim WHEN NEW.client_ref = 'c250' "
                   "BEGIN SELECT RAISE(ABORT, 'disk failure'); END")
        drop = "DROP TRIGGER boom"
    else:
        await db.engine.run_ddl(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.client_ref = 'c250' THEN RAISE EXCEPTION 'disk failure'; END IF; "
            "RETURN NEW; END $$")
        trigger = ("CREATE TRIGGER boom BEFORE INSERT ON claim FOR EACH ROW "
                   "EXECUTE FUNCTION boom()")
        drop = "DROP TRIGGER boom ON claim"
    await db.engine.run_ddl(trigger)
    with pytest.raises(Exception, match="disk failure"):
        await intake.submit_claims(sub(w, cid, key="k", body="h"), claims(300))
    assert await Claim.count() == 0
    assert await IntakeBatch.count().where(IntakeBatch.kind == "claims") == 0
    await db.engine.run_ddl(drop)
    report, replayed = await intake.submit_claims(sub(w, cid, key="k", body="h"), claims(300))
    assert not replayed and report.accepted == 300
    assert await Claim.count() == 300


async def test_a_dropped_connection_mid_upload_records_nothing(db, api):
    w = await world()
    cid = await active_contract(w)
    await enrol(w, cid, 5)
    body = msgspec.json.encode([c for _, c, _ in claims(5)])
    app = api._transport.app
    events = [{"type": "http.request", "body": body[:40], "more_body": True},
              {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": f"/api/v1/contracts/{cid}/claims",
             "raw_path": f"/api/v1/contracts/{cid}/claims".encode(), "query_string": b"",
             "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {w.keys['provider']}".encode()),
                         (b"idempotency-key", b"dropped")]}
    await app(scope, receive, send)
    assert await Claim.count() == 0
    assert await IntakeBatch.count().where(IntakeBatch.kind == "claims") == 0


async def test_samples_are_reproducible_from_the_seed(db):
    w = await world()
    cid = await active_contract(w, sampling_rate_bp=3000)
    await enrol(w, cid, 60)
    await intake.submit_claims(sub(w, cid, key="k"), claims(60))
    boss = principal(w.ids["commissioner"], "commissioner")
    draw = await verification.draw_sample(boss, cid, "seed-for-audit-2024")
    population = [r["id"] for r in await Claim.select(Claim.id).where(
        Claim.sample == draw.id).order_by(Claim.id)]
    assert len(population) == draw.population == 60
    assert draw.selected_claim_ids == sampling.select("seed-for-audit-2024", population, 3000)
    assert 5 <= draw.selected <= 35
    sampled = {r["id"] for r in await Claim.select(Claim.id).where(Claim.status == "sampled")}
    assert sampled == set(draw.selected_claim_ids)
    with pytest.raises(Conflict):
        await verification.draw_sample(boss, cid, None)


async def test_approval_waits_for_the_draw_and_for_verification(db):
    w = await world()
    cid = await active_contract(w, sampling_rate_bp=5000)
    await enrol(w, cid, 20)
    report, _ = await intake.submit_claims(sub(w, cid, key="k"), claims(20))
    ids = [r.id for r in report.results]
    boss = principal(w.ids["commissioner"], "commissioner")
    with pytest.raises(Conflict) as err:
        await verification.approve(boss, cid, ids[:1], "")
    assert err.value.problems[0].code == "not_yet_sampled"
    draw = await verification.draw_sample(boss, cid, "seed-1234")
    chosen = draw.selected_claim_ids
    clear = [i for i in ids if i not in chosen]
    assert chosen and clear
    with pytest.raises(Conflict) as err:
        await verification.approve(boss, cid, clear + chosen[:1], "")
    assert [p.code for p in err.value.problems] == ["not_verified"]
    assert await Claim.count().where(Claim.status == "approved") == 0  # all or none
    await verification.decide(boss, chosen[0], "verify", "lease seen")
    if len(chosen) > 1:
        await verification.decide(boss, chosen[1], "dispute", "lease not signed")
        with pytest.raises(Conflict):
            await verification.approve(boss, cid, chosen[1:2], "")
    out = await verification.approve(boss, cid, clear + chosen[:1], "October run")
    assert out.accrued.amount == 1_500_000 * (len(clear) + 1)
    assert await usage.load(cid) == await usage.recompute(cid)  # the disputed one left
    events = await ClaimEvent.select(ClaimEvent.to_status).where(ClaimEvent.claim == chosen[0])
    assert [e["to_status"] for e in events] == ["sampled", "verified", "approved"]


batches = st.lists(st.lists(st.tuples(
    st.integers(min_value=1, max_value=6),
    st.sampled_from(["housing_entry", "housing_sustained_3m", "employment", "self_employment"]),
    st.integers(min_value=0, max_value=200)), min_size=1, max_size=8), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=batches, cap_k=st.integers(min_value=1, max_value=10))
async def test_no_sequence_of_batches_gets_more_accepted_than_the_caps_allow(db, batches,
                                                                             cap_k):
    w = await world() if not getattr(db, "world", None) else db.world
    db.world = w
    cap = cap_k * 1_000_000
    cid = await active_contract(w, cap={"amount": cap, "currency": "DKK"},
                                per_participant_cap={"amount": min(cap, 4_000_000),
                                                     "currency": "DKK"})
    await enrol(w, cid, 6)
    for n, batch in enumerate(batches):
        rows = [(i, ClaimIn(client_ref=f"{n}-{i}", pseudonym=f"P-{p}", metric_code=m,
                            achieved_on=ENROLLED + dt.timedelta(days=d), evidence_ref="e"), [])
                for i, (p, m, d) in enumerate(batch, start=1)]
        await intake.submit_claims(sub(w, cid, key=uuid.uuid4().hex), rows)
    counted = await Claim.select(Claim.participant, Claim.line_code, Claim.amount).where(
        (Claim.contract == cid) & Claim.status.is_in(list(COUNTED)))
    assert sum(r["amount"] for r in counted) <= cap
    per = {}
    for r in counted:
        per.setdefault(r["participant"], []).append(r)
    for rows in per.values():
        assert sum(r["amount"] for r in rows) <= min(cap, 4_000_000)
        assert not ({"job", "own-business"} <= {r["line_code"] for r in rows})
    assert await usage.load(cid) == await usage.recompute(cid)
