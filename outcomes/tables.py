"""Participants, intake batches, claims and claim status history.

A claim's status is one of `rules.ClaimStatus`, held by the database as well (a CHECK
constraint on PostgreSQL, triggers on SQLite; migration 2026-11-26T05), on the claim and on
each event of its history. `outcomes.lifecycle.move` alone changes it.
"""

from piccolo.columns import (
    UUID,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from contracts.tables import Contract, Organisation
from outcomes.rules import ClaimStatus


class Participant(Table):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    pseudonym = Varchar(length=64)
    enrolled_on = Date()
    age_band = Varchar(length=16, null=True, default=None)
    area = Varchar(length=64, null=True, default=None)
    cohort = Varchar(length=64, null=True, default=None)
    created_at = Timestamptz()
    # The provider that enrolled the participant: the lead provider or one of its partners.
    organisation = ForeignKey(references=Organisation, null=True, default=None)


class IntakeBatch(Table, tablename="intake_batch"):
    """One submitted request and the validation report it got, kept for idempotency."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    organisation = ForeignKey(references=Organisation, null=False)
    kind = Varchar(length=16)
    idempotency_key = Varchar(length=200)
    body_hash = Varchar(length=64)
    report = Text()
    rows = Integer(default=0)
    accepted = Integer(default=0)
    received_at = Timestamptz()


class SampleDraw(Table, tablename="sample_draw"):
    """A verification sample: which accepted claims were drawn, reproducibly from `seed`."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    seed = Varchar(length=64)
    rate_bp = Integer()
    population = Integer()
    selected = Integer()
    drawn_at = Timestamptz()
    drawn_by = Varchar(length=100)


class Claim(Table):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    participant = ForeignKey(references=Participant, null=False)
    batch = ForeignKey(references=IntakeBatch, null=True, default=None)
    client_ref = Varchar(length=100)
    line_code = Varchar(length=64)
    metric_code = Varchar(length=64)
    achieved_on = Date()
    # Score values are decimals kept as canonical text: exact on both engines.
    value = Varchar(length=32, null=True, default=None)
    evidence_ref = Varchar(length=200)
    amount = BigInt()
    currency = Varchar(length=3)
    status = Varchar(length=16, choices=ClaimStatus)
    submitted_at = Timestamptz()
    # Set when the claim enters a verification draw, whether or not it was selected.
    sample = ForeignKey(references=SampleDraw, null=True, default=None)


class ClaimEvent(Table, tablename="claim_event"):
    id = UUID(primary_key=True)
    claim = ForeignKey(references=Claim, null=False)
    from_status = Varchar(length=16, null=True, default=None, choices=ClaimStatus)
    to_status = Varchar(length=16, choices=ClaimStatus)
    reason = Text()
    recorded_at = Timestamptz()
    recorded_by = Varchar(length=100)


class ContractUsage(Table, tablename="contract_usage"):
    """Running count and amount of counted claims per rate card line, so that cap checks
    read a few rows instead of every claim. Changed only under the contract's lock, together
    with the claims that move it; `outcomes.usage` keeps it and the tests recompute it."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    line_code = Varchar(length=64)
    claims = BigInt(default=0)
    amount = BigInt(default=0)


class PaymentRun(Table, tablename="payment_run"):
    """A commissioner's payment of the approved, unpaid claims of a period:
    draft → approved → paid."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    status = Varchar(length=16)
    period_from = Date()
    period_to = Date()
    claims = Integer(default=0)
    total = BigInt(default=0)
    currency = Varchar(length=3)
    created_at = Timestamptz()
    created_by = Varchar(length=100)
    approved_at = Timestamptz(null=True, default=None)
    approved_by = Varchar(length=100, null=True, default=None)
    paid_at = Timestamptz(null=True, default=None)
    paid_by = Varchar(length=100, null=True, default=None)
    idempotency_key = Varchar(length=200, null=True, default=None)
    body_hash = Varchar(length=64, null=True, default=None)


class PaymentRunLine(Table, tablename="payment_run_line"):
    id = UUID(primary_key=True)
    run = ForeignKey(references=PaymentRun, null=False)
    claim = ForeignKey(references=Claim, null=False)
    amount = BigInt()


class CohortEvaluation(Table, tablename="cohort_evaluation"):
    """The evaluation of a cohort line at its evaluation date, with its evidence: how many
    participants the cohort had (`n`), how many achieved the metric, the rate and the
    threshold, and what it accrued. One per contract and line; append-only (triggers)."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    line_code = Varchar(length=64)
    cohort = Varchar(length=64)
    evaluation_on = Date()
    n = Integer()
    achieved = Integer()
    rate_bp = Integer()
    threshold_bp = Integer()
    reached = Boolean()
    claims = Integer(default=0)
    amount = BigInt(default=0)
    currency = Varchar(length=3)
    evaluated_at = Timestamptz()
    evaluated_by = Varchar(length=100)
