"""Contracts as an Open Contracting Data Standard 1.1 release package, with the OCDS metrics
extension: one compiled release per contract.

What each part of a contract (`opendata.publication.PARTS`) puts in its release:

- contract: parties (commissioners as buyer and payer, the provider and its partners as
  suppliers, the lead as payee, auditors as review body, each with its organisation
  identifier as given), planning.budget (the cap), tender, award and contract (values =
  the cap, the service period, signed = activated), milestones (end of enrolment, claims
  deadline);
- rate_card: each line as an item of the award and the contract, its price the unit value,
  and each cohort line's evaluation date as a milestone;
- targets: the contract's agreed metrics, per line its target (and baseline) as
  observations with a measure;
- results: the implementation's metrics, per line participants observed and achieving and
  the rate, in all and per enrolment quarter, as a reader outside the contract sees them
  (every figure about fewer than k people left out, `opendata.facts.results`);
- payments: implementation.transactions, one per paid payment run and commissioner, from
  the journal's payment entries;
- voice: citizen-voice scores per survey wave as further implementation metrics (blank
  below k respondents).

A value is a number of major units with its currency, exact to the minor unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from contracts.schemas import RateCardLine
from core.clock import now
from core.settings import get_settings
from opendata.facts import (
    ContractFacts,
    Figures,
    Party,
    day_end,
    day_start,
    moment,
    publisher,
    quarter_period,
    rules,
)

VERSION = "1.1"
METRICS_EXTENSION = ("https://raw.githubusercontent.com/open-contracting-extensions/"
                     "ocds_metrics_extension/master/extension.json")
CONTRACT_STATUS = {"draft": "pending", "active": "active", "suspended": "active",
                   "closed": "terminated"}
SUPPRESSED = "suppressed: a figure about fewer than {k} people, or one that would give such " \
             "a figure back"
PERCENT = {"name": "percent"}


def ocid(contract_id: UUID) -> str:
    return f"{get_settings().ocid_prefix}{contract_id}"


def _period(start: dt.date, end: dt.date) -> dict:
    return {"startDate": day_start(start), "endDate": day_end(end)}


def _ref(party: Party) -> dict:
    return {"id": party.identifier, "name": party.name}


def _parties(f: ContractFacts) -> list[dict]:
    roles: dict[str, tuple[Party, list[str]]] = {}

    def add(party: Party, *names: str) -> None:
        entry = roles.setdefault(party.identifier, (party, []))
        entry[1].extend(n for n in names if n not in entry[1])

    for party, _ in f.commissioners:
        add(party, "buyer", "payer", *(["funder"] if party.kind == "outcome_fund" else []))
    add(f.provider, "supplier", "payee")
    for party in f.partners:
        add(party, "supplier")
    for party in f.auditors:
        add(party, "reviewBody")
    if f.shows("payments"):
        for party in f.former_payers:
            add(party, "payer")
    return [{"id": party.identifier, "name": party.name,
             "identifier": {"scheme": party.scheme, "id": party.local_id,
                            "legalName": party.name},
             "roles": names} for party, names in roles.values()]


def _items(f: ContractFacts) -> list[dict]:
    out = []
    for line in f.terms.rate_card:
        metric = f.metrics.get(line.metric_code)
        item: dict[str, Any] = {
            "id": line.code, "description": f.line_name(line),
            "unit": {"name": metric.unit if metric else "outcome",
                     "value": f.money(line.price.amount)}}
        said = rules(f, line)
        if said:
            item["description"] += f" ({said})"
        out.append(item)
    return out


def _milestones(f: ContractFacts) -> list[dict]:
    today = f.as_of

    def milestone(id_: str, title: str, kind: str, due: dt.date,
                  met: dt.datetime | None = None) -> dict:
        out = {"id": id_, "title": title, "type": kind, "dueDate": day_end(due)}
        if met is not None:
            out.update(status="met", dateMet=moment(met))
        elif due >= today:
            out["status"] = "scheduled"
        elif kind != "assessment":  # the day has passed: enrolment closed, claims ended
            out.update(status="met", dateMet=day_end(due))
        return out

    t = f.terms
    out = [milestone("enrolment-end", "Enrolment closes", "delivery", t.enrolment_period.end),
           milestone("claims-deadline", "Last day to claim outcomes", "payment",
                     t.claims_deadline)]
    if f.shows("rate_card"):
        out += [milestone(f"evaluation-{line.code}",
                          f"Evaluation of cohort {line.cohort} ({f.line_name(line)})",
                          "assessment", line.evaluation_on, f.evaluations.get(line.code))
                for line in t.rate_card if line.kind == "cohort" and line.evaluation_on]
    return out


def _agreed_metrics(f: ContractFacts) -> list[dict]:
    out = []
    whole = _period(f.terms.service_period.start, f.terms.service_period.end)
    for line in f.terms.rate_card:
        metric = f.metrics.get(line.metric_code)
        observations = []
        if line.target is not None:
            observations.append({
                "id": f"{line.code}-target", "period": whole, "measure": line.target,
                "unit": {"name": metric.unit if metric else "outcome"},
                "notes": "the number of outcomes agreed as the target"})
        if line.baseline is not None:
            observations.append({
                "id": f"{line.code}-baseline", "period": whole,
                "measure": Decimal(line.baseline.rate_bp).scaleb(-2), "unit": PERCENT,
                "notes": f"the rate expected without the intervention ({line.baseline.kind}"
                         f"{f', n = {line.baseline.n}' if line.baseline.n else ''}): "
                         f"{line.baseline.source}"})
        if observations:
            out.append(_metric(f, line, observations))
    return out


def _metric(f: ContractFacts, line: RateCardLine, observations: list[dict]) -> dict:
    metric = f.metrics.get(line.metric_code)
    out = {"id": line.code, "title": f.line_name(line), "observations": observations}
    if metric is not None and metric.definition:
        out["description"] = metric.definition
    return out


def _observations(line: RateCardLine, key: str, figures: Figures, period: dict,
                  dimensions: dict | None, k: int) -> list[dict]:
    unit = {"name": "participants"}
    out = []
    for name, value, what, unit_of in (
            ("observed", figures.observed, "participants observed (their horizon passed)",
             unit),
            ("achieved", figures.achieved, "observed participants who achieved the outcome",
             unit),
            ("rate", None if figures.rate is None else Decimal(str(figures.rate * 100)
                                                                ).quantize(Decimal("0.1")),
             "share of observed participants who achieved the outcome", PERCENT)):
        obs: dict[str, Any] = {"id": f"{line.code}-{key}-{name}", "period": period}
        if dimensions:
            obs["dimensions"] = dimensions
        if value is None:
            obs["notes"] = f"{what}: {SUPPRESSED.format(k=k)}"
        else:
            obs.update(measure=value, unit=unit_of, notes=what)
            if name == "rate" and figures.rate_low is not None:
                low = Decimal(str(figures.rate_low * 100)).quantize(Decimal("0.1"))
                high = Decimal(str(figures.rate_high * 100)).quantize(Decimal("0.1"))
                obs["notes"] = f"{what}, 95 % interval {low} to {high} %"
        out.append(obs)
    return out


def _actual_metrics(f: ContractFacts) -> list[dict]:
    k = get_settings().small_cell_k
    start = f.terms.service_period.start
    out = []
    for line in f.terms.rate_card:
        found = f.results.get(line.code)
        if found is None:
            continue
        observations = _observations(line, "total", found.total,
                                     _period(start, max(start, f.as_of)), None, k)
        for quarter, figures in found.quarters:
            first, last = quarter_period(quarter)
            observations += _observations(line, quarter, figures, _period(first, last),
                                          {"enrolmentQuarter": quarter}, k)
        out.append(_metric(f, line, observations))
    return out


def _voice_metrics(f: ContractFacts) -> list[dict]:
    k = get_settings().small_cell_k
    out = []
    for wave in f.voice:
        period = _period(wave.opens_on, wave.closes_on)
        for m in wave.measures:
            observations = []
            if m.value is None:
                observations.append({"id": f"{m.code}-value", "period": period,
                                     "notes": f"{m.name}: fewer than {k} answered"})
            else:
                interval = (f"; 95 % interval {m.low:.2f} to {m.high:.2f}"
                            if m.low is not None and m.high is not None else "")
                observations.append({
                    "id": f"{m.code}-value", "period": period,
                    "measure": Decimal(str(m.value)).quantize(Decimal("0.01")),
                    "unit": {"name": "share" if m.kind == "share"
                             else f"mean score ({m.minimum:g} to {m.maximum:g})"},
                    "notes": ("higher is better" if m.better == "higher"
                              else "lower is better") + interval})
                observations.append({"id": f"{m.code}-respondents", "period": period,
                                     "measure": m.n, "unit": {"name": "respondents"}})
            out.append({"id": f"voice-{wave.wave_id}-{m.code}",
                        "title": f"{wave.title}: {m.name}",
                        "description": f"Citizen voice, {wave.instrument_name}"
                                       + (f" ({wave.attribution})" if wave.attribution else ""),
                        "observations": observations})
    return out


def _transactions(f: ContractFacts) -> list[dict]:
    payers = f.payers()
    out = []
    for p in f.payments:
        payer = payers.get(p.payer)
        entry: dict[str, Any] = {
            "id": f"{p.run_id}-{payer.identifier if payer else p.payer}",
            "date": moment(p.paid_at), "value": f.money(p.amount),
            "payee": _ref(f.provider)}
        if payer is not None:
            entry["payer"] = _ref(payer)
        out.append(entry)
    return out


def release(f: ContractFacts, published: dt.datetime) -> dict:
    """The compiled release of one contract, of its parts that may leave (`f.parts`)."""
    t = f.terms
    cap = f.money(t.cap.amount)
    service = _period(t.service_period.start, t.service_period.end)
    buyer = f.commissioners[0][0]
    signed = moment(f.activated_at) if f.activated_at else None
    award: dict[str, Any] = {
        "id": f"{f.reference}-award", "title": f.title,
        "status": "pending" if f.status == "draft" else "active",
        "value": cap, "suppliers": [_ref(f.provider), *(_ref(p) for p in f.partners)],
        "contractPeriod": service}
    contract: dict[str, Any] = {
        "id": f.reference, "awardID": award["id"], "title": f.title,
        "status": CONTRACT_STATUS.get(f.status, "active"), "period": service, "value": cap,
        "milestones": _milestones(f)}
    if f.intervention:
        contract["description"] = f.intervention
    if signed:
        award["date"] = contract["dateSigned"] = signed
    if f.shows("rate_card") and t.rate_card:
        award["items"] = contract["items"] = _items(f)
    if f.shows("targets"):
        agreed = _agreed_metrics(f)
        if agreed:
            contract["agreedMetrics"] = agreed
    implementation: dict[str, Any] = {}
    if f.shows("payments"):
        transactions = _transactions(f)
        if transactions:
            implementation["transactions"] = transactions
    metrics = (_actual_metrics(f) if f.shows("results") else []) + \
        (_voice_metrics(f) if f.shows("voice") else [])
    if metrics:
        implementation["metrics"] = metrics
    if implementation:
        contract["implementation"] = implementation
    tender: dict[str, Any] = {
        "id": f"{f.reference}-tender", "title": f.title, "status": "complete",
        "value": cap, "procuringEntity": _ref(buyer), "contractPeriod": service}
    if f.intervention:
        tender["description"] = f.intervention
    return {
        "ocid": ocid(f.id),
        "id": f"{ocid(f.id)}-v{f.version}-{published.date().isoformat()}",
        "date": moment(published),
        "tag": ["award", "contract", *(["implementation"] if implementation else [])],
        "initiationType": "tender",
        "parties": _parties(f),
        "buyer": _ref(buyer),
        "planning": {"budget": {
            "id": f"{f.reference}-cap",
            "description": "the contract's cap: the most its commissioners pay for outcomes",
            "amount": cap}},
        "tender": tender,
        "awards": [award],
        "contracts": [contract],
    }


async def package(facts: Sequence[ContractFacts], *, uri: str,
                  published: dt.datetime | None = None) -> dict:
    """The release package of these contracts (one release each)."""
    published = published or now()
    out: dict[str, Any] = {
        "uri": uri, "version": VERSION, "extensions": [METRICS_EXTENSION],
        "publishedDate": moment(published),
        "publisher": {"name": await publisher(facts)},
    }
    license_ = get_settings().data_license
    if license_:
        out["license"] = license_
    out["releases"] = [release(f, published) for f in facts]
    return out
