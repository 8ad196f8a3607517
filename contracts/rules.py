"""Pure checks of contract terms and of the contract lifecycle. No I/O, no framework.

`check_terms` returns every problem it finds, each with a stable code and the field it
concerns, so that a commissioner fixes a draft in one go rather than one error at a time.
`acceptances_needed` and `check_effective_on` say whose consent a variation needs and when
it may take effect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID

import msgspec

from contracts.errors import Problem
from contracts.money import Money, is_known_currency
from contracts.schemas import ContractTerms, MetricIn, MetricOut

TRANSITIONS: dict[str, dict[str, str]] = {
    # action: {from_status: to_status}
    "activate": {"draft": "active"},
    "suspend": {"active": "suspended"},
    "resume": {"suspended": "active"},
    "close": {"active": "closed", "suspended": "closed"},
}


def next_status(current: str, action: str) -> str | None:
    """The status `action` leads to from `current`, or None when it is not allowed."""
    return TRANSITIONS.get(action, {}).get(current)


BINDING = ("active", "suspended")


def acceptances_needed(before: ContractTerms, after: ContractTerms, *, binding: bool
                       ) -> set[tuple[UUID, str]]:
    """The (organisation, role) pairs whose acceptance varying `before` into `after` needs.

    Binding terms commit the commissioners' money: each commissioner whose share changes
    (added, removed or resized) accepts, and when anything else that decides what is paid
    changes (the cap, a rate, a period, the sampling rate, any term but the parties), every
    commissioner before or after does. On a draft, money is not yet committed: activation
    asks every commissioner to accept the final terms instead. On any contract, an auditor
    taken off acknowledges it. Adding an auditor needs nobody.
    """
    needed: set[tuple[UUID, str]] = set()
    if binding:
        old = {c.organisation_id: c.share_bp for c in before.commissioners}
        new = {c.organisation_id: c.share_bp for c in after.commissioners}
        everyone = old.keys() | new.keys()
        # Compared with the parties put back as they were, so that a term added to
        # ContractTerms later counts as one that affects money until said otherwise.
        rest = msgspec.structs.replace(after, commissioners=before.commissioners,
                                       auditor_ids=before.auditor_ids)
        changed = everyone if rest != before else {o for o in everyone
                                                   if old.get(o) != new.get(o)}
        needed |= {(o, "commissioner") for o in changed}
    needed |= {(a, "auditor") for a in set(before.auditor_ids) - set(after.auditor_ids)}
    return needed


def check_effective_on(effective_on: dt.date, *, today: dt.date,
                       paid_until: dt.date | None) -> list[Problem]:
    """A variation takes effect neither in the past nor inside a period already paid, so a
    balance once reported never changes afterwards."""
    if effective_on < today:
        return [Problem(code="effective_in_past", field="effective_on",
                        message=f"a variation cannot take effect before today ({today})")]
    if paid_until is not None and effective_on <= paid_until:
        return [Problem(code="effective_in_paid_period", field="effective_on",
                        message=f"payments are made for periods up to {paid_until}; a "
                                "variation takes effect after that")]
    return []


def check_metric(metric: MetricIn) -> list[Problem]:
    problems = []
    if metric.kind == "duration" and metric.duration_days is None:
        problems.append(Problem(code="duration_required", field="duration_days",
                                message="a duration metric needs duration_days"))
    if metric.kind != "duration" and metric.duration_days is not None:
        problems.append(Problem(code="duration_not_applicable", field="duration_days",
                                message="only duration metrics have duration_days"))
    return problems


def check_terms(
    terms: ContractTerms,
    currency: str,
    metrics: Mapping[str, MetricIn | MetricOut],
    *,
    for_activation: bool = False,
) -> list[Problem]:
    """Every problem with `terms` for a contract in `currency`, given the metric library."""
    p: list[Problem] = []

    def add(code: str, field: str, message: str) -> None:
        p.append(Problem(code=code, field=field, message=message))

    if not is_known_currency(currency):
        add("unknown_currency", "currency", f"{currency} is not a currency Virker pays in")

    for name in ("service_period", "enrolment_period"):
        period = getattr(terms, name)
        if period.end < period.start:
            add("period_inverted", f"terms.{name}", "the period ends before it starts")
    sp, ep = terms.service_period, terms.enrolment_period
    if ep.start < sp.start or ep.end > sp.end:
        add("enrolment_outside_service", "terms.enrolment_period",
            "enrolment must lie within the service period")
    if terms.claims_deadline < sp.end:
        add("deadline_before_service_end", "terms.claims_deadline",
            "the claims deadline cannot be before the service period ends")

    def money(m: Money | None, field: str) -> None:
        if m is not None and m.currency != currency:
            add("currency_mismatch", field, f"amount is in {m.currency}, contract is in {currency}")

    money(terms.cap, "terms.cap")
    money(terms.per_participant_cap, "terms.per_participant_cap")
    if terms.per_participant_cap and terms.per_participant_cap.amount > terms.cap.amount:
        add("participant_cap_above_cap", "terms.per_participant_cap",
            "the per-participant cap exceeds the contract cap")

    _check_commissioners(terms, add)
    if len(set(terms.auditor_ids)) != len(terms.auditor_ids):
        add("duplicate_party", "terms.auditor_ids", "an auditor is named twice")
    _check_partners(terms, add)

    _check_rate_card(terms, metrics, add, money)
    if for_activation and not terms.rate_card:
        add("rate_card_empty", "terms.rate_card", "a contract needs a rate card to be activated")
    if for_activation and terms.cap.amount == 0:
        add("cap_zero", "terms.cap", "a contract needs a cap above zero to be activated")
    return p


def _check_commissioners(terms: ContractTerms, add) -> None:
    if not terms.commissioners:
        add("commissioner_required", "terms.commissioners", "name at least one commissioner")
        return
    ids = [c.organisation_id for c in terms.commissioners]
    if len(set(ids)) != len(ids):
        add("duplicate_party", "terms.commissioners", "a commissioner is named twice")
    total = sum(c.share_bp for c in terms.commissioners)
    if total != 10_000:
        add("shares_not_100", "terms.commissioners",
            f"commissioners' shares sum to {total / 100:g} %, not 100 %")


def _check_partners(terms: ContractTerms, add) -> None:
    """Partners deliver with the lead provider: each named once, none also a commissioner
    or auditor, and, when the contract pays by the agreed split, each with its split and
    all of them together leaving the lead its share. Whether a partner exists, is a
    provider and is not the lead is contracts.service's to check (it knows the lead)."""
    seen: set = set()
    others = {c.organisation_id for c in terms.commissioners} | set(terms.auditor_ids)
    for i, partner in enumerate(terms.partners):
        f = f"terms.partners[{i}]"
        if partner.organisation_id in seen:
            add("duplicate_party", f"{f}.organisation_id", "a partner is named twice")
        seen.add(partner.organisation_id)
        if partner.organisation_id in others:
            add("partner_conflict", f"{f}.organisation_id",
                "a commissioner or auditor of the contract cannot also deliver it")
        if terms.partner_payment == "by_split" and partner.split_bp is None:
            add("split_required", f"{f}.split_bp",
                "the contract pays by the agreed split: give each partner its split_bp")
        if terms.partner_payment == "by_claimant" and partner.split_bp is not None:
            add("split_not_applicable", f"{f}.split_bp",
                "the contract pays each provider for its own participants' claims: "
                "set partner_payment to by_split to pay by a split")
    if terms.partner_payment == "by_split":
        total = sum(p.split_bp or 0 for p in terms.partners)
        if total > 10_000:
            add("splits_above_100", "terms.partners",
                f"the partners' splits sum to {total / 100:g} %, more than 100 %")


def _check_rate_card(terms, metrics, add, money) -> None:
    codes: set[str] = set()
    # What a prerequisite or a cohort counts is claims of a metric, and only outcome lines
    # take claims.
    metrics_on_card = {line.metric_code for line in terms.rate_card if line.kind == "outcome"}
    for i, line in enumerate(terms.rate_card):
        f = f"terms.rate_card[{i}]"
        if line.code in codes:
            add("duplicate_line", f"{f}.code", f"line code {line.code} is used twice")
        codes.add(line.code)
        money(line.price, f"{f}.price")
        money(line.max_amount, f"{f}.max_amount")
        if line.price.amount == 0:
            add("price_zero", f"{f}.price", "a rate card line pays a price above zero")
        if line.max_amount is not None and line.max_amount.amount < line.price.amount:
            add("line_max_below_price", f"{f}.max_amount",
                "the line's maximum amount is below the price of one outcome")
        if line.max_count is not None and line.max_count < 1:
            add("invalid_count", f"{f}.max_count", "max_count must be at least 1")

        metric = metrics.get(line.metric_code)
        if metric is None:
            add("unknown_metric", f"{f}.metric_code",
                f"{line.metric_code} is not in the metric library")

        if line.window is not None:
            if line.window.end_day < line.window.start_day:
                add("window_inverted", f"{f}.window", "the window ends before it starts")
            if line.window.anchor == "prerequisite" and line.prerequisite_metric is None:
                add("window_needs_prerequisite", f"{f}.window.anchor",
                    "a window counted from a prerequisite needs prerequisite_metric")

        if line.prerequisite_metric is not None:
            if line.prerequisite_metric == line.metric_code:
                add("prerequisite_self", f"{f}.prerequisite_metric",
                    "a metric cannot be its own prerequisite")
            elif line.prerequisite_metric not in metrics_on_card:
                add("prerequisite_not_on_rate_card", f"{f}.prerequisite_metric",
                    f"{line.prerequisite_metric} is not on this rate card")

        if line.target is not None and line.max_count is not None \
                and line.target > line.max_count:
            add("target_above_max_count", f"{f}.target",
                f"the line expects {line.target} to achieve but pays for at most "
                f"{line.max_count}")
        if line.baseline is not None and line.baseline.kind == "comparison_group" \
                and line.baseline.n is None:
            add("baseline_n_required", f"{f}.baseline.n",
                "a comparison group's rate needs the group's size n")

        if line.kind == "cohort":
            _check_cohort_line(terms, line, f, metrics_on_card, add)
            continue
        for name in ("cohort", "evaluation_on", "cohort_threshold_bp"):
            if getattr(line, name) is not None:
                add("cohort_term_on_outcome_line", f"{f}.{name}",
                    f"{name} is a term of cohort lines; this line pays per outcome")

        if metric is not None:
            if metric.kind == "score_change":
                if line.threshold is None:
                    add("threshold_required", f"{f}.threshold",
                        f"{metric.code} is a score metric: set the change that counts")
                elif Decimal(str(line.threshold)) <= 0:
                    add("threshold_not_positive", f"{f}.threshold",
                        "the threshold is the size of the change and must be above zero")
            elif line.threshold is not None:
                add("threshold_not_applicable", f"{f}.threshold",
                    f"{metric.code} is not a score metric and takes no threshold")


# The terms a cohort line leaves to the outcome lines whose claims it counts.
_NOT_FOR_COHORT = ("window", "prerequisite_metric", "exclusivity_group", "threshold")


def _check_cohort_line(terms: ContractTerms, line, f: str, outcome_metrics: set[str],
                       add) -> None:
    """A cohort line pays each participant of its cohort once, when at `evaluation_on` the
    share of the cohort with a counted claim of its metric reaches `cohort_threshold_bp`.
    Its achievements are claims made on outcome lines, so the metric needs one; how such a
    claim is judged (window, threshold, …) is that line's business, not the cohort's."""
    for name in ("cohort", "evaluation_on", "cohort_threshold_bp"):
        if getattr(line, name) is None:
            add("cohort_terms_missing", f"{f}.{name}", f"a cohort line needs {name}")
    if line.cohort is not None and len(line.cohort) > 64:
        add("invalid_field", f"{f}.cohort",
            "a cohort is named in at most 64 characters, as a participant's cohort is")
    if line.evaluation_on is not None:
        sp = terms.service_period
        if not sp.start <= line.evaluation_on <= sp.end:
            add("evaluation_outside_service", f"{f}.evaluation_on",
                f"the cohort is evaluated within the service period ({sp.start} to {sp.end})")
        if line.evaluation_on > terms.claims_deadline:
            add("evaluation_after_deadline", f"{f}.evaluation_on",
                f"the cohort is evaluated by the claims deadline ({terms.claims_deadline})")
    for name in _NOT_FOR_COHORT:
        if getattr(line, name) is not None:
            add("not_for_cohort_line", f"{f}.{name}",
                f"a cohort line takes no {name}: it counts claims its metric's outcome "
                "lines accepted")
    if line.max_claims_per_participant > 1:
        add("not_for_cohort_line", f"{f}.max_claims_per_participant",
            "a cohort line pays each participant of the cohort once")
    if line.metric_code not in outcome_metrics:
        add("cohort_metric_not_claimable", f"{f}.metric_code",
            f"a cohort counts claims of {line.metric_code}, and no outcome line of the rate "
            "card takes them")
