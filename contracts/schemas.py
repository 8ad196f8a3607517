"""msgspec Structs for organisations, users, API keys, metrics and contracts.

Inputs forbid unknown fields; outputs only ever gain fields with defaults (see msgspec's
schema-evolution rules). Money is `contracts.money.Money` everywhere.

Every input's text is checked where it is decoded, whoever decodes it (Litestar for a body,
outcomes.parsing for a batch row, the CLI): no text carries a NUL character (PostgreSQL
cannot keep one), no free text a person writes carries a personal identifier
(contracts.personal), and no date lies outside 1900–2200, beyond which date arithmetic
overflows. A refusal travels through msgspec as a ValueError whose message reads
"[code] field: what is wrong" (`field_error`); api.errors and outcomes.parsing turn it back
into a `Problem` (`read_field_error`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, ClassVar, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

from contracts import personal
from contracts.errors import Problem
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
ShareBp = Annotated[int, msgspec.Meta(ge=0, le=10_000,
                                      description="a rate or share in basis points; 10000 = 100 %")]
BaselineKind = Literal["historical", "comparison_group", "national_statistic"]
LineKind = Literal["outcome", "cohort"]
PartnerPayment = Literal["by_claimant", "by_split"]


FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2200, 12, 31)
_FIELD_ERROR = re.compile(r"\[(?P<code>[a-z_]+)\] (?P<field>[^\s:]+): (?P<message>.+)", re.S)


def field_error(code: str, field: str, message: str) -> ValueError:
    """A refusal from a Struct's own check, in the form msgspec carries (its message only)."""
    return ValueError(f"[{code}] {field}: {message}")


def read_field_error(message: str) -> tuple[str, str, str] | None:
    """(code, field, message) from a `field_error`'s text as msgspec reports it, or None.
    The field is relative to the Struct that refused it."""
    match = _FIELD_ERROR.match(message)
    return (match["code"], match["field"], match["message"]) if match else None


_NOT_A_DATE = re.compile(r"RFC3339 encoded date|Expected `date`")


def validation_problem(message: str, at: str, default_field: str) -> Problem:
    """A msgspec ValidationError's message, without its " - at `$…`" suffix, as a Problem
    for the value at `at` (a dotted path, empty for the whole). A personal identifier in
    what it says (an enum error quotes the value) is masked."""
    own = read_field_error(message)
    if own:
        code, field, text = own
        field = f"{at}.{field}" if at else field
    elif _NOT_A_DATE.search(message):
        # `invalid_date` is for a real date outside the years Virker takes.
        code, field = "invalid_field", at or default_field
        text = "not a date Virker can read; use YYYY-MM-DD (ISO 8601), e.g. 2025-09-01"
    else:
        code, field, text = "invalid_field", at or default_field, message
    return Problem(code=code, field=personal.mask(field), message=personal.mask(text))


def check_text(field: str, value: str, personal_data: Literal["refuse", "mask", "allow"]
               ) -> str:
    """`value` as it may be kept: refused with a NUL character; with a personal identifier
    refused, or masked ("[CPR number removed]"), or let be."""
    if "\x00" in value:
        raise field_error("invalid_character", field,
                          "contains a NUL character (\\u0000), which no text in Virker "
                          "may hold")
    if personal_data == "refuse":
        kind = personal.identifier_kind(value)
        if kind:
            raise field_error("personal_identifier", field, personal.message(kind))
    elif personal_data == "mask":
        return personal.mask(value)
    return value


class Input(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base for request bodies: unknown fields are an error, not silently dropped.

    Subclasses name their free text: `free_text` fields refuse a personal identifier,
    `masked_text` fields (reasons) keep the text with each identifier masked. Every other
    text is only checked for NUL. `check_dates` is off for the Structs that stored terms
    are read back with: a contract's own dates are checked by ContractIn and VariationIn.
    """

    free_text: ClassVar[tuple[str, ...]] = ()
    masked_text: ClassVar[tuple[str, ...]] = ()
    check_dates: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, str):
                mode = ("refuse" if name in self.free_text
                        else "mask" if name in self.masked_text else "allow")
                kept = check_text(name, value, mode)
                if kept is not value:
                    msgspec.structs.force_setattr(self, name, kept)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, str):
                        check_text(f"{name}[{i}]", item, "allow")
            elif isinstance(value, dt.date) and self.check_dates:
                check_date(name, value)


def check_date(field: str, value: dt.date) -> None:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise field_error("invalid_date", field,
                          f"Virker takes dates from {FIRST_DAY} to {LAST_DAY}")


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
    free_text: ClassVar[tuple[str, ...]] = ("label",)

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
    free_text: ClassVar[tuple[str, ...]] = ("code", "name", "definition", "unit",
                                            "evidence_required")

    code: Code
    name: Name
    definition: LongText
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: MetricKind
    evidence_required: LongText
    verification_source: VerificationSource
    direction: Direction = "increase"
    duration_days: Days | None = None
    # Groups similar metrics of different contracts for comparison, e.g. employment.entry.
    category: Code | None = None


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
    category: str | None = None


# Contracts ---------------------------------------------------------------------------------


class Period(Input, kw_only=True):
    check_dates: ClassVar[bool] = False

    start: dt.date
    end: dt.date


class Window(Input, kw_only=True):
    """Days after the anchor in which the outcome must be achieved, both ends included."""

    anchor: Literal["enrolment", "prerequisite"] = "enrolment"
    start_day: Days = 0
    end_day: Days


class Baseline(Input, kw_only=True):
    """The rate expected without the intervention, and where that figure comes from: a
    comparison group (with its size `n`, so the difference gets Newcombe's interval), the
    provider's or the municipality's own history, or a national statistic."""

    free_text: ClassVar[tuple[str, ...]] = ("source",)

    kind: BaselineKind
    rate_bp: ShareBp
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    n: Count | None = None


class RateCardLine(Input, kw_only=True):
    """A payment rule. `kind` "outcome" pays each claimed outcome; "cohort" pays `price`
    per participant of `cohort` when, at `evaluation_on`, the share of the cohort that
    achieved `metric_code` reaches `cohort_threshold_bp` (it is evaluated, not claimed).
    `target`, `baseline` and `horizon_days` are what effect is measured against."""

    free_text: ClassVar[tuple[str, ...]] = ("cohort",)

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
    kind: LineKind = "outcome"
    target: Count | None = None
    baseline: Baseline | None = None
    horizon_days: Days | None = None
    cohort: Label | None = None
    evaluation_on: dt.date | None = None
    cohort_threshold_bp: BasisPoints | None = None


class PartnerShare(Input, kw_only=True):
    """A provider delivering the contract with the lead provider, enrolling and claiming
    for its own participants. `split_bp` is its share of each payment when the contract
    pays by the agreed split."""

    organisation_id: UUID
    split_bp: ShareBp | None = None


class CommissionerShare(Input, kw_only=True):
    organisation_id: UUID
    share_bp: BasisPoints


class ContractTerms(Input, kw_only=True):
    check_dates: ClassVar[bool] = False

    service_period: Period
    enrolment_period: Period
    claims_deadline: dt.date
    cap: Money
    per_participant_cap: Money | None = None
    commissioners: list[CommissionerShare]
    auditor_ids: list[UUID] = []
    rate_card: list[RateCardLine] = []
    sampling_rate_bp: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 1_000
    partners: list[PartnerShare] = []
    partner_payment: PartnerPayment = "by_claimant"


def check_terms_dates(terms: ContractTerms) -> None:
    """The dates of terms sent in, which the Structs of stored terms do not check."""
    for name in ("service_period", "enrolment_period"):
        period = getattr(terms, name)
        check_date(f"terms.{name}.start", period.start)
        check_date(f"terms.{name}.end", period.end)
    check_date("terms.claims_deadline", terms.claims_deadline)


class ContractIn(Input, kw_only=True):
    free_text: ClassVar[tuple[str, ...]] = ("reference", "title", "intervention")

    reference: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$")]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    intervention: LongText = ""
    provider_id: UUID
    currency: CurrencyCode
    terms: ContractTerms

    def __post_init__(self) -> None:
        super().__post_init__()
        check_terms_dates(self.terms)


class VariationIn(Input, kw_only=True):
    masked_text: ClassVar[tuple[str, ...]] = ("reason",)

    reason: Reason
    effective_on: dt.date | None = None
    terms: ContractTerms

    def __post_init__(self) -> None:
        super().__post_init__()
        check_terms_dates(self.terms)


class TransitionIn(Input, kw_only=True):
    masked_text: ClassVar[tuple[str, ...]] = ("reason",)

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


class CountedPage(Page[T], Generic[T], kw_only=True):
    """A page of a list that can also say how many items match in all: `total` is set
    when the caller asks for it (`?count=true`), since counting costs a query."""

    total: int | None = None


# Stored data -------------------------------------------------------------------------------
# What Virker wrote is read back with lenient twins of the input structs: unknown fields are
# ignored, so that a replica one version behind still reads terms that a newer version
# stored during a rolling deploy (msgspec's schema-evolution rules: fields are only ever
# added, each with a default). `contracts.service.decode_terms` turns a twin into the input
# struct the rules take; a test holds each twin's fields equal to its input struct's.


class Stored(msgspec.Struct, kw_only=True, frozen=True):
    """Base for data read back from the database: unknown fields are ignored."""


class StoredMoney(Stored, kw_only=True):
    amount: int
    currency: str


class StoredPeriod(Stored, kw_only=True):
    start: dt.date
    end: dt.date


class StoredWindow(Stored, kw_only=True):
    anchor: str = "enrolment"
    start_day: int = 0
    end_day: int


class StoredBaseline(Stored, kw_only=True):
    kind: str
    rate_bp: int
    source: str
    n: int | None = None


class StoredRateCardLine(Stored, kw_only=True):
    code: str
    metric_code: str
    price: StoredMoney
    window: StoredWindow | None = None
    prerequisite_metric: str | None = None
    exclusivity_group: str | None = None
    max_claims_per_participant: int = 1
    max_count: int | None = None
    max_amount: StoredMoney | None = None
    threshold: int | str | None = None
    kind: str = "outcome"
    target: int | None = None
    baseline: StoredBaseline | None = None
    horizon_days: int | None = None
    cohort: str | None = None
    evaluation_on: dt.date | None = None
    cohort_threshold_bp: int | None = None


class StoredPartnerShare(Stored, kw_only=True):
    organisation_id: UUID
    split_bp: int | None = None


class StoredCommissionerShare(Stored, kw_only=True):
    organisation_id: UUID
    share_bp: int


class StoredTerms(Stored, kw_only=True):
    service_period: StoredPeriod
    enrolment_period: StoredPeriod
    claims_deadline: dt.date
    cap: StoredMoney
    per_participant_cap: StoredMoney | None = None
    commissioners: list[StoredCommissionerShare]
    auditor_ids: list[UUID] = []
    rate_card: list[StoredRateCardLine] = []
    sampling_rate_bp: int = 1_000
    partners: list[StoredPartnerShare] = []
    partner_payment: str = "by_claimant"
