"""The contract designer: a draft built from the metric library, a rate card editor for
every term a line takes, the parties and their shares, the most the contract could cost as
the commissioner types; and the same editor, holding the current terms, to propose a
variation (a draft's terms change the same way: a variation of a draft applies at once).

The form works without JavaScript (see api.web.forms): "add a line" and "add this metric"
post the form and show it again with one more line; "check" shows every problem the
services find without saving. With HTMX the liability is recomputed on every change and
the metric search filters as one types. Problems are shown next to the field they concern
and listed above the form, linked to it.

"What did others pay?" searches the reference library (opendata.reference) for priced
outcomes with how they were validated, prices converted into the contract's currency where a
rate is on record; as a plain GET form it reloads the page, with HTMX it fills its panel. A
draft is made from a reference project on a page of its own, through the service the API
calls (opendata.reference.create_draft), and is then edited here as any draft.

Only commissioners design (403 for others). Saving calls the services the API calls:
contracts.service.create_contract, ledger.commitments.vary.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from api.auth import principal_of
from api.web import forms, i18n
from api.web.contracts import diff_terms
from api.web.layout import WEB, me, page
from contracts import consent, directory, library, service
from contracts.errors import Conflict, DomainError, Forbidden, Invalid, Problem
from contracts.identity import Principal, default_role
from contracts.money import MINOR_UNITS
from contracts.schemas import ContractOut, MetricOut, validation_problem
from effect.queries import organisation_names
from ledger import commitments
from opendata import reference

SHOWN_METRICS = 30
SHOWN_REFERENCES = 10
LINE_KEYS = ("code", "kind", "metric_code", "price", "window", "prerequisite_metric",
             "exclusivity_group", "max_claims_per_participant", "max_count", "max_amount",
             "threshold", "target", "baseline", "horizon_days", "cohort", "evaluation_on",
             "cohort_threshold_bp")
HEAD_KEYS = {"new": ("reference", "title", "intervention", "provider_id", "currency"),
             "vary": ("reason", "effective_on")}
TERM_KEYS = ("terms.service_period", "terms.enrolment_period", "terms.claims_deadline",
             "terms.cap", "terms.per_participant_cap", "terms.sampling_rate_bp",
             "terms.partner_payment", "terms.commissioners", "terms.auditor_ids",
             "terms.partners", "terms.rate_card")
# The groups of a line's fields shown folded, opened when something in them is typed or
# wrong: (form fields, the terms' fields).
GROUPS = {
    "window": (("anchor", "start_day", "end_day", "prerequisite", "exclusivity"),
               ("window", "prerequisite_metric", "exclusivity_group")),
    "limits": (("max_claims", "max_count", "max_amount", "threshold"),
               ("max_claims_per_participant", "max_count", "max_amount", "threshold")),
    "effect": (("target", "horizon", "baseline_kind", "baseline_rate", "baseline_source",
                "baseline_n"), ("target", "horizon_days", "baseline")),
    "cohort": (("cohort", "evaluation_on", "cohort_threshold"),
               ("cohort", "evaluation_on", "cohort_threshold_bp")),
}


def _commissioner_only(principal: Principal) -> None:
    if principal.role != "commissioner":
        raise Forbidden("only commissioners design contracts", code="commissioner_only")


# The metric library ------------------------------------------------------------------------


def matching(metrics: list[MetricOut], q: str | None) -> list[MetricOut]:
    """The metrics whose code, name or category holds every word of `q`."""
    words = (q or "").lower().split()
    return [m for m in metrics
            if all(w in f"{m.code} {m.name} {m.category or ''}".lower() for w in words)]


@get("/contracts/new/metrics", opt=WEB, include_in_schema=False)
async def metric_search(request: Request, q: FromQuery[str | None] = None) -> Response:
    """The metric library filtered by `q`: the fragment for HTMX; a browser without it is
    sent to the designer with the search."""
    _commissioner_only(principal_of(request))
    if not request.headers.get("hx-request"):
        return Redirect("/contracts/new" + (f"?q={quote(q)}" if q else ""), status_code=303)
    found = matching(await library.list_metrics(), q)
    return await page(request, "web/designer_metrics.html", q=q or "",
                      results=found[:SHOWN_METRICS], found=len(found))


# What did others pay? ----------------------------------------------------------------------


async def _references(rq: str | None, currency: str) -> tuple[list, bool]:
    """The priced reference metrics matching `rq`, with prices converted into `currency`;
    whether there are more than are shown."""
    if not (rq or "").strip():
        return [], False
    found = await reference.search(reference.Search(q=rq[:200], priced=True,
                                                    currency=currency),
                                   limit=SHOWN_REFERENCES)
    return found.items, found.next_cursor is not None


@get("/contracts/new/reference", opt=WEB, include_in_schema=False)
async def reference_search(request: Request, rq: FromQuery[str | None] = None,
                           currency: FromQuery[str | None] = None) -> Response:
    """What others paid for outcomes matching `rq`: the fragment for HTMX; a browser
    without it is sent to the designer with the search."""
    _commissioner_only(principal_of(request))
    if not request.headers.get("hx-request"):
        return Redirect("/contracts/new" + (f"?rq={quote(rq)}" if rq else ""),
                        status_code=303)
    currency = currency if currency in MINOR_UNITS else await _home_currency(request)
    references, more = await _references(rq, currency)
    return await page(request, "web/designer_reference.html", rq=(rq or "")[:200],
                      references=references, more_references=more, currency=currency)


DRAFT_FIELDS = ("reference", "title", "provider_id", "currency", "service_start",
                "service_end", "enrolment_start", "enrolment_end", "claims_deadline", "cap")


async def _draft_page(request: Request, code: str, fields: dict[str, str],
                      problems: list[Problem] = (), status_code: int = 200) -> Template:
    project = await reference.project(code, currency=fields["currency"]
                                      if fields["currency"] in MINOR_UNITS else None)
    at: dict[str, list[Problem]] = {}
    for p in problems:
        name = p.field.removeprefix("terms.").split("[")[0].split(".")[0]
        name = {"service_period": "service_start", "enrolment_period": "enrolment_start",
                "commissioners": "", "rate_card": ""}.get(name, name)
        at.setdefault(name if name in DRAFT_FIELDS else "", []).append(p)
    return await page(request, "web/designer_reference_draft.html", status_code=status_code,
                      project=project, fields=fields, problems=list(problems), at=at,
                      providers=(await _organisations())["provider"],
                      currencies=list(MINOR_UNITS),
                      example_amount=forms.example_amount(i18n.current.get()),
                      title=i18n._("A draft from %(code)s", code=project.code))


@get("/contracts/new/reference/{code:str}", opt=WEB, include_in_schema=False)
async def draft_from_reference(request: Request, code: FromPath[str]) -> Template:
    """The form that makes a draft from a reference project: what the project cannot say."""
    _commissioner_only(principal_of(request))
    row = await reference.project_row(code)
    fields = dict.fromkeys(DRAFT_FIELDS, "")
    fields.update(title=row["name"][:300], currency=await _home_currency(request))
    return await _draft_page(request, code, fields)


@post("/contracts/new/reference/{code:str}", opt=WEB, include_in_schema=False,
      status_code=200)
async def save_draft_from_reference(request: Request, code: FromPath[str]) -> Response:
    principal = principal_of(request)
    _commissioner_only(principal)
    form = await request.form()
    fields = {k: str(form.get(k, "")).strip() for k in DRAFT_FIELDS}
    await reference.project_row(code)
    lang = i18n.current.get()
    currency = fields["currency"] if fields["currency"] in MINOR_UNITS else "DKK"
    r = forms.Reader(lang, currency, i18n._)
    body = dict(
        reference=r.required(fields["reference"], "reference"),
        title=fields["title"] or None,
        provider_id=r.uuid(fields["provider_id"], "provider_id", required=True),
        currency=r.required(fields["currency"], "currency"),
        service_period=r.period(fields["service_start"], fields["service_end"],
                                "service_period"),
        enrolment_period=r.period(fields["enrolment_start"], fields["enrolment_end"],
                                  "enrolment_period"),
        claims_deadline=r.date(fields["claims_deadline"], "claims_deadline", required=True),
        cap=r.money(fields["cap"], "cap", required=True))
    if r.problems:
        return await _draft_page(request, code, fields, r.problems, 422)
    try:
        data = msgspec.convert(body, reference.ReferenceDraftIn)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        problem = validation_problem(message, where.rstrip("`"), "")
        return await _draft_page(request, code, fields, [problem], 422)
    try:
        created = await reference.create_draft(principal, code, data)
    except DomainError as exc:
        if isinstance(exc, Forbidden) or exc.code.endswith("not_found"):
            raise
        problems = list(exc.problems) or [Problem(
            code=exc.code, field="reference" if exc.code == "reference_taken" else "",
            message=exc.message)]
        return await _draft_page(request, code, fields, problems,
                                 409 if isinstance(exc, Conflict) else 422)
    return Redirect(f"/contracts/{created.contract.id}/vary", status_code=303)


# The liability preview ---------------------------------------------------------------------


@post("/contracts/new/preview", opt=WEB, include_in_schema=False, status_code=200)
async def preview(request: Request) -> Template:
    """The maximum liability of what is typed so far (a fragment of the designer)."""
    _commissioner_only(principal_of(request))
    d = forms.read_form((await request.form()).multi_items())
    lang = i18n.current.get()
    currency = d.fields["currency"] if d.fields["currency"] in MINOR_UNITS else "DKK"
    return await page(request, "web/designer_liability.html",
                      liability=forms.liability(d, lang, currency, i18n._))


# A new draft -------------------------------------------------------------------------------


async def _home_currency(request: Request) -> str:
    user = await me(request)
    country = (user.organisation_identifier if user else "")[:2]
    return {"DK": "DKK", "NO": "NOK", "SE": "SEK", "GB": "GBP"}.get(country, "EUR")


@get("/contracts/new", opt=WEB, include_in_schema=False)
async def new_contract(request: Request, q: FromQuery[str | None] = None,
                       rq: FromQuery[str | None] = None) -> Template:
    principal = principal_of(request)
    _commissioner_only(principal)
    d = forms.Designer()
    d.fields["currency"] = await _home_currency(request)
    d.commissioners = [{"org": str(principal.organisation_id), "share": "100"}]
    return await _designer(request, d, "new", q=q, rq=rq)


@post("/contracts/new", opt=WEB, include_in_schema=False, status_code=200)
async def save_contract(request: Request) -> Response:
    principal = principal_of(request)
    _commissioner_only(principal)
    form = await request.form()
    d = forms.read_form(form.multi_items())
    lang = i18n.current.get()
    if _edit(form, d):
        return await _designer(request, d, "new")
    data, problems = forms.read_contract(d, lang, i18n._)
    if data is None:
        return await _designer(request, d, "new", problems=problems, status_code=422)
    try:
        if "check" in form:
            if principal.organisation_id not in {c.organisation_id
                                                 for c in data.terms.commissioners}:
                raise Invalid("name your own organisation", problems=[Problem(
                    code="creator_not_commissioner", field="terms.commissioners",
                    message="name your own organisation as a commissioner")])
            await service.validate_terms(data.terms, data.currency,
                                         provider_id=data.provider_id, for_activation=False)
            return await _designer(request, d, "new", checked=True)
        created = await service.create_contract(principal, data)
    except DomainError as exc:
        return await _refused(request, d, "new", exc)
    return Redirect(f"/contracts/{created.id}?done=created", status_code=303)


def _edit(form: Any, d: forms.Designer) -> bool:
    """Apply "add a line" or "add this metric"; whether the form asked for one."""
    if "add_line" in form:
        d.add_line()
        return True
    if form.get("add_metric"):
        d.add_line(str(form.get("add_metric"))[:64])
        return True
    return False


async def _refused(request: Request, d: forms.Designer, mode: str, exc: DomainError,
                   contract: ContractOut | None = None) -> Template:
    if isinstance(exc, Forbidden) or exc.code.endswith("not_found"):
        raise exc
    problems = list(exc.problems)
    if exc.code == "reference_taken":
        problems = [Problem(code=exc.code, field="reference", message=exc.message)]
    elif not problems:
        problems = [Problem(code=exc.code, field="", message=exc.message)]
    return await _designer(request, d, mode, problems=problems, contract=contract,
                           status_code=409 if isinstance(exc, Conflict) else 422)


# A variation -------------------------------------------------------------------------------


async def _varied(request: Request, contract_id: UUID) -> ContractOut:
    """The contract to vary, when the caller is one of its commissioners (404 when it may
    not see it, 403 when it only sees it)."""
    principal = principal_of(request)
    _commissioner_only(principal)
    await service.require_commissioner(principal, contract_id)
    return await service.get_contract(principal, contract_id)


@get("/contracts/{contract_id:uuid}/vary", opt=WEB, include_in_schema=False)
async def vary_form(request: Request, contract_id: FromPath[UUID],
                    q: FromQuery[str | None] = None,
                    rq: FromQuery[str | None] = None) -> Template:
    contract = await _varied(request, contract_id)
    d = forms.from_terms(contract.terms, contract.currency, i18n.current.get())
    if contract.status == "draft":
        d.fields["reason"] = i18n._("Draft revised")
    return await _designer(request, d, "vary", contract=contract, q=q, rq=rq)


@post("/contracts/{contract_id:uuid}/vary", opt=WEB, include_in_schema=False,
      status_code=200)
async def propose(request: Request, contract_id: FromPath[UUID]) -> Response:
    contract = await _varied(request, contract_id)
    principal = principal_of(request)
    form = await request.form()
    d = forms.read_form(form.multi_items())
    d.fields["currency"] = contract.currency
    if _edit(form, d):
        return await _designer(request, d, "vary", contract=contract)
    data, problems = forms.read_variation(d, i18n.current.get(), contract.currency, i18n._)
    if data is None:
        return await _designer(request, d, "vary", contract=contract, problems=problems,
                               status_code=422)
    try:
        if "check" in form:
            await service.validate_terms(data.terms, contract.currency,
                                         provider_id=contract.provider_id,
                                         for_activation=contract.status != "draft")
            return await _designer(request, d, "vary", contract=contract, checked=True)
        proposal = await commitments.vary(principal, contract_id, data)
    except DomainError as exc:
        return await _refused(request, d, "vary", exc, contract)
    return Redirect(f"/contracts/{contract_id}/proposals/{proposal.id}", status_code=303)


@get("/contracts/{contract_id:uuid}/proposals/{proposal_id:uuid}", opt=WEB,
     include_in_schema=False)
async def proposal_page(request: Request, contract_id: FromPath[UUID],
                        proposal_id: FromPath[UUID]) -> Template:
    """A proposed variation: applied at once, or waiting for whom; what it changes."""
    principal = principal_of(request)
    proposal = await consent.get_proposal(principal, contract_id, proposal_id)
    versions = {v.version: v.terms for v in await service.list_versions(principal,
                                                                         contract_id)}
    before = versions.get(proposal.base_version, proposal.contract.terms)
    ids = {a.organisation_id for a in proposal.awaiting}
    for t in (before, proposal.terms):
        ids |= {c.organisation_id for c in t.commissioners} | set(t.auditor_ids)
        ids |= {p.organisation_id for p in t.partners}
    names = await organisation_names(ids)

    def name(org: Any) -> str:
        return names.get(str(org), str(org))

    return await page(request, "web/designer_result.html", proposal=proposal,
                      contract=proposal.contract, awaiting=[
                          f"{name(a.organisation_id)} ({i18n._(a.role)})"
                          for a in proposal.awaiting],
                      changes=diff_terms(before, proposal.terms, proposal.contract.currency,
                                         name))


# The page ----------------------------------------------------------------------------------


def _keys(d: forms.Designer, mode: str) -> list[str]:
    """Every field the form shows problems at."""
    keys = [*HEAD_KEYS[mode], *TERM_KEYS]
    for i in range(len(d.commissioners) + 1):
        keys += [f"terms.commissioners[{i}]", f"terms.commissioners[{i}].organisation_id",
                 f"terms.commissioners[{i}].share_bp"]
    for i in range(len(d.partners) + 1):
        keys += [f"terms.partners[{i}]", f"terms.partners[{i}].organisation_id",
                 f"terms.partners[{i}].split_bp"]
    for i in range(len(d.lines)):
        keys += [f"terms.rate_card[{i}]", *(f"terms.rate_card[{i}].{k}" for k in LINE_KEYS)]
    return keys


async def _organisations() -> dict[str, list]:
    """The organisations a contract may name, by the part they can play."""
    out: dict[str, list] = {"provider": [], "commissioner": [], "auditor": []}
    for o in await directory.list_organisations():
        role = default_role(o.kind)
        if role in out:
            out[role].append(o)
    return out


async def _designer(request: Request, d: forms.Designer, mode: str, *,
                    contract: ContractOut | None = None, problems: list[Problem] = (),
                    q: str | None = None, rq: str | None = None, checked: bool = False,
                    status_code: int = 200) -> Template:
    lang = i18n.current.get()
    metrics = await library.list_metrics()
    found = matching(metrics, q)
    keys = _keys(d, mode)
    orgs = await _organisations()
    placed: dict[str, list[Problem]] = {}
    summary = []
    for p in problems:
        key = forms.place(p.field, keys)
        if key is not None:
            placed.setdefault(key, []).append(p)
        summary.append((p, forms.anchor(key) if key else None))

    def at(key: str) -> list[Problem]:
        return placed.get(key, [])

    def group_open(i: int, row: dict[str, str], group: str) -> bool:
        names, fields = GROUPS[group]
        typed = any(row.get(n, "") != forms.LINE.get(n, "") for n in names)
        return typed or any(at(f"terms.rate_card[{i}].{f}") for f in fields)

    currency = contract.currency if contract else d.fields["currency"]
    if currency not in MINOR_UNITS:
        currency = "DKK"
    url = f"/contracts/{contract.id}/vary" if contract else "/contracts/new"
    provider = (await organisation_names({contract.provider_id})).get(
        str(contract.provider_id), "") if contract else ""
    references, more = await _references(rq, currency)
    return await page(
        request, "web/designer.html", status_code=status_code, mode=mode, d=d,
        rows=d.rows(), contract=contract, provider_name=provider, action=url,
        metrics=metrics, results=found[:SHOWN_METRICS], found=len(found), q=q or "",
        metric_options=[(m.code, f"{m.code} — {m.name}") for m in metrics],
        org_options={role: [(str(o.id), f"{o.name} ({o.identifier})") for o in items]
                     for role, items in orgs.items()},
        orgs=orgs, currencies=list(MINOR_UNITS), currency=currency,
        liability=forms.liability(d, lang, currency, i18n._), problems=list(problems),
        summary=summary, at=at, anchor=forms.anchor, group_open=group_open,
        checked=checked and not problems, example_amount=forms.example_amount(lang),
        example_percent=forms.example_percent(lang), rq=(rq or "")[:200],
        references=references, more_references=more,
        title=i18n._("Propose a variation") if contract else i18n._("Design a contract"))


ROUTES = [metric_search, preview, new_contract, save_contract, vary_form, propose,
          proposal_page, reference_search, draft_from_reference, save_draft_from_reference]
