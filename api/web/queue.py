"""The work queue, the commissioner's start page: what needs action now, in tabs with their
counts, across the contracts the commissioner's organisation commissions (an
administrator's: every contract, to read). Sampled claims are verified and ready claims
approved in bulk, each after a confirmation that says how many and on which contracts.

Bulk approval is `outcomes.verification.approve` once per contract, all or none per
contract; bulk verification is `verification.decide` once per claim. What could not be
done is shown with its reason, beside what was.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.web import i18n
from api.web.layout import WEB, page
from contracts.errors import DomainError, Forbidden, Problem
from contracts.identity import Principal
from contracts.schemas import validation_problem
from core.clock import now
from outcomes import payments, queries, verification
from outcomes.queries import QUEUE_TABS
from outcomes.schemas import ApprovalIn, ClaimOut, DecisionIn

PAGE = 50
MAX_BULK = 1_000
ACTIONS = ("verify", "approve")


def require_commissioner_pages(principal: Principal) -> None:
    """Commissioners' pages are for commissioners (and administrators, to read)."""
    if principal.role not in ("commissioner", "admin"):
        raise Forbidden("this page is for commissioners", code="commissioner_only")


def who(label: str | None) -> str:
    """A principal's label as a person reads it: the user's e-mail address, or the key."""
    if not label:
        return "–"
    kind, _, rest = label.partition(":")
    if kind == "user":
        return rest
    if kind == "key":
        return i18n._("API key %(prefix)s", prefix=rest)
    return label


def tab_labels() -> dict[str, str]:
    _ = i18n._
    return {"verify": _("Claims to verify"), "approve": _("Claims to approve"),
            "runs": _("Payment runs to approve"), "batches": _("Batches with many rejections"),
            "contracts": _("Contracts near cap or deadline")}


def _flash(done: str | None, n: int | None) -> str | None:
    if n is None or done not in ("verified", "approved"):
        return None
    if done == "verified":
        return i18n.ngettext("%(num)s claim verified.", "%(num)s claims verified.", n)
    return i18n.ngettext("%(num)s claim approved.", "%(num)s claims approved.", n)


@get("/queue", opt=WEB, include_in_schema=False)
async def queue_page(
    request: Request,
    tab: Annotated[str, QueryParameter()] = "verify",
    cursor: Annotated[str | None, QueryParameter()] = None,
    done: Annotated[str | None, QueryParameter()] = None,
    n: Annotated[int | None, QueryParameter(ge=0)] = None,
) -> Response:
    principal = principal_of(request)
    queue = await queries.work_queue(principal)
    tab = tab if tab in QUEUE_TABS else "verify"
    return await _render(request, principal, queue, tab, parse_cursor(cursor),
                         flash=_flash(done, n))


async def _render(request: Request, principal: Principal, queue: queries.WorkQueue, tab: str,
                  cursor: UUID | None, status_code: int = 200, **extra: Any) -> Response:
    today = now().date()
    counts = await queries.queue_counts(queue, today)
    ctx: dict[str, Any] = dict(tab=tab, counts=counts, tabs=tab_labels(), tab_order=QUEUE_TABS,
                               contracts=queue.contracts, who=who,
                               can_act=principal.role == "commissioner",
                               recent_days=queries.RECENT_BATCH_DAYS, **extra)
    if tab in ("verify", "approve"):
        ctx["claims"] = await queries.queue_claims(queue, tab, cursor, PAGE)
    elif tab == "runs":
        ctx["runs"] = await payments.list_runs_of(queue, "draft", cursor, PAGE)
    elif tab == "batches":
        ctx["batches"] = await queries.queue_batches(queue, today, cursor, PAGE)
    else:
        attention = await queries.contracts_needing_attention(queue, today)
        if cursor is not None:
            attention = [a for a in attention if a.contract.id > cursor]
        more = len(attention) > PAGE
        ctx["attention"] = attention[:PAGE]
        ctx["attention_next"] = str(attention[PAGE - 1].contract.id) if more else None
    fragment = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request")
    template = "web/queue_panel.html" if fragment else "web/queue.html"
    return await page(request, template, status_code=status_code,
                      title=i18n._("Work queue"), **ctx)


async def _selected(request: Request) -> tuple[str, list[UUID], dict[str, Any]]:
    form = await request.form()
    action = str(form.get("action", ""))
    ids: list[UUID] = []
    for value in form.getall("claim", []):
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            continue
    return action, list(dict.fromkeys(ids))[:MAX_BULK], dict(form)


@post("/queue/confirm", opt=WEB, include_in_schema=False)
async def confirm_bulk(request: Request) -> Response:
    """The confirmation of a bulk action: how many claims, on which contracts, and why."""
    principal = principal_of(request)
    queue = await queries.work_queue(principal)
    action, ids, _ = await _selected(request)
    tab = action if action in ACTIONS else "verify"
    if action not in ACTIONS or principal.role != "commissioner":
        raise Forbidden("only the contracts' commissioners verify or approve claims",
                        code="commissioner_only")
    claims = await queries.queue_claims_by_id(queue, ids)
    if not claims:
        return await _render(request, principal, queue, tab, None, status_code=422,
                             errors=[Problem(code="invalid_field", field="claim",
                                             message=i18n._("Choose at least one claim."))])
    return await _confirmation(request, principal, queue, action, claims)


async def _confirmation(request: Request, principal: Principal, queue: queries.WorkQueue,
                        action: str, claims: list[ClaimOut], status_code: int = 200,
                        **extra: Any) -> Response:
    by_contract: dict[UUID, list[ClaimOut]] = defaultdict(list)
    for c in claims:
        by_contract[c.contract_id].append(c)
    total: dict[str, int] = defaultdict(int)
    for c in claims:
        total[c.amount.currency] += c.amount.amount
    extra.setdefault("reason", i18n._("Evidence checked") if action == "verify" else "")
    return await page(request, "web/queue_confirm.html", status_code=status_code,
                      title=i18n._("Confirm"), action=action, claims=claims,
                      by_contract=by_contract, contracts=queue.contracts, totals=dict(total),
                      **extra)


@post("/queue/verify", opt=WEB, include_in_schema=False)
async def bulk_verify(request: Request) -> Response:
    return await _bulk(request, "verify")


@post("/queue/approve", opt=WEB, include_in_schema=False)
async def bulk_approve(request: Request) -> Response:
    return await _bulk(request, "approve")


async def _bulk(request: Request, action: str) -> Response:
    principal = principal_of(request)
    queue = await queries.work_queue(principal)
    if principal.role != "commissioner":
        raise Forbidden("only the contracts' commissioners verify or approve claims",
                        code="commissioner_only")
    _, ids, form = await _selected(request)
    claims = await queries.queue_claims_by_id(queue, ids)
    reason = str(form.get("reason", ""))
    if not claims:
        return await _render(request, principal, queue, action, None, status_code=422,
                             errors=[Problem(code="invalid_field", field="claim",
                                             message=i18n._("Choose at least one claim."))])
    try:
        reason = msgspec.convert({"reason": reason}, DecisionIn).reason if action == "verify" \
            else msgspec.convert({"claim_ids": [str(c.id) for c in claims], "reason": reason},
                                 ApprovalIn).reason
    except msgspec.ValidationError as exc:
        problem = validation_problem(str(exc).split(" - at ")[0], "reason", "reason")
        if len(reason.strip()) < 3:
            problem = Problem(code=problem.code, field="reason",
                              message=i18n._("Say in a few words what was checked."))
        return await _confirmation(request, principal, queue, action, claims,
                                   status_code=422, errors=[problem], reason=reason)
    failed: list[Problem] = []
    done = 0
    if action == "verify":
        for c in claims:
            try:
                await verification.decide(principal, c.id, "verify", reason)
                done += 1
            except DomainError as exc:
                failed.append(Problem(code=exc.code, field=str(c.id),
                                      message=f"{c.client_ref}: {exc.message}"))
    else:
        by_contract: dict[UUID, list[UUID]] = defaultdict(list)
        for c in claims:
            by_contract[c.contract_id].append(c.id)
        for contract_id, claim_ids in by_contract.items():
            try:
                await verification.approve(principal, contract_id, claim_ids, reason)
                done += len(claim_ids)
            except DomainError as exc:
                reference = queue.contracts[contract_id].reference \
                    if contract_id in queue.contracts else str(contract_id)
                failed += [Problem(code=p.code, field=reference, message=p.message)
                           for p in exc.problems] or [
                    Problem(code=exc.code, field=reference, message=exc.message)]
    word = "verified" if action == "verify" else "approved"
    if not failed:
        return Redirect(f"/queue?tab={action}&done={word}&n={done}", status_code=303)
    return await _render(request, principal, queue, action, None, status_code=409,
                         flash=_flash(word, done) if done else None, failed=failed)
