"""The shape of a reference project's `data`: the whole project as imported from INDIGO (see
opendata.indigo_project, which reads it, and opendata.indigo, which stores it as JSON).

Every part is left out where it is empty: a field that is None (or "" where a text is
required), a list or mapping without items, a part all of whose fields are empty (`some`
gives None for those). The JSON therefore holds only what the source gave, in the order the
fields are declared here. A date is {text, on} (on: the day it names or begins with, ISO),
as opendata.indigo_project writes it. Money is a currency, an amount in its minor units, and
INDIGO's own USD conversion as the text it gave, never as money.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from msgspec.structs import astuple


class Part(msgspec.Struct, omit_defaults=True):
    """A part of `data`: encoded without its empty fields."""


P = TypeVar("P", bound=Part)


def some(part: P) -> P | None:
    """The part, or None when every field is empty (0 and False are values, not empty)."""
    for value in astuple(part):
        if value or value == 0:
            return part
    return None


Date = dict[str, str]  # {"text": as given, "on": ISO day, if it names one}


class Dates(Part):
    outcomes_contract_signed: Date | None = None
    contracts_between_all_parties_signed: Date | None = None
    anticipated_completion_date: Date | None = None
    actual_completion_date: Date | None = None
    start_date_of_service_provision: Date | None = None
    anticipated_end_date_of_service_provision: Date | None = None
    actual_end_date_of_service_provision: Date | None = None
    start_from: str | None = None
    end_from: str | None = None
    anticipated_duration_months: str | None = None
    actual_duration_months: str | None = None
    notes: str | None = None


class Purpose(Part):
    social_challenge: str | None = None
    intervention: str | None = None
    policy_sector: str | None = None
    primary_sdg_goal: str | None = None
    secondary_sdg_goals: str | None = None
    primary_sdg_target: str | None = None
    secondary_sdg_targets: str | None = None
    notes: str | None = None


class Beneficiaries(Part):
    target_population: str | None = None
    targeted_number: str | None = None
    targeted_unit_type: str | None = None
    targeted_unit_description: str | None = None
    actual_number: str | None = None
    actual_unit_type: str | None = None
    actual_unit_description: str | None = None
    notes: str | None = None


class Money(Part):
    amount_usd: str | None = None
    currency: str | None = None
    amount: int | None = None
    currency_from_project: bool | None = None  # True: the amount names no currency of its own


class Bounds(Part):
    """INDIGO's USD conversions of a range, as the text it gave."""

    min: str | None = None
    exact: str | None = None
    max: str | None = None


class Commitment(Part):
    """The total investment commitment: amounts in minor units, INDIGO's USD as text."""

    currency: str | None = None
    currency_from_project: bool | None = None
    min: int | None = None
    exact: int | None = None
    max: int | None = None
    usd: Bounds | None = None


class Finance(Part):
    maximum_potential_outcome_payment: Money | None = None
    total_outcome_payments_made: Money | None = None
    total_investment_commitment: Commitment | None = None
    maximum_potential_loss: str | None = None
    maximum_potential_return_type: str | None = None
    maximum_potential_return: str | None = None
    configuration_of_contracting_parties: str | None = None
    investor_repayment: str | None = None
    notes: str | None = None


class Invested(Money):
    date: Date | None = None


class ReturnRate(Part):
    target: str | None = None
    latest: str | None = None
    date: Date | None = None


class Investment(Part):
    total_funds_invested: Invested | None = None
    internal_rate_of_return: ReturnRate | None = None
    notes: str | None = None


class Metric(Part):
    """An outcome metric: the columns of its ReferenceMetric row, then the rest."""

    metric_id: str
    definition: str = ""
    target_population: str = ""
    target: str = ""
    validation_method: str = ""
    data_source: str = ""
    policy_sector: str = ""
    policy_sector_from: str | None = None
    targeted_number: str | None = None
    unit_type: str | None = None
    unit_description: str | None = None
    outcome_metric_target: str | None = None
    other_target: str | None = None
    primary_sdg_goal: str | None = None
    secondary_sdg_goals: str | None = None
    primary_sdg_target: str | None = None
    secondary_sdg_targets: str | None = None
    notes: str | None = None


class Price(Part):
    """A price: the columns of its ReferencePrice row, then the rest."""

    metric_id: str
    currency: str
    amount: int
    max_amount: int | None = None
    description: str = ""
    notes: str = ""
    amount_usd: str | None = None
    contracted_increases: str | None = None


class Organisation(Part):
    id: str
    name: str | None = None


class Period(Part):
    start: Date | None = None
    end: Date | None = None


class Alterations(Part):
    description: str | None = None
    reason: str | None = None


class Payer(Part):
    organisations: list[Organisation] = msgspec.field(default_factory=list)
    role: str | None = None
    max_payment: Money | None = None
    result_type: str | None = None
    period: Period | None = None
    payments_made: Money | None = None
    alterations: Alterations | None = None
    notes: str | None = None


class Provider(Part):
    id: str | None = None
    organisations: list[Organisation] = msgspec.field(default_factory=list)
    role: str | None = None
    intervention: str | None = None
    planned: Period | None = None
    actual: Period | None = None
    alterations: Alterations | None = None
    notes: str | None = None


class Result(Part):
    metric_id: str | None = None
    level: str | None = None
    type: str | None = None
    period: Period | None = None
    achieved: str | None = None
    engaged: str | None = None
    positive: str | None = None
    description: str | None = None
    validators: list[Organisation] = msgspec.field(default_factory=list)
    evaluation_documents: str | None = None
    notes: str | None = None


class Payment(Part):
    plan_id: str | None = None
    metric_id: str | None = None
    period: Period | None = None
    payers: list[Organisation] = msgspec.field(default_factory=list)
    recipients: list[Organisation] = msgspec.field(default_factory=list)
    money: Money | None = None
    notes: str | None = None


class Plan(Part):
    id: str | None = None
    notes: str | None = None
    period: Period | None = None


class Fund(Part):
    id: str = ""
    notes: str | None = None


class Source(Part):
    id: str | None = None
    name: str | None = None
    type: str | None = None
    url: str | None = None
    publication_date: str | None = None
    accessed_date: str | None = None


class Data(Part):
    code: str
    name: str
    alternative_names: str | None = None
    stage: str | None = None
    social_investment_prototype: str | None = None
    country: str | None = None
    country_from: str | None = None  # "jurisdiction", "name", "outcome payers", "providers"
    jurisdiction: str | None = None
    dates: Dates | None = None
    purpose: Purpose | None = None
    beneficiaries: Beneficiaries | None = None
    finance: Finance | None = None
    investment: Investment | None = None
    changes_due_to_covid19: str | None = None
    notes: str | None = None
    metrics: list[Metric] = msgspec.field(default_factory=list)
    prices: list[Price] = msgspec.field(default_factory=list)
    payers: list[Payer] = msgspec.field(default_factory=list)
    providers: list[Provider] = msgspec.field(default_factory=list)
    results: list[Result] = msgspec.field(default_factory=list)
    outcome_payments: dict[str, list[Payment]] = msgspec.field(default_factory=dict)
    outcome_payment_plans: list[Plan] = msgspec.field(default_factory=list)
    outcome_funds: list[Fund] = msgspec.field(default_factory=list)
    sources: list[Source] = msgspec.field(default_factory=list)
    other_fields: dict[str, Any] | None = None  # CSV columns INDIGO 4.1 does not name
    source: str = ""
