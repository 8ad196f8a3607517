"""Structs for participants, claims, validation reports and verification."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec

from contracts.errors import Problem
from contracts.money import Money
from contracts.schemas import Code, DecimalText, Input, Output, Stored, StoredMoney

AgeBand = Literal["0-17", "18-24", "25-29", "30-39", "40-49", "50-59", "60-66", "67+"]
ClaimStatus = Literal["accepted", "sampled", "verified", "disputed", "approved", "paid",
                      "reversed"]
ClientRef = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,99}$",
                                        description="your own reference for the claim")]
# Checked by outcomes.pseudonyms, so that an identifier gets its own clear reason.
PseudonymText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Dimension = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

MAX_ROWS = 10_000


class ParticipantIn(Input, kw_only=True):
    # The pseudonym has rules of its own (outcomes.pseudonyms), checked by the intake.
    free_text: ClassVar[tuple[str, ...]] = ("area", "cohort")

    pseudonym: PseudonymText
    enrolled_on: dt.date
    age_band: AgeBand | None = None
    area: Dimension | None = None
    cohort: Dimension | None = None


class ClaimIn(Input, kw_only=True):
    # metric_code too: a row's report names its metric, so it must not carry an identifier.
    free_text: ClassVar[tuple[str, ...]] = ("client_ref", "metric_code", "evidence_ref")

    client_ref: ClientRef
    pseudonym: PseudonymText
    metric_code: Code
    achieved_on: dt.date
    value: int | float | DecimalText | None = None
    evidence_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RowResult(Output, kw_only=True, omit_defaults=True):
    row: int
    status: Literal["accepted", "rejected", "created", "unchanged"]
    id: UUID | None = None
    ref: str | None = None
    line_code: str | None = None
    metric_code: str | None = None
    amount: Money | None = None
    errors: list[Problem] = []


class BatchReport(Output, kw_only=True):
    batch_id: UUID | None
    kind: Literal["participants", "claims", "responses"]
    contract_id: UUID
    received_at: dt.datetime
    rows: int
    accepted: int
    rejected: int
    results: list[RowResult]


class ParticipantOut(Output, kw_only=True):
    id: UUID
    pseudonym: str
    enrolled_on: dt.date
    age_band: str | None
    area: str | None
    cohort: str | None


class ClaimEventOut(Output, kw_only=True):
    from_status: str | None
    to_status: str
    reason: str
    recorded_at: dt.datetime
    recorded_by: str


class ClaimOut(Output, kw_only=True):
    id: UUID
    contract_id: UUID
    client_ref: str
    pseudonym: str
    line_code: str
    metric_code: str
    achieved_on: dt.date
    value: str | None
    evidence_ref: str
    amount: Money
    status: ClaimStatus
    submitted_at: dt.datetime
    batch_id: UUID | None = None
    sample_id: UUID | None = None


class ClaimDetail(ClaimOut, kw_only=True):
    history: list[ClaimEventOut] = []


class DecisionIn(Input, kw_only=True):
    masked_text: ClassVar[tuple[str, ...]] = ("reason",)

    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=2_000)]


class ApprovalIn(Input, kw_only=True):
    masked_text: ClassVar[tuple[str, ...]] = ("reason",)

    claim_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=MAX_ROWS)]
    reason: Annotated[str, msgspec.Meta(max_length=2_000)] = ""


class ApprovalOut(Output, kw_only=True):
    """`approved`: every claim asked for, now approved; `accrued`: what this call accrued
    (claims that were approved already add nothing)."""

    approved: list[UUID]
    accrued: Money


class SampleIn(Input, kw_only=True):
    free_text: ClassVar[tuple[str, ...]] = ("seed",)

    seed: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None


class SampleOut(Output, kw_only=True):
    id: UUID
    contract_id: UUID
    seed: str
    rate_bp: int
    population: int
    selected: int
    drawn_at: dt.datetime
    drawn_by: str
    selected_claim_ids: list[UUID] = []


class PaymentRunIn(Input, kw_only=True):
    period_from: dt.date
    period_to: dt.date


class ProviderShareOut(Output, kw_only=True):
    """What one provider of the partnership is owed of a payment run: by the agreed split
    (`partner_payment` "by_split") or for the claims of the participants it enrolled
    ("by_claimant"). The shares of a run sum to its total exactly."""

    organisation_id: UUID
    role: Literal["lead", "partner"]
    amount: Money


class PaymentRunOut(Output, kw_only=True):
    id: UUID
    contract_id: UUID
    status: Literal["draft", "approved", "paid"]
    period_from: dt.date
    period_to: dt.date
    claims: int
    total: Money
    created_at: dt.datetime
    created_by: str
    approved_at: dt.datetime | None = None
    approved_by: str | None = None
    # Approved by the person who drafted it, as the organisation's setting
    # `single_approver` allows; otherwise a second person approved it (maker-checker).
    approved_alone: bool = False
    paid_at: dt.datetime | None = None
    paid_by: str | None = None
    # Per provider: the lead alone, or the lead and its partners (outcomes.payments).
    shares: list[ProviderShareOut] = []


# Intake batches ----------------------------------------------------------------------------

# Every row accepted, some, or none.
BatchStatus = Literal["accepted", "partial", "rejected"]
BatchKind = Literal["participants", "claims", "responses"]


class BatchOut(Output, kw_only=True):
    """One submitted batch: who sent it, when, and how its rows fared. Its validation
    report is GET /api/v1/batches/{id}."""

    id: UUID
    contract_id: UUID
    organisation_id: UUID
    kind: BatchKind
    status: BatchStatus
    idempotency_key: str | None = None
    received_at: dt.datetime
    rows: int
    accepted: int
    rejected: int


class BatchDetail(BatchOut, kw_only=True):
    report: BatchReport


# Stored validation reports are read leniently (see contracts.schemas.Stored): a report a
# newer version wrote, with fields this one does not know, still reads.


class StoredRowResult(Stored, kw_only=True):
    row: int
    status: str
    id: UUID | None = None
    ref: str | None = None
    line_code: str | None = None
    metric_code: str | None = None
    amount: StoredMoney | None = None
    errors: list[Problem] = []


class StoredBatchReport(Stored, kw_only=True):
    batch_id: UUID | None
    kind: str
    contract_id: UUID
    received_at: dt.datetime
    rows: int
    accepted: int
    rejected: int
    results: list[StoredRowResult]
