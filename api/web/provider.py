"""The provider's pages: the contracts it delivers (as lead or partner), the rate card it
works under, its batches and participants (the submissions pages), the payment runs of its
contracts with their remittances, and its organisation's API keys: created with the key
shown once, on the page that answers the creation, and revoked after a confirmation.

Read-only beside the API, except for the keys. The same services as the API; a partner sees
what `outcomes.queries` and `reports.documents` scope to it.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Response, Template

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.routes.reports import PDF
from api.web import i18n
from api.web.admin import flash, form_struct, problems_of, status_of
from api.web.layout import WEB, page
from contracts import directory, library
from contracts import service as contracts
from contracts.errors import Conflict, Forbidden, Invalid
from contracts.identity import Principal
from contracts.schemas import ApiKeyIn, ContractOut, RateCardLine
from outcomes import payments, queries
from reports import documents
from voice import service as voice

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = 50


def require_provider(principal: Principal) -> None:
    if principal.role != "provider":
        raise Forbidden("these pages are for providers", code="provider_only")


def role_on(contract: ContractOut, principal: Principal) -> str:
    return "lead" if contract.provider_id == principal.organisation_id else "partner"


@get("/provider", opt=WEB, include_in_schema=False)
async def home(request: Request, cursor: Annotated[str | None, QueryParameter()] = None
               ) -> Template:
    principal = principal_of(request)
    require_provider(principal)
    found = await contracts.list_contracts(principal, cursor=parse_cursor(cursor or None),
                                           limit=PAGE, count=True)
    roles = {c.id: role_on(c, principal) for c in found.items}
    return await page(request, "web/provider.html", contracts=found, roles=roles)


# One contract ------------------------------------------------------------------------------


def constraints(line: RateCardLine, names: dict[str, str]) -> list[str]:
    """A rate card line's rules, each as a reader would say it."""
    _ = i18n._
    out = []
    if line.window is not None:
        if line.window.anchor == "prerequisite":
            out.append(_("achieved from day %(start)s to day %(end)s after the prerequisite",
                         start=line.window.start_day, end=line.window.end_day))
        else:
            out.append(_("achieved from day %(start)s to day %(end)s after enrolment",
                         start=line.window.start_day, end=line.window.end_day))
    if line.prerequisite_metric:
        out.append(_("needs %(metric)s first",
                     metric=names.get(line.prerequisite_metric, line.prerequisite_metric)))
    if line.exclusivity_group:
        out.append(_("one line of the group %(group)s per participant",
                     group=line.exclusivity_group))
    if line.kind == "outcome":
        out.append(i18n.ngettext("at most %(num)s claim per participant",
                                 "at most %(num)s claims per participant",
                                 line.max_claims_per_participant))
    if line.max_count is not None:
        out.append(_("at most %(n)s outcomes paid in all", n=i18n.number(line.max_count)))
    if line.max_amount is not None:
        out.append(_("at most %(amount)s paid in all", amount=i18n.amount(line.max_amount)))
    if line.threshold is not None:
        out.append(_("the score must move by at least %(threshold)s",
                     threshold=line.threshold))
    if line.target is not None:
        out.append(_("target: %(n)s outcomes", n=i18n.number(line.target)))
    if line.horizon_days is not None:
        out.append(_("observed %(days)s days after enrolment", days=line.horizon_days))
    if line.kind == "cohort":
        out.append(_("paid for the cohort %(cohort)s when at least %(share)s of it achieve "
                     "it by %(day)s", cohort=line.cohort or "",
                     share=i18n.percent((line.cohort_threshold_bp or 0) / 10_000),
                     day=i18n.date(line.evaluation_on)))
    return out


@get("/provider/contracts/{contract_id:uuid}", opt=WEB, include_in_schema=False)
async def contract_page(request: Request, contract_id: FromPath[UUID]) -> Template:
    principal = principal_of(request)
    require_provider(principal)
    contract = await contracts.get_contract(principal, contract_id)
    codes = {line.metric_code for line in contract.terms.rate_card}
    codes |= {line.prerequisite_metric for line in contract.terms.rate_card
              if line.prerequisite_metric}
    metrics = await library.metrics_by_code(codes)
    names = {code: m.name for code, m in metrics.items()}
    lines = [(line, names.get(line.metric_code, line.metric_code), constraints(line, names))
             for line in contract.terms.rate_card]
    batches = await queries.list_batches(principal, contract_id, limit=1, count=True)
    rejected = await queries.list_batches(principal, contract_id, status="rejected", limit=1,
                                          count=True)
    partial = await queries.list_batches(principal, contract_id, status="partial", limit=1,
                                         count=True)
    participants = await queries.list_participants(principal, contract_id, limit=1,
                                                   count=True)
    runs = await payments.list_runs(principal, contract_id)
    runs.reverse()  # newest first
    waves = await voice.waves(principal, contract_id)
    return await page(request, "web/provider_contract.html", contract=contract, waves=waves,
                      role=role_on(contract, principal), lines=lines, runs=runs,
                      batches=batches.total, rejected=rejected.total, partial=partial.total,
                      participants=participants.total)


@get("/provider/payment-runs/{run_id:uuid}/remittance.pdf", opt=WEB, include_in_schema=False)
async def remittance(request: Request, run_id: FromPath[UUID]) -> Response[bytes]:
    principal = principal_of(request)
    require_provider(principal)
    body, filename = await documents.remittance(principal, run_id, i18n.current.get())
    return Response(body, media_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


# API keys ----------------------------------------------------------------------------------


async def _keys_page(request: Request, *, status_code: int = 200, **extra: Any) -> Template:
    principal = principal_of(request)
    require_provider(principal)
    keys = await directory.list_api_keys(principal)
    active = [k for k in keys if k.revoked_at is None]
    revoked = [k for k in keys if k.revoked_at is not None]
    return await page(request, "web/provider_keys.html", status_code=status_code,
                      keys=active, revoked=revoked[-PAGE:], revoked_total=len(revoked),
                      errors=extra.pop("errors", []), message=extra.pop("message", None),
                      values=extra.pop("values", {}), **extra)


@get("/provider/keys", opt=WEB, include_in_schema=False)
async def keys(request: Request, done: Annotated[str | None, QueryParameter()] = None
               ) -> Template:
    return await _keys_page(request, flash=flash(done))


@post("/provider/keys", opt=WEB, include_in_schema=False)
async def create_key(request: Request, data: Form) -> Template:
    principal = principal_of(request)
    require_provider(principal)
    try:
        created = await directory.create_api_key(
            principal, form_struct({"label": data.get("label", "")}, ApiKeyIn))
    except (Invalid, Conflict) as exc:
        return await _keys_page(request, status_code=status_of(exc), errors=problems_of(exc),
                                message=exc.message, values=data)
    org = await directory.get_organisation(created.organisation_id)
    return await page(request, "web/admin_key_created.html", status_code=201,
                      created=created, organisation_name=org.name, back="/provider/keys")


@post("/provider/keys/{key_id:uuid}/revoke", opt=WEB, include_in_schema=False)
async def revoke_key(request: Request, key_id: FromPath[UUID]) -> Redirect:
    principal = principal_of(request)
    require_provider(principal)
    await directory.revoke_api_key(principal, key_id)
    return Redirect("/provider/keys?done=revoked", status_code=303)


ROUTES = [home, contract_page, remittance, keys, create_key, revoke_key]
