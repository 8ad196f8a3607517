"""Documents: auditor statements and remittances as PDF/A-3u (rendered in worker processes),
and the validation reports of intake batches."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery, QueryParameter

from api.auth import principal_of
from api.routes.contracts import parse_cursor
from contracts.schemas import CountedPage
from outcomes import queries
from outcomes.schemas import BatchDetail, BatchKind, BatchOut, BatchStatus
from reports import documents

PDF = "application/pdf"
Lang = Annotated[Literal["da", "nb", "en"] | None, QueryParameter(
    description="the reader's language for money (da, nb or en); by default the "
                "contract's: da for DKK, nb for NOK, else its commissioners' country's")]


def _pdf(body: bytes, filename: str) -> Response[bytes]:
    return Response(body, media_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


class ReportController(Controller):
    path = "/api/v1"
    tags = ["statements"]

    @get("/contracts/{contract_id:uuid}/statement.pdf", media_type=PDF,
         summary="The auditor's statement for a period, PDF/A-3u with the claim list and the "
                 "journal entries attached (CSV and JSON)",
         description="The period is whole UTC days that are over: `to` may not be after "
                     "today (422 `period_in_future`).")
    async def statement(
        self, request: Request, contract_id: FromPath[UUID],
        period_from: Annotated[dt.date | None, QueryParameter(name="from",
                                                         description="first day, UTC")] = None,
        period_to: Annotated[dt.date | None, QueryParameter(name="to",
                                                       description="last day, UTC")] = None,
        lang: Lang = None,
    ) -> Response[bytes]:
        return _pdf(*await documents.statement(principal_of(request), contract_id,
                                               period_from, period_to, lang))

    @get("/payment-runs/{run_id:uuid}/remittance.pdf", media_type=PDF,
         summary="What a paid payment run paid the provider, for which claims, by which "
                 "commissioner (PDF/A-3u, claims attached as CSV)")
    async def remittance(self, request: Request, run_id: FromPath[UUID], lang: Lang = None
                         ) -> Response[bytes]:
        return _pdf(*await documents.remittance(principal_of(request), run_id, lang))

    @get("/contracts/{contract_id:uuid}/batches", tags=["intake"],
         summary="The contract's intake batches, oldest first, with how their rows fared",
         description="`status`: `accepted` (every row), `partial` or `rejected` (no row); "
                     "`count=true` adds the number of batches that match in all.")
    async def batches(
        self, request: Request, contract_id: FromPath[UUID],
        status: FromQuery[BatchStatus | None] = None,
        kind: FromQuery[BatchKind | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        count: FromQuery[bool] = False,
    ) -> CountedPage[BatchOut]:
        return await queries.list_batches(principal_of(request), contract_id, status=status,
                                          kind=kind, cursor=parse_cursor(cursor), limit=limit,
                                          count=count)

    @get("/batches/{batch_id:uuid}", tags=["intake"],
         summary="One intake batch with the validation report it got")
    async def batch(self, request: Request, batch_id: FromPath[UUID]) -> BatchDetail:
        return await queries.get_batch_detail(principal_of(request), batch_id)
