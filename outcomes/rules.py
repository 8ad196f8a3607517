"""Payment rules: pure, deterministic checks of one claim against a contract.

`check_claim` takes the contract's terms, the metric library, the participant's enrolment,
the participant's counted claims so far and the running totals, and returns either the rate
card line and amount to accept, or every reason (stable codes) why not. No I/O: the API, the
batch importer and the tests call the same function. docs/payment-rules.md has an example
of each reason.

Claims count against limits while they are accepted, sampled, verified, approved or paid;
rejected, disputed and reversed claims do not.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from contracts.errors import Problem
from contracts.schemas import ContractTerms, MetricOut, RateCardLine

COUNTED = ("accepted", "sampled", "verified", "approved", "paid")


@dataclass(frozen=True, slots=True)
class PastClaim:
    line_code: str
    metric_code: str
    achieved_on: dt.date
    amount: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """The facts of one claim, as the rules see them."""

    metric_code: str
    achieved_on: dt.date
    value: Decimal | None


@dataclass
class Totals:
    """Running totals of counted claims on a contract, kept by the caller."""

    contract_amount: int = 0
    line_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    line_amount: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, line_code: str, amount: int) -> None:
        self.contract_amount += amount
        self.line_count[line_code] += 1
        self.line_amount[line_code] += amount


@dataclass(frozen=True, slots=True)
class Decision:
    line: RateCardLine | None
    amount: int
    errors: list[Problem]

    @property
    def accepted(self) -> bool:
        return not self.errors


def parse_value(raw: int | float | str | None) -> Decimal | None:
    """A score value as an exact decimal; floats go through their shortest text form."""
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a number")
    return value


def check_claim(
    terms: ContractTerms,
    metrics: Mapping[str, MetricOut],
    claim: Claimed,
    enrolled_on: dt.date | None,
    history: list[PastClaim],
    totals: Totals,
    today: dt.date,
) -> Decision:
    lines = [line for line in terms.rate_card if line.metric_code == claim.metric_code]
    if not lines:
        return _reject("not_on_rate_card", "metric_code",
                       f"{claim.metric_code} is not on this contract's rate card")
    if today > terms.claims_deadline:
        return _reject("after_claims_deadline", "achieved_on",
                       f"claims closed on {terms.claims_deadline.isoformat()}")
    if claim.achieved_on > today:
        return _reject("achieved_in_future", "achieved_on", "the outcome lies in the future")
    if enrolled_on is None:
        return _reject("not_enrolled", "pseudonym",
                       "no participant with this pseudonym is enrolled on the contract")
    first: Decision | None = None
    for line in lines:
        decision = _check_line(terms, metrics[line.metric_code], line, claim, enrolled_on,
                               history, totals)
        if decision.accepted:
            return decision
        first = first or decision
    assert first is not None
    return first


def _check_line(terms: ContractTerms, metric: MetricOut, line: RateCardLine, claim: Claimed,
                enrolled_on: dt.date, history: list[PastClaim], totals: Totals) -> Decision:
    errors: list[Problem] = []

    def fail(code: str, field: str, message: str) -> None:
        errors.append(Problem(code=code, field=field, message=message))

    # The outcome itself.
    if metric.kind == "score_change":
        if claim.value is None:
            fail("value_required", "value", f"{metric.code} needs the measured change")
        else:
            threshold = Decimal(str(line.threshold))
            change = -claim.value if metric.direction == "decrease" else claim.value
            if change < threshold:
                word = "fall" if metric.direction == "decrease" else "rise"
                fail("below_threshold", "value",
                     f"the score must {word} by at least {threshold}; it moved by {claim.value}")
    elif claim.value is not None:
        fail("value_not_applicable", "value", f"{metric.code} takes no value")

    # When: from enrolment, or from the prerequisite outcome.
    prerequisite_on: dt.date | None = None
    if line.prerequisite_metric is not None:
        before = [h.achieved_on for h in history
                  if h.metric_code == line.prerequisite_metric
                  and h.achieved_on <= claim.achieved_on]
        if before:
            prerequisite_on = min(before)
        else:
            fail("prerequisite_missing", "metric_code",
                 f"{claim.metric_code} needs an accepted {line.prerequisite_metric} first")
    if claim.achieved_on < enrolled_on:
        fail("outside_window", "achieved_on", "achieved before the participant enrolled")
    elif line.prerequisite_metric is None or prerequisite_on is not None:
        from_prerequisite = (line.window is not None and line.window.anchor == "prerequisite"
                             and prerequisite_on is not None)
        anchor = prerequisite_on if from_prerequisite else enrolled_on
        anchor_name = line.prerequisite_metric if from_prerequisite else "enrolment"
        days = (claim.achieved_on - anchor).days
        if line.window is not None and not (line.window.start_day <= days
                                            <= line.window.end_day):
            fail("outside_window", "achieved_on",
                 f"achieved {days} days after {anchor_name}; this line pays for days "
                 f"{line.window.start_day}–{line.window.end_day}")
        sustained = (claim.achieved_on - (prerequisite_on or enrolled_on)).days
        if metric.kind == "duration" and metric.duration_days is not None \
                and sustained < metric.duration_days:
            fail("duration_not_met", "achieved_on",
                 f"sustained {sustained} days; the outcome needs {metric.duration_days}")

    # Once only, and not together with its alternatives.
    same_line = [h for h in history if h.line_code == line.code]
    if any(h.metric_code == claim.metric_code and h.achieved_on == claim.achieved_on
           for h in history):
        fail("duplicate", "metric_code",
             f"{claim.metric_code} on {claim.achieved_on.isoformat()} is already claimed")
    elif len(same_line) >= line.max_claims_per_participant:
        fail("max_claims_reached", "metric_code",
             f"line {line.code} pays at most {line.max_claims_per_participant} time(s) "
             "per participant")
    if line.exclusivity_group is not None:
        group = {ln.code for ln in terms.rate_card
                 if ln.exclusivity_group == line.exclusivity_group and ln.code != line.code}
        taken = sorted({h.line_code for h in history if h.line_code in group})
        if taken:
            fail("exclusive_conflict", "metric_code",
                 f"the participant is already paid for {', '.join(taken)}, which excludes "
                 f"{line.code}")

    # Money limits.
    price = line.price.amount
    if terms.per_participant_cap is not None and \
            sum(h.amount for h in history) + price > terms.per_participant_cap.amount:
        fail("participant_cap_reached", "pseudonym",
             "this claim would take the participant over the per-participant cap")
    if line.max_count is not None and totals.line_count[line.code] + 1 > line.max_count:
        fail("line_cap_reached", "metric_code",
             f"line {line.code} pays for at most {line.max_count} outcomes")
    if line.max_amount is not None and \
            totals.line_amount[line.code] + price > line.max_amount.amount:
        fail("line_cap_reached", "metric_code",
             f"line {line.code} has reached its maximum amount")
    if totals.contract_amount + price > terms.cap.amount:
        fail("cap_reached", "metric_code", "this claim would take the contract over its cap")
    return Decision(line=line, amount=price if not errors else 0, errors=errors)


def _reject(code: str, field: str, message: str) -> Decision:
    return Decision(line=None, amount=0, errors=[Problem(code=code, field=field,
                                                         message=message)])
