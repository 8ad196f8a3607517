"""Claim review: one claim with its evidence reference, its participant's other claims on
the contract, each payment rule of its rate card line it passed at intake (with the values
the terms set then and what the claim shows), its status history, and the actions its
status allows the contract's commissioners: verify, dispute (with a reason), approve.

An action posts a form; with HTMX the answer is the status panel alone (status, actions,
history), swapped in place; without JavaScript the browser is sent back to the page. A
refusal is shown next to the field it concerns: on the page, with the refusal's status
(422, 409); in the panel HTMX swaps in, with 200, since HTMX swaps no error answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from api.auth import principal_of
from api.web import i18n
from api.web.layout import WEB, page
from api.web.queue import require_commissioner_pages, who
from contracts import service as contracts
from contracts.errors import DomainError, Forbidden, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.library import metrics_by_code
from contracts.schemas import ContractTerms, MetricOut, RateCardLine, validation_problem
from outcomes import queries, verification
from outcomes.schemas import ApprovalIn, ClaimDetail, DecisionIn

HISTORY = 50


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A payment rule as the reviewer reads it: what the terms say and what the claim
    shows."""

    name: str
    terms: str
    claim: str = ""


def payment_rules(terms: ContractTerms, line: RateCardLine | None, metric: MetricOut | None,
                  claim: ClaimDetail, enrolled_on: dt.date | None) -> list[Rule]:
    """The rules of the claim's rate card line, and the contract's, that the claim passed
    at intake (`outcomes.rules.check_claim`), with their values."""
    t, money, date = i18n._, i18n.money, i18n.date
    cur = claim.amount.currency
    rules: list[Rule] = []
    if line is None:
        return [Rule(name=t("Rate card line"),
                     terms=t("Line %(code)s is no longer on the rate card", code=claim.line_code))]
    rules.append(Rule(name=t("Rate card line"),
                      terms=t("%(line)s pays %(price)s for %(metric)s", line=line.code,
                              price=money(line.price.amount, cur), metric=line.metric_code),
                      claim=money(claim.amount.amount, cur)))
    if line.kind == "cohort":
        rules.append(Rule(
            name=t("Cohort"),
            terms=t("Cohort %(cohort)s, evaluated on %(on)s: paid when at least %(rate)s of "
                    "it achieved %(metric)s", cohort=line.cohort or "–",
                    on=date(line.evaluation_on),
                    rate=i18n.percent((line.cohort_threshold_bp or 0) / 10_000),
                    metric=line.metric_code)))
    rules.append(Rule(name=t("Dates"),
                      terms=t("Achieved by the end of the service period (%(end)s), claimed by "
                              "the claims deadline (%(deadline)s)",
                              end=date(terms.service_period.end),
                              deadline=date(terms.claims_deadline)),
                      claim=t("achieved %(on)s, submitted %(at)s", on=date(claim.achieved_on),
                              at=date(claim.submitted_at.date()))))
    since = (claim.achieved_on - enrolled_on).days if enrolled_on else None
    if line.kind != "cohort":
        rules.append(Rule(name=t("Enrolment"),
                          terms=t("The participant is enrolled, and achieved it after enrolling"),
                          claim=t("enrolled %(on)s; achieved %(days)s days later",
                                  on=date(enrolled_on), days=since)
                          if enrolled_on else ""))
    if line.window is not None:
        anchor = (t("the prerequisite %(metric)s", metric=line.prerequisite_metric)
                  if line.window.anchor == "prerequisite" else t("enrolment"))
        rules.append(Rule(name=t("Window"),
                          terms=t("Achieved %(start)s to %(end)s days after %(anchor)s",
                                  start=line.window.start_day, end=line.window.end_day,
                                  anchor=anchor),
                          claim=t("%(days)s days after enrolment", days=since)
                          if since is not None and line.window.anchor == "enrolment" else ""))
    if line.prerequisite_metric:
        rules.append(Rule(name=t("Prerequisite"),
                          terms=t("Needs an accepted %(metric)s claim first",
                                  metric=line.prerequisite_metric)))
    if metric is not None and metric.kind == "duration" and metric.duration_days:
        rules.append(Rule(name=t("Duration"),
                          terms=t("Sustained for at least %(days)s days",
                                  days=metric.duration_days)))
    if line.threshold is not None:
        word = t("fall") if metric is not None and metric.direction == "decrease" \
            else t("rise")
        rules.append(Rule(name=t("Threshold"),
                          terms=t("The score must %(word)s by at least %(threshold)s",
                                  word=word, threshold=line.threshold),
                          claim=t("moved by %(value)s", value=claim.value)
                          if claim.value is not None else ""))
    if line.exclusivity_group:
        others = [ln.code for ln in terms.rate_card
                  if ln.exclusivity_group == line.exclusivity_group and ln.code != line.code]
        rules.append(Rule(name=t("Exclusivity"),
                          terms=t("Group %(group)s: not paid together with %(others)s",
                                  group=line.exclusivity_group,
                                  others=", ".join(others) or "–")))
    rules.append(Rule(name=t("Claims per participant"),
                      terms=i18n.ngettext("At most %(num)s time per participant",
                                          "At most %(num)s times per participant",
                                          line.max_claims_per_participant)))
    if line.max_count is not None or line.max_amount is not None:
        parts = []
        if line.max_count is not None:
            parts.append(i18n.ngettext("at most %(num)s outcome", "at most %(num)s outcomes",
                                       line.max_count))
        if line.max_amount is not None:
            parts.append(t("at most %(amount)s", amount=money(line.max_amount.amount, cur)))
        rules.append(Rule(name=t("Line cap"), terms=", ".join(parts)))
    if terms.per_participant_cap is not None:
        rules.append(Rule(name=t("Per-participant cap"),
                          terms=money(terms.per_participant_cap.amount, cur)))
    rules.append(Rule(name=t("Contract cap"), terms=money(terms.cap.amount, cur)))
    return rules


def allowed_actions(principal: Principal, claim: ClaimDetail) -> list[str]:
    """What the claim's status lets a commissioner do to it now."""
    if principal.role != "commissioner":
        return []
    status = claim.status
    if status == "sampled":
        return ["verify", "dispute"]
    if status == "disputed":
        return ["verify"]
    if status == "verified" or (status == "accepted" and claim.sample_id is not None):
        return ["approve"]
    return []


async def _context(principal: Principal, claim_id: UUID) -> dict[str, Any]:
    claim = await queries.get_claim(principal, claim_id)
    return dict(claim=claim, actions=allowed_actions(principal, claim), who=who)


async def _page(request: Request, principal: Principal, claim_id: UUID,
                status_code: int = 200, **extra: Any) -> Response:
    ctx = await _context(principal, claim_id)
    claim: ClaimDetail = ctx["claim"]
    if request.headers.get("hx-request") and not request.headers.get(
            "hx-history-restore-request") and request.method == "POST":
        # HTMX swaps in only a 2xx answer: a refusal's panel, with the problem next to its
        # field, comes as 200 (without JavaScript the page has the refusal's status).
        return await page(request, "web/claim_panel.html", **ctx, **extra)
    contract = await contracts.get_contract(principal, claim.contract_id)
    terms = await contracts.terms_at(claim.contract_id, claim.submitted_at)
    line = next((ln for ln in terms.rate_card if ln.code == claim.line_code), None)
    metric = (await metrics_by_code({claim.metric_code})).get(claim.metric_code)
    participant = await queries.find_participant(principal, claim.contract_id, claim.pseudonym)
    others = await queries.list_claims(principal, claim.contract_id,
                                       queries.ClaimFilter(participant=claim.pseudonym),
                                       limit=HISTORY, count=True)
    return await page(request, "web/claim.html", status_code=status_code,
                      title=i18n._("Claim %(ref)s", ref=claim.client_ref), contract=contract,
                      rules=payment_rules(terms, line, metric, claim,
                                          participant.enrolled_on if participant else None),
                      participant=participant,
                      others=[c for c in others.items if c.id != claim.id],
                      others_total=(others.total or 1) - 1, **ctx, **extra)


@get("/claims/{claim_id:uuid}", opt=WEB, include_in_schema=False)
async def claim_page(request: Request, claim_id: FromPath[UUID]) -> Response:
    principal = principal_of(request)
    require_commissioner_pages(principal)
    return await _page(request, principal, claim_id)


async def _reason(request: Request, claim_id: UUID, action: str) -> tuple[str, list[Problem]]:
    """The form's reason as the API would take it: required (3 characters or more) to verify
    or dispute, optional to approve; personal identifiers masked."""
    form = await request.form()
    reason = str(form.get("reason", "")).strip()
    try:
        if action == "approve":
            return msgspec.convert({"claim_ids": [str(claim_id)], "reason": reason},
                                   ApprovalIn).reason, []
        return msgspec.convert({"reason": reason}, DecisionIn).reason, []
    except msgspec.ValidationError as exc:
        problem = validation_problem(str(exc).split(" - at ")[0], "reason", "reason")
        if len(reason) < 3:
            problem = Problem(code=problem.code, field="reason",
                              message=i18n._("Give the reason in a few words."))
        return reason, [problem]


async def _act(request: Request, claim_id: UUID, action: str) -> Response:
    principal = principal_of(request)
    require_commissioner_pages(principal)
    reason, problems = await _reason(request, claim_id, action)
    if problems:
        return await _page(request, principal, claim_id, status_code=422, errors=problems,
                           failed_action=action, reason=reason)
    try:
        if action == "approve":
            claim = await queries.get_claim(principal, claim_id)
            await verification.approve(principal, claim.contract_id, [claim_id], reason)
        else:
            await verification.decide(principal, claim_id, action, reason)
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        status = 422 if isinstance(exc, Invalid) else 409
        errors = [Problem(code=p.code, field="", message=p.message) for p in exc.problems] \
            or [Problem(code=exc.code, field="", message=exc.message)]
        return await _page(request, principal, claim_id, status_code=status, errors=errors,
                           failed_action=action, reason=reason)
    if request.headers.get("hx-request"):
        done = {"verify": i18n._("Verified."), "dispute": i18n._("Disputed."),
                "approve": i18n._("Approved.")}[action]
        return await _page(request, principal, claim_id, done=done)
    return Redirect(f"/claims/{claim_id}", status_code=303)


@post("/claims/{claim_id:uuid}/verify", opt=WEB, include_in_schema=False)
async def verify_claim(request: Request, claim_id: FromPath[UUID]) -> Response:
    return await _act(request, claim_id, "verify")


@post("/claims/{claim_id:uuid}/dispute", opt=WEB, include_in_schema=False)
async def dispute_claim(request: Request, claim_id: FromPath[UUID]) -> Response:
    return await _act(request, claim_id, "dispute")


@post("/claims/{claim_id:uuid}/approve", opt=WEB, include_in_schema=False)
async def approve_claim(request: Request, claim_id: FromPath[UUID]) -> Response:
    return await _act(request, claim_id, "approve")
