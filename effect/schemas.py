"""What the effect figures look like to their readers: the API, the CLI, the effect report
and the web UI all show these structs.

Rates are shares between 0 and 1 with their 95 % interval; money is `Money` (integer minor
units and a currency). A figure that cannot be given is null, and where it is undefined
(`*_undefined`) or suppressed (`suppressed`) the struct says why in words.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec

from contracts.money import Money
from contracts.schemas import ContractTerms, Input, Output

Band = Literal["expand", "maintain", "review", "insufficient_evidence"]


class Figures(Output, kw_only=True):
    """Counts, rates and money for one line of a contract, or one part of it (a cohort,
    an age band, a quarter of enrolment, a partner), or one contract in a comparison."""

    enrolled: int | None = None
    observed: int | None = None
    achieved: int | None = None
    rate: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None
    target: int | None = None
    progress: float | None = None
    baseline_rate: float | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None
    uplift_method: str = ""
    additional: float | None = None
    accrued: Money | None = None
    paid: Money | None = None
    cost_per_outcome: Money | None = None
    cost_per_outcome_undefined: str = ""
    cost_per_additional: Money | None = None
    cost_per_additional_undefined: str = ""
    suppressed: bool = False
    suppression: str = ""


class Part(Output, kw_only=True):
    dimension: str
    value: str
    figures: Figures


class ScoreFigures(Output, kw_only=True):
    """For a score metric: the mean measured change on the claims that stand, with its t
    interval. Measurements below the threshold were refused at intake and are not here."""

    n: int
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    threshold: str


class BaselineOut(Output, kw_only=True):
    kind: str
    rate: float
    source: str
    n: int | None = None


class LineEffect(Output, kw_only=True):
    line_code: str
    metric_code: str
    metric_name: str
    kind: str
    price: Money
    horizon_days: int | None
    baseline: BaselineOut | None = None
    total: Figures
    score: ScoreFigures | None = None
    parts: list[Part] = []


class ContractEffect(Output, kw_only=True):
    contract_id: UUID
    reference: str
    title: str
    provider_name: str
    currency: str
    status: str
    as_of: dt.date
    committed: Money
    accrued: Money
    paid: Money
    cap: Money
    lines: list[LineEffect]
    method: str
    undefined: dict[str, str]


class FunnelLimits(Output, kw_only=True):
    low95: float
    high95: float
    low998: float
    high998: float


class ComparedUnit(Output, kw_only=True):
    """One contract's line in a comparison. Units are listed by contract reference, never
    ranked: where a unit sits is its `position` against the funnel's limits."""

    contract_id: UUID
    reference: str
    provider_name: str
    line_code: str
    metric_code: str
    price: Money
    figures: Figures
    position: str | None = None
    limits: FunnelLimits | None = None
    own: bool = False
    parts: list[Part] = []


class Comparison(Output, kw_only=True):
    subject: str
    subject_kind: Literal["metric", "category"]
    metric_codes: list[str]
    as_of: dt.date
    small_cell_k: int
    pooled_rate: float | None
    over_dispersion: float | None
    tau2: float | None
    units: list[ComparedUnit]
    method: str


class AdviceDecisionOut(Output, kw_only=True):
    id: UUID
    contract_id: UUID
    subject: str
    decision: Literal["accepted", "overridden"]
    band: str
    justification: str
    draft_terms: ContractTerms | None = None
    decided_by: str
    organisation_id: UUID
    decided_at: dt.datetime


class UnitAdvice(Output, kw_only=True):
    contract_id: UUID
    reference: str
    provider_name: str
    line_code: str
    band: Band
    evidence: str
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    observed: int | None
    quarters: int
    volume: int | None
    volume_change: int | None
    price: Money
    benchmark_cost: Money | None = None
    reprice: bool = False
    reprice_reason: str = ""
    own: bool = False
    decision: AdviceDecisionOut | None = None


class Advice(Output, kw_only=True):
    subject: str
    subject_kind: str
    as_of: dt.date
    shift_share: float
    pooled_rate: float | None
    units: list[UnitAdvice]
    method: str


DecisionKind = Literal["accept", "override"]


class AdviceDecisionIn(Input, kw_only=True):
    """A commissioner's decision on the advice for one of its contracts: accept it (Virker
    drafts the variation for the commissioner to review and propose) or override it with a
    written justification."""

    masked_text: ClassVar[tuple[str, ...]] = ("justification",)

    contract_id: UUID
    decision: DecisionKind
    justification: Annotated[str, msgspec.Meta(max_length=2_000)] = ""
    shift: Annotated[float, msgspec.Meta(
        ge=0.05, le=0.10, description="the shift the advice was read with")] = 0.10


class QuarterAmount(Output, kw_only=True):
    quarter: str
    expected: Money
    p90: Money
    cumulative_expected: Money
    cumulative_p90: Money


class ContractForecast(Output, kw_only=True):
    contract_id: UUID
    reference: str
    currency: str
    remaining_cap: Money
    quarters: list[QuarterAmount]


class Forecast(Output, kw_only=True):
    as_of: dt.date
    organisation_id: UUID | None
    currency: str | None
    contracts: list[ContractForecast]
    portfolio: list[QuarterAmount]
    method: str

