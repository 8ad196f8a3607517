"""Payment rules and the claim lifecycle: pure, deterministic, no I/O.

`check_claim` takes the contract's terms, the metric library, the participant's enrolment,
the participant's counted claims so far and the running totals, and returns either the rate
card line and amount to accept, or every reason (stable codes) why not. `check_enrolment`
does the same for a participant. `CLAIM_TRANSITIONS` is the claim lifecycle, as
`contracts.rules.TRANSITIONS` is the contract's; `approval_refusal` and `clawback_refusal`
say why a claim may not take a step, and `cap_problems` is the one check of the contract,
line and participant caps that intake, approval and cohort evaluation share.
`evaluation_refusal` and `cohort_rate_bp` decide a cohort line's evaluation. The services
call these and nothing else decides. docs/payment-rules.md has an example of each reason
(`contracts.reasons` lists them all).

A cohort line is paid by its evaluation, never by a claim: claims of its metric are made on
an outcome line of the same metric, and count as the cohort's achievements. The claims an
evaluation creates on the cohort line are payments, not achievements: they count against
the caps, but never as a prerequisite, a duplicate or another cohort's achievement.

Claims count against limits while they are accepted, sampled, verified, approved or paid;
rejected, disputed and reversed claims do not.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from contracts.errors import Problem
from contracts.schemas import ContractTerms, MetricOut, RateCardLine
from outcomes.pseudonyms import pseudonym_problem


class ClaimStatus(enum.StrEnum):
    """Where a claim stands. A rejected row is never stored as a claim."""

    ACCEPTED = "accepted"
    SAMPLED = "sampled"
    VERIFIED = "verified"
    DISPUTED = "disputed"
    APPROVED = "approved"
    PAID = "paid"
    REVERSED = "reversed"


COUNTED = ("accepted", "sampled", "verified", "approved", "paid")

CLAIM_TRANSITIONS: dict[str, dict[str, str]] = {
    # action: {from_status: to_status}
    "sample": {"accepted": "sampled"},
    "verify": {"sampled": "verified", "disputed": "verified"},
    "dispute": {"sampled": "disputed"},
    # From `accepted` only when the claim went through a draw unselected (approval_refusal).
    "approve": {"accepted": "approved", "verified": "approved"},
    "pay": {"approved": "paid"},
    "claw_back": {"approved": "reversed", "paid": "reversed"},
}
# Statuses in which the action has already happened: asking again changes nothing.
ALREADY = {"approve": ("approved", "paid"), "claw_back": ("reversed",)}
_DONE_WORD = {"sample": "sampled", "verify": "verified", "dispute": "disputed",
              "approve": "approved", "pay": "paid", "claw_back": "clawed back"}


def next_claim_status(current: str, action: str) -> str | None:
    """The status `action` leads a claim to from `current`, or None when not allowed."""
    return CLAIM_TRANSITIONS[action].get(current)


def already_done(action: str, current: str) -> bool:
    return current in ALREADY.get(action, ())


def transition_refusal(current: str, action: str) -> tuple[str, str] | None:
    """(code, message) when a claim that is `current` may not take `action`."""
    if next_claim_status(current, action) is not None:
        return None
    if action == "claw_back":
        return ("invalid_transition",
                f"a {current} claim has nothing to claw back; dispute it")
    return ("invalid_transition", f"a {current} claim cannot be {_DONE_WORD[action]}")


def approval_refusal(current: str | None, drawn: bool) -> tuple[str, str] | None:
    """(code, message) when a claim that is `current` (None: not on the contract) may not be
    approved; `drawn` says whether it has been through a verification draw. A claim is
    approved once the draw passed it by or it was verified."""
    if current is None:
        return ("unknown_claim", "no such claim on this contract")
    if already_done("approve", current):
        return None
    if current == "accepted" and not drawn:
        return ("not_yet_sampled", "draw a verification sample first")
    if current == "sampled":
        return ("not_verified", "the claim was sampled and is not verified yet")
    if next_claim_status(current, "approve") is None:
        return ("not_approvable", f"a {current} claim cannot be approved")
    return None


def clawback_refusal(current: str, in_unpaid_run: bool) -> tuple[str, str] | None:
    """(code, message) when a claim that is `current` may not be clawed back. An approved
    claim waiting in a payment run is taken out of nothing: the run would pay it."""
    if already_done("claw_back", current):
        return None
    refused = transition_refusal(current, "claw_back")
    if refused is not None:
        return refused
    if current == "approved" and in_unpaid_run:
        return ("in_payment_run", "the claim is in a payment run that is not paid yet")
    return None


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
class Adding:
    """A claim about to count against the caps: its line, its participant, its amount."""

    line_code: str
    participant: Hashable
    amount: int


# Where each cap problem points, for a claim row (intake) and for a list of claims.
CLAIM_CAP_FIELDS = {"participant_cap_reached": "pseudonym", "line_cap_reached": "metric_code",
                    "cap_reached": "metric_code"}
LIST_CAP_FIELDS = {"participant_cap_reached": "claim_ids", "line_cap_reached": "claim_ids",
                   "cap_reached": "claim_ids"}
COHORT_CAP_FIELDS = {"participant_cap_reached": "cohort", "line_cap_reached": "line_code",
                     "cap_reached": "line_code"}


def cap_problems(terms: ContractTerms, totals: Totals, participants: Mapping[Hashable, int],
                 adding: Sequence[Adding], *, subject: str = "this claim",
                 fields: Mapping[str, str] = CLAIM_CAP_FIELDS) -> list[Problem]:
    """Every cap that adding `adding` to what already counts would pass: the
    per-participant cap (`participants`: each participant's amount so far), each touched
    line's maximum count and amount, and the contract's cap (`totals`). Intake asks it for
    one claim against the counted claims; approval for a list against what is accrued."""
    problems: list[Problem] = []

    def fail(code: str, message: str) -> None:
        problems.append(Problem(code=code, field=fields[code], message=message))

    cap = terms.per_participant_cap
    if cap is not None:
        per: dict[Hashable, int] = defaultdict(int)
        for a in adding:
            per[a.participant] += a.amount
        if any(participants.get(p, 0) + amount > cap.amount for p, amount in per.items()):
            fail("participant_cap_reached",
                 f"{subject} would take the participant over the per-participant cap")
    count: dict[str, int] = defaultdict(int)
    amount: dict[str, int] = defaultdict(int)
    for a in adding:
        count[a.line_code] += 1
        amount[a.line_code] += a.amount
    for line in terms.rate_card:
        if line.code not in count:
            continue
        if line.max_count is not None and \
                totals.line_count.get(line.code, 0) + count[line.code] > line.max_count:
            fail("line_cap_reached", f"line {line.code} pays for at most {line.max_count} "
                                     "outcomes")
        if line.max_amount is not None and \
                totals.line_amount.get(line.code, 0) + amount[line.code] > \
                line.max_amount.amount:
            fail("line_cap_reached", f"line {line.code} has reached its maximum amount")
    if totals.contract_amount + sum(a.amount for a in adding) > terms.cap.amount:
        fail("cap_reached", f"{subject} would take the contract over its cap")
    return problems


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
    cohort_lines = {line.code for line in terms.rate_card if line.kind == "cohort"}
    lines = [line for line in lines if line.code not in cohort_lines]
    if not lines:
        return _reject("cohort_line_not_claimable", "metric_code",
                       f"{claim.metric_code} is paid by a cohort line, which is paid by its "
                       "evaluation, not by claims")
    if today > terms.claims_deadline:
        return _reject("after_claims_deadline", "achieved_on",
                       f"claims closed on {terms.claims_deadline.isoformat()}")
    if claim.achieved_on > today:
        return _reject("achieved_in_future", "achieved_on", "the outcome lies in the future")
    if claim.achieved_on > terms.service_period.end:
        return _reject("after_service_period", "achieved_on",
                       f"the service period ended on {terms.service_period.end.isoformat()}; "
                       "outcomes achieved after it are not paid")
    if enrolled_on is None:
        return _reject("not_enrolled", "pseudonym",
                       "no participant with this pseudonym is enrolled on the contract")
    first: Decision | None = None
    for line in lines:
        decision = _check_line(terms, metrics[line.metric_code], line, claim, enrolled_on,
                               history, totals, cohort_lines)
        if decision.accepted:
            return decision
        first = first or decision
    assert first is not None
    return first


def _check_line(terms: ContractTerms, metric: MetricOut, line: RateCardLine, claim: Claimed,
                enrolled_on: dt.date, history: list[PastClaim], totals: Totals,
                cohort_lines: set[str]) -> Decision:
    errors: list[Problem] = []
    # What the participant achieved; a cohort's payment is money, not an achievement.
    achieved = [h for h in history if h.line_code not in cohort_lines]

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
        before = [h.achieved_on for h in achieved
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
           for h in achieved):
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
    errors += cap_problems(terms, totals, {None: sum(h.amount for h in history)},
                           [Adding(line.code, None, price)])
    return Decision(line=line, amount=price if not errors else 0, errors=errors)


def _reject(code: str, field: str, message: str) -> Decision:
    return Decision(line=None, amount=0, errors=[Problem(code=code, field=field,
                                                         message=message)])


# Cohort lines ------------------------------------------------------------------------------


def evaluation_refusal(line: RateCardLine | None, line_code: str, status: str,
                       today: dt.date, claims_deadline: dt.date
                       ) -> tuple[str, str] | None:
    """(code, message) when the cohort line `line` (None: not on the rate card) may not be
    evaluated today on a contract that is `status`. A cohort is evaluated once, on or after
    its evaluation date and by the claims deadline, while the contract is active: a
    suspension holds the cohort's payment as it holds new claims, until the contract
    resumes."""
    if line is None:
        return ("line_not_found", f"the rate card has no line {line_code}")
    if line.kind != "cohort":
        return ("not_a_cohort_line",
                f"line {line_code} pays per outcome claimed; only a cohort line is evaluated")
    if status != "active":
        return ("contract_not_active",
                f"the contract is {status}; a cohort is evaluated while it is active")
    assert line.evaluation_on is not None
    if today < line.evaluation_on:
        return ("cohort_not_due",
                f"cohort {line.cohort} is evaluated on or after {line.evaluation_on}")
    if today > claims_deadline:
        return ("after_claims_deadline",
                f"claims closed on {claims_deadline.isoformat()}; the cohort can no longer "
                "be paid")
    return None


def cohort_rate_bp(n: int, achieved: int) -> int:
    """The share of a cohort of `n` that achieved, in basis points, rounded down: a rate
    just short of the threshold never rounds up to it. An empty cohort has a rate of 0."""
    return achieved * 10_000 // n if n else 0


# Enrolment ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A participant as the rules see it: a pseudonym, an enrolment date, coarse
    dimensions."""

    pseudonym: str
    enrolled_on: dt.date
    age_band: str | None = None
    area: str | None = None
    cohort: str | None = None


def check_enrolment(terms: ContractTerms, new: Enrolment, known: Enrolment | None
                    ) -> tuple[str, list[Problem]]:
    """("created", []) when `new` may be enrolled; ("unchanged", []) when it is enrolled
    exactly so already (`known`); else ("rejected", reasons). An enrolment is never
    changed by sending it again: that is a variation for the commissioner."""
    bad = pseudonym_problem(new.pseudonym)
    if bad:
        return "rejected", [Problem(code=bad[0], field="pseudonym", message=bad[1])]
    if known is not None:
        if known.enrolled_on != new.enrolled_on:
            return "rejected", [Problem(
                code="enrolment_conflict", field="enrolled_on",
                message=f"{new.pseudonym} is enrolled on {known.enrolled_on}; changing that "
                        "is a variation for the commissioner")]
        changed = [f for f in ("age_band", "area", "cohort")
                   if getattr(new, f) != getattr(known, f)]
        if changed:
            return "rejected", [Problem(
                code="participant_conflict", field=changed[0],
                message=f"{new.pseudonym} is already enrolled with other "
                        f"{', '.join(changed)}")]
        return "unchanged", []
    period = terms.enrolment_period
    if not period.start <= new.enrolled_on <= period.end:
        return "rejected", [Problem(code="enrolment_outside_period", field="enrolled_on",
                                    message=f"enrolment runs from {period.start} to "
                                            f"{period.end}")]
    return "created", []
