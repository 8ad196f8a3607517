"""Auditor statements and remittances as PDF/A-3u, rendered in worker processes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from api.auth import principal_of
from contracts import service as contracts
from contracts.errors import Conflict, Invalid, NotFound
from contracts.tables import Contract
from core.clock import now
from core.database import engine_url, piccolo_conf_engine
from outcomes import payments
from reports import pool

PDF = "application/pdf"
MAX_PERIOD_DAYS = 366 * 20


def statement_period(terms, period_from: dt.date | None, period_to: dt.date | None
                     ) -> tuple[dt.date, dt.date]:
    """The period asked for; by default from the start of the service period to today."""
    start = period_from or terms.service_period.start
    end = period_to or now().date()
    if end < start:
        raise Invalid(f"the period ends ({end}) before it starts ({start})",
                      code="invalid_period")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise Invalid("a statement covers at most twenty years", code="invalid_period")
    return start, end


def _pdf(body: bytes, filename: str) -> Response[bytes]:
    return Response(body, media_type=PDF, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store"})


class ReportController(Controller):
    path = "/api/v1"
    tags = ["statements"]

    @get("/contracts/{contract_id:uuid}/statement.pdf", media_type=PDF,
         summary="The auditor's statement for a period, PDF/A-3u with the claim list and the "
                 "journal entries attached (CSV and JSON)")
    async def statement(
        self, request: Request, contract_id: FromPath[UUID],
        period_from: Annotated[dt.date | None, QueryParameter(name="from",
                                                         description="first day, UTC")] = None,
        period_to: Annotated[dt.date | None, QueryParameter(name="to",
                                                       description="last day, UTC")] = None,
    ) -> Response[bytes]:
        row, _ = await contracts.relation(principal_of(request), contract_id)
        terms = await contracts.current_terms(contract_id, row["version"])
        start, end = statement_period(terms, period_from, period_to)
        body = await pool.run(pool.statement_job, engine_url(piccolo_conf_engine()),
                              contract_id, start, end)
        return _pdf(body, f"statement-{row['reference']}-{start}-{end}.pdf")

    @get("/payment-runs/{run_id:uuid}/remittance.pdf", media_type=PDF,
         summary="What a paid payment run paid the provider, for which claims, by which "
                 "commissioner (PDF/A-3u, claims attached as CSV)")
    async def remittance(self, request: Request, run_id: FromPath[UUID]) -> Response[bytes]:
        run = await payments.get_run(principal_of(request), run_id)
        if run.status != "paid":
            raise Conflict("a remittance is made once the run is paid", code="run_not_paid")
        row = await Contract.select(Contract.reference).where(
            Contract.id == run.contract_id).first()
        if row is None:  # pragma: no cover - a run always has its contract
            raise NotFound("no such payment run", code="payment_run_not_found")
        body = await pool.run(pool.remittance_job, engine_url(piccolo_conf_engine()), run_id)
        return _pdf(body, f"remittance-{row['reference']}-{run_id}.pdf")
