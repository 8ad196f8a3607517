"""Comparison and advice: which contracts pay for a metric (or a category of metrics), on a
funnel plot and in a table listed by reference, never ranked; for commissioners, the
allocation advice with its evidence, and their decision on it for their own contracts:
accept (Virker drafts the variation, which they can propose from here) or override with a
justification. The same services as GET /api/v1/comparisons, /advice and their decisions.

Everyone signed in sees a comparison (figures about fewer than k people of contracts the
reader is not a party to are suppressed by `effect.service`); advice and decisions are for
commissioners (and administrators, who read them).

The comparison pages read from the read replica when there is one (`on_replica`): a
decision just made shows on its own page at once (the primary) and in the comparison's list
seconds later.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Response, Template
from markupsafe import Markup, escape

from api.auth import principal_of
from api.web import i18n
from api.web.admin import form_struct, status_of
from api.web.layout import WEB, page
from contracts import consent, library
from contracts import service as contracts
from contracts.errors import DomainError, Forbidden, NotFound
from contracts.identity import Principal
from contracts.money import Money
from contracts.schemas import ContractTerms, VariationIn
from core.database import on_replica
from effect import queries as effect_queries
from effect import service
from effect.formulas import UNDEFINED
from effect.schemas import AdviceDecisionIn, AdviceDecisionOut
from ledger import commitments
from reports.chart import funnel_svg
from reports.effect import comparison_curve

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
SHIFTS = (0.05, 0.06, 0.07, 0.08, 0.09, 0.10)


# The subjects ------------------------------------------------------------------------------


@dataclass
class Subject:
    code: str
    name: str
    kind: str  # metric or category
    contracts: int
    metrics: list[Subject]


async def subjects() -> list[Subject]:
    """The metric library's categories (each with its metrics) and the metrics of no
    category, each with how many contracts (not drafts) pay for it: those a comparison of
    it would list."""
    metrics = await library.list_metrics()
    infos = await effect_queries.contracts()
    paying: dict[str, set[UUID]] = {}
    for info in infos:
        for line in info.terms.rate_card:
            paying.setdefault(line.metric_code, set()).add(info.id)
    categories: dict[str, Subject] = {}
    loose: list[Subject] = []
    for m in sorted(metrics, key=lambda m: m.code):
        one = Subject(code=m.code, name=m.name, kind="metric",
                      contracts=len(paying.get(m.code, ())), metrics=[])
        if m.category:
            category = categories.setdefault(m.category, Subject(
                code=m.category, name=m.category, kind="category", contracts=0, metrics=[]))
            category.metrics.append(one)
        else:
            loose.append(one)
    for category in categories.values():
        category.contracts = len(set().union(*(paying.get(m.code, set())
                                               for m in category.metrics)))
    return [*sorted(categories.values(), key=lambda c: c.code), *loose]


@get("/compare", opt=WEB, include_in_schema=False)
@on_replica
async def index(request: Request) -> Template:
    return await page(request, "web/compare.html", subjects=await subjects())


# One subject -------------------------------------------------------------------------------


def _shift(value: str | float | None) -> float:
    try:
        shift = round(float(value), 2) if value not in (None, "") else 0.10
    except (TypeError, ValueError):
        return 0.10
    return shift if SHIFTS[0] <= shift <= SHIFTS[-1] else 0.10


def inline_svg(svg: str, label: str) -> Markup:
    """Matplotlib's SVG document as an element of the page (our own output: no script),
    named for screen readers."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    body = body.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(body)  # noqa: S704 - made by reports.chart from figures, not from input


async def _subject_context(principal: Principal, subject: str, shift: float) -> dict:
    comparison, advice = await service.comparison_and_advice(principal, subject,
                                                             shift_share=shift)
    svg = await asyncio.to_thread(funnel_svg, comparison, comparison_curve(comparison),
                                  i18n.current.get())
    label = i18n._("Funnel plot of %(subject)s: each contract's outcome rate against the "
                   "participants observed, with the 95 %% and 99.8 %% limits",
                   subject=subject)
    context: dict[str, Any] = dict(
        subject=subject, comparison=comparison, svg=inline_svg(svg, label),
        undefined=UNDEFINED, shift=shift, shifts=SHIFTS, advice=None, decisions=[],
        can_decide=principal.role == "commissioner", errors=[], message=None,
        error_contract=None, values={},
        references={u.contract_id: u.reference for u in comparison.units})
    if advice is not None:
        decisions = await service.list_decisions(principal, subject)
        context.update(advice=advice, decisions=list(reversed(decisions))[:50])
    return context


@get("/compare/{subject:str}", opt=WEB, include_in_schema=False)
@on_replica
async def subject_page(request: Request, subject: FromPath[str],
                       shift: Annotated[str | None, QueryParameter()] = None) -> Template:
    context = await _subject_context(principal_of(request), subject, _shift(shift))
    return await page(request, "web/compare_subject.html", **context)


def decision_path(subject: str, decision_id: UUID) -> str:
    return f"/compare/{quote(subject, safe='')}/decisions/{decision_id}"


@post("/compare/{subject:str}/decisions", opt=WEB, include_in_schema=False)
async def decide(request: Request, subject: FromPath[str], data: Form) -> Response:
    principal = principal_of(request)
    if principal.role != "commissioner":
        raise Forbidden("only a contract's commissioners decide on its advice",
                        code="commissioner_only")
    shift = _shift(data.get("shift"))
    htmx = bool(request.headers.get("hx-request"))
    try:
        made = await service.decide(principal, subject, form_struct(
            {**data, "shift": shift}, AdviceDecisionIn))
    except DomainError as exc:
        if not exc.problems:  # not found, forbidden: the error page says it
            raise
        context = await _subject_context(principal, subject, shift)
        context.update(errors=exc.problems, message=exc.message,
                       error_contract=str(data.get("contract_id", "")), values=data)
        status = status_of(exc)
        if htmx:
            unit = next((u for u in context["advice"].units
                         if str(u.contract_id) == context["error_contract"]), None)
            if unit is not None:
                # HTMX swaps only 2xx answers: the card with its error comes back as 200.
                return await page(request, "web/compare_unit.html", unit=unit, **context)
        return await page(request, "web/compare_subject.html", status_code=status, **context)
    target = decision_path(subject, made.id)
    if htmx and made.decision == "overridden":
        context = await _subject_context(principal, subject, shift)
        unit = next(u for u in context["advice"].units if u.contract_id == made.contract_id)
        return await page(request, "web/compare_unit.html", unit=unit, **context)
    if htmx:
        return Response(content="", status_code=200, media_type=MediaType.HTML,
                        headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


# A decision and the variation it drafted ---------------------------------------------------


@dataclass
class Change:
    what: str
    before: str
    after: str


def _money(value: Money | None) -> str:
    return i18n.amount(value)


def _count(value: int | None) -> str:
    return i18n.number(value) if value is not None else i18n._("none")


def changes(before: ContractTerms, after: ContractTerms) -> list[Change]:
    """The key changes of a drafted variation, for a reader: the cap and, per rate card
    line, the target, the maximum count, the maximum amount and the price; anything else
    that changed is named by its field."""
    _ = i18n._
    out = []
    if before.cap != after.cap:
        out.append(Change(_("Cap"), _money(before.cap), _money(after.cap)))
    old = {line.code: line for line in before.rate_card}
    for line in after.rate_card:
        was = old.get(line.code)
        if was is None:
            out.append(Change(_("Line %(code)s", code=line.code), _("not on the rate card"),
                              _("added")))
            continue
        for field, label, show in (
                ("target", _("target"), _count), ("max_count", _("maximum count"), _count),
                ("max_amount", _("maximum amount"), _money), ("price", _("price"), _money)):
            a, b = getattr(was, field), getattr(line, field)
            if a != b:
                out.append(Change(_("Line %(code)s: %(what)s", code=line.code, what=label),
                                  show(a), show(b)))
    named = {"cap", "rate_card"}
    b_dict, a_dict = msgspec.to_builtins(before), msgspec.to_builtins(after)
    for field in sorted(set(b_dict) | set(a_dict)):
        if field not in named and b_dict.get(field) != a_dict.get(field):
            out.append(Change(field, _("changed"), _("changed")))
    return out


async def _decision(principal: Principal, subject: str, decision_id: UUID
                    ) -> AdviceDecisionOut:
    for d in await service.list_decisions(principal, subject):
        if d.id == decision_id:
            return d
    raise NotFound("no such decision", code="not_found")


async def _decision_context(principal: Principal, subject: str, decision_id: UUID) -> dict:
    decision = await _decision(principal, subject, decision_id)
    contract = await contracts.get_contract(principal, decision.contract_id)
    drafted = changes(contract.terms, decision.draft_terms) if decision.draft_terms else []
    return dict(subject=subject, decision=decision, contract=contract, changes=drafted,
                can_propose=(decision.draft_terms is not None
                             and principal.role == "commissioner"
                             and contract.status != "closed"),
                errors=[], message=None, values={}, proposal=None)


@get("/compare/{subject:str}/decisions/{decision_id:uuid}", opt=WEB, include_in_schema=False)
async def decision_page(request: Request, subject: FromPath[str],
                        decision_id: FromPath[UUID],
                        proposal: Annotated[str | None, QueryParameter()] = None) -> Template:
    principal = principal_of(request)
    context = await _decision_context(principal, subject, decision_id)
    if proposal:
        try:
            context["proposal"] = await consent.get_proposal(
                principal, context["contract"].id, UUID(proposal))
        except (ValueError, NotFound):
            context["proposal"] = None
    return await page(request, "web/compare_decision.html", **context)


@post("/compare/{subject:str}/decisions/{decision_id:uuid}/propose", opt=WEB,
      include_in_schema=False)
async def propose(request: Request, subject: FromPath[str], decision_id: FromPath[UUID],
                  data: Form) -> Response:
    """Propose the drafted variation as it is, with the commissioner's reason, through the
    one door for variations (`ledger.commitments.vary`)."""
    principal = principal_of(request)
    context = await _decision_context(principal, subject, decision_id)
    decision = context["decision"]
    if decision.draft_terms is None:
        raise NotFound("this decision drafted no variation", code="not_found")
    try:
        variation = form_struct({"reason": data.get("reason", ""),
                                 "effective_on": data.get("effective_on", ""),
                                 "terms": msgspec.to_builtins(decision.draft_terms)},
                                VariationIn)
        made = await commitments.vary(principal, decision.contract_id, variation)
    except DomainError as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        context.update(errors=exc.problems, message=exc.message, values=data)
        return await page(request, "web/compare_decision.html", status_code=status_of(exc),
                          **context)
    return Redirect(f"{decision_path(subject, decision_id)}?proposal={made.id}",
                    status_code=303)


ROUTES = [index, subject_page, decide, decision_page, propose]
