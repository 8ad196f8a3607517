"""Submissions: a contract's intake batches with their validation reports, and its
participants with their outcomes. For the contract's parties; a partner of a partnership
sees its own batches and participants, as `outcomes.queries` scopes every list.

A batch's report groups its rejections by reason code (`contracts.reasons` says what each
means), with the rows each reason refused: the first few on the report, every one, page by
page, when a reason is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from api.web.layout import WEB, page
from contracts import directory
from contracts import service as contracts
from contracts.errors import NotFound
from contracts.reasons import REASONS
from outcomes import queries
from outcomes.schemas import BatchDetail, RowResult

PAGE = 50
ROWS_SHOWN = 20  # rows under each reason on the report; the rest a click away
BATCH_STATUSES = ("accepted", "partial", "rejected")
BATCH_KINDS = ("participants", "claims")
CLAIM_STATUSES = ("accepted", "sampled", "verified", "disputed", "approved", "paid",
                  "reversed")

Status = Annotated[str | None, QueryParameter(description="accepted, partial or rejected")]
Kind = Annotated[str | None, QueryParameter(description="participants or claims")]
Cursor = Annotated[str | None, QueryParameter()]


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A filter's value, or None when it is empty or not one of `allowed` (a stale link
    shows everything rather than an error)."""
    return value if value in allowed else None


async def _names(ids: set[UUID]) -> dict[UUID, str]:
    names = {}
    for org_id in ids:
        try:
            names[org_id] = (await directory.get_organisation(org_id)).name
        except NotFound:
            names[org_id] = str(org_id)
    return names


@get("/contracts/{contract_id:uuid}/batches", opt=WEB, include_in_schema=False)
async def batches(request: Request, contract_id: FromPath[UUID], status: Status = None,
                  kind: Kind = None, cursor: Cursor = None) -> Template:
    principal = principal_of(request)
    contract = await contracts.get_contract(principal, contract_id)
    status, kind = _choice(status, BATCH_STATUSES), _choice(kind, BATCH_KINDS)
    found = await queries.list_batches(principal, contract_id, status=status, kind=kind,
                                       cursor=parse_cursor(cursor or None), limit=PAGE, count=True)
    names = await _names({b.organisation_id for b in found.items})
    context = dict(contract=contract, batches=found, status=status, kind=kind,
                   statuses=BATCH_STATUSES, kinds=BATCH_KINDS, names=names,
                   params={"status": status, "kind": kind},
                   partnership=bool(contract.terms.partners))
    if request.headers.get("hx-request"):
        return await page(request, "web/submissions_rows.html", **context)
    return await page(request, "web/submissions.html", **context)


@dataclass
class Reason:
    """One reason code of a batch's report, with the rows it refused."""

    code: str
    meaning: str
    rows: list[tuple[RowResult, list]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)


def reasons_of(batch: BatchDetail) -> list[Reason]:
    """The rejections grouped by reason code, the most frequent first (a row refused for
    two reasons is under both), each row with the problems of that code."""
    by_code: dict[str, Reason] = {}
    for result in batch.report.results:
        if result.status != "rejected":
            continue
        for code in dict.fromkeys(e.code for e in result.errors) or ["invalid"]:
            reason = by_code.setdefault(code, Reason(code=code, meaning=REASONS.get(code, "")))
            reason.rows.append((result, [e for e in result.errors if e.code == code]))
    return sorted(by_code.values(), key=lambda r: (-r.count, r.code))


@get("/batches/{batch_id:uuid}", opt=WEB, include_in_schema=False)
async def batch(request: Request, batch_id: FromPath[UUID],
                reason: Annotated[str | None, QueryParameter()] = None,
                after: Annotated[int | None, QueryParameter(ge=0)] = None) -> Template:
    principal = principal_of(request)
    detail = await queries.get_batch_detail(principal, batch_id)
    contract = await contracts.get_contract(principal, detail.contract_id)
    grouped = reasons_of(detail)
    chosen = next((r for r in grouped if r.code == reason), None) if reason else None
    rows, next_after = [], None
    if chosen is not None:
        # Every row of one reason, a page at a time, by row number.
        remaining = [r for r in chosen.rows if after is None or r[0].row > after]
        rows = remaining[:PAGE * 4]
        if len(remaining) > len(rows):
            next_after = rows[-1][0].row
    names = await _names({detail.organisation_id})
    return await page(request, "web/batch.html", contract=contract, batch=detail,
                      reasons=grouped, chosen=chosen, rows=rows, next_after=next_after,
                      shown=ROWS_SHOWN, sender=names[detail.organisation_id])


@get("/contracts/{contract_id:uuid}/participants", opt=WEB, include_in_schema=False)
async def participants(request: Request, contract_id: FromPath[UUID],
                       pseudonym: Annotated[str | None, QueryParameter(max_length=200)] = None,
                       cursor: Cursor = None) -> Template:
    principal = principal_of(request)
    contract = await contracts.get_contract(principal, contract_id)
    pseudonym = (pseudonym or "").strip() or None
    if pseudonym is not None and "\x00" in pseudonym:
        pseudonym = pseudonym.replace("\x00", "")
    found = await queries.list_participant_outcomes(
        principal, contract_id, pseudonym=pseudonym, cursor=parse_cursor(cursor or None),
        limit=PAGE, count=True)
    context = dict(contract=contract, participants=found, pseudonym=pseudonym,
                   statuses=CLAIM_STATUSES, params={"pseudonym": pseudonym})
    if request.headers.get("hx-request"):
        return await page(request, "web/participants_rows.html", **context)
    return await page(request, "web/participants.html", **context)


ROUTES = [batches, batch, participants]
