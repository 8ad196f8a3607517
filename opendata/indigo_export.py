"""Contracts as INDIGO 4.1 projects (the Government Outcomes Lab's data standard).

A project is `{"id", "data"}`, its data in INDIGO's project shape, every field
`{"value": …, "status": "PUBLIC"}`: INDIGO marks a private field PRIVATE, but nothing
private leaves Virker, so a private part's fields are left out altogether, never carried
with their status. The organisations it names (commissioners, providers) follow as
`{"id", "data"}` in INDIGO's organisation shape, identified by their organisation
identifiers (org-id.guide). One contract: `{"id", "data", "organisations"}`; many:
`{"projects": [...], "organisations": [...]}`.

What each part puts in the project:

- contract: name, reference, stage, dates, jurisdiction, intervention, the cap (maximum
  potential outcome payment), the service provisions (provider and partners), each
  payer's payment commitment (its share of the cap), the link to the OCDS release;
- rate_card: the outcome metrics (definition, validation method, data source, policy
  sector) and their pricings (price per unit, its rules);
- targets: each metric's target;
- results: per metric the participants observed and achieving, in all and per enrolment
  quarter, suppressed as for any reader outside the contract;
- payments: outcome payments, planned (accrued for approved outcomes) per quarter and
  actual (paid) per payment run, per payer; the total paid.

Amounts are numbers of major units in the contract's currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from contracts.money import split_by_shares
from contracts.schemas import RateCardLine
from opendata.facts import (
    GRANT_MAKERS,
    ContractFacts,
    Figures,
    Party,
    major,
    publisher,
    quarter_period,
    rules,
)
from opendata.giving360 import grant_id
from opendata.ocds import ocid

PUBLIC = "PUBLIC"

ORGANISATION_TYPE = {
    "municipality": "Government body", "region": "Government body",
    "ministry": "Government body", "municipal_unit": "Government body",
    "outcome_fund": "Registered non-profit organisation, charity or foundation",
    "foundation": "Registered non-profit organisation, charity or foundation",
    "ngo": "Registered non-profit organisation, charity or foundation",
    "social_enterprise": "Registered company, partnership or commercial association",
    "company": "Registered company, partnership or commercial association",
    "audit_firm": "Registered company, partnership or commercial association",
    "operator": "Registered company, partnership or commercial association",
}
PAYER_ROLE = {"outcome_fund": "Foundation/Philanthropist",
              "foundation": "Foundation/Philanthropist"}
PROVIDER_ROLE = {"ngo": "Nonprofit/NGO", "social_enterprise": "Other",
                 "municipal_unit": "Government/Public Sector/Public Bank",
                 "company": "For-profit"}
VERIFICATION = {"admin_data": "Administrative data", "provider_evidence":
                "Evidence from the provider", "self_report": "Participant self-report"}
# The first part of a metric category → INDIGO's policy sector.
SECTORS = {"employment": "Employment and training", "housing": "Homelessness",
           "homelessness": "Homelessness", "health": "Health", "education": "Education",
           "family": "Child and family welfare", "child": "Child and family welfare",
           "justice": "Criminal justice", "crime": "Criminal justice",
           "environment": "Agriculture and environment", "poverty": "Poverty reduction"}


def v(value: Any) -> dict:
    """A field as INDIGO writes it: its value and that it is public."""
    return {"value": value, "status": PUBLIC}


def _money(f: ContractFacts, amount: int) -> dict:
    return {"currency": v(f.currency), "amount": v(major(amount, f.currency))}


def stage(f: ContractFacts) -> str | None:
    if f.status == "draft":
        return None
    if f.status == "closed":
        return "Complete"
    period = f.terms.service_period
    if f.as_of < period.start:
        return "Contracted"
    return "Implementation" if f.as_of <= period.end else "Service delivery complete"


def sector(f: ContractFacts, line: RateCardLine) -> str | None:
    metric = f.metrics.get(line.metric_code)
    category = (metric.category or "") if metric else ""
    return SECTORS.get(category.split(".")[0]) if category else None


def organisation(party: Party) -> dict:
    return {"id": party.identifier, "data": {
        "status": PUBLIC,
        "name": v(party.name),
        "type": v(ORGANISATION_TYPE.get(party.kind, "Government body")),
        "org-ids": {"primary": v(party.identifier)},
        "country": v(party.country),
    }}


def _outcome_metric(f: ContractFacts, line: RateCardLine) -> dict:
    metric = f.metrics.get(line.metric_code)
    out: dict[str, Any] = {"id": line.code, "status": PUBLIC,
                           "definition": v(f"{f.line_name(line)}: {metric.definition}"
                                           if metric else line.metric_code)}
    if metric is not None:
        out["outcome_validation_method"] = v(metric.evidence_required)
        out["data_source_for_outcome_validation"] = v(
            VERIFICATION.get(metric.verification_source, metric.verification_source))
        out["unit_description_of_service_user_or_beneficiaries"] = v(metric.unit)
    policy = sector(f, line)
    if policy:
        out["policy_sector"] = v(policy)
    if f.shows("targets") and line.target is not None:
        out["targeted_number_of_service_users_or_beneficiaries_total"] = v(line.target)
        out["outcome_metric_target"] = v(
            f"{line.target} {metric.unit if metric else 'outcomes'}")
    if f.shows("targets") and line.baseline is not None:
        b = line.baseline
        out["other_target_for_meeting_outcome_metric_target"] = v(
            f"baseline rate {Decimal(b.rate_bp).scaleb(-2)} % ({b.kind}"
            f"{f', n = {b.n}' if b.n else ''}): {b.source}")
    out["notes"] = f"metric code {line.metric_code}"
    return out


def _pricing(f: ContractFacts, line: RateCardLine) -> dict:
    out: dict[str, Any] = {
        "outcome_metric_id": v(line.code), "status": PUBLIC, "currency": v(f.currency),
        "price_per_unit": {"amount": v(major(line.price.amount, f.currency))}}
    most = None
    if line.max_amount is not None:
        most = line.max_amount.amount
    elif line.max_count is not None:
        most = line.max_count * line.price.amount
    if most is not None:
        out["maximum_price_if_all_targets_achieved"] = {
            "amount": v(str(major(most, f.currency)))}
    said = rules(f, line)
    if said:
        out["price_description"] = v(said)
    return out


def _result(line: RateCardLine, figures: Figures, start, end, final: bool,
            note: str) -> dict:
    out: dict[str, Any] = {
        "outcome_metric_id": v(line.code), "status": PUBLIC,
        "result_level": v("Outcome level"),
        "result_type": v("Final" if final else "Interim"),
        "period": {"start_date": v(start.isoformat()), "end_date": v(end.isoformat())}}
    shown = []
    if figures.observed is not None:
        out["number_engaged_in_impact_bond"] = v(figures.observed)
        shown.append("participants observed")
    if figures.achieved is not None:
        out["number_with_positive_social_outcomes"] = v(figures.achieved)
        out["outcomes_achieved"] = v(str(figures.achieved))
        shown.append("achieving")
    notes = [note]
    if figures.rate is not None:
        notes.append(f"rate {figures.rate:.1%}")
    if figures.suppressed:
        notes.append("figures about fewer than k people are suppressed")
    out["notes"] = "; ".join(notes)
    return out


def _results(f: ContractFacts) -> list[dict]:
    final = f.as_of > f.terms.claims_deadline or f.status == "closed"
    start = f.terms.service_period.start
    out = []
    for line in f.terms.rate_card:
        found = f.results.get(line.code)
        if found is None:
            continue
        out.append(_result(line, found.total, start, max(start, f.as_of), final,
                           f"all participants, as of {f.as_of}"))
        for quarter, figures in found.quarters:
            first, last = quarter_period(quarter)
            out.append(_result(line, figures, first, last, final,
                               f"participants enrolled in {quarter}"))
    return out


def _payments(f: ContractFacts) -> list[dict]:
    payers = f.payers()
    out = []
    planned: dict[tuple, int] = defaultdict(int)
    for (payer, day), amount in f.accrued.items():
        planned[(payer, f"{day.year}Q{(day.month - 1) // 3 + 1}")] += amount
    for (payer, quarter), amount in sorted(planned.items(), key=lambda p: (p[0][1],
                                                                           str(p[0][0]))):
        if amount == 0 or payer not in payers:
            continue
        first, last = quarter_period(quarter)
        out.append({
            "status": PUBLIC, "type": v("Planned"),
            "period": {"start_date": v(first.isoformat()), "end_date": v(last.isoformat())},
            "payer_organisation_id": v(payers[payer].identifier),
            "recipient_organisation_id": v(f.provider.identifier),
            "money": _money(f, amount),
            "notes": "accrued for outcomes approved in the quarter, less clawbacks"})
    for p in f.payments:
        if p.payer not in payers:
            continue
        out.append({
            "status": PUBLIC, "type": v("Actual"),
            "period": {"start_date": v(p.period_from.isoformat()),
                       "end_date": v(p.period_to.isoformat())},
            "payer_organisation_id": v(payers[p.payer].identifier),
            "recipient_organisation_id": v(f.provider.identifier),
            "money": _money(f, p.amount),
            "notes": f"paid on {p.paid_at.date()} in payment run {p.run_id}"})
    return out


def project(f: ContractFacts) -> dict:
    """One contract as an INDIGO project `{"id", "data"}`, of its parts that may leave."""
    t = f.terms
    data: dict[str, Any] = {
        "status": PUBLIC,
        "name": v(f.title),
        "alternative_names": v(f.reference),
        "dates": {
            "start_date_of_service_provision": v(t.service_period.start.isoformat()),
            "anticipated_end_date_of_service_provision": v(t.service_period.end.isoformat()),
            "anticipated_completion_date": v(t.claims_deadline.isoformat()),
        },
        "jurisdiction": {"jurisdiction": v(f.commissioners[0][0].country)},
        "overall_project_finance": {
            "maximum_potential_outcome_payment_v2": _money(f, t.cap.amount)},
        "purpose_and_classifications": {},
        "service_provisions": [
            {"id": f"provision{i}", "status": PUBLIC,
             "organisation_id": v(party.identifier),
             "organisation_role_category": v(PROVIDER_ROLE.get(party.kind, "Other")),
             "planned_service": {"start_date": v(t.service_period.start.isoformat()),
                                 "end_date": v(t.service_period.end.isoformat())},
             "notes": "lead provider" if i == 1 else "partner"}
            for i, party in enumerate([f.provider, *f.partners], start=1)],
        "open_contracting_datas": [{"ocid": ocid(f.id), "status": PUBLIC}],
    }
    when = stage(f)
    if when:
        data["stage_development"] = v(when)
    if f.activated_at:
        data["dates"]["outcomes_contract_signed"] = v(f.activated_at.date().isoformat())
    if f.status == "closed":
        data["dates"]["actual_end_date_of_service_provision"] = v(
            min(t.service_period.end, f.as_of).isoformat())
    if f.intervention:
        data["purpose_and_classifications"]["intervention"] = v(f.intervention)
    sectors = sorted({s for line in t.rate_card if (s := sector(f, line))})
    if len(sectors) == 1:
        data["purpose_and_classifications"]["policy_sector"] = v(sectors[0])
    if not data["purpose_and_classifications"]:
        del data["purpose_and_classifications"]
    paid = f.paid_by()
    shares = split_by_shares(t.cap.amount, [bp for _, bp in f.commissioners])
    commitments = []
    for (party, _), share in zip(f.commissioners, shares, strict=True):
        commitment: dict[str, Any] = {
            "status": PUBLIC, "organisation_id": v(party.identifier),
            "organisation_role_category": v(
                PAYER_ROLE.get(party.kind, "Government/Public Sector/Public Bank")),
            "maximum_potential_outcome_payment": _money(f, share),
            "period": {"start_date": v(t.service_period.start.isoformat()),
                       "end_date": v(t.claims_deadline.isoformat())}}
        if f.shows("payments"):
            commitment["total_outcome_payments"] = _money(f, paid.get(party.id, 0))
        commitments.append(commitment)
    data["outcome_payment_commitments"] = commitments
    grants = [grant_id(f, party) for party, _ in f.commissioners
              if party.kind in GRANT_MAKERS]
    if grants:
        data["360giving_datas"] = [{"grant_id": g, "status": PUBLIC} for g in grants]
    if f.shows("rate_card"):
        data["outcome_metrics"] = [_outcome_metric(f, line) for line in t.rate_card]
        data["outcome_pricings"] = [_pricing(f, line) for line in t.rate_card]
    if f.shows("payments"):
        data["overall_project_finance"]["total_outcome_payments_made"] = _money(
            f, sum(paid.values()))
        payments = _payments(f)
        if payments:
            data["outcome_payments"] = payments
    if f.shows("results"):
        found = _results(f)
        if found:
            data["results"] = found
    return {"id": ocid(f.id), "data": data}


def _parties(facts: Sequence[ContractFacts]) -> list[Party]:
    seen: dict[str, Party] = {}
    for f in facts:
        for party in [*(p for p, _ in f.commissioners), f.provider, *f.partners,
                      *(f.former_payers if f.shows("payments") else [])]:
            seen.setdefault(party.identifier, party)
    return list(seen.values())


async def document(facts: Sequence[ContractFacts]) -> dict:
    """One contract: its project with its organisations; many: `{"projects",
    "organisations"}`; with who publishes them."""
    organisations = [organisation(p) for p in _parties(facts)]
    published = {"publisher": {"name": await publisher(facts)}}
    if len(facts) == 1:
        return {**project(facts[0]), "organisations": organisations, **published}
    return {"projects": [project(f) for f in facts], "organisations": organisations,
            **published}
