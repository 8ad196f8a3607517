"""One contract's money flow as a Hypothesis state machine.

Each example activates a fresh contract (two commissioners, 60/40) and drives it through
enrolments, claims, verification draws, verification and disputes, approvals, payment runs
(drafted, approved, paid, paid again), clawbacks of approved and of paid claims, variations
of the cap and of the shares (proposed by one commissioner, accepted by the other),
suspensions and resumptions, and on PostgreSQL two of these at once from two connections.

Every rule predicts from the state before it what the service must answer, and lets through
only that refusal, by class and code (`expect`). Any other error, an unbalanced entry
(`LedgerError`, code entry_unbalanced) or a database's IntegrityError among them, fails the
run, and so does every broken invariant (`invariants.check`) after each step. Preconditions
keep rules to the states in which they can do something; `note` records each path taken as
a Hypothesis event and in `EVENTS`, which the tests read to prove that the paths ran.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Iterable
from typing import Any
from uuid import UUID

import msgspec
from hypothesis import event, target
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Invalid
from contracts.money import Money
from contracts.schemas import CommissionerShare, VariationIn
from ledger import commitments
from outcomes import intake, payments, verification
from outcomes.sampling import is_selected
from outcomes.schemas import ClaimIn, ParticipantIn, PaymentRunIn
from tests.helpers import World, active_contract, principal, world
from tests.property.invariants import (
    Seen,
    check,
    check_journal,
    observe,
    paid_claims,
    today,
)

EVENTS: Counter[str] = Counter()
Refusal = tuple[type[DomainError], str]

CAP = 50_000_000
PER_PARTICIPANT = 7_500_000  # entry, sustainment and a job fit; a PSS change on top does not
ENROL_FROM = dt.date(2024, 1, 1)  # the enrolment period of tests.helpers.intake_terms
SHARES = [(6000, 4000), (5000, 5000), (7500, 2500)]
PERIOD_FROM = dt.date(2024, 1, 1)
# Payment runs end before today, so that a variation may take effect today.
PERIOD_ENDS = [dt.date(2024, 12, 31), dt.date(2025, 6, 30), dt.date(2025, 12, 31),
               today() - dt.timedelta(days=1)]
# Rate card lines of intake_terms: metric and price in øre.
LINES = {"entry": ("housing_entry", 1_500_000),
         "sustained-3m": ("housing_sustained_3m", 2_000_000),
         "job": ("employment", 3_500_000), "own-business": ("self_employment", 3_500_000),
         "pss": ("pss_reduction", 1_000_000)}
COUNTED = ("accepted", "sampled", "verified", "approved", "paid")


def note(what: str) -> None:
    EVENTS[what] += 1
    event(what)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)


async def expect(step: str, call: Awaitable[Any], refusal: Refusal | None = None) -> Any:
    """Await `call`: it must succeed, or, when `refusal` is given, be refused with exactly
    that class and code. Anything else propagates and fails the run."""
    try:
        result = await call
    except DomainError as exc:
        if refusal is None or (type(exc), exc.code) != refusal:
            raise
        note(f"{step}: refused {exc.code}")
        return exc
    assert refusal is None, f"{step}: expected {refusal[1]}, but it went through"
    note(f"{step}: done")
    return result


def _date(on: dt.date, days: int) -> dt.date:
    return on + dt.timedelta(days=days)


class Books(RuleBasedStateMachine):
    world: World | None = None  # built once per database, by the first example
    postgres = False

    def __init__(self) -> None:
        super().__init__()
        self.cid: UUID | None = None
        self.seen: Seen | None = None
        self.refs = itertools.count(1)
        self.batches: list[tuple[str, list]] = []
        self.shares_in_force: list[dict[UUID, int]] = []
        self.proposals: list[UUID] = []

    # Who is who -------------------------------------------------------------------------

    @property
    def provider(self):
        return principal(Books.world.ids["provider"], "provider")

    @property
    def boss(self):
        return principal(Books.world.ids["commissioner"], "commissioner")

    @property
    def co(self):
        return principal(Books.world.ids["co_commissioner"], "commissioner")

    def _sub(self, kind: str, key: str | None) -> intake.Submission:
        return intake.Submission(principal=self.provider, contract_id=self.cid, kind=kind,
                                 idempotency_key=key, body_hash=key or "participants")

    # What the state allows ----------------------------------------------------------------

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
                sampling=st.sampled_from([3000, 0, 10_000]))
    def contract(self, enrolled: list[int], sampling: int) -> None:
        async def go():
            if Books.world is None:
                Books.world = await world()
            self.cid = await active_contract(
                Books.world, sampling_rate_bp=sampling, cap={"amount": CAP, "currency": "DKK"},
                per_participant_cap={"amount": PER_PARTICIPANT, "currency": "DKK"})
            await self._enrol(enrolled)
            self.seen = await observe(self.cid)
            self.shares_in_force.append(self.seen.shares())
            await check_journal()
        run(go())
        note(f"sampling rate {sampling} bp")

    async def _enrol(self, offsets: list[int]) -> None:
        first = len(self.seen.participants) if self.seen else 0
        rows = [(i, ParticipantIn(pseudonym=f"P-{first + i}",
                                  enrolled_on=_date(ENROL_FROM, d)), [])
                for i, d in enumerate(offsets, start=1)]
        refusal = (Conflict, "contract_not_active") if self.suspended() else None
        out = await expect("enrol", intake.submit_participants(self._sub("participants", None),
                                                               rows), refusal)
        if refusal is None:
            report, _ = out
            assert report.accepted == len(rows), report

    # Claims -------------------------------------------------------------------------------

    def _claims(self, rows: list[tuple[int, str, int, bool]]) -> list[ClaimIn]:
        """Claims that the payment rules should mostly accept: dates inside each line's
        window, sustainment after an entry, and, when `fresh`, a line the participant has
        not had yet and that fits under the per-participant cap (the first such from the
        drawn participant and line on). A row that is not fresh is sent as drawn, so that
        duplicates, exclusions and caps are refused at times too."""
        people = self.seen.participants
        names = {p["id"]: p["pseudonym"] for p in people}
        taken: dict[str, dict[str, dt.date]] = defaultdict(dict)
        for c in self.seen.claims_in(*COUNTED):
            taken[names[c["participant"]]][c["line_code"]] = c["achieved_on"]
        out = []

        def room(pseudonym: str, line: str) -> bool:
            mine = taken[pseudonym]
            work = {"job", "own-business"}
            if line in mine or (line in work and work & mine.keys()):
                return False
            cost = LINES[line][1] + (LINES["entry"][1] if line == "sustained-3m"
                                     and "entry" not in mine else 0)
            return sum(LINES[k][1] for k in mine) + cost <= PER_PARTICIPANT

        def add(pseudonym: str, line: str, on: dt.date, value: str | None = None) -> None:
            out.append(ClaimIn(client_ref=f"r{next(self.refs)}", pseudonym=pseudonym,
                               metric_code=LINES[line][0], achieved_on=on, value=value,
                               evidence_ref="case file"))
            taken[pseudonym][line] = on

        for pick, line, off, fresh in rows:
            p = people[pick % len(people)]
            if fresh:
                order = ["entry", "sustained-3m",
                         "own-business" if line == "own-business" else "job", "pss"]
                at = order.index(line)
                p, line = next(((q, k) for n in range(len(people))
                                for q in [people[(pick + n) % len(people)]]
                                for k in order[at:] + order[:at] if room(q["pseudonym"], k)),
                               (p, line))
            mine, enrolled = taken[p["pseudonym"]], p["enrolled_on"]
            if line == "sustained-3m" and "entry" not in mine:
                add(p["pseudonym"], "entry", _date(enrolled, off % 200))
            if line == "entry":
                add(p["pseudonym"], line, _date(enrolled, off % 366))
            elif line == "sustained-3m":
                add(p["pseudonym"], line, _date(mine["entry"], 91 + off % 61))
            elif line == "pss":
                add(p["pseudonym"], line, _date(enrolled, 330 + off % 71), str(-5 - off % 8))
            else:
                add(p["pseudonym"], line, _date(enrolled, off % 480))
        return out

    async def _submit(self, rows, replay: bool, refusal: Refusal | None = None):
        if replay and self.batches:
            key, claims = self.batches[-1]
            first = "replay"
        else:
            key, claims = f"batch-{next(self.refs)}", self._claims(rows)
            first = "submit"
            if refusal is None and self.suspended():
                refusal = (Conflict, "contract_not_active")
        out = await expect(first, intake.submit_claims(
            self._sub("claims", key), [(i, c, []) for i, c in enumerate(claims, start=1)]),
            refusal)
        if isinstance(out, DomainError):
            return
        report, replayed = out
        assert replayed == (first == "replay")
        if not replayed:
            self.batches.append((key, claims))
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
          replay=st.integers(0, 5).map(lambda n: n == 0), then_draw=st.booleans(),
          seed=st.integers(0, 10**6),
          newcomers=st.lists(st.integers(0, 540), max_size=2))
    def submit(self, rows, replay: bool, then_draw: bool, seed: int, newcomers: list[int]
               ) -> None:
        async def go():
            if newcomers and len(self.seen.participants) < 12:
                await self._enrol(newcomers)
                self.seen = await observe(self.cid)
            await self._submit(rows, replay)
            if then_draw:
                self.seen = await observe(self.cid)
                await self._draw(seed)
        run(go())

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
    @rule(seed=st.integers(0, 10**6), again=st.booleans())
    def draw(self, seed: int, again: bool) -> None:
        async def go():
            await self._draw(seed)
            if again:  # every waiting claim was in that draw: nothing is left to draw
                self.seen = await observe(self.cid)
                await self._draw(seed + 1)
        run(go())

    @precondition(lambda self: self.seen is not None
                  and bool(self.seen.claims_in("sampled", "disputed")))
    @rule(pick=st.integers(0, 50), dispute=st.booleans())
    def decide(self, pick: int, dispute: bool) -> None:
        pool = self.seen.claims_in("sampled", "disputed")
        claim = pool[pick % len(pool)]
        action = "dispute" if dispute and claim["status"] == "sampled" else "verify"
        run(expect(f"{action} {claim['status']}", verification.decide(
            self.boss, claim["id"], action, "checked against the case file")))

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

    @precondition(lambda self: bool(self.approvable()))
    @rule(take=st.integers(1, 6), start=st.integers(0, 50),
          extra=st.sampled_from(["none", "done", "not_yet_sampled", "not_verified",
                                 "not_approvable"]),
          then=st.sampled_from(["pay", "nothing", "approve", "draft"]))
    def approve(self, take: int, start: int, extra: str, then: str) -> None:
        """Approve some claims that are ready, now and then with one that is not; `then`
        put what is approved and unpaid in a payment run, and approve or pay it."""
        ready = self.approvable()
        start %= len(ready)
        fresh = ready[start:start + take]
        ids = [c["id"] for c in fresh]
        refusal = self._approval_refusal(fresh)
        problem = None
        bad = self.unapprovable()
        if extra == "done" and self.seen.claims_in("approved", "paid"):
            ids.append(self.seen.claims_in("approved", "paid")[0]["id"])  # changes nothing
        elif extra != "none" and any(bad.values()):
            # One claim that cannot be approved: all are refused, with its reason.
            problem = next(k for k in [extra, *bad] if bad.get(k))
            ids.insert(take % (len(ids) + 1), bad[problem][start % len(bad[problem])]["id"])
            refusal = (Conflict, "not_approvable")
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
                    await self._pay(PERIOD_ENDS[-1], then)
        run(go())

    # Payment runs -------------------------------------------------------------------------

    async def _create_run(self, period_to: dt.date, key: str, refusal: Refusal | None):
        return await expect("create run", payments.create_run(
            self.boss, self.cid, PaymentRunIn(period_from=PERIOD_FROM, period_to=period_to),
            key, key), refusal)

    async def _pay(self, period_to: dt.date, then: str, retry: bool = False) -> None:
        """Draft a payment run of the period's approved, unpaid claims; `then` approve it,
        or approve and pay it."""
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
            await expect("approve run", payments.approve_run(self.boss, made.id))
        if then == "pay":
            paid = await expect("pay run", payments.pay_run(self.boss, made.id))
            assert paid.status == "paid"

    @precondition(lambda self: bool(self.unpaid()))
    @rule(period_to=st.sampled_from(PERIOD_ENDS[::-1]),
          then=st.sampled_from(["pay", "approve", "draft"]), retry=st.booleans())
    def create_run(self, period_to: dt.date, then: str, retry: bool) -> None:
        run(self._pay(period_to, then, retry))

    @precondition(lambda self: bool(self.runs("draft", "approved", "paid")))
    @rule(pick=st.integers(0, 20), action=st.sampled_from(["pay", "approve", "pay twice"]))
    def advance_run(self, pick: int, action: str) -> None:
        """Approve or pay a run: a draft is approved, not paid; an approved one is paid
        (approving it again changes nothing); a paid one is paid again (changes nothing),
        never approved."""
        runs = self.runs("approved", "draft") or self.runs("paid")
        r = runs[pick % len(runs)]
        step = f"{action.split()[0]} {r['status']} run"
        if action == "approve":
            refusal = (Conflict, "invalid_transition") if r["status"] == "paid" else None
            run(expect(step, payments.approve_run(self.boss, r["id"]), refusal))
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
    @rule(which=st.sampled_from(["paid", "approved", "in_run", "unapproved", "reversed"]),
          pick=st.integers(0, 50))
    def clawback(self, which: str, pick: int) -> None:
        taken = self.seen.in_run()
        pools = {
            "paid": (self.seen.claims_in("paid"), None),
            "approved": (self.unpaid(), None),
            "in_run": ([c for c in self.seen.claims_in("approved") if c["id"] in taken],
                       (Conflict, "in_payment_run")),
            "unapproved": (self.seen.claims_in("accepted", "sampled", "verified", "disputed"),
                           (Conflict, "invalid_transition")),
            "reversed": (self.seen.claims_in("reversed"), None),  # again: changes nothing
        }
        for name in [which, "paid", "approved"]:
            pool, refusal = pools[name]
            if pool:
                break
        claim = pool[pick % len(pool)]
        run(expect(f"clawback {claim['status']}" + (" in run" if name == "in_run" else ""),
                   payments.clawback(self.boss, claim["id"], "evidence withdrawn"), refusal))

    # Variations and consent ---------------------------------------------------------------

    def _varied(self, cap: int, shares: tuple[int, int] | None) -> VariationIn:
        terms = self.seen.terms
        if shares is not None:
            orgs = [Books.world.ids["commissioner"], Books.world.ids["co_commissioner"]]
            terms = msgspec.structs.replace(terms, commissioners=[
                CommissionerShare(organisation_id=o, share_bp=s)
                for o, s in zip(orgs, shares, strict=True)])
        return VariationIn(reason="the fund's board varied the contract",
                           terms=msgspec.structs.replace(
                               terms, cap=Money(amount=cap, currency="DKK")))

    @precondition(lambda self: self.seen is not None
                  and bool(self.seen.claims_in("approved", "paid", "reversed")))
    @rule(steps=st.integers(-4, 16), near_accrued=st.integers(0, 3).map(lambda n: n == 0),
          shares=st.sampled_from([None, *SHARES]), accept=st.booleans())
    def vary(self, steps: int, near_accrued: bool, shares: tuple[int, int] | None,
             accept: bool) -> None:
        # Mostly a cap moved by whole millions; at times one close to what is accrued, on
        # either side. Never under the per-participant cap (invalid terms, not the point).
        cap = (self.seen.accrued + steps * 500_000 if near_accrued
               else self.seen.terms.cap.amount + steps * 1_000_000)
        cap = max(cap, 8_000_000)
        data = self._varied(cap, shares)
        new_shares = {c.organisation_id: c.share_bp for c in data.terms.commissioners}
        unchanged = cap == self.seen.terms.cap.amount and new_shares == self.seen.shares()
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
            assert out.status == "applied"  # accepting an applied one again changes nothing
            self.shares_in_force.append({c.organisation_id: c.share_bp
                                         for c in terms.commissioners})

    # Suspension ---------------------------------------------------------------------------

    @precondition(lambda self: self.seen is not None
                  and bool(self.seen.claims_in("approved", "paid", "reversed")))
    @rule(probe=st.booleans(), stay=st.integers(0, 3).map(lambda n: n == 0))
    def suspension(self, probe: bool, stay: bool) -> None:
        """Resume a suspended contract; suspend an active one, and mostly resume it again
        in the same step, so that claims keep coming."""
        if self.suspended():
            run(expect("resume", contracts.transition(self.boss, self.cid, "resume",
                                                      "review closed")))
            return

        async def go():
            await expect("suspend", contracts.transition(self.boss, self.cid, "suspend",
                                                         "provider under review"))
            if probe:  # a suspended contract takes no claims and cannot be suspended again
                self.seen = await observe(self.cid)
                await self._submit([(0, "job", 7, True)], False)
                await expect("suspend suspended", contracts.transition(
                    self.boss, self.cid, "suspend", "again"), (Conflict, "invalid_transition"))
            if not stay:
                await expect("resume", contracts.transition(self.boss, self.cid, "resume",
                                                            "review closed"))
        run(go())

    # Two connections at once (PostgreSQL) -------------------------------------------------

    async def _together(self, name: str, *calls: tuple[str, Awaitable[Any], Iterable[Refusal]]
                        ) -> list[Any]:
        """Run `calls` at once, each in its own transaction on its own connection. Each may
        be refused only as its refusals say, whichever runs first."""
        out = await asyncio.gather(*(c for _, c, _ in calls), return_exceptions=True)
        for (step, _, allowed), result in zip(calls, out, strict=True):
            if isinstance(result, BaseException):
                if not (isinstance(result, DomainError)
                        and (type(result), result.code) in set(allowed)):
                    raise result
                note(f"race {name}: {step} refused {result.code}")
            else:
                note(f"race {name}: {step} done")
        return out

    def races(self) -> list[str]:
        if not (Books.postgres and self.seen is not None):
            return []
        possible = []
        if self.approvable():
            possible += ["approve+approve", "accept+approve"]
            if self.unpaid() or self.runs("approved"):
                possible.append("approve+pay")
        if self.unpaid() or self.runs("approved"):
            possible.append("pay+pay")
        if self.unpaid():
            possible.append("clawback+create_run")
        if self.unpaid() or self.seen.claims_in("paid"):
            possible.append("clawback+clawback")
        if self.active():
            possible.append("submit+suspend")
        return possible

    async def _approved_run(self) -> UUID:
        r = self.runs("approved")
        if r:
            return r[0]["id"]
        made, _ = await self._create_run(PERIOD_ENDS[-1], f"run-{next(self.refs)}", None)
        await expect("approve run", payments.approve_run(self.boss, made.id))
        return made.id

    @precondition(lambda self: bool(self.races()))
    @rule(pick=st.integers(0, 50), take=st.integers(1, 4))
    def race(self, pick: int, take: int) -> None:
        """Two steps at once, from two connections; the books must hold whatever order the
        database puts them in."""
        possible = self.races()
        name = possible[pick % len(possible)]
        cap_reached = [(Conflict, "cap_reached")]
        ready = self.approvable()

        def approve(ids: list[dict]):
            return verification.approve(self.boss, self.cid, [c["id"] for c in ids], "")

        async def go():
            if name == "approve+approve":  # overlapping: each claim accrued once
                await self._together(name, ("approve", approve(ready[:take]), cap_reached),
                                     ("approve", approve(ready[take // 2:]), cap_reached))
            elif name == "approve+pay":
                run_id = await self._approved_run()
                await self._together(name, ("approve", approve(ready[:take]), cap_reached),
                                     ("pay", payments.pay_run(self.boss, run_id), []))
            elif name == "pay+pay":
                run_id = await self._approved_run()
                await self._together(name, ("pay", payments.pay_run(self.boss, run_id), []),
                                     ("pay", payments.pay_run(self.boss, run_id), []))
            elif name == "clawback+create_run":
                key = f"run-{next(self.refs)}"
                await self._together(
                    name, ("clawback", payments.clawback(self.boss, self.unpaid()[0]["id"],
                                                         "evidence withdrawn"),
                           [(Conflict, "in_payment_run")]),
                    ("create run", payments.create_run(
                        self.boss, self.cid, PaymentRunIn(period_from=PERIOD_FROM,
                                                          period_to=PERIOD_ENDS[-1]),
                        key, key), [(Conflict, "nothing_to_pay")]))
            elif name == "clawback+clawback":
                claim = (self.seen.claims_in("paid") or self.unpaid())[0]["id"]
                await self._together(
                    name, *[("clawback", payments.clawback(self.boss, claim, "withdrawn"), [])
                            for _ in range(2)])
            elif name == "accept+approve":
                # A lower cap that fits what is accrued but not what is being approved: in
                # either order the second must see the first and refuse.
                adding = sum(c["amount"] for c in ready[:take])
                cap = max(self.seen.accrued + adding - 500_000, self.seen.accrued,
                          8_000_000)
                proposal = await expect("vary", commitments.vary(
                    self.boss, self.cid, self._varied(cap, None)),
                    (Invalid, "cap_below_accrued") if cap < self.seen.accrued else None)
                if isinstance(proposal, DomainError) or proposal.status == "applied":
                    return
                self.proposals.append(proposal.id)
                accepted, approved = await self._together(
                    name, ("accept", commitments.accept(self.co, self.cid, proposal.id),
                           [(Invalid, "cap_below_accrued")]),
                    ("approve", approve(ready[:take]), cap_reached))
                assert not (isinstance(accepted, DomainError)
                            and isinstance(approved, DomainError)), "both refused"
            else:  # submit+suspend: the batch is judged by the status it finds under the lock
                key, claims = f"batch-{next(self.refs)}", self._claims([(pick, "job", 3, True)])
                await self._together(name, ("submit", intake.submit_claims(
                    self._sub("claims", key), [(1, claims[0], [])]),
                    [(Conflict, "contract_not_active")]),
                    ("suspend", contracts.transition(self.boss, self.cid, "suspend", "review"),
                     []))
        run(go())

    # After every step ---------------------------------------------------------------------

    @invariant()
    def books_hold(self) -> None:
        if self.cid is None:
            return

        async def go():
            self.seen = await observe(self.cid)
            check(self.seen, self.shares_in_force)
            await check_journal()
        run(go())

    def teardown(self) -> None:
        if self.seen is not None:
            target(float(paid_claims(self.seen)), label="paid claims")
            target(float(len(self.seen.claims_in("reversed"))), label="clawed-back claims")

