"""The commissioner's contracts: the list, and a contract's overview (what it achieved
against its targets, what each commissioner paid against its share of the cap, the pipeline
of participants, effect with intervals, variations as a readable diff of terms, the status
history and the documents), with the actions taken from it: activate, accept a variation,
suspend, resume, close.

Every figure comes from the service the JSON API uses for it: contracts.service and
contracts.consent for terms, versions, proposals and events; effect.service for achievement
and effect; ledger.balances (the balance route's) for money; reports.documents for the
PDFs. A contract the caller is not a party to does not exist for it (404), as in the API;
only its commissioners act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.web import i18n
from api.web.forms import parse_day
from api.web.layout import WEB, page
from api.web.surveys import summary as voice_summary
from contracts import consent, service
from contracts.errors import Conflict, DomainError, Invalid, Problem
from contracts.identity import Principal
from contracts.rules import next_status
from contracts.schemas import ContractOut, ContractTerms, PartyRef, RateCardLine
from core.clock import now
from effect import service as effect_service
from effect.queries import organisation_names
from ledger import commitments
from ledger.balances import account_balances, contract_balance
from reports import chart, documents

STATUSES = ("draft", "active", "suspended", "closed")
ACTIONS = ("suspend", "resume", "close")
PAGE_SIZE = 50
# What a redirect after an action says on the page it lands on (?done=…).
DONE = ("activated", "accepted", "withdrawn", "suspend", "resume", "close", "created",
        "varied")


# The list ----------------------------------------------------------------------------------


@get("/contracts", opt=WEB, include_in_schema=False)
async def contract_list(request: Request, status: FromQuery[str | None] = None,
                        cursor: FromQuery[str | None] = None) -> Template:
    principal = principal_of(request)
    status = status if status in STATUSES else None
    found = await service.list_contracts(principal, status=status, cursor=parse_cursor(cursor),
                                         limit=PAGE_SIZE, count=True)
    names = await organisation_names({c.provider_id for c in found.items})
    return await page(request, "web/contracts.html", contracts=found.items,
                      total=found.total, next_cursor=found.next_cursor, status=status,
                      statuses=STATUSES, names=names, cursor=cursor,
                      may_design=principal.role == "commissioner")


# The overview ------------------------------------------------------------------------------


@get("/contracts/{contract_id:uuid}", opt=WEB, include_in_schema=False)
async def overview(request: Request, contract_id: FromPath[UUID],
                   done: FromQuery[str | None] = None) -> Template:
    return await _overview(request, contract_id, done=done if done in DONE else None)


async def _overview(request: Request, contract_id: UUID, *, status_code: int = 200,
                    **extra: Any) -> Template:
    principal = principal_of(request)
    _, rel = await service.relation(principal, contract_id)
    contract = await service.get_contract(principal, contract_id)
    versions = await service.list_versions(principal, contract_id)
    proposals = await consent.list_proposals(principal, contract_id)
    events = await service.list_events(principal, contract_id)
    effect = await effect_service.contract_effect(principal, contract_id)
    voice = await voice_summary(principal, contract_id)
    pending = [p for p in proposals if p.status == "pending"]
    by_version = {v.version: v.terms for v in versions}
    ids = _party_ids(contract, [v.terms for v in versions], pending)
    names = await organisation_names(ids)
    name = _namer(names)
    money = await _money(contract)
    lines = [_line_view(line) for line in effect.lines]
    enrolled = max((line.total.enrolled or 0 for line in effect.lines), default=0)
    history = [{"version": v.version, "reason": v.reason, "effective_on": v.effective_on,
                "recorded_by": v.recorded_by, "recorded_at": v.recorded_at,
                "changes": diff_terms(versions[i - 1].terms, v.terms, contract.currency,
                                      name) if i else []}
               for i, v in enumerate(versions)][::-1]
    pending_views = [{
        "proposal": p,
        "changes": diff_terms(by_version.get(p.base_version, contract.terms), p.terms,
                              contract.currency, name),
        "awaiting": [_party(a, name) for a in p.awaiting],
        "may_accept": _may_accept(principal, rel, p.awaiting),
        "may_withdraw": rel == "commissioner" and bool(p.acceptances)
        and p.acceptances[0].organisation_id == principal.organisation_id,
    } for p in pending]
    accepted = {a.organisation_id for a in await consent.list_acceptances(principal, contract_id)
                if a.version == contract.version and a.proposal_id is None}
    acceptances = [(c.organisation_id, c.organisation_id in accepted)
                   for c in contract.terms.commissioners] if contract.status == "draft" else []
    return await page(
        request, "web/contract.html", status_code=status_code, contract=contract, rel=rel,
        acceptances=acceptances, undefined=_undefined(effect.undefined),
        is_commissioner=rel == "commissioner", effect=effect, lines=lines, enrolled=enrolled,
        money=money, names=names, name=name, history=history, pending=pending_views,
        events=events, actions=[a for a in ACTIONS if next_status(contract.status, a)],
        may_activate=next_status(contract.status, "activate") is not None,
        today=now().date(), title=f"{contract.reference} · {contract.title}", voice=voice,
        **{"done": None, "problem": None, "problems": [], **extra})


def _undefined(given: dict[str, str]):
    """Why a cost is not a number, in the reader's language, from the code the effect
    figures give (`effect.formulas.UNDEFINED`)."""
    _ = i18n._
    said = {"no_outcomes": _("no outcomes achieved yet, so no cost per outcome"),
            "no_baseline": _("the contract states no baseline, so no cost per additional "
                             "outcome"),
            "no_uplift": _("no more outcomes than the baseline predicts, so no cost per "
                           "additional outcome"),
            "suppressed": _("hidden because it concerns fewer people than may be shown")}

    def why(code: str) -> str:
        return said.get(code) or given.get(code, code)
    return why


def _party_ids(contract: ContractOut, terms: list[ContractTerms], pending: list) -> set[UUID]:
    ids = {contract.provider_id}
    for t in [*terms, *(p.terms for p in pending)]:
        ids |= {c.organisation_id for c in t.commissioners} | set(t.auditor_ids)
        ids |= {p.organisation_id for p in t.partners}
    for p in pending:
        ids |= {a.organisation_id for a in p.awaiting}
    return ids


def _namer(names: dict[str, str]):
    def name(org: UUID | str | None) -> str:
        return names.get(str(org), str(org)) if org else "–"
    return name


def _party(ref: PartyRef, name) -> str:
    role = {"commissioner": i18n._("commissioner"), "auditor": i18n._("auditor")}.get(
        ref.role, ref.role)
    return f"{name(ref.organisation_id)} ({role})"


def _may_accept(principal: Principal, rel: str, awaiting: list[PartyRef]) -> bool:
    if rel == "admin":
        return any(a.role == "auditor" for a in awaiting)
    return any(a.organisation_id == principal.organisation_id and a.role == rel
               for a in awaiting)


@dataclass
class LineView:
    """One rate card line's figures as the overview shows them."""

    effect: Any
    progress_pct: float | None  # width of the achieved bar against the target, 0–100
    open: int | None  # participants enrolled whose line's window is still open


def _line_view(line: Any) -> LineView:
    f = line.total
    pct = None
    if f.target:
        pct = round(min(1.0, (f.achieved or 0) / f.target) * 100, 1)
    still_open = None
    if f.enrolled is not None and f.observed is not None:
        still_open = max(0, f.enrolled - f.observed)
    return LineView(effect=line, progress_pct=pct, open=still_open)


async def _money(contract: ContractOut) -> dict:
    """The contract's balance today and, per commissioner, its share of the cap against
    what it has accrued and paid (from the ledger, as GET /balance reads it)."""
    today = now().date()
    total = await contract_balance(contract.id, contract.currency, today)
    shares = commitments.target(contract.terms)
    rows = []
    for c in contract.terms.commissioners:
        b = await account_balances(contract=contract.id, organisation=c.organisation_id,
                                   on=today)
        paid = -b.get(("paid", contract.currency), 0)
        accrued = b.get(("accrued", contract.currency), 0)
        cap = shares.get(c.organisation_id, 0)
        rows.append({"organisation_id": c.organisation_id, "share_bp": c.share_bp, "cap": cap,
                     "paid": paid, "accrued": accrued,
                     "paid_pct": round(min(1.0, paid / cap) * 100, 1) if cap else 0.0,
                     "accrued_pct": round(min(1.0, accrued / cap) * 100, 1) if cap else 0.0})
    return {"total": total, "commissioners": rows,
            "paid_pct": round(min(1.0, total.paid / contract.terms.cap.amount) * 100, 1)
            if contract.terms.cap.amount else 0.0}


# Actions -----------------------------------------------------------------------------------


def _form_text(form: Any, name: str, limit: int = 2_000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@post("/contracts/{contract_id:uuid}/activate", opt=WEB, include_in_schema=False,
      status_code=303)
async def activate(request: Request, contract_id: FromPath[UUID]) -> Response:
    """Accept the draft's terms for one's organisation and activate them when every
    commissioner has; otherwise the overview says who has still to accept."""
    reason = _form_text(await request.form(), "reason")
    try:
        await commitments.activate(principal_of(request), contract_id, reason)
    except DomainError as exc:
        return await _refused(request, contract_id, exc)
    return Redirect(f"/contracts/{contract_id}?done=activated", status_code=303)


@post("/contracts/{contract_id:uuid}/transition", opt=WEB, include_in_schema=False,
      status_code=303)
async def transition(request: Request, contract_id: FromPath[UUID]) -> Response:
    form = await request.form()
    action, reason = _form_text(form, "action", 20), _form_text(form, "reason")
    try:
        if action not in ACTIONS:
            raise Invalid("choose suspend, resume or close", code="invalid_field", problems=[
                Problem(code="invalid_field", field="action",
                        message=i18n._("Choose suspend, resume or close."))])
        if action == "close" and form.get("confirm") != "yes":
            raise Invalid("confirm closing", code="confirmation_required", problems=[
                Problem(code="confirmation_required", field="confirm",
                        message=i18n._("Closing cannot be undone: tick the box to confirm."))])
        await service.transition(principal_of(request), contract_id, action, reason)
    except DomainError as exc:
        return await _refused(request, contract_id, exc)
    return Redirect(f"/contracts/{contract_id}?done={action}", status_code=303)


@post("/contracts/{contract_id:uuid}/proposals/{proposal_id:uuid}/accept", opt=WEB,
      include_in_schema=False, status_code=303)
async def accept_proposal(request: Request, contract_id: FromPath[UUID],
                          proposal_id: FromPath[UUID]) -> Response:
    try:
        await commitments.accept(principal_of(request), contract_id, proposal_id)
    except DomainError as exc:
        return await _refused(request, contract_id, exc)
    return Redirect(f"/contracts/{contract_id}?done=accepted", status_code=303)


@post("/contracts/{contract_id:uuid}/proposals/{proposal_id:uuid}/withdraw", opt=WEB,
      include_in_schema=False, status_code=303)
async def withdraw_proposal(request: Request, contract_id: FromPath[UUID],
                            proposal_id: FromPath[UUID]) -> Response:
    try:
        await consent.withdraw(principal_of(request), contract_id, proposal_id)
    except DomainError as exc:
        return await _refused(request, contract_id, exc)
    return Redirect(f"/contracts/{contract_id}?done=withdrawn", status_code=303)


async def _refused(request: Request, contract_id: UUID, exc: DomainError) -> Response:
    """The overview again, with why the action was refused. A contract the caller may not
    see, or an action it may not take, is the error page (404, 403) as elsewhere."""
    if not isinstance(exc, Invalid | Conflict):
        raise exc
    status = 409 if isinstance(exc, Conflict) else 422
    problems = exc.problems
    if exc.code == "acceptance_missing":
        contract = await service.get_contract(principal_of(request), contract_id)
        names = await organisation_names({c.organisation_id for c in contract.terms.commissioners})
        problems = [Problem(code=p.code, field=p.field,
                            message=names.get(str(_commissioner(contract, p.field)), p.message))
                    for p in exc.problems]
    return await _overview(request, contract_id, status_code=status, problem=exc,
                           problems=problems)


def _commissioner(contract: ContractOut, where: str) -> UUID | None:
    """The organisation a problem at terms.commissioners[i] names."""
    try:
        i = int(where.split("[", 1)[1].split("]", 1)[0])
        return contract.terms.commissioners[i].organisation_id
    except (IndexError, ValueError):
        return None


# Documents ---------------------------------------------------------------------------------




def _pdf(body: bytes, filename: str) -> Response[bytes]:
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


@get("/contracts/{contract_id:uuid}/statement.pdf", opt=WEB, include_in_schema=False)
async def statement_pdf(request: Request, contract_id: FromPath[UUID]) -> Response[bytes]:
    """The auditor's statement for a period (the API's), in the reader's language."""
    q = request.query_params
    return _pdf(*await documents.statement(
        principal_of(request), contract_id, parse_day(q.get("from"), "from"),
        parse_day(q.get("to"), "to"), i18n.current.get()))


@get("/contracts/{contract_id:uuid}/effect.pdf", opt=WEB, include_in_schema=False)
async def effect_pdf(request: Request, contract_id: FromPath[UUID]) -> Response[bytes]:
    """The contract's effect report (the API's), in the reader's language."""
    as_of = parse_day(request.query_params.get("as_of"), "as_of")
    return _pdf(*await documents.effect(principal_of(request), contract_id, as_of,
                                        i18n.current.get()))


@get("/contracts/{contract_id:uuid}/effect.svg", opt=WEB, include_in_schema=False)
async def effect_svg(request: Request, contract_id: FromPath[UUID]) -> Response[str]:
    """The effect report's chart of the contract's lines: achieved against target, the
    rate with its interval beside the baseline."""
    effect = await effect_service.contract_effect(principal_of(request), contract_id)
    return Response(chart.effect_lines_chart(effect, i18n.current.get()),
                    media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# A readable diff of terms ------------------------------------------------------------------


@dataclass
class Change:
    """One difference between two versions of terms: `old` None when it was added, `new`
    None when it was removed."""

    what: str
    old: str | None
    new: str | None


def _pct(bp: int | None) -> str | None:
    return None if bp is None else i18n.percent(bp / 10_000, 2 if bp % 100 else 0)


def _money_text(m: Any) -> str | None:
    return None if m is None else i18n.money(m.amount, m.currency)


def _period(p: Any) -> str:
    return f"{i18n.date(p.start)} – {i18n.date(p.end)}"


def _window(w: Any) -> str | None:
    if w is None:
        return None
    anchor = (i18n._("after enrolment") if w.anchor == "enrolment"
              else i18n._("after the prerequisite"))
    return i18n._("days %(start)s–%(end)s %(anchor)s", start=w.start_day, end=w.end_day,
                  anchor=anchor)


def _baseline(b: Any) -> str | None:
    if b is None:
        return None
    kinds = {"historical": i18n._("historical"), "comparison_group": i18n._("comparison group"),
             "national_statistic": i18n._("national statistic")}
    text = f"{_pct(b.rate_bp)} ({kinds.get(b.kind, b.kind)}: {b.source}"
    return text + (f", n = {i18n.number(b.n)})" if b.n else ")")


def _line_fields() -> dict[str, tuple[str, Any]]:
    """Each term of a rate card line: its label and how its value reads."""
    same = lambda v: None if v is None else str(v)  # noqa: E731
    count = lambda v: None if v is None else i18n.number(v)  # noqa: E731
    return {
        "metric_code": (i18n._("metric"), same),
        "kind": (i18n._("kind"), lambda v: {"outcome": i18n._("per outcome"),
                                            "cohort": i18n._("per cohort")}.get(v, v)),
        "price": (i18n._("price"), _money_text),
        "window": (i18n._("window"), _window),
        "prerequisite_metric": (i18n._("prerequisite"), same),
        "exclusivity_group": (i18n._("exclusivity group"), same),
        "max_claims_per_participant": (i18n._("claims per participant"), count),
        "max_count": (i18n._("most outcomes paid"), count),
        "max_amount": (i18n._("most paid on the line"), _money_text),
        "threshold": (i18n._("threshold"), same),
        "target": (i18n._("target"), count),
        "baseline": (i18n._("baseline"), _baseline),
        "horizon_days": (i18n._("horizon in days"), count),
        "cohort": (i18n._("cohort"), same),
        "evaluation_on": (i18n._("evaluated on"), lambda v: None if v is None else i18n.date(v)),
        "cohort_threshold_bp": (i18n._("cohort threshold"), _pct),
    }


def _line_summary(line: RateCardLine) -> str:
    return f"{line.metric_code}, {_money_text(line.price)}"


def diff_terms(before: ContractTerms, after: ContractTerms, currency: str, name
               ) -> list[Change]:
    """What changed from `before` to `after`, in words and the reader's formats; `name`
    gives an organisation's name."""
    _ = i18n._
    out: list[Change] = []

    def changed(what: str, old: str | None, new: str | None) -> None:
        if old != new:
            out.append(Change(what, old, new))

    changed(_("Service period"), _period(before.service_period), _period(after.service_period))
    changed(_("Enrolment period"), _period(before.enrolment_period),
            _period(after.enrolment_period))
    changed(_("Claims deadline"), i18n.date(before.claims_deadline),
            i18n.date(after.claims_deadline))
    changed(_("Cap"), _money_text(before.cap), _money_text(after.cap))
    changed(_("Cap per participant"), _money_text(before.per_participant_cap),
            _money_text(after.per_participant_cap))
    changed(_("Sampling rate"), _pct(before.sampling_rate_bp), _pct(after.sampling_rate_bp))
    payment = {"by_claimant": _("each provider for its own claims"),
               "by_split": _("by the agreed split")}
    changed(_("Partners are paid"), payment.get(before.partner_payment),
            payment.get(after.partner_payment))
    old = {c.organisation_id: c.share_bp for c in before.commissioners}
    new = {c.organisation_id: c.share_bp for c in after.commissioners}
    for org in dict.fromkeys([*old, *new]):
        changed(_("Share of %(name)s", name=name(org)), _pct(old.get(org)), _pct(new.get(org)))
    for org in dict.fromkeys([*before.auditor_ids, *after.auditor_ids]):
        changed(_("Auditor"), name(org) if org in before.auditor_ids else None,
                name(org) if org in after.auditor_ids else None)
    old_p = {p.organisation_id: p for p in before.partners}
    new_p = {p.organisation_id: p for p in after.partners}
    for org in dict.fromkeys([*old_p, *new_p]):
        a, b = old_p.get(org), new_p.get(org)
        if a is None or b is None:
            changed(_("Partner"), name(org) if a else None, name(org) if b else None)
        else:
            changed(_("Split of %(name)s", name=name(org)), _pct(a.split_bp), _pct(b.split_bp))
    old_l = {line.code: line for line in before.rate_card}
    new_l = {line.code: line for line in after.rate_card}
    fields = _line_fields()
    for code in dict.fromkeys([*old_l, *new_l]):
        a, b = old_l.get(code), new_l.get(code)
        if a is None or b is None:
            changed(_("Line %(code)s", code=code), _line_summary(a) if a else None,
                    _line_summary(b) if b else None)
            continue
        for field_name in RateCardLine.__struct_fields__:
            label, show = fields.get(field_name, (field_name, lambda v: None if v is None
                                                  else str(v)))
            changed(_("Line %(code)s: %(what)s", code=code, what=label),
                    show(getattr(a, field_name)), show(getattr(b, field_name)))
    return out


ROUTES = [contract_list, overview, activate, transition, accept_proposal, withdraw_proposal,
          statement_pdf, effect_pdf, effect_svg]
