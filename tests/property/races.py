"""Two steps at once from two connections (PostgreSQL): a mixin of the ledger's state
machine (`books.Books`).

Each service call runs in its own transaction, and with the run's connection pool each
transaction takes a connection of its own, so the database decides who goes first; the
books must hold either way. Hypothesis replays a prefix of steps and expects the same choices
to be open after it, so a race must leave the same state whichever side won: either both
sides succeed in any order, or the step settles the outcome the same way for both orders.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from contracts import consent
from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Invalid
from ledger import commitments
from outcomes import intake, payments, verification
from tests.property.invariants import observe
from tests.property.plans import PER_PARTICIPANT, PERIOD_ENDS, plan
from tests.property.running import expect, note, run, together


class Races:
    """The race rule of `books.Books`, and the races it may run in the current state."""

    postgres: bool
    seen: Any

    def races(self) -> list[str]:
        if not (self.postgres and self.seen is not None):
            return []
        possible = []
        fits = bool(self.approvable()) and self._approval_refusal(self.approvable()[:1]) is None
        payable = bool(self.runs("approved") or [
            c for c in self.unpaid() if c["achieved_on"] <= PERIOD_ENDS[-1]])
        if fits:
            possible += ["approve+approve", "accept+approve"]
            if payable:
                possible.append("approve+pay")
        if payable:
            possible.append("pay+pay")
            if self.seen.claims_in("paid"):
                possible.append("clawback+pay")
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
        await expect("approve run", payments.approve_run(self.checker, made.id))
        return made.id

    @precondition(lambda self: self.seen is not None and self.rested("race", 3)
                  and bool(self.seen.claims_in("approved", "paid", "reversed"))
                  and bool(self.races()))
    @rule(which=st.sampled_from(range(420)), pick=st.integers(0, 50), take=st.integers(1, 4))
    def race(self, which: int, pick: int, take: int) -> None:
        """Two steps at once, from two connections (each transaction takes its own); the
        books must hold whatever order the database puts them in."""
        self.last["race"] = self.steps
        possible = self.races()
        name = possible[which % len(possible)]  # 420: any of up to 7 alike
        ready = self.approvable()
        while take > 1 and self._approval_refusal(ready[:take]) is not None:
            take -= 1

        def approve(ids: list[dict]):
            return verification.approve(self.boss, self.cid, [c["id"] for c in ids], "")

        async def go():
            if name == "approve+approve":  # overlapping: each claim accrued once
                await together(name, ("approve", approve(ready[:take]), []),
                                     ("approve", approve(ready[(take - 1) // 2:take]), []))
            elif name == "approve+pay":
                run_id = await self._approved_run()
                await together(name, ("approve", approve(ready[:take]), []),
                                     ("pay", payments.pay_run(self.boss, run_id), []))
            elif name == "pay+pay":  # one payment per claim
                run_id = await self._approved_run()
                await together(name, ("pay", payments.pay_run(self.boss, run_id), []),
                                     ("pay", payments.pay_run(self.boss, run_id), []))
            elif name == "clawback+pay":
                claim = self.seen.claims_in("paid")[pick % len(self.seen.claims_in("paid"))]
                run_id = await self._approved_run()
                await together(
                    name, ("clawback paid", payments.clawback(
                        self.boss, claim["id"], "withdrawn"), []),
                    ("pay", payments.pay_run(self.boss, run_id), []))
            elif name == "clawback+clawback":  # one clawback per claim
                pool = self.seen.claims_in("paid") + self.unpaid()
                claim = pool[pick % len(pool)]
                step = f"clawback {claim['status']}"
                await together(name, *[
                    (step, payments.clawback(self.boss, claim["id"], "withdrawn"), [])
                    for _ in range(2)])
            elif name == "accept+approve":
                await self._accept_against_approve(ready[:take], pick % 3 * 0.01)
            else:
                await self._submit_against_suspend(pick)
        run(go())

    async def _accept_against_approve(self, claims: list[dict], delay: float) -> None:
        """A lower cap that fits what is accrued but not what is being approved: whichever
        commits first, the other must see it under the contract's lock and refuse."""
        name, old = "accept+approve", self.seen.terms.cap.amount
        for p in self.open_proposals():  # so that the settling below leaves the same state
            if p["status"] == "pending":
                await consent.withdraw(self.boss, self.cid, p["id"])
        adding = sum(c["amount"] for c in claims)
        cap = max(self.seen.accrued + adding - 500_000, self.seen.accrued, PER_PARTICIPANT)
        if cap >= self.seen.accrued + adding or cap == old:
            note(f"race {name}: none to be had")  # both would pass
            return
        proposal = await expect("vary", commitments.vary(self.boss, self.cid,
                                                         self._varied(cap, None)))
        self.proposals.append(proposal.id)
        ids = [c["id"] for c in claims]

        async def accept():  # later at times, so that either may come first
            await asyncio.sleep(delay)
            return await commitments.accept(self.co, self.cid, proposal.id)

        accepted, approved = await together(
            name, ("accept", accept(), [(Invalid, "cap_below_accrued")]),
            ("approve", verification.approve(self.boss, self.cid, ids, ""),
             [(Conflict, "cap_reached")]))
        assert isinstance(accepted, DomainError) != isinstance(approved, DomainError), \
            f"accept: {accepted!r}, approve: {approved!r}: exactly one must be refused"
        # Settle: the claims approved, under the old cap.
        if isinstance(accepted, DomainError):
            await consent.withdraw(self.boss, self.cid, proposal.id)
            return
        self.seen = await observe(self.cid)
        back = await expect("vary", commitments.vary(self.boss, self.cid,
                                                     self._varied(old, None)))
        await expect("accept variation", commitments.accept(self.co, self.cid, back.id))
        await expect("approve", verification.approve(self.boss, self.cid, ids, ""))

    async def _submit_against_suspend(self, pick: int) -> None:
        """The batch is judged by the status it finds under the lock; settled by resuming
        and sending it again (a replay if it went in)."""
        name = "submit+suspend"
        key = f"batch-{next(self.refs)}"
        claims = plan(self.seen, [(pick, "job", 3, True)], self.refs)
        rows = [(i, c, []) for i, c in enumerate(claims, start=1)]

        async def suspend():  # later at times, so that either may come first
            await asyncio.sleep(pick % 3 * 0.01)
            return await contracts.transition(self.boss, self.cid, "suspend", "review")

        await together(name, ("submit", intake.submit_claims(
            self._sub("claims", key), rows), [(Conflict, "contract_not_active")]),
            ("suspend", suspend(), []))
        await expect("resume", contracts.transition(self.boss, self.cid, "resume", "done"))
        report, _ = await intake.submit_claims(self._sub("claims", key), rows)
        self.batches.append((key, claims, report))
