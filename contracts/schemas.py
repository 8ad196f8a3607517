"""msgspec Structs for organisations, users, API keys, metrics and contracts.

Inputs forbid unknown fields; outputs only ever gain fields with defaults (see msgspec's
schema-evolution rules). Money is `contracts.money.Money` everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

from contracts.money import CurrencyCode, Money

T = TypeVar("T")

OrgKind = Literal[
    "municipality", "region", "outcome_fund", "foundation", "ministry",
    "ngo", "social_enterprise", "municipal_unit", "company",
    "audit_firm", "operator",
]
Role = Literal["commissioner", "provider", "auditor", "admin"]
MetricKind = Literal["event", "score_change", "duration"]
VerificationSource = Literal["admin_data", "provider_evidence", "self_report"]
Direction = Literal["increase", "decrease"]
ContractStatus = Literal["draft", "active", "suspended", "closed"]

Code = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                                   description="lower-case code: letters, digits, _ . -")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=20_000)]
OrgIdentifier = Annotated[str, msgspec.Meta(
    pattern=r"^[A-Z]{2}-[A-Z0-9]{2,10}-[A-Za-z0-9-]{1,40}$",
    description="org-id.guide style identifier, e.g. DK-CVR-29189846",
    examples=["DK-CVR-29189846"],
)]
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$",
                                    max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=12, max_length=200)]
Days = Annotated[int, msgspec.Meta(ge=0, le=36_500)]
BasisPoints = Annotated[int, msgspec.Meta(ge=1, le=10_000,
                                          description="share in basis points; 10000 = 100 %")]
Count = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
DecimalText = Annotated[str, msgspec.Meta(pattern=r"^-?\d{1,9}(\.\d{1,6})?$",
                                          description="a decimal number written as text")]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=2_000)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Input(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base for request bodies: unknown fields are an error, not silently dropped."""


class Output(msgspec.Struct, kw_only=True):
    """Base for responses."""


# Organisations, users, API keys ------------------------------------------------------------


class OrganisationIn(Input, kw_only=True):
    name: Name
    kind: OrgKind
    identifier: OrgIdentifier


class OrganisationOut(Output, kw_only=True):
    id: UUID
    name: str
    kind: str
    identifier: str
    created_at: dt.datetime


class UserIn(Input, kw_only=True):
    organisation_id: UUID
    email: Email
    display_name: Name
    role: Role
    password: Password


class UserOut(Output, kw_only=True):
    id: UUID
    organisation_id: UUID
    email: str
    display_name: str
    role: str
    active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None = None


class LoginIn(Input, kw_only=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=200)]


class ApiKeyIn(Input, kw_only=True):
    label: Label
    organisation_id: UUID | None = None
    role: Role | None = None


class ApiKeyOut(Output, kw_only=True):
    id: UUID
    organisation_id: UUID
    role: str
    label: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class ApiKeyCreated(ApiKeyOut, kw_only=True):
    key: str = ""


# Metric library ----------------------------------------------------------------------------


class MetricIn(Input, kw_only=True):
    code: Code
    name: Name
    definition: LongText
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: MetricKind
    evidence_required: LongText
    verification_source: VerificationSource
    direction: Direction = "increase"
    duration_days: Days | None = None


class MetricOut(Output, kw_only=True):
    id: UUID
    code: str
    name: str
    definition: str
    unit: str
    kind: MetricKind
    evidence_required: str
    verification_source: str
    direction: str
    duration_days: int | None
    created_at: dt.datetime


# Contracts ---------------------------------------------------------------------------------


class Period(Input, kw_only=True):
    start: dt.date
    end: dt.date


class Window(Input, kw_only=True):
    """Days after the anchor in which the outcome must be achieved, both ends included."""

    anchor: Literal["enrolment", "prerequisite"] = "enrolment"
    start_day: Days = 0
    end_day: Days


class RateCardLine(Input, kw_only=True):
    code: Code
    metric_code: Code
    price: Money
    window: Window | None = None
    prerequisite_metric: Code | None = None
    exclusivity_group: Code | None = None
    max_claims_per_participant: Count = 1
    max_count: Count | None = None
    max_amount: Money | None = None
    threshold: int | DecimalText | None = None


class CommissionerShare(Input, kw_only=True):
    organisation_id: UUID
    share_bp: BasisPoints


class ContractTerms(Input, kw_only=True):
    service_period: Period
    enrolment_period: Period
    claims_deadline: dt.date
    cap: Money
    per_participant_cap: Money | None = None
    commissioners: list[CommissionerShare]
    auditor_ids: list[UUID] = []
    rate_card: list[RateCardLine] = []
    sampling_rate_bp: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 1_000


class ContractIn(Input, kw_only=True):
    reference: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$")]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    intervention: LongText = ""
    provider_id: UUID
    currency: CurrencyCode
    terms: ContractTerms


class VariationIn(Input, kw_only=True):
    reason: Reason
    effective_on: dt.date | None = None
    terms: ContractTerms


class TransitionIn(Input, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2_000)] = ""


class ContractOut(Output, kw_only=True):
    id: UUID
    reference: str
    title: str
    intervention: str
    provider_id: UUID
    currency: str
    status: ContractStatus
    version: int
    created_at: dt.datetime
    terms: ContractTerms


ProposalStatus = Literal["pending", "applied", "withdrawn", "superseded"]
AcceptanceRole = Literal["commissioner", "auditor", "admin"]


class AcceptanceIn(Input, kw_only=True):
    """A commissioner accepts the draft's terms as they are in `version` (and no other)."""

    version: Annotated[int, msgspec.Meta(ge=1)]


class PartyRef(Output, kw_only=True):
    organisation_id: UUID
    role: str


class AcceptanceOut(Output, kw_only=True):
    """One party's recorded consent: to a version of a draft (activation) or to a proposed
    variation. `organisation_id` is the party whose consent it is; `role` is `admin` when an
    administrator acknowledged an auditor's removal in the auditor's place."""

    id: UUID
    contract_id: UUID
    version: int | None = None
    proposal_id: UUID | None = None
    organisation_id: UUID
    role: AcceptanceRole
    accepted_by: str
    accepted_by_organisation_id: UUID
    accepted_at: dt.datetime


class ProposalOut(Output, kw_only=True):
    """A variation: applied at once when nobody else's acceptance is needed, else pending
    until everyone in `required` has accepted (`awaiting` is who has not yet)."""

    id: UUID
    contract_id: UUID
    status: ProposalStatus
    base_version: int
    reason: str
    effective_on: dt.date
    terms: ContractTerms
    required: list[PartyRef]
    acceptances: list[AcceptanceOut]
    awaiting: list[PartyRef]
    proposed_by: str
    proposed_at: dt.datetime
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    applied_version: int | None = None
    contract: ContractOut


class ContractVersionOut(Output, kw_only=True):
    version: int
    reason: str
    effective_on: dt.date
    recorded_at: dt.datetime
    recorded_by: str
    terms: ContractTerms


class ContractEventOut(Output, kw_only=True):
    from_status: str | None
    to_status: str
    reason: str
    recorded_at: dt.datetime
    recorded_by: str


class Page(Output, Generic[T], kw_only=True):
    items: list[T]
    next_cursor: str | None = None
