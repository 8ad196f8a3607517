"""The auditor's pages: the contracts it is assigned to, each with its balance and a
statement for any period (the API's PDF); whether the journal verifies (the check
GET /api/v1/ledger/verify makes: `ledger.verify.verify`), and the latest signed checkpoint,
its signature checked against the key the server trusts (`ledger.checkpoints`).

An auditor reads amounts only of the contracts it audits: the checkpoint's totals shown to it
are those contracts' accounts, as the API's verification gives it their balances and not the
whole ledger's. Administrators see the whole. Nobody else has these pages.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Response, Template

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.routes.reports import PDF
from api.web import i18n
from api.web.forms import parse_day
from api.web.layout import WEB, page
from contracts import service as contracts
from contracts.errors import Forbidden, Invalid, Problem
from contracts.identity import Principal
from core.clock import now
from ledger import checkpoints
from ledger.balances import contract_balance
from ledger.verify import engine_dsn, verify
from reports import documents

PAGE = 25
# Where a refused period is shown: both codes concern the end the reader chose.
PERIOD_FIELD = {"period_in_future": "to", "invalid_period": "to"}


def require_auditor(principal: Principal) -> None:
    if principal.role != "auditor" and not principal.is_admin:
        raise Forbidden("these pages are for auditors", code="auditor_only")


class CheckpointShown(msgspec.Struct, kw_only=True):
    """The latest checkpoint signed by the trusted key, as a reader sees it."""

    seq: int
    head_hash: str
    created_at: dt.datetime | None
    key_id: str
    totals: dict[str, dict[str, int]]  # currency → account code → balance


async def latest_checkpoint(principal: Principal, audited: set[str] | None
                            ) -> tuple[CheckpointShown | None, str | None]:
    """The newest checkpoint the trusted key signed, with the totals the reader may see
    (`audited`: the contracts whose accounts count; None: all); or None and why not."""
    try:
        key = checkpoints.trusted_key(None)
    except checkpoints.UntrustedKey:
        return None, i18n._("No public key is configured to check checkpoints against.")
    doc = await checkpoints.latest_proven(key)
    if doc is None:
        return None, i18n._("No checkpoint signed with the trusted key has been written yet.")
    if audited is None:
        totals = doc.totals
    else:
        sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for a in doc.accounts:
            if a.contract in audited:
                sums[a.currency][a.code] += a.balance
        totals = {c: dict(codes) for c, codes in sorted(sums.items())}
    try:
        created = dt.datetime.fromisoformat(doc.created_at.replace("Z", "+00:00"))
    except ValueError:
        created = None
    return CheckpointShown(seq=doc.seq, head_hash=doc.head_hash, created_at=created,
                           key_id=key[:16], totals=totals), None


async def _audited_ids(principal: Principal) -> set[str] | None:
    """The ids of the contracts the auditor is assigned to (None: an administrator's all)."""
    if principal.is_admin:
        return None
    ids, cursor = set(), None
    while True:
        found = await contracts.list_contracts(principal, cursor=cursor, limit=200)
        ids |= {str(c.id) for c in found.items}
        if found.next_cursor is None:
            return ids
        cursor = UUID(found.next_cursor)


@get("/audit", opt=WEB, include_in_schema=False)
async def home(request: Request, cursor: Annotated[str | None, QueryParameter()] = None
               ) -> Template:
    principal = principal_of(request)
    require_auditor(principal)
    found = await contracts.list_contracts(principal, cursor=parse_cursor(cursor or None),
                                           limit=PAGE, count=True)
    today = now().date()
    balances = {c.id: await contract_balance(c.id, c.currency, today) for c in found.items}
    checkpoint, why = await latest_checkpoint(principal, await _audited_ids(principal))
    return await page(request, "web/audit.html", contracts=found, balances=balances,
                      today=today, checkpoint=checkpoint, no_checkpoint=why)


@get("/audit/verification", opt=WEB, include_in_schema=False)
async def verification(request: Request) -> Template:
    """Recompute the journal's hash chain and balances now. On /audit it loads by itself
    (HTMX), or by following the link without JavaScript: it reads the whole journal."""
    principal = principal_of(request)
    require_auditor(principal)
    report = await verify(engine_dsn())
    template = ("web/audit_verification.html" if request.headers.get("hx-request")
                else "web/audit_verification_page.html")
    return await page(request, template, report=report, checked_at=now())


# One contract ------------------------------------------------------------------------------




async def _contract_page(request: Request, contract_id: UUID, *, status_code: int = 200,
                         errors: list[Problem] | None = None, values: dict | None = None
                         ) -> Template:
    principal = principal_of(request)
    require_auditor(principal)
    contract = await contracts.get_contract(principal, contract_id)
    today = now().date()
    balance = await contract_balance(contract_id, contract.currency, today)
    start, end = documents.statement_period(contract.terms, None, None)
    return await page(request, "web/audit_contract.html", status_code=status_code,
                      contract=contract, balance=balance, today=today,
                      default_from=start, default_to=end, errors=errors or [],
                      values=values or {})


@get("/audit/contracts/{contract_id:uuid}", opt=WEB, include_in_schema=False)
async def contract_page(request: Request, contract_id: FromPath[UUID]) -> Template:
    return await _contract_page(request, contract_id)


@get("/audit/contracts/{contract_id:uuid}/statement.pdf", opt=WEB, include_in_schema=False)
async def statement(request: Request, contract_id: FromPath[UUID]) -> Response:
    """The statement for the period asked (the API's PDF), or the contract's page with the
    problem next to the date it concerns."""
    principal = principal_of(request)
    require_auditor(principal)
    q = request.query_params
    values = {"from": q.get("from") or "", "to": q.get("to") or ""}
    try:
        body, filename = await documents.statement(
            principal, contract_id, parse_day(values["from"], "from"),
            parse_day(values["to"], "to"), i18n.current.get())
    except Invalid as exc:
        problems = exc.problems or [Problem(code=exc.code,
                                            field=PERIOD_FIELD.get(exc.code, "from"),
                                            message=exc.message)]
        return await _contract_page(request, contract_id, status_code=422, errors=problems,
                                    values=values)
    return Response(body, media_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


ROUTES = [home, verification, contract_page, statement]
