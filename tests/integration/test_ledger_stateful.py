"""Hypothesis drives the whole money flow in random order: submissions, samples,
verification, repeated and simultaneous approvals, payment runs (paid twice too) and
clawbacks. After every step the books must hold: the trial balance is zero, no cap is
exceeded, no claim is paid twice, and the hash chain verifies."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts.errors import DomainError
from ledger.balances import contract_balance, trial_balance
from ledger.tables import JournalEntry
from ledger.verify import engine_dsn, verify
from outcomes import intake, payments, verification
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from outcomes.tables import Claim
from tests.helpers import active_contract, principal, world

ENROLLED = dt.date(2024, 2, 1)
CAP = 12_000_000
PER_PARTICIPANT = 5_000_000
METRICS = ["housing_entry", "housing_entry", "employment", "self_employment",
           "housing_sustained_3m"]
_counter = itertools.count()


def run(coro):
    return asyncio.run(coro)


class Books(RuleBasedStateMachine):
    w = None  # the world is built once per database

    @initialize()
    def contract(self):
        if Books.w is None:
            Books.w = run(world())
        self.cid = run(active_contract(
            Books.w, sampling_rate_bp=3000, cap={"amount": CAP, "currency": "DKK"},
            per_participant_cap={"amount": PER_PARTICIPANT, "currency": "DKK"}))
        self.provider = principal(Books.w.ids["provider"], "provider")
        self.boss = principal(Books.w.ids["commissioner"], "commissioner")
        run(intake.submit_participants(self._sub("participants", None), [
            (i, ParticipantIn(pseudonym=f"P-{i}", enrolled_on=ENROLLED), [])
            for i in range(1, 6)]))
        self.keys: list[tuple[str, list]] = []

    def _sub(self, kind, key, body="b"):
        return intake.Submission(principal=self.provider, contract_id=self.cid, kind=kind,
                                 idempotency_key=key, body_hash=body)

    async def _claims(self, *statuses):
        return [r["id"] for r in await Claim.select(Claim.id).where(
            (Claim.contract == self.cid) & Claim.status.is_in(list(statuses)))]

    @rule(rows=st.lists(st.tuples(st.integers(1, 5), st.sampled_from(METRICS),
                                  st.integers(0, 200)), min_size=1, max_size=8),
          replay=st.booleans())
    def submit(self, rows, replay):
        if replay and self.keys:
            key, claims = self.keys[-1]
        else:
            n = next(_counter)
            claims = [(i, ClaimIn(client_ref=f"{n}-{i}", pseudonym=f"P-{p}", metric_code=m,
                                  achieved_on=ENROLLED + dt.timedelta(days=d),
                                  evidence_ref="e"), [])
                      for i, (p, m, d) in enumerate(rows, start=1)]
            key = f"k{n}"
            self.keys.append((key, claims))
        run(intake.submit_claims(self._sub("claims", key, key), claims))

    @rule()
    def draw(self):
        try:
            run(verification.draw_sample(self.boss, self.cid, None))
        except DomainError:
            pass

    @rule(dispute=st.booleans())
    def decide(self, dispute):
        sampled = run(self._claims("sampled"))
        if sampled:
            run(verification.decide(self.boss, sampled[0], "dispute" if dispute else "verify",
                                    "checked"))

    @rule(copies=st.integers(1, 3), take=st.integers(1, 8), draw_first=st.booleans())
    def approve(self, copies, take, draw_first):
        async def go():
            if draw_first:
                try:
                    await verification.draw_sample(self.boss, self.cid, None)
                except DomainError:
                    pass
            ready = [r["id"] for r in await Claim.select(Claim.id).where(
                (Claim.contract == self.cid) & (
                    ((Claim.status == "accepted") & Claim.sample.is_not_null())
                    | Claim.status.is_in(["verified", "approved"])))]
            ids = ready[:take]
            if not ids:
                return
            out = await asyncio.gather(*[verification.approve(self.boss, self.cid, ids, "")
                                         for _ in range(copies)], return_exceptions=True)
            # Refusals (a cap, a claim clawed back meanwhile) are answers; anything else is
            # a bug.
            assert all(isinstance(o, DomainError) for o in out if isinstance(o, Exception))
        run(go())

    @rule(twice=st.booleans())
    def pay(self, twice):
        async def go():
            try:
                r, _ = await payments.create_run(self.boss, self.cid, PaymentRunIn(
                    period_from=dt.date(2024, 1, 1), period_to=dt.date(2030, 1, 1)), None,
                    uuid.uuid4().hex)
            except DomainError:
                return
            await payments.approve_run(self.boss, r.id)
            await payments.pay_run(self.boss, r.id)
            if twice:
                await payments.pay_run(self.boss, r.id)
        run(go())

    @rule(pick=st.integers(0, 20))
    def clawback(self, pick):
        done = run(self._claims("approved", "paid"))
        if done:
            try:
                run(payments.clawback(self.boss, done[pick % len(done)], "found wanting"))
            except DomainError:
                pass  # in an unpaid payment run

    @invariant()
    def books_hold(self):
        if not hasattr(self, "cid"):
            return

        async def check():
            assert all(v == 0 for v in (await trial_balance()).values())
            b = await contract_balance(self.cid, "DKK", dt.date(2100, 1, 1))
            assert b.accrued - b.clawed_back <= CAP
            assert b.paid <= b.accrued and b.remaining >= 0
            paid_keys = [r["idempotency_key"] for r in await JournalEntry.select(
                JournalEntry.idempotency_key).where(JournalEntry.kind == "payment")]
            assert len(paid_keys) == len(set(paid_keys))
            per = {}
            for r in await Claim.select(Claim.participant, Claim.amount).where(
                    (Claim.contract == self.cid) & Claim.status.is_in(["approved", "paid"])):
                per[r["participant"]] = per.get(r["participant"], 0) + r["amount"]
            assert all(v <= PER_PARTICIPANT for v in per.values())
            assert (await verify(engine_dsn())).ok
        run(check())


async def test_the_books_hold_whatever_happens(db):
    Books.w = None
    runs = 20 if db.kind == "sqlite" else 8
    case = Books.TestCase
    case.settings = settings(max_examples=runs, stateful_step_count=25, deadline=None,
                             suppress_health_check=list(HealthCheck))
    await asyncio.to_thread(case().runTest)



