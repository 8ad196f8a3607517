"""Providers' intake of participants and claims; the commissioner's verification and approval,
and the evaluation of cohort lines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.auth import ADMIT_BATCH, admission_of, idempotency_key, principal_of
from api.routes.contracts import parse_cursor
from contracts.errors import Malformed
from contracts.schemas import CountedPage
from outcomes import cohorts, intake, queries, verification
from outcomes.parsing import parse_rows
from outcomes.schemas import (
    MAX_ROWS,
    ApprovalIn,
    ApprovalOut,
    BatchReport,
    ClaimDetail,
    ClaimIn,
    ClaimOut,
    ClaimStatus,
    DecisionIn,
    ParticipantIn,
    ParticipantOut,
    SampleIn,
    SampleOut,
)

# 10,000 rows of JSON stay well under this; a larger body is refused with 413 before it is read.
BATCH_BODY_LIMIT = 8 * 1024 * 1024
BATCH = {"accepts": ("application/json", "text/csv")}


async def _submission(request: Request, contract_id: UUID, kind: str) -> tuple[
        intake.Submission, bytes, str]:
    body = await request.body()
    media_type = request.headers.get("content-type", "application/json").split(";")[0]
    media_type = media_type.strip().lower() or "application/json"
    key = idempotency_key(request)
    digest = hashlib.sha256(media_type.encode() + b"\n" + body).hexdigest()
    sub = intake.Submission(principal=principal_of(request), contract_id=contract_id,
                            kind=kind, idempotency_key=key, body_hash=digest)
    return sub, body, media_type


def _answer(report: BatchReport, replayed: bool) -> Response[BatchReport]:
    return Response(report, status_code=200 if replayed else 201,
                    headers={"Idempotent-Replayed": "true" if replayed else "false"})


class IntakeController(Controller):
    path = "/api/v1/contracts/{contract_id:uuid}"
    tags = ["intake"]

    @post("/participants", opt={**BATCH, ADMIT_BATCH: "participants"},
          request_max_body_size=BATCH_BODY_LIMIT,
          summary="Enrol participants under pseudonyms (JSON array or text/csv)",
          description="Columns: pseudonym, enrolled_on, age_band, area, cohort. Up to "
                      f"{MAX_ROWS} rows. An identical participant sent again changes nothing.")
    async def enrol(self, request: Request, contract_id: FromPath[UUID]
                    ) -> Response[BatchReport]:
        sub, body, media_type = await _submission(request, contract_id, "participants")
        rows = parse_rows(body, media_type, ParticipantIn, MAX_ROWS)
        return _answer(*await intake.submit_participants(sub, rows, admission_of(request)))

    @post("/claims", opt={**BATCH, ADMIT_BATCH: "claims"},
          request_max_body_size=BATCH_BODY_LIMIT,
          summary="Submit outcome claims (JSON array or text/csv) with an Idempotency-Key",
          description="Columns: client_ref, pseudonym, metric_code, achieved_on, value, "
                      f"evidence_ref. Up to {MAX_ROWS} rows. The answer is a validation "
                      "report with one result per row.")
    async def claim(self, request: Request, contract_id: FromPath[UUID]
                    ) -> Response[BatchReport]:
        sub, body, media_type = await _submission(request, contract_id, "claims")
        rows = parse_rows(body, media_type, ClaimIn, MAX_ROWS)
        return _answer(*await intake.submit_claims(sub, rows, admission_of(request)))

    @get("/participants", summary="Enrolled participants",
         description="`count=true` adds `total`, the number of participants enrolled.")
    async def participants(self, request: Request, contract_id: FromPath[UUID],
                           cursor: FromQuery[str | None] = None,
                           limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
                           count: FromQuery[bool] = False,
                           ) -> CountedPage[ParticipantOut]:
        return await queries.list_participants(principal_of(request), contract_id,
                                               parse_cursor(cursor), limit, count=count)

    @get("/claims", summary="Claims, filtered by status, metric, period and participant",
         description="`count=true` adds `total`, the number of claims that match.")
    async def claims(
        self, request: Request, contract_id: FromPath[UUID],
        status: FromQuery[ClaimStatus | None] = None,
        metric: FromQuery[str | None] = None,
        achieved_from: FromQuery[dt.date | None] = None,
        achieved_to: FromQuery[dt.date | None] = None,
        participant: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        count: FromQuery[bool] = False,
    ) -> CountedPage[ClaimOut]:
        for name, value in (("metric", metric), ("participant", participant)):
            if value is not None and "\x00" in value:
                raise Malformed(f"{name} holds a NUL character (\\u0000)",
                                code="invalid_character")
        f = queries.ClaimFilter(status=status, metric=metric, achieved_from=achieved_from,
                                achieved_to=achieved_to, participant=participant)
        return await queries.list_claims(principal_of(request), contract_id, f,
                                         parse_cursor(cursor), limit, count=count)

    @get("/batches/{batch_id:uuid}", summary="A batch's validation report, again")
    async def batch(self, request: Request, contract_id: FromPath[UUID],
                    batch_id: FromPath[UUID]) -> BatchReport:
        return await queries.get_batch(principal_of(request), contract_id, batch_id)


class VerificationController(Controller):
    path = "/api/v1"
    tags = ["verification"]

    @post("/contracts/{contract_id:uuid}/samples",
          summary="Draw a verification sample of accepted claims (commissioners)")
    async def draw(self, request: Request, contract_id: FromPath[UUID],
                   data: JSONBody[SampleIn | None] = None) -> SampleOut:
        return await verification.draw_sample(principal_of(request), contract_id,
                                              data.seed if data else None)

    @get("/contracts/{contract_id:uuid}/samples", summary="Verification draws and their seeds")
    async def samples(self, request: Request, contract_id: FromPath[UUID]
                      ) -> list[SampleOut]:
        return await verification.list_samples(principal_of(request), contract_id)

    @post("/contracts/{contract_id:uuid}/approvals", status_code=200,
          summary="Approve claims for payment (all or none)")
    async def approve(self, request: Request, contract_id: FromPath[UUID],
                      data: JSONBody[ApprovalIn]) -> ApprovalOut:
        return await verification.approve(principal_of(request), contract_id, data.claim_ids,
                                           data.reason)

    @get("/claims/{claim_id:uuid}", summary="One claim with its status history")
    async def show(self, request: Request, claim_id: FromPath[UUID]) -> ClaimDetail:
        return await queries.get_claim(principal_of(request), claim_id)

    @post("/claims/{claim_id:uuid}/verify", status_code=200,
          summary="Verify a sampled claim: the evidence holds")
    async def verify(self, request: Request, claim_id: FromPath[UUID],
                     data: JSONBody[DecisionIn]) -> ClaimDetail:
        await verification.decide(principal_of(request), claim_id, "verify", data.reason)
        return await queries.get_claim(principal_of(request), claim_id)

    @post("/claims/{claim_id:uuid}/dispute", status_code=200,
          summary="Dispute a sampled claim: the evidence does not hold")
    async def dispute(self, request: Request, claim_id: FromPath[UUID],
                      data: JSONBody[DecisionIn]) -> ClaimDetail:
        await verification.decide(principal_of(request), claim_id, "dispute", data.reason)
        return await queries.get_claim(principal_of(request), claim_id)

    @post("/contracts/{contract_id:uuid}/cohorts/{line_code:str}/evaluation",
          tags=["cohorts"], summary="Evaluate a cohort line and pay it if it reached its "
                                    "threshold (commissioners)",
          description="Counts the cohort's participants enrolled by the line's evaluation "
                      "date and those with a counted claim of its metric achieved by then. "
                      "When the rate reaches the threshold, one claim of the line's price "
                      "per participant is approved and accrued. A line is evaluated once: "
                      "201 when evaluated now, 200 with the same evaluation when asked "
                      "again (no Idempotency-Key is needed: the line is the key).",
          response_description="The evaluation, made now",
          responses={200: ResponseSpec(data_container=cohorts.CohortEvaluationOut,
                                       description="The evaluation made earlier")})
    async def evaluate_cohort(self, request: Request, contract_id: FromPath[UUID],
                              line_code: FromPath[str]
                              ) -> Response[cohorts.CohortEvaluationOut]:
        evaluation, made = await cohorts.evaluate(principal_of(request), contract_id,
                                                  line_code)
        return Response(evaluation, status_code=201 if made else 200)

    @get("/contracts/{contract_id:uuid}/cohort-evaluations", tags=["cohorts"],
         summary="The contract's cohort evaluations and their evidence")
    async def cohort_evaluations(self, request: Request, contract_id: FromPath[UUID]
                                 ) -> list[cohorts.CohortEvaluationOut]:
        return await cohorts.list_evaluations(principal_of(request), contract_id)
