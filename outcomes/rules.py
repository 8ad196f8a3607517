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
from typing import NamedTuple

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


class PastClaim(NamedTuple):
    """A counted claim of the participant's, as the rules see it (a tuple: intake makes one
    for every claim it reads or accepts)."""

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
    return RateCard(terms, metrics).check(claim.metric_code, claim.achieved_on, claim.value,
                                          enrolled_on, history, totals, today)


class _Line:
    """A claimable rate card line with what its rules need worked out once: its metric, its
    threshold, its exclusivity peers, and every line sharing its code (whose limits it
    counts against, as `cap_problems` does)."""

    __slots__ = ("accepted", "code", "decrease", "duration_days", "from_prerequisite", "line",
                 "line_caps", "metric", "peers", "prerequisite", "price", "score", "threshold",
                 "window")

    def __init__(self, line: RateCardLine, metric: MetricOut | None,
                 rate_card: Sequence[RateCardLine]) -> None:
        self.line, self.code, self.metric = line, line.code, metric
        kind = metric.kind if metric is not None else None
        self.score = kind == "score_change"
        self.decrease = metric is not None and metric.direction == "decrease"
        self.duration_days = (metric.duration_days
                              if metric is not None and kind == "duration" else None)
        try:
            self.threshold: Decimal | None = Decimal(str(line.threshold))
        except InvalidOperation:
            self.threshold = None  # refused by the terms' own checks; raised where used
        self.prerequisite = line.prerequisite_metric
        self.window = line.window
        self.from_prerequisite = line.window is not None and line.window.anchor == "prerequisite"
        group = line.exclusivity_group
        self.peers = None if group is None else frozenset(
            ln.code for ln in rate_card if ln.exclusivity_group == group and ln.code != line.code)
        self.price = line.price.amount
        self.line_caps = tuple((ln.max_count, None if ln.max_amount is None
                                else ln.max_amount.amount)
                               for ln in rate_card if ln.code == line.code)
        self.accepted = Decision(line=line, amount=self.price, errors=[])


class RateCard:
    """A contract's rate card arranged for judging many claims: lines grouped by metric,
    cohort lines set apart, each line's constants worked out once. `check` gives the same
    decision as the rules spelt out in the module docstring; on the happy path it allocates
    nothing (an accepted claim gets its line's one accepted Decision), and reasons are
    written only for a claim that fails."""

    def __init__(self, terms: ContractTerms, metrics: Mapping[str, MetricOut]) -> None:
        self.terms = terms
        self.metrics = metrics
        self.cohort_codes = frozenset(ln.code for ln in terms.rate_card if ln.kind == "cohort")
        self.on_card: set[str] = {ln.metric_code for ln in terms.rate_card}
        grouped: dict[str, list[_Line]] = defaultdict(list)
        for ln in terms.rate_card:
            if ln.code not in self.cohort_codes:
                grouped[ln.metric_code].append(
                    _Line(ln, metrics.get(ln.metric_code), terms.rate_card))
        self.claimable = {code: tuple(lines) for code, lines in grouped.items()}
        self.per_participant_cap = (None if terms.per_participant_cap is None
                                    else terms.per_participant_cap.amount)

    def check(self, metric_code: str, achieved_on: dt.date, value: Decimal | None,
              enrolled_on: dt.date | None, history: Sequence[PastClaim], totals: Totals,
              today: dt.date) -> Decision:
        """The decision on one claim of `metric_code` achieved on `achieved_on` (with
        `value` for a score) by a participant enrolled on `enrolled_on` (None: not
        enrolled) with the counted claims `history`, given the contract's running
        `totals`: the first line that accepts it, else the first line's reasons."""
        terms = self.terms
        if metric_code not in self.on_card:
            return _reject("not_on_rate_card", "metric_code",
                           f"{metric_code} is not on this contract's rate card")
        lines = self.claimable.get(metric_code)
        if not lines:
            return _reject("cohort_line_not_claimable", "metric_code",
                           f"{metric_code} is paid by a cohort line, which is paid by its "
                           "evaluation, not by claims")
        if today > terms.claims_deadline:
            return _reject("after_claims_deadline", "achieved_on",
                           f"claims closed on {terms.claims_deadline.isoformat()}")
        if achieved_on > today:
            return _reject("achieved_in_future", "achieved_on", "the outcome lies in the future")
        if achieved_on > terms.service_period.end:
            return _reject("after_service_period", "achieved_on",
                           f"the service period ended on {terms.service_period.end.isoformat()}; "
                           "outcomes achieved after it are not paid")
        if enrolled_on is None:
            return _reject("not_enrolled", "pseudonym",
                           "no participant with this pseudonym is enrolled on the contract")
        first: Decision | None = None
        for line in lines:
            decision = self._check_line(line, metric_code, achieved_on, value, enrolled_on,
                                        history, totals)
            if not decision.errors:
                return decision
            first = first or decision
        assert first is not None
        return first

    def _check_line(self, ln: _Line, metric_code: str, achieved_on: dt.date,
                    value: Decimal | None, enrolled_on: dt.date,
                    history: Sequence[PastClaim], totals: Totals) -> Decision:
        errors: list[Problem] | None = None  # made at the first reason, if there is one
        if ln.metric is None:
            raise KeyError(ln.line.metric_code)

        # The outcome itself.
        if ln.score:
            if value is None:
                errors = fail("value_required", "value",
                              f"{metric_code} needs the measured change", errors)
            else:
                threshold = ln.threshold
                if threshold is None:
                    threshold = Decimal(str(ln.line.threshold))  # raises, as it always did
                change = -value if ln.decrease else value
                if change < threshold:
                    word = "fall" if ln.decrease else "rise"
                    errors = fail("below_threshold", "value",
                                  f"the score must {word} by at least {threshold}; it moved "
                                  f"by {value}", errors)
        elif value is not None:
            errors = fail("value_not_applicable", "value",
                          f"{ln.metric.code} takes no value", errors)

        # One pass over the participant's counted claims. What it achieved leaves out a
        # cohort's payments, which are money, not achievements.
        prerequisite_on: dt.date | None = None
        duplicate = excluded = False
        same_line = so_far = 0
        cohort, prerequisite, peers, code = (self.cohort_codes, ln.prerequisite, ln.peers,
                                             ln.code)
        for h in history:
            so_far += h.amount
            if h.line_code == code:
                same_line += 1
            if peers is not None and h.line_code in peers:
                excluded = True
            if h.line_code in cohort:
                continue
            if h.metric_code == metric_code and h.achieved_on == achieved_on:
                duplicate = True
            if prerequisite is not None and h.metric_code == prerequisite \
                    and h.achieved_on <= achieved_on \
                    and (prerequisite_on is None or h.achieved_on < prerequisite_on):
                prerequisite_on = h.achieved_on

        # When: from enrolment, or from the prerequisite outcome.
        if prerequisite is not None and prerequisite_on is None:
            errors = fail("prerequisite_missing", "metric_code",
                          f"{metric_code} needs an accepted {prerequisite} first", errors)
        if achieved_on < enrolled_on:
            errors = fail("outside_window", "achieved_on",
                          "achieved before the participant enrolled", errors)
        elif prerequisite is None or prerequisite_on is not None:
            window = ln.window
            if window is not None:
                from_prerequisite = ln.from_prerequisite and prerequisite_on is not None
                anchor = prerequisite_on if from_prerequisite else enrolled_on
                days = (achieved_on - anchor).days
                if not window.start_day <= days <= window.end_day:
                    anchor_name = prerequisite if from_prerequisite else "enrolment"
                    errors = fail("outside_window", "achieved_on",
                                  f"achieved {days} days after {anchor_name}; this line pays "
                                  f"for days {window.start_day}–{window.end_day}", errors)
            if ln.duration_days is not None:
                sustained = (achieved_on - (prerequisite_on or enrolled_on)).days
                if sustained < ln.duration_days:
                    errors = fail("duration_not_met", "achieved_on",
                                  f"sustained {sustained} days; the outcome needs "
                                  f"{ln.duration_days}", errors)

        # Once only, and not together with its alternatives.
        if duplicate:
            errors = fail("duplicate", "metric_code",
                          f"{metric_code} on {achieved_on.isoformat()} is already claimed", errors)
        elif same_line >= ln.line.max_claims_per_participant:
            errors = fail("max_claims_reached", "metric_code",
                          f"line {code} pays at most {ln.line.max_claims_per_participant} "
                          "time(s) per participant", errors)
        if excluded:
            taken = sorted({h.line_code for h in history if h.line_code in (peers or ())})
            errors = fail("exclusive_conflict", "metric_code",
                          f"the participant is already paid for {', '.join(taken)}, which "
                          f"excludes {code}", errors)

        # Money limits: worked out here, spelt out by cap_problems when one is reached.
        price = ln.price
        cap = self.per_participant_cap
        over = ((cap is not None and so_far + price > cap)
                or totals.contract_amount + price > self.terms.cap.amount)
        if not over:
            count = totals.line_count.get(code, 0) + 1
            amount = totals.line_amount.get(code, 0) + price
            for max_count, max_amount in ln.line_caps:
                if (max_count is not None and count > max_count) \
                        or (max_amount is not None and amount > max_amount):
                    over = True
                    break
        if over:
            errors = (errors or []) + cap_problems(self.terms, totals, {None: so_far},
                                                   [Adding(code, None, price)])
        if errors is None:
            return ln.accepted
        return Decision(line=ln.line, amount=0, errors=errors)


def fail(code: str, field: str, message: str, errors: list[Problem] | None) -> list[Problem]:
    """`errors` (None: no reason yet) with the reason `code` added."""
    problem = Problem(code=code, field=field, message=message)
    if errors is None:
        return [problem]
    errors.append(problem)
    return errors


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
