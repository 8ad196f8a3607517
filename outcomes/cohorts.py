"""Cohort lines: a price per participant of a cohort, paid when, at the line's evaluation
date, the share of the cohort that achieved its metric reaches the line's threshold (the
Danish stress-treatment social impact bond paid only if 85 % completed treatment).

`evaluate` is the one door. Under the contract's lock it decides by `outcomes.rules`
(`evaluation_refusal`, `cohort_rate_bp`, `cap_problems`) and, in one transaction, records
the evaluation with its evidence and, when the cohort reached the threshold, creates one
claim per participant of the cohort on the cohort line and approves and accrues them
through `outcomes.verification.accrue`, the step approvals take. From there they are
claims like any other: paid by payment runs, listed in statements, clawed back one by one.

Guarantees:
- A line is evaluated once (a unique index on contract and line): asking again returns the
  evaluation made, and creates and posts nothing.
- The cohort is paid whole or not at all: when paying every participant would pass the
  contract's cap, the line's maximum or a participant's cap, nothing is recorded and the
  evaluation is refused with 409 `cap_reached`, as an approval is. After a variation that
  makes room, it may be asked for again.
- The evidence is what counted at the evaluation date: the participants of the cohort
  enrolled by then (`n`), and those with a counted claim of the metric achieved by then on
  an outcome line (`achieved`). A claim disputed or reversed later does not change a
  recorded evaluation: a payment it should not have made is clawed back claim by claim.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec
from piccolo.query.functions.aggregate import Sum

from contracts import service as contracts
from contracts.errors import Conflict, NotFound
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import Code, ContractTerms, Output, RateCardLine
from core.clock import now
from core.database import bulk_insert, write_transaction
from core.ids import new_id
from outcomes import usage, verification
from outcomes.rules import (
    COHORT_CAP_FIELDS,
    COUNTED,
    Adding,
    ClaimStatus,
    cap_problems,
    cohort_rate_bp,
    evaluation_refusal,
)
from outcomes.tables import Claim, CohortEvaluation, Participant


class CohortEvaluationOut(Output, kw_only=True):
    """A cohort line's evaluation and its evidence: of the `n` participants of `cohort`
    enrolled by `evaluation_on`, `achieved` had a counted claim of the line's metric
    achieved by then; `rate_bp` (rounded down) against `threshold_bp` says whether it was
    `reached`. When it was, `claims` claims of the line's price were approved and `amount`
    accrued; when not, nothing."""

    id: UUID
    contract_id: UUID
    line_code: str
    cohort: str
    evaluation_on: dt.date
    n: int
    achieved: int
    rate_bp: int
    threshold_bp: int
    reached: bool
    claims: int
    amount: Money
    evaluated_at: dt.datetime
    evaluated_by: str


def _out(r: dict) -> CohortEvaluationOut:
    return CohortEvaluationOut(
        id=r["id"], contract_id=r["contract"], line_code=r["line_code"], cohort=r["cohort"],
        evaluation_on=r["evaluation_on"], n=r["n"], achieved=r["achieved"],
        rate_bp=r["rate_bp"], threshold_bp=r["threshold_bp"], reached=bool(r["reached"]),
        claims=r["claims"], amount=Money(amount=r["amount"], currency=r["currency"]),
        evaluated_at=r["evaluated_at"], evaluated_by=r["evaluated_by"])


async def evaluate(principal: Principal, contract_id: UUID, line_code: str
                   ) -> tuple[CohortEvaluationOut, bool]:
    """Evaluate the cohort line `line_code` of the contract (its commissioners): the
    evaluation and True when it was made now, or the one made before and False."""
    await contracts.require_commissioner(principal, contract_id)
    try:
        msgspec.convert(line_code, Code)
    except msgspec.ValidationError:
        # Not even a line code (a NUL, which PostgreSQL cannot compare): no such line.
        raise NotFound("the rate card has no such line", code="line_not_found") from None
    async with write_transaction():
        contract = await contracts.locked(principal, contract_id, "commissioner")
        earlier = await CohortEvaluation.select().where(
            (CohortEvaluation.contract == contract_id)
            & (CohortEvaluation.line_code == line_code)).first()
        if earlier is not None:
            return _out(earlier), False
        terms = await contracts.current_terms(contract_id, contract["version"])
        line = next((ln for ln in terms.rate_card if ln.code == line_code), None)
        at = now()
        refused = evaluation_refusal(line, line_code, contract["status"], at.date(),
                                     terms.claims_deadline)
        if refused is not None:
            error = NotFound if refused[0] == "line_not_found" else Conflict
            raise error(refused[1], code=refused[0])
        assert line is not None and line.cohort is not None
        assert line.evaluation_on is not None and line.cohort_threshold_bp is not None
        members = await _members(contract_id, line)
        achieved = await _achieved(contract_id, terms, line, set(members))
        rate = cohort_rate_bp(len(members), len(achieved))
        reached = bool(members) and rate >= line.cohort_threshold_bp
        evaluation_id, currency = new_id(), contract["currency"]
        row = dict(id=evaluation_id, contract=contract_id, line_code=line.code,
                   cohort=line.cohort, evaluation_on=line.evaluation_on, n=len(members),
                   achieved=len(achieved), rate_bp=rate,
                   threshold_bp=line.cohort_threshold_bp, reached=reached, claims=0,
                   amount=0, currency=currency, evaluated_at=at,
                   evaluated_by=principal.label)
        if reached:
            row["claims"], row["amount"] = await _pay(principal, contract, terms, line,
                                                      members, row)
        await CohortEvaluation.insert(CohortEvaluation(**row))
    return _out(row), True


async def list_evaluations(principal: Principal, contract_id: UUID
                           ) -> list[CohortEvaluationOut]:
    """The contract's cohort evaluations, oldest first, for any of its parties."""
    await contracts.relation(principal, contract_id)
    rows = await CohortEvaluation.select().where(
        CohortEvaluation.contract == contract_id).order_by(CohortEvaluation.evaluated_at)
    return [_out(r) for r in rows]


async def _members(contract_id: UUID, line: RateCardLine) -> list[UUID]:
    """The participants of the line's cohort enrolled by its evaluation date, whichever
    provider of the partnership enrolled them, in pseudonym order."""
    rows = await Participant.select(Participant.id).where(
        (Participant.contract == contract_id) & (Participant.cohort == line.cohort)
        & (Participant.enrolled_on <= line.evaluation_on)).order_by(Participant.pseudonym)
    return [r["id"] for r in rows]


async def _achieved(contract_id: UUID, terms: ContractTerms, line: RateCardLine,
                    members: set[UUID]) -> set[UUID]:
    """The members with a counted claim of the line's metric achieved by the evaluation
    date. Claims on a cohort line (what an evaluation paid) are payments, not
    achievements, and do not count."""
    evaluated = {r["line_code"] for r in await CohortEvaluation.select(
        CohortEvaluation.line_code).where(CohortEvaluation.contract == contract_id)}
    cohort_lines = evaluated | {ln.code for ln in terms.rate_card if ln.kind == "cohort"}
    rows = await Claim.select(Claim.participant, Claim.line_code).where(
        (Claim.contract == contract_id) & (Claim.metric_code == line.metric_code)
        & Claim.status.is_in(list(COUNTED)) & (Claim.achieved_on <= line.evaluation_on))
    return {r["participant"] for r in rows
            if r["participant"] in members and r["line_code"] not in cohort_lines}


async def _pay(principal: Principal, contract: dict, terms: ContractTerms,
               line: RateCardLine, members: list[UUID], evaluation: dict) -> tuple[int, int]:
    """One claim of the line's price per member, approved and accrued; (claims, amount).
    The caps hold first for what counts (as at intake: the claims accepted and not yet
    approved keep their room), then, in `accrue`, for what is accrued (as at approval)."""
    cid, price = contract["id"], line.price.amount
    per_participant = {r["participant"]: int(r["total"] or 0) for r in await Claim.select(
        Claim.participant, Sum(Claim.amount, alias="total")).where(
        (Claim.contract == cid) & Claim.status.is_in(list(COUNTED))).group_by(
        Claim.participant)}
    problems = cap_problems(terms, await usage.load(cid), per_participant,
                            [Adding(line.code, m, price) for m in members],
                            subject=f"paying cohort {line.cohort}", fields=COHORT_CAP_FIELDS)
    if problems:
        raise Conflict(f"paying cohort {line.cohort} would break a cap; nothing was "
                       "evaluated or accrued", code="cap_reached", problems=problems)
    evidence = (f"cohort {line.cohort} evaluated on {line.evaluation_on}: "
                f"{evaluation['achieved']} of {evaluation['n']} achieved {line.metric_code} "
                f"({evaluation['rate_bp'] / 100:.2f} %, threshold "
                f"{evaluation['threshold_bp'] / 100:.2f} %)")
    at = evaluation["evaluated_at"]
    rows = [dict(id=new_id(), contract=cid, participant=m, batch=None,
                 client_ref=f"cohort:{evaluation['id']}:{i}", line_code=line.code,
                 metric_code=line.metric_code, achieved_on=line.evaluation_on, value=None,
                 evidence_ref=f"cohort evaluation {evaluation['id']} of line {line.code}",
                 amount=price, currency=contract["currency"],
                 status=ClaimStatus.ACCEPTED.value, submitted_at=at, sample=None)
            for i, m in enumerate(members, start=1)]
    await bulk_insert(Claim, rows)
    await usage.add(cid, {line.code: (len(rows), price * len(rows))})
    amount = await verification.accrue(
        principal, contract, terms, rows,
        f"paid by cohort evaluation {evaluation['id']} of line {line.code}: {evidence}")
    return len(rows), amount
