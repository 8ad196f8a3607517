"""Payment runs: the list across the commissioner's contracts, one run with every line and
the journal entries paying it posts, drafting a run for a contract and a period, approving
and paying it, and its remittance once paid.

Maker and checker: the person who drafted a run cannot approve it (409 `same_person`,
`outcomes.payments.approve_run`) unless their organisation allows one person alone, and
then the run says so. Paying is irreversible, so it asks for a confirmation first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.web import i18n
from api.web.layout import WEB, page
from api.web.queue import require_commissioner_pages, who
from contracts import directory
from contracts import service as contracts
from contracts.errors import Conflict, DomainError, Forbidden, NotFound, Problem
from contracts.schemas import validation_problem
from core.clock import now
from outcomes import payments, queries
from outcomes.schemas import PaymentRunIn
from reports import documents

PAGE = 50
LINES = 100
RUN_STATUSES = ("draft", "approved", "paid")


def _messages() -> dict[str, str]:
    """What a refusal on these pages says, in the reader's language, by its code."""
    _ = i18n._
    return {
        "same_person": _("You drafted this payment run, so someone else must approve it: "
                         "ask a colleague. (Your organisation has not allowed one person "
                         "alone to draft and approve.)"),
        "nothing_to_pay": _("There are no approved, unpaid claims achieved in this period."),
        "period_inverted": _("The period ends before it starts."),
        "run_not_approved": _("Approve the payment run before paying it."),
    }


async def _org_names(ids: set[UUID]) -> dict[UUID, str]:
    names = {}
    for org in ids:
        try:
            names[org] = (await directory.get_organisation(org)).name
        except NotFound:
            names[org] = str(org)
    return names


@get("/payments", opt=WEB, include_in_schema=False)
async def runs_page(
    request: Request,
    status: Annotated[str | None, QueryParameter()] = None,
    cursor: Annotated[str | None, QueryParameter()] = None,
) -> Response:
    principal = principal_of(request)
    require_commissioner_pages(principal)
    queue = await queries.work_queue(principal)
    status = status if status in RUN_STATUSES else None
    runs = await payments.list_runs_of(queue, status, parse_cursor(cursor), PAGE, count=True)
    drafting = [c for c in queue.contracts.values() if c.status in ("active", "suspended",
                                                                     "closed")]
    return await page(request, "web/payments.html", title=i18n._("Payment runs"), runs=runs,
                      status=status, statuses=RUN_STATUSES, contracts=queue.contracts,
                      drafting=drafting if principal.role == "commissioner" else [], who=who)


async def _run_page(request: Request, run_id: UUID, status_code: int = 200,
                    **extra: Any) -> Response:
    principal = principal_of(request)
    require_commissioner_pages(principal)
    run = await payments.get_run(principal, run_id)
    contract = await contracts.get_contract(principal, run.contract_id)
    journal = await payments.run_journal(principal, run_id)
    lines = await payments.run_lines(principal, run_id,
                                     parse_cursor(request.query_params.get("cursor")), LINES)
    names = await _org_names({s.organisation_id for s in run.shares}
                             | {c.organisation_id for c in journal.commissioners})
    mine = principal.role == "commissioner" and any(
        c.organisation_id == principal.organisation_id for c in contract.terms.commissioners)
    drafted_by_me = run.created_by == principal.label
    alone_allowed = drafted_by_me and await directory.single_approver(principal.organisation_id)
    return await page(request, "web/payment_run.html", status_code=status_code,
                      title=i18n._("Payment run"), run=run, contract=contract,
                      journal=journal, lines=lines, names=names, who=who, can_act=mine,
                      drafted_by_me=drafted_by_me, alone_allowed=alone_allowed, **extra)


@get("/payment-runs/{run_id:uuid}", opt=WEB, include_in_schema=False)
async def run_page(request: Request, run_id: FromPath[UUID]) -> Response:
    return await _run_page(request, run_id)


async def _step(request: Request, run_id: UUID, step: str) -> Response:
    principal = principal_of(request)
    require_commissioner_pages(principal)
    try:
        if step == "approve":
            await payments.approve_run(principal, run_id)
        else:
            await payments.pay_run(principal, run_id)
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        message = _messages().get(exc.code, exc.message)
        return await _run_page(request, run_id, status_code=409 if isinstance(
            exc, Conflict) else 422, errors=[Problem(code=exc.code, field=step,
                                                     message=message)])
    return Redirect(f"/payment-runs/{run_id}", status_code=303)


@post("/payment-runs/{run_id:uuid}/approve", opt=WEB, include_in_schema=False)
async def approve_run(request: Request, run_id: FromPath[UUID]) -> Response:
    return await _step(request, run_id, "approve")


@post("/payment-runs/{run_id:uuid}/pay", opt=WEB, include_in_schema=False)
async def pay_run(request: Request, run_id: FromPath[UUID]) -> Response:
    return await _step(request, run_id, "pay")


@get("/payment-runs/{run_id:uuid}/remittance.pdf", opt=WEB, include_in_schema=False)
async def remittance(request: Request, run_id: FromPath[UUID]) -> Response[bytes]:
    body, filename = await documents.remittance(principal_of(request), run_id,
                                                i18n.current.get())
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


# Drafting -----------------------------------------------------------------------------------


async def _draft_form(request: Request, contract_id: UUID, status_code: int = 200,
                      **extra: Any) -> Response:
    principal = principal_of(request)
    contract_row = await contracts.require_commissioner(principal, contract_id)
    contract = await contracts.contract_out(contract_row)
    earlier = await payments.list_runs(principal, contract_id)
    start = max((r.period_to for r in earlier), default=None)
    start = start + dt.timedelta(days=1) if start else contract.terms.service_period.start
    extra.setdefault("period_from", start.isoformat())
    extra.setdefault("period_to", now().date().isoformat())
    return await page(request, "web/payment_new.html", status_code=status_code,
                      title=i18n._("Draft a payment run"), contract=contract,
                      earlier=earlier[-5:], **extra)


@get("/contracts/{contract_id:uuid}/payments/new", opt=WEB, include_in_schema=False)
async def draft_page(request: Request, contract_id: FromPath[UUID]) -> Response:
    return await _draft_form(request, contract_id)


@post("/contracts/{contract_id:uuid}/payments/new", opt=WEB, include_in_schema=False)
async def draft_run(request: Request, contract_id: FromPath[UUID]) -> Response:
    principal = principal_of(request)
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in ("period_from", "period_to")}
    try:
        data = msgspec.convert(values, PaymentRunIn)
    except msgspec.ValidationError as exc:
        text, _, at = str(exc).partition(" - at `$.")
        field = at.rstrip("`") or "period_from"
        problem = validation_problem(text, field, "period_from")
        if problem.code == "invalid_field":
            problem = Problem(code="invalid_field", field=field,
                              message=i18n._("Give a date, e.g. 2025-03-31."))
        return await _draft_form(request, contract_id, status_code=422, errors=[problem],
                                 **values)
    digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
    try:
        run, _ = await payments.create_run(principal, contract_id, data, None, digest)
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        field = "period_to" if exc.code == "period_inverted" else ""
        problems = [Problem(code=exc.code, field=p.field or field,
                            message=_messages().get(exc.code, p.message))
                    for p in exc.problems] or [
            Problem(code=exc.code, field=field, message=_messages().get(exc.code, exc.message))]
        return await _draft_form(request, contract_id, status_code=409 if isinstance(
            exc, Conflict) else 422, errors=problems, **values)
    return Redirect(f"/payment-runs/{run.id}", status_code=303)


@get("/payments/new", opt=WEB, include_in_schema=False)
async def choose_contract(
    request: Request, contract: Annotated[str | None, QueryParameter()] = None
) -> Response:
    """The list's "draft a run" form names the contract in the query; the form lives at the
    contract's address."""
    try:
        contract_id = UUID(contract or "")
    except ValueError:
        return Redirect("/payments", status_code=303)
    return Redirect(f"/contracts/{contract_id}/payments/new", status_code=303)
