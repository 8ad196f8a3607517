"""One contract's money flow as a Hypothesis state machine.

Each example activates a fresh contract (two commissioners, 60/40) and drives it through
enrolments, claims, verification draws, verification and disputes, approvals, payment runs
(drafted, approved, paid, paid again), clawbacks of approved and of paid claims, variations
of the cap and of the shares (proposed by one commissioner, accepted by the other),
suspensions and resumptions, and on PostgreSQL two of these at once from two connections.

Every rule predicts from the state before it what the service must answer, and lets through
only that refusal, by class and code (`expect`). Any other error, an unbalanced entry
(`LedgerError`, code entry_unbalanced) or a database's IntegrityError among them, fails the
run, and so does every broken invariant (`invariants.check`) after each step. `note`
records each path taken as a Hypothesis event and in `EVENTS`, which the tests read to
prove that the paths ran; `target` steers towards paid and clawed-back claims.

Preconditions keep the rules that move money to the states in which they can succeed.
Hypothesis turns some rules off in each example (swarm testing). So that an example never
runs out of rules that may run, `submit` and `refuse` (a step the state does not allow,
refused as it must be) are almost always possible; so that money still moves when a rule is
off, approval, payment and clawback can each be reached from several rules (a draw or a
verification may approve, an approval may pay and claw back); and rules that would crowd out
the rest (suspension, variation, replay) rest for a few steps after they ran.

Hypothesis replays steps and expects the same choices to be open after them: the state must
follow from the steps alone. Hence sampling rates of 0 or 100 % only (which claims a partial
draw selects depends on the claims' ids, which are partly random), and races on PostgreSQL
whose outcome is settled the same way whichever step won.

Beside this module: `running` (the loop, `expect`, events), `plans` (terms, payment periods,
claims to send), `races` (the PostgreSQL race rule) and `invariants` (what must hold).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from typing import Any
from uuid import UUID

import hypothesis
import msgspec
from hypothesis import settings, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Invalid
from contracts.money import Money
from contracts.schemas import CommissionerShare, VariationIn
from ledger import commitments
from ledger.verify import JournalState
from outcomes import intake, payments, verification
from outcomes.sampling import is_selected
from outcomes.schemas import ParticipantIn, PaymentRunIn
from tests.helpers import World, active_contract, principal, world
from tests.property.invariants import Seen, check, check_journal, observe, paid_claims
from tests.property.plans import (
    CAP,
    COUNTED,
    ENROL_FROM,
    LINES,
    PER_PARTICIPANT,
    PERIOD_ENDS,
    PERIOD_FROM,
    SHARES,
    after,
    plan,
)
from tests.property.races import Races
from tests.property.running import Refusal, expect, note, own_loop, run


def run_machine(machine_settings: settings, db, seed: int | str | None = None) -> None:
    """Run `Books` as a Hypothesis test against the test database `db`, in a thread that
    has no event loop; with `seed`, Hypothesis draws from it (`hypothesis.seed`). Every step
    runs on one loop of the run's own, so that on PostgreSQL a connection pool (each
    transaction takes its own connection from it) lasts the run."""
    machine = Books if seed is None else hypothesis.seed(seed)(
        type("Books", (Books,), {"__module__": __name__}))
    Books.world, Books.proved = None, None  # each test has a database of its own
    Books.postgres = db.kind == "postgres"
    with own_loop():
        if Books.postgres:
            run(db.engine.start_connection_pool(min_size=2, max_size=4))
        try:
            try:
                run_state_machine_as_test(machine, settings=machine_settings)
            except StopIteration as exc:  # a future cannot carry it: the test would hang
                raise RuntimeError("StopIteration escaped a step") from exc
            run(check_journal())  # the whole journal, once more
        finally:
            if Books.postgres:
                run(db.engine.close_connection_pool())


class Books(Races, RuleBasedStateMachine):
    world: World | None = None  # built once per database, by the first example
    postgres = False
    # The journal's head and balances proved so far in this run: each verification goes on
    # from there over every entry since, so every entry is verified, once (and the whole
    # journal again at the end of the run).
    proved: JournalState | None = None

    def __init__(self) -> None:
        super().__init__()
        self.cid: UUID | None = None
        self.seen: Seen | None = None
        self.refs = itertools.count(1)
        self.batches: list[tuple[str, list, Any]] = []  # key, claims, first report
        self.shares_in_force: list[dict[UUID, int]] = []
        self.proposals: list[UUID] = []
        # Steps taken, and when some rules last ran: a contract suspended or varied at every
        # other step would pay little (see `rested`).
        self.steps = 0
        self.last: dict[str, int] = {}

    # Who is who -------------------------------------------------------------------------

    @property
    def provider(self):
        return principal(Books.world.ids["provider"], "provider")

    @property
    def boss(self):
        return principal(Books.world.ids["commissioner"], "commissioner")

    @property
    def checker(self):
        """A second person of the commissioner's organisation: approves the payment runs
        `boss` drafts (maker-checker)."""
        return msgspec.structs.replace(self.boss, label="test:checker")

    @property
    def co(self):
        return principal(Books.world.ids["co_commissioner"], "commissioner")

    def _sub(self, kind: str, key: str | None, body: str | None = None
             ) -> intake.Submission:
        return intake.Submission(principal=self.provider, contract_id=self.cid, kind=kind,
                                 idempotency_key=key, body_hash=body or key or kind)

    # What the state allows ----------------------------------------------------------------

    def rested(self, what: str, steps: int) -> bool:
        """Whether `what` last ran `steps` or more steps ago (or never)."""
        return self.seen is not None and bool(self.seen.claims) and (
            self.steps - self.last.get(what, -steps) >= steps)

    def has_claims(self) -> bool:
        return self.seen is not None and bool(self.seen.claims)

    def active(self) -> bool:
        return self.seen is not None and self.seen.contract["status"] == "active"

    def suspended(self) -> bool:
        return self.seen is not None and self.seen.contract["status"] == "suspended"

    def approvable(self) -> list[dict]:
        return [c for c in self.seen.claims if c["status"] == "verified" or (
            c["status"] == "accepted" and c["sample"] is not None)] if self.seen else []

    def unapprovable(self) -> dict[str, list[dict]]:
        """Claims approval must refuse, by the problem code it must give."""
        s = self.seen
        return {"not_yet_sampled": [c for c in s.claims_in("accepted") if c["sample"] is None],
                "not_verified": s.claims_in("sampled"),
                "not_approvable": s.claims_in("disputed", "reversed")}

    def unpaid(self) -> list[dict]:
        """Approved claims in no payment run: what a new run collects, or a clawback takes."""
        if self.seen is None:
            return []
        taken = self.seen.in_run()
        return [c for c in self.seen.claims_in("approved") if c["id"] not in taken]

    def runs(self, *statuses: str) -> list[dict]:
        return [r for r in self.seen.runs if r["status"] in statuses] if self.seen else []

    # Setting up ---------------------------------------------------------------------------

    @initialize(enrolled=st.lists(st.integers(0, 540), min_size=4, max_size=8),
                sampling=st.sampled_from([0, 10_000]), seed=st.integers(0, 10**6),
                first=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(list(LINES)),
                                         st.integers(0, 1000), st.just(True)),
                               min_size=1, max_size=6),
                history=st.sampled_from(["new", "approved", "paid"]))
    def contract(self, enrolled: list[int], sampling: int, seed: int, first, history: str
                 ) -> None:
        """A new active contract with participants and a first batch of claims, drawn, and
        by `history` those claims verified and approved, or approved and paid too: a
        contract in mid-life, with money to pay and claw back from the first step.
        Sampling is all or nothing (variations may switch it), so that what a draw selects
        does not depend on the claims' ids, which are partly random: Hypothesis needs a
        replayed step to find the same state."""
        async def go():
            if Books.world is None:
                Books.world = await world()
            self.cid = await active_contract(
                Books.world, sampling_rate_bp=sampling, cap={"amount": CAP, "currency": "DKK"},
                per_participant_cap={"amount": PER_PARTICIPANT, "currency": "DKK"})
            await self._enrol(enrolled)
            self.seen = await observe(self.cid)
            self.shares_in_force.append(self.seen.shares())
            Books.proved = await check_journal(Books.proved)
            await self._submit(first)
            self.seen = await observe(self.cid)
            await self._draw(seed)
            if history == "new":
                return
            self.seen = await observe(self.cid)
            for c in self.seen.claims_in("sampled"):
                await expect("verify sampled", verification.decide(
                    self.boss, c["id"], "verify", "checked against the case file"))
            self.seen = await observe(self.cid)
            await self._approve_ready(self.approvable())
            self.seen = await observe(self.cid)
            if history == "paid" and self.unpaid():
                await self._pay(PERIOD_ENDS[-1], "pay")
        run(go())
        note(f"sampling rate {sampling} bp")

    async def _enrol(self, offsets: list[int]) -> None:
        first = len(self.seen.participants) if self.seen else 0
        rows = [(i, ParticipantIn(pseudonym=f"P-{first + i}",
                                  enrolled_on=after(ENROL_FROM, d)), [])
                for i, d in enumerate(offsets, start=1)]
        refusal = (Conflict, "contract_not_active") if self.suspended() else None
        out = await expect("enrol", intake.submit_participants(self._sub("participants", None),
                                                               rows), refusal)
        if refusal is None:
            report, _ = out
            assert report.accepted == len(rows), report

    # Claims -------------------------------------------------------------------------------

    async def _submit(self, rows, refusal: Refusal | None = None) -> None:
        key, claims = f"batch-{next(self.refs)}", plan(self.seen, rows, self.refs)
        if refusal is None and self.suspended():
            refusal = (Conflict, "contract_not_active")
        out = await expect("submit", intake.submit_claims(
            self._sub("claims", key), [(i, c, []) for i, c in enumerate(claims, start=1)]),
            refusal)
        if isinstance(out, DomainError):
            return
        report, replayed = out
        assert not replayed
        self.batches.append((key, claims, report))
        for r in report.results:
            if r.status == "accepted":
                assert r.amount.amount == LINES[r.line_code][1], r
                note("claim accepted")
            else:
                note(f"claim rejected: {r.errors[0].code}")

    def room(self) -> int:
        """What the cap leaves for new claims (claims count against it once accepted)."""
        counted = sum(c["amount"] for c in self.seen.claims_in(*COUNTED))
        return self.seen.terms.cap.amount - counted

    @precondition(lambda self: self.seen is not None and self.room() >= 1_000_000)
    @rule(rows=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(list(LINES)),
                                  st.integers(0, 1000), st.integers(0, 4).map(bool)),
                        min_size=1, max_size=8),
          then_draw=st.booleans(), seed=st.integers(0, 10**6),
          newcomers=st.lists(st.integers(0, 540), max_size=2))
    def submit(self, rows, then_draw: bool, seed: int, newcomers: list[int]) -> None:
        async def go():
            if newcomers and len(self.seen.participants) < 12:
                await self._enrol(newcomers)
                self.seen = await observe(self.cid)
            await self._submit(rows)
            if then_draw:
                self.seen = await observe(self.cid)
                await self._draw(seed)
        run(go())

    @precondition(lambda self: bool(self.batches) and self.rested("replay", 8))
    @rule(pick=st.integers(0, 20), altered=st.booleans())
    def replay(self, pick: int, altered: bool) -> None:
        """A batch sent again under its Idempotency-Key gets its first report back and
        changes nothing, whatever the contract's status now; with another body, the key
        is refused."""
        self.last["replay"] = self.steps
        key, claims, report = self.batches[-1 - pick % len(self.batches)]
        sub = self._sub("claims", key, key + "-altered" if altered else key)
        out = run(expect("replay altered" if altered else "replay", intake.submit_claims(
            sub, [(i, c, []) for i, c in enumerate(claims, start=1)]),
            (Conflict, "idempotency_key_reused") if altered else None))
        if not altered:
            assert out == (report, True)

    # Verification -------------------------------------------------------------------------

    async def _draw(self, seed: int) -> None:
        waiting = self.unapprovable()["not_yet_sampled"]
        refusal = None if waiting else (Conflict, "nothing_to_sample")
        out = await expect("draw", verification.draw_sample(self.boss, self.cid,
                                                            f"s{seed:07d}"), refusal)
        if refusal is None:
            assert out.population == len(waiting)
            assert sorted(out.selected_claim_ids) == sorted(
                c["id"] for c in waiting if is_selected(out.seed, c["id"], out.rate_bp))

    @precondition(lambda self: self.seen is not None
                  and bool(self.unapprovable()["not_yet_sampled"]))
    @rule(seed=st.integers(0, 10**6), again=st.integers(0, 3).map(lambda n: n == 0),
          then_approve=st.booleans())
    def draw(self, seed: int, again: bool, then_approve: bool) -> None:
        """Draw a verification sample; `again` at once (nothing is left to draw);
        `then_approve` what is ready after it."""
        async def go():
            await self._draw(seed)
            if again:
                self.seen = await observe(self.cid)
                await self._draw(seed + 1)
            if then_approve:
                self.seen = await observe(self.cid)
                await self._approve_ready(self.approvable())
        run(go())

    @precondition(lambda self: self.seen is not None
                  and bool(self.seen.claims_in("sampled", "disputed")))
    @rule(pick=st.integers(0, 50), dispute=st.booleans(), then_approve=st.booleans())
    def decide(self, pick: int, dispute: bool, then_approve: bool) -> None:
        """Verify or dispute a sampled claim, or verify a disputed one; `then_approve` the
        claim once verified."""
        pool = self.seen.claims_in("sampled", "disputed")
        claim = pool[pick % len(pool)]
        action = "dispute" if dispute and claim["status"] == "sampled" else "verify"

        async def go():
            await expect(f"{action} {claim['status']}", verification.decide(
                self.boss, claim["id"], action, "checked against the case file"))
            if then_approve and action == "verify":
                self.seen = await observe(self.cid)
                await self._approve_ready([c for c in self.approvable()
                                           if c["id"] == claim["id"]])
        run(go())

    # Approval -----------------------------------------------------------------------------

    def _approval_refusal(self, fresh: list[dict]) -> Refusal | None:
        """Whether approving `fresh` (claims not yet approved) breaks a cap as things are."""
        terms, seen = self.seen.terms, self.seen
        if seen.accrued + sum(c["amount"] for c in fresh) > terms.cap.amount:
            return (Conflict, "cap_reached")
        per = defaultdict(int)
        for c in [*seen.claims_in("approved", "paid"), *fresh]:
            per[c["participant"]] += c["amount"]
        if any(per[c["participant"]] > terms.per_participant_cap.amount for c in fresh):
            return (Conflict, "cap_reached")
        return None

    async def _approve_ready(self, ready: list[dict]) -> None:
        """Approve claims that are ready, as many as the caps allow."""
        take = len(ready)
        while take and self._approval_refusal(ready[:take]) is not None:
            take -= 1
        if take:
            out = await expect("approve", verification.approve(
                self.boss, self.cid, [c["id"] for c in ready[:take]], ""))
            assert out.accrued.amount == sum(c["amount"] for c in ready[:take])

    @precondition(lambda self: bool(self.approvable()))
    @rule(take=st.integers(1, 10), start=st.integers(0, 50),
          extra=st.sampled_from(["none", "none", "done", "not_yet_sampled", "not_verified",
                                 "not_approvable"]),
          then=st.sampled_from(["nothing", "pay", "nothing", "approve", "draft"]),
          probe=st.booleans(), fit=st.booleans())
    def approve(self, take: int, start: int, extra: str, then: str, probe: bool, fit: bool
                ) -> None:
        """Approve some claims that are ready (`fit`: no more than the caps allow), now and
        then with one that is not (then none is approved), or one approved already (which
        changes nothing); `then` put what is approved and unpaid in a payment run, and
        approve or pay it. `probe`: claw back claims of that run (see `_pay`), or, with no
        run, one just approved."""
        ready = self.approvable()
        start %= max(len(ready), 1)
        fresh = ready[start:start + take]
        while fit and len(fresh) > 1 and self._approval_refusal(fresh) is not None:
            fresh = fresh[:-1]
        ids = [c["id"] for c in fresh]
        refusal = self._approval_refusal(fresh)
        problem = None
        bad = self.unapprovable()
        done = self.seen.claims_in("approved", "paid")
        if extra not in ("none", "done") and any(bad.values()):
            # One that cannot be approved, by the problem code approval must give: then
            # none is approved.
            problem = next(k for k in [extra, *bad] if bad.get(k))
            ids.insert(take % (len(ids) + 1), bad[problem][start % len(bad[problem])]["id"])
            refusal = (Conflict, "not_approvable")
        elif extra == "done" and done:
            ids.append(done[start % len(done)]["id"])  # changes nothing

        async def go():
            out = await expect("approve", verification.approve(self.boss, self.cid, ids, ""),
                               refusal)
            if refusal is None:
                assert out.accrued.amount == sum(c["amount"] for c in fresh), out
            elif problem is not None:
                assert [p.code for p in out.problems] == [problem], out.problems
            if then != "nothing":
                self.seen = await observe(self.cid)
                if self.unpaid():
                    await self._pay(PERIOD_ENDS[-1], then, probe=probe)
            elif probe and refusal is None and fresh:  # the evidence fell through at once
                await expect("clawback approved", payments.clawback(
                    self.boss, fresh[0]["id"], "evidence withdrawn"))
        run(go())

    # Payment runs -------------------------------------------------------------------------

    async def _create_run(self, period_to: dt.date, key: str, refusal: Refusal | None):
        return await expect("create run", payments.create_run(
            self.boss, self.cid, PaymentRunIn(period_from=PERIOD_FROM, period_to=period_to),
            key, key), refusal)

    async def _pay(self, period_to: dt.date, then: str, retry: bool = False,
                   probe: bool = False) -> None:
        """Draft a payment run of the period's approved, unpaid claims; `then` approve it,
        or approve and pay it. `probe`: try to claw back a claim of the run before it is
        paid (refused), and claw one back once it is."""
        due = [c for c in self.unpaid() if PERIOD_FROM <= c["achieved_on"] <= period_to]
        key = f"run-{next(self.refs)}"
        out = await self._create_run(period_to, key,
                                     None if due else (Conflict, "nothing_to_pay"))
        if not due:
            return
        made, replayed = out
        assert not replayed and made.claims == len(due)
        assert made.total.amount == sum(c["amount"] for c in due)
        if retry:  # the same key again: the same run, nothing new
            again, replayed = await self._create_run(period_to, key, None)
            assert replayed and again.id == made.id
        if then in ("approve", "pay"):
            await expect("approve run", payments.approve_run(self.checker, made.id))
        if probe:  # until the run is paid, its claims are the run's
            await expect("clawback approved in run", payments.clawback(
                self.boss, due[0]["id"], "evidence withdrawn"), (Conflict, "in_payment_run"))
        if then == "pay":
            paid = await expect("pay run", payments.pay_run(self.boss, made.id))
            assert paid.status == "paid"
            if probe:  # paid, and then found wanting: the provider owes it back
                await expect("clawback paid", payments.clawback(
                    self.boss, due[-1]["id"], "evidence withdrawn"))

    @precondition(lambda self: bool(self.unpaid()))
    @rule(period_to=st.sampled_from(PERIOD_ENDS[::-1]),
          then=st.sampled_from(["pay", "approve", "draft"]), retry=st.booleans(),
          probe=st.booleans())
    def create_run(self, period_to: dt.date, then: str, retry: bool, probe: bool) -> None:
        run(self._pay(period_to, then, retry, probe))

    @precondition(lambda self: bool(self.runs("draft", "approved")))
    @rule(pick=st.integers(0, 20), action=st.sampled_from(["pay", "approve", "pay twice"]),
          paid=st.integers(0, 4).map(lambda n: n == 0))
    def advance_run(self, pick: int, action: str, paid: bool) -> None:
        """Approve or pay a run: a draft is approved, not paid; an approved one is paid
        (approving it again changes nothing). Now and then a paid run: paid again (changes
        nothing), never approved."""
        runs = (paid and self.runs("paid")) or self.runs("draft", "approved")
        r = runs[pick % len(runs)]
        step = f"{action.split()[0]} {r['status']} run"
        if action == "approve":
            refusal = (Conflict, "invalid_transition") if r["status"] == "paid" else None
            run(expect(step, payments.approve_run(self.checker, r["id"]), refusal))
            return
        refusal = (Conflict, "run_not_approved") if r["status"] == "draft" else None

        async def go():
            await expect(step, payments.pay_run(self.boss, r["id"]), refusal)
            if action == "pay twice" and refusal is None:
                await expect("pay paid run", payments.pay_run(self.boss, r["id"]))
        run(go())

    # Clawbacks ----------------------------------------------------------------------------

    @precondition(lambda self: bool(self.unpaid()
                                    or (self.seen and self.seen.claims_in("paid"))))
    @rule(which=st.sampled_from(["paid", "approved", "paid", "approved", "in_run",
                                 "reversed"]), pick=st.integers(0, 50))
    def clawback(self, which: str, pick: int) -> None:
        """Claw back a paid claim or an approved one in no run; now and then one in an
        unpaid run (refused) or one clawed back already (changes nothing)."""
        taken = self.seen.in_run()
        pools = {
            "paid": (self.seen.claims_in("paid"), None),
            "approved": (self.unpaid(), None),
            "in_run": ([c for c in self.seen.claims_in("approved") if c["id"] in taken],
                       (Conflict, "in_payment_run")),
            "reversed": (self.seen.claims_in("reversed"), None),  # again: changes nothing
        }
        name = next(n for n in [which, "paid", "approved"] if pools[n][0])
        pool, refusal = pools[name]
        claim = pool[pick % len(pool)]
        run(expect(f"clawback {claim['status']}" + (" in run" if name == "in_run" else ""),
                   payments.clawback(self.boss, claim["id"], "evidence withdrawn"), refusal))

    # Refusals ----------------------------------------------------------------------------

    @precondition(lambda self: self.has_claims())
    @rule(what=st.sampled_from(["draw", "cap", "pay", "decide", "clawback", "in run",
                                "approve", "run", "transition"]), pick=st.integers(0, 50))
    def refuse(self, what: str, pick: int) -> None:
        """A step the state does not allow, refused as it must be: the first that applies
        from `what` on. Always possible (an empty period has nothing to pay), so that an
        example is never left without a rule that may run."""
        s = self.seen
        early = s.claims_in("accepted", "sampled", "verified", "disputed")
        undecidable = s.claims_in("accepted", "verified", "approved", "paid", "reversed")
        bad = [c for pool in self.unapprovable().values() for c in pool]
        runs = self.runs("paid", "draft")
        in_run = [c for c in s.claims_in("approved") if c["id"] in s.in_run()]
        options = {
            "draw": not self.unapprovable()["not_yet_sampled"],
            "cap": s.accrued >= 1_000_000, "pay": True, "decide": bool(undecidable),
            "clawback": bool(early), "in run": bool(in_run), "approve": bool(bad),
            "run": bool(runs), "transition": True}
        order = list(options)
        what = next(w for w in order[order.index(what):] + order if options[w])
        if what == "draw":
            call, step = verification.draw_sample(self.boss, self.cid, "s0"), "draw"
            refusal = (Conflict, "nothing_to_sample")
        elif what == "pay":
            none_yet = dt.date(2023, 12, 31)  # before any enrolment
            call = payments.create_run(self.boss, self.cid, PaymentRunIn(
                period_from=none_yet, period_to=none_yet), None, "empty")
            step, refusal = "create run", (Conflict, "nothing_to_pay")
        elif what == "decide":
            claim = undecidable[pick % len(undecidable)]
            call = verification.decide(self.boss, claim["id"], "dispute", "too late")
            step, refusal = f"dispute {claim['status']}", (Conflict, "invalid_transition")
        elif what == "clawback":
            claim = early[pick % len(early)]
            call = payments.clawback(self.boss, claim["id"], "not the provider's yet")
            step, refusal = f"clawback {claim['status']}", (Conflict, "invalid_transition")
        elif what == "in run":  # until its run is paid, a claim is the run's
            claim = in_run[pick % len(in_run)]
            call = payments.clawback(self.boss, claim["id"], "evidence withdrawn")
            step, refusal = "clawback approved in run", (Conflict, "in_payment_run")
        elif what == "cap":
            call = commitments.vary(self.boss, self.cid, self._varied(s.accrued - 500_000, None))
            step, refusal = "vary", (Invalid, "cap_below_accrued")
        elif what == "approve":
            call = verification.approve(self.boss, self.cid, [bad[pick % len(bad)]["id"]], "")
            step, refusal = "approve", (Conflict, "not_approvable")
        elif what == "run":
            r = runs[pick % len(runs)]
            if r["status"] == "paid":
                call, step = payments.approve_run(self.boss, r["id"]), "approve paid run"
                refusal = (Conflict, "invalid_transition")
            else:
                call, step = payments.pay_run(self.boss, r["id"]), "pay draft run"
                refusal = (Conflict, "run_not_approved")
        else:
            action = "suspend" if self.suspended() else "resume"
            call = contracts.transition(self.boss, self.cid, action, "by mistake")
            step, refusal = f"{action} {s.contract['status']}", (Conflict, "invalid_transition")
        run(expect(step, call, refusal))

    # Variations and consent ---------------------------------------------------------------

    def _varied(self, cap: int, shares: tuple[int, int] | None, sampling: int | None = None
                ) -> VariationIn:
        """The current terms with another cap (and the per-participant cap under it),
        shares or sampling rate."""
        terms = self.seen.terms
        if terms.per_participant_cap.amount > cap:
            terms = msgspec.structs.replace(terms, per_participant_cap=Money(
                amount=cap, currency="DKK"))
        if sampling is not None:
            terms = msgspec.structs.replace(terms, sampling_rate_bp=sampling)
        if shares is not None:
            orgs = [Books.world.ids["commissioner"], Books.world.ids["co_commissioner"]]
            terms = msgspec.structs.replace(terms, commissioners=[
                CommissionerShare(organisation_id=o, share_bp=s)
                for o, s in zip(orgs, shares, strict=True)])
        return VariationIn(reason="the fund's board varied the contract",
                           terms=msgspec.structs.replace(
                               terms, cap=Money(amount=cap, currency="DKK")))

    @precondition(lambda self: self.rested("vary", 4))
    @rule(steps=st.integers(-4, 16), near_accrued=st.booleans(),
          shares=st.sampled_from([None, *SHARES]), sampling=st.sampled_from([None, 0, 10_000]),
          accept=st.booleans())
    def vary(self, steps: int, near_accrued: bool, shares: tuple[int, int] | None,
             sampling: int | None, accept: bool) -> None:
        # Mostly a cap moved by whole millions; at times one close to what is accrued, on
        # either side: below, it is refused; above, it keeps the per-participant cap.
        cap = (self.seen.accrued + (steps % 7 - 4) * 500_000 if near_accrued
               else self.seen.terms.cap.amount + steps * 1_000_000)
        cap = max(cap, 500_000) if cap < self.seen.accrued else max(cap, PER_PARTICIPANT)
        self.last["vary"] = self.steps
        data = self._varied(cap, shares, sampling)
        new_shares = {c.organisation_id: c.share_bp for c in data.terms.commissioners}
        unchanged = data.terms == self.seen.terms
        refusal = (Invalid, "cap_below_accrued") if cap < self.seen.accrued else None

        async def go():
            out = await expect("vary", commitments.vary(self.boss, self.cid, data), refusal)
            if refusal is not None:
                return
            # A change of cap or shares binds the co-commissioner's money: it waits for it.
            assert out.status == ("applied" if unchanged else "pending"), out.status
            if unchanged:
                return
            self.proposals.append(out.id)
            if accept:
                done = await expect("accept variation",
                                    commitments.accept(self.co, self.cid, out.id))
                assert done.status == "applied"
                self.shares_in_force.append(new_shares)
        run(go())

    def open_proposals(self) -> list[dict]:
        """Ours that the co-commissioner has not accepted: pending, or overtaken since."""
        if self.seen is None:
            return []
        return [p for p in self.seen.proposals
                if p["id"] in self.proposals and p["status"] in ("pending", "superseded")]

    @precondition(lambda self: bool(self.open_proposals()))
    @rule(pick=st.integers(0, 20))
    def accept_variation(self, pick: int) -> None:
        proposals = self.open_proposals()
        proposal = proposals[pick % len(proposals)]
        pid = proposal["id"]
        terms = contracts.decode_terms(proposal["terms"])
        refusal = None
        if proposal["status"] == "superseded":
            refusal = (Conflict, "proposal_outdated")
        elif proposal["status"] == "pending" and terms.cap.amount < self.seen.accrued:
            refusal = (Invalid, "cap_below_accrued")
        out = run(expect(f"accept {proposal['status']} variation",
                         commitments.accept(self.co, self.cid, pid), refusal))
        if refusal is None:
            assert out.status == "applied"
            self.shares_in_force.append({c.organisation_id: c.share_bp
                                         for c in terms.commissioners})

    # Suspension ---------------------------------------------------------------------------

    @precondition(lambda self: self.rested("suspension", 8))
    @rule(probe=st.booleans(), stay=st.integers(0, 3).map(lambda n: n == 0))
    def suspension(self, probe: bool, stay: bool) -> None:
        """Resume a suspended contract; suspend an active one, and mostly resume it again
        in the same step, so that claims keep coming."""
        self.last["suspension"] = self.steps
        if self.suspended():
            run(expect("resume", contracts.transition(self.boss, self.cid, "resume",
                                                      "review closed")))
            return

        async def go():
            await expect("suspend", contracts.transition(self.boss, self.cid, "suspend",
                                                         "provider under review"))
            if probe:  # a suspended contract takes no claims and cannot be suspended again
                self.seen = await observe(self.cid)
                await self._submit([(0, "job", 7, True)])
                await expect("suspend suspended", contracts.transition(
                    self.boss, self.cid, "suspend", "again"), (Conflict, "invalid_transition"))
            if not stay:
                await expect("resume", contracts.transition(self.boss, self.cid, "resume",
                                                            "review closed"))
        run(go())

    # After every step ---------------------------------------------------------------------

    @invariant()
    def books_hold(self) -> None:
        if self.cid is None:
            return

        self.steps += 1

        async def go():
            self.seen = await observe(self.cid)
            check(self.seen, self.shares_in_force)
            Books.proved = await check_journal(Books.proved)
        run(go())

    def teardown(self) -> None:
        if self.seen is None:
            return
        paid, reversed_ = paid_claims(self.seen), len(self.seen.claims_in("reversed"))
        target(float(paid), label="paid claims")
        target(float(reversed_), label="clawed-back claims")
        note("contract")
        for what, n in [("accepted", len(self.seen.claims)), ("paid", paid),
                        ("clawed back", reversed_)]:
            if n:
                note(f"contract with claims {what}")

