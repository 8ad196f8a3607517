"""The reference library: what others agreed to pay for which outcome, and how they
validated it; and a draft contract made from a reference project.

Reference projects, their outcome metrics and prices are read-only copies of the INDIGO
dataset (`opendata.indigo` writes them). A search finds metrics by the project's policy
sector (INDIGO's names) and country, by words of the outcome (every word must occur in the
definition, the target, the validation method or the data source, in any case), and by
price in a currency: each price is shown in its own currency and, where the ECB's rates are
on record (`opendata.rates`), in the currency asked for, with the rate and its day stated.
A price with no rate on record is said to have none, not converted, and is left out of a
price range, which it cannot be compared with.

A draft made from a reference project goes through the door every draft goes through
(contracts.service.create_contract). Each of the project's metrics is in the library after
it: under the code the commissioner maps it to, or the code of a library metric with the
same definition (the same outcome), or else added under a code of its own
(`indigo-poj-0313-m1`) with its definition, its validation method as the evidence required
and its data source as the source of verification. Each priced metric becomes a rate card
line at its price, converted into the contract's currency where that differs; the draft's
intervention says which project it is based on, with the source and the rates used.
Nothing is written when anything is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec
from babel.numbers import list_currencies

from contracts import library, personal, service
from contracts.errors import Forbidden, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.money import CurrencyCode, Money, is_known_currency
from contracts.schemas import (
    Code,
    CommissionerShare,
    ContractIn,
    ContractOut,
    Input,
    MetricIn,
    MetricOut,
    Output,
    Page,
    Period,
    check_date,
    validation_problem,
)
from core.clock import now
from core.database import write_transaction
from opendata import rates as fx
from opendata.tables import ReferenceMetric, ReferencePrice, ReferenceProject

# Whose data the reference library holds, as the dataset asks to be credited.
ATTRIBUTION = ("Government Outcomes Lab (University of Oxford), INDIGO initiative: the INDIGO "
               "Impact Bond Dataset")
_METRIC_NUMBER = re.compile(r"(\d+)$")
_SPACE = re.compile(r"\s+")
PROJECT_COLUMNS = (
    ReferenceProject.id, ReferenceProject.code, ReferenceProject.name,
    ReferenceProject.country, ReferenceProject.policy_sectors, ReferenceProject.start_text,
    ReferenceProject.start_on, ReferenceProject.end_text, ReferenceProject.end_on)


# What a search answers ---------------------------------------------------------------------


class ConvertedOut(Output, kw_only=True):
    """A price in the currency asked for, and the rate it was converted at."""

    amount: int
    currency: str
    rate: str
    rate_on: dt.date
    statement: str
    source_per_eur: str
    target_per_eur: str


class ReferencePriceOut(Output, kw_only=True):
    """A price per outcome in minor units of its own currency; `max_amount` is the most paid
    for the outcome if every target is met. `converted` is the price in the currency asked
    for; `no_rate` says why there is none."""

    amount: int
    currency: str
    max_amount: int | None = None
    description: str = ""
    notes: str = ""
    converted: ConvertedOut | None = None
    no_rate: str | None = None


class ReferenceHit(Output, kw_only=True):
    """An outcome metric of a reference project, with its prices. `id` is the cursor."""

    id: UUID
    project_code: str
    project_name: str
    country: str | None = None
    sectors: list[str] = []
    start: str | None = None
    start_on: dt.date | None = None
    end: str | None = None
    end_on: dt.date | None = None
    metric_id: str
    definition: str = ""
    target_population: str = ""
    target: str = ""
    validation_method: str = ""
    data_source: str = ""
    policy_sector: str = ""
    prices: list[ReferencePriceOut] = []


class SectorOut(Output, kw_only=True):
    """A policy sector as INDIGO names it, with how many projects and metrics it has."""

    sector: str
    projects: int
    metrics: int


@dataclass(frozen=True)
class Search:
    sector: str | None = None
    country: str | None = None
    q: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    currency: str | None = None
    priced: bool = False


def sectors_of(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"[;\n]", text or "") if s.strip()]


def words(text: str | None) -> list[str]:
    return _fold(text or "").split()


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text.replace("\xa0", " ")).casefold().strip()


def same_definition(text: str) -> str:
    """A definition as two definitions of the same outcome are compared: case, spacing and
    a closing full stop aside."""
    return _fold(text).rstrip(" .")


def _metric_key(metric_id: str) -> tuple[int, str]:
    """outcomemetric2 before outcomemetric10."""
    match = _METRIC_NUMBER.search(metric_id)
    return (int(match[1]) if match else 1_000_000, metric_id)


def check_currency(currency: str | None, field: str = "currency") -> None:
    if currency is not None and currency not in list_currencies():
        raise Invalid(f"{currency} is not an ISO 4217 currency", code="unknown_currency",
                      problems=[Problem(code="unknown_currency", field=field,
                                        message=f"{currency} is not an ISO 4217 currency")])


def check_search(s: Search) -> None:
    check_currency(s.currency)
    if (s.min_price is not None or s.max_price is not None) and s.currency is None:
        raise Invalid("a price range is in a currency: add currency=…",
                      code="currency_required",
                      problems=[Problem(code="currency_required", field="currency",
                                        message="name the currency of min_price and "
                                                "max_price, e.g. currency=DKK")])
    if s.min_price is not None and s.max_price is not None and s.min_price > s.max_price:
        raise Invalid("min_price is above max_price", code="price_range_inverted",
                      problems=[Problem(code="price_range_inverted", field="min_price",
                                        message="the lowest price asked for is above the "
                                                "highest")])


async def _price_out(row: dict, currency: str | None, rates: fx.Rates) -> ReferencePriceOut:
    out = ReferencePriceOut(amount=row["amount"], currency=row["currency"],
                            max_amount=row["max_amount"], description=row["description"],
                            notes=row["notes"])
    if currency is None or currency == row["currency"]:
        return out
    found = await rates.get(row["currency"], currency)
    if found is None:
        return msgspec.structs.replace(out, no_rate=fx.no_rate(row["currency"], currency,
                                                                 rates.on))
    return msgspec.structs.replace(out, converted=ConvertedOut(
        amount=found.convert(row["amount"]), currency=currency, rate=found.text(),
        rate_on=found.on, statement=found.statement(), source_per_eur=found.source_per_eur,
        target_per_eur=found.target_per_eur))


def _in_currency(price: ReferencePriceOut, currency: str) -> int | None:
    if price.currency == currency:
        return price.amount
    return price.converted.amount if price.converted else None


def _hit(project: dict, metric: dict, prices: list[ReferencePriceOut]) -> ReferenceHit:
    return ReferenceHit(
        id=metric["id"], project_code=project["code"], project_name=project["name"],
        country=project["country"], sectors=sectors_of(project["policy_sectors"]),
        start=project["start_text"], start_on=project["start_on"], end=project["end_text"],
        end_on=project["end_on"], metric_id=metric["metric_id"],
        definition=metric["definition"], target_population=metric["target_population"],
        target=metric["target"], validation_method=metric["validation_method"],
        data_source=metric["data_source"], policy_sector=metric["policy_sector"],
        prices=prices)


_ORPHAN = dict(definition="", target_population="", target="", validation_method="",
               data_source="", policy_sector="")


async def _library(where: Any = None) -> tuple[dict[UUID, dict], list[dict], list[dict]]:
    """Projects (by id), metrics and prices, of one project (`where` on the project) or all;
    a price whose metric the project does not define stands for a metric of its own."""
    query = ReferenceProject.select(*PROJECT_COLUMNS)
    projects = {p["id"]: p for p in await (query.where(where) if where is not None
                                           else query)}
    metric_query, price_query = ReferenceMetric.select(), ReferencePrice.select()
    if where is not None:
        ids = list(projects)
        if not ids:
            return {}, [], []
        metric_query = metric_query.where(ReferenceMetric.project.is_in(ids))
        price_query = price_query.where(ReferencePrice.project.is_in(ids))
    metrics, prices = await metric_query, await price_query
    defined = {(m["project"], m["metric_id"]) for m in metrics}
    for p in prices:
        if (p["project"], p["metric_id"]) not in defined:
            defined.add((p["project"], p["metric_id"]))
            metrics.append({**_ORPHAN, "id": p["id"], "project": p["project"],
                            "metric_id": p["metric_id"]})
    metrics = [m for m in metrics if m["project"] in projects]
    metrics.sort(key=lambda m: (projects[m["project"]]["code"], _metric_key(m["metric_id"]),
                                str(m["id"])))
    return projects, metrics, prices


def _matches(s: Search, project: dict, metric: dict) -> bool:
    if s.sector is not None:
        own = sectors_of(metric["policy_sector"]) or sectors_of(project["policy_sectors"])
        if _fold(s.sector) not in {_fold(x) for x in own}:
            return False
    if s.country is not None and _fold(project["country"] or "") != _fold(s.country):
        return False
    wanted = words(s.q)
    if wanted:
        text = _fold(" ".join((metric["definition"], metric["target"],
                               metric["validation_method"], metric["data_source"])))
        if not all(w in text for w in wanted):
            return False
    return True


async def search(s: Search, *, cursor: UUID | None = None, limit: int = 50,
                 on: dt.date | None = None) -> Page[ReferenceHit]:
    """Reference metrics matching `s`, by project code and metric, `limit` at a time after
    the metric `cursor`; prices converted at the rates of `on` (default today)."""
    check_search(s)
    projects, metrics, prices = await _library()
    by_metric: dict[tuple[UUID, str], list[dict]] = {}
    for p in prices:
        by_metric.setdefault((p["project"], p["metric_id"]), []).append(p)
    start = 0
    if cursor is not None:
        at = next((i for i, m in enumerate(metrics) if m["id"] == cursor), None)
        if at is None:
            raise Invalid("the cursor is not one Virker gave out, or the reference library "
                          "was imported again since: start from the first page",
                          code="invalid_cursor")
        start = at + 1
    rates = fx.Rates(on or now().date())
    ranged = s.min_price is not None or s.max_price is not None
    items: list[ReferenceHit] = []
    for metric in metrics[start:]:
        project = projects[metric["project"]]
        if not _matches(s, project, metric):
            continue
        rows = by_metric.get((metric["project"], metric["metric_id"]), [])
        if (s.priced or ranged) and not rows:
            continue
        shown = [await _price_out(r, s.currency, rates) for r in rows]
        if ranged:
            amounts = [a for a in (_in_currency(p, s.currency) for p in shown)
                       if a is not None]
            if not any((s.min_price is None or a >= s.min_price)
                       and (s.max_price is None or a <= s.max_price) for a in amounts):
                continue
        if len(items) == limit:
            return Page(items=items, next_cursor=str(items[-1].id))
        items.append(_hit(project, metric, shown))
    return Page(items=items)


async def sectors() -> list[SectorOut]:
    """Every policy sector of the library, as INDIGO names it."""
    projects, metrics, _ = await _library()
    counts: dict[str, list[set]] = {}
    for project in projects.values():
        for sector in sectors_of(project["policy_sectors"]):
            counts.setdefault(sector, [set(), set()])[0].add(project["id"])
    for metric in metrics:
        project = projects[metric["project"]]
        for sector in (sectors_of(metric["policy_sector"])
                       or sectors_of(project["policy_sectors"])):
            entry = counts.setdefault(sector, [set(), set()])
            entry[0].add(project["id"])
            entry[1].add(metric["id"])
    return [SectorOut(sector=name, projects=len(p), metrics=len(m))
            for name, (p, m) in sorted(counts.items(), key=lambda kv: kv[0].casefold())]


# One project -------------------------------------------------------------------------------


class ReferenceMetricOut(Output, kw_only=True):
    metric_id: str
    definition: str = ""
    target_population: str = ""
    target: str = ""
    validation_method: str = ""
    data_source: str = ""
    policy_sector: str = ""
    prices: list[ReferencePriceOut] = []


class ReferenceProjectOut(Output, kw_only=True):
    """A reference project with everything imported for it. `payers`, `providers`,
    `results`, `outcome_payments` (by type: planned, actual) and `sources` (the evidence
    INDIGO cites) are as the importer kept them (opendata.indigo_project), money in minor
    units; `source` is the dataset the project was imported from, `attribution` whose data
    it is."""

    code: str
    name: str
    stage: str | None = None
    country: str | None = None
    sectors: list[str] = []
    social_challenge: str = ""
    intervention: str = ""
    target_population: str = ""
    start: str | None = None
    start_on: dt.date | None = None
    end: str | None = None
    end_on: dt.date | None = None
    currency: str | None = None
    max_outcome_payment: int | None = None
    outcome_payments_made: int | None = None
    metrics: list[ReferenceMetricOut] = []
    payers: list[dict[str, Any]] = []
    providers: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    outcome_payments: dict[str, list[dict[str, Any]]] = {}
    sources: list[dict[str, Any]] = []
    source: str
    attribution: str
    imported_at: dt.datetime


def _rows(value: Any) -> list[dict[str, Any]]:
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


async def project_row(code: str) -> dict:
    row = await ReferenceProject.select().where(ReferenceProject.code == code).first()
    if row is None:
        raise NotFound(f"no reference project {code}", code="reference_project_not_found")
    return row


async def project(code: str, *, currency: str | None = None, on: dt.date | None = None
                  ) -> ReferenceProjectOut:
    """One reference project: its metrics with their prices (converted into `currency`
    where a rate is on record), results, payers and providers, source and attribution."""
    check_currency(currency)
    row = await project_row(code)
    _, metrics, prices = await _library(ReferenceProject.id == row["id"])
    rates = fx.Rates(on or now().date())
    try:
        data = msgspec.json.decode(row["data"] or "{}")
    except msgspec.DecodeError:
        data = {}
    data = data if isinstance(data, dict) else {}
    out_metrics = []
    for m in metrics:
        shown = [await _price_out(p, currency, rates) for p in prices
                 if p["metric_id"] == m["metric_id"]]
        out_metrics.append(ReferenceMetricOut(
            metric_id=m["metric_id"], definition=m["definition"],
            target_population=m["target_population"], target=m["target"],
            validation_method=m["validation_method"], data_source=m["data_source"],
            policy_sector=m["policy_sector"], prices=shown))
    return ReferenceProjectOut(
        code=row["code"], name=row["name"], stage=row["stage"], country=row["country"],
        sectors=sectors_of(row["policy_sectors"]), social_challenge=row["social_challenge"],
        intervention=row["intervention"], target_population=row["target_population"],
        start=row["start_text"], start_on=row["start_on"], end=row["end_text"],
        end_on=row["end_on"], currency=row["currency"],
        max_outcome_payment=row["max_outcome_payment"],
        outcome_payments_made=row["outcome_payments_made"], metrics=out_metrics,
        payers=_rows(data.get("payers")), providers=_rows(data.get("providers")),
        results=_rows(data.get("results")), sources=_rows(data.get("sources")),
        outcome_payments={kind: _rows(rows) for kind, rows in
                          (data.get("outcome_payments") or {}).items()}
        if isinstance(data.get("outcome_payments"), dict) else {},
        source=row["source"], attribution=ATTRIBUTION, imported_at=row["imported_at"])


# A draft from a reference project ----------------------------------------------------------


Reference = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$")]
MetricId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ReferenceDraftIn(Input, kw_only=True):
    """A draft contract from a reference project: what the project cannot say (who
    delivers, in which currency, when, for how much at most) and, optionally, which of
    its metrics are outcomes already in the library (`metric_map`: the project's metric
    id → a library code). The commissioners default to the caller's organisation alone;
    prices are converted at the ECB's rates of `rates_on` (default today)."""

    free_text: ClassVar[tuple[str, ...]] = ("reference", "title")

    reference: Reference
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    provider_id: UUID
    currency: CurrencyCode
    service_period: Period
    enrolment_period: Period
    claims_deadline: dt.date
    cap: Money
    commissioners: list[CommissionerShare] = []
    auditor_ids: list[UUID] = []
    metric_map: dict[MetricId, Code] = {}
    rates_on: dt.date | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("service_period", "enrolment_period"):
            period = getattr(self, name)
            check_date(f"{name}.start", period.start)
            check_date(f"{name}.end", period.end)


How = Literal["mapped", "same_definition", "added"]


class MetricUse(Output, kw_only=True):
    """What became of a reference metric: mapped by the commissioner, the library's metric
    with the same definition, or added to the library; `line` is its rate card line (None
    for a metric the project did not price)."""

    metric_id: str
    code: str
    how: How
    line: str | None = None


class ReferenceDraftOut(Output, kw_only=True):
    contract: ContractOut
    based_on: str
    metrics: list[MetricUse]
    conversions: list[str] = []


@dataclass
class _Plan:
    uses: list[MetricUse]
    new: list[MetricIn]
    lines: list[dict]
    conversions: list[str]


def _code(project_code: str, metric_id: str) -> str:
    match = _METRIC_NUMBER.search(metric_id)
    tail = f"m{int(match[1])}" if match else re.sub(r"[^a-z0-9_.-]+", "-", metric_id.lower())
    return f"{project_code.lower()}-{tail}"[:64].rstrip("-_.")


def _free(code: str, taken: set[str]) -> str:
    if code not in taken:
        return code
    n = 2
    while f"{code[:60]}-{n}" in taken:
        n += 1
    return f"{code[:60]}-{n}"


def _verification(data_source: str) -> Literal["admin_data", "provider_evidence",
                                               "self_report"]:
    text = data_source.casefold()
    if "administrative" in text or "admin data" in text or "register" in text:
        return "admin_data"
    if "self-report" in text or "self report" in text or "self-declar" in text:
        return "self_report"
    return "provider_evidence"


def _name(definition: str, fallback: str) -> str:
    first = next((line.strip() for line in definition.splitlines() if line.strip()), "")
    first = first.replace("\xa0", " ")
    if len(first) > 200:
        first = first[:199].rsplit(" ", 1)[0] + "…"
    return first or fallback


def _new_metric(code: str, project_code: str, metric: dict) -> MetricIn:
    definition = personal.mask(metric["definition"].strip()) or (
        f"Outcome {metric['metric_id']} of {project_code}, which INDIGO does not define")
    method, source = metric["validation_method"].strip(), metric["data_source"].strip()
    evidence = "; ".join(x for x in (method, f"data source: {source}" if source else "") if x)
    evidence = (f"{evidence} (as {project_code} validated it)" if evidence else
                f"Not stated in {project_code}: agree the evidence before activation")
    return msgspec.convert(dict(
        code=code, name=personal.mask(_name(definition, f"{project_code} {metric['metric_id']}")),
        definition=definition[:20_000], unit="participant", kind="event",
        evidence_required=personal.mask(evidence)[:20_000],
        verification_source=_verification(source)), MetricIn)


async def _plan(project: dict, body: ReferenceDraftIn, metrics: list[dict],
                prices: list[dict]) -> _Plan:
    problems: list[Problem] = []
    library_metrics: list[MetricOut] = await library.list_metrics()
    known = {m.code: m for m in library_metrics}
    by_definition: dict[str, str] = {}
    for m in library_metrics:
        by_definition.setdefault(same_definition(m.definition), m.code)
    ids = [m["metric_id"] for m in metrics]
    for metric_id, code in body.metric_map.items():
        if metric_id not in ids:
            problems.append(Problem(code="unknown_reference_metric",
                                    field=f"metric_map.{metric_id}",
                                    message=f"{project['code']} has no metric {metric_id}; "
                                            f"its metrics are {', '.join(ids)}"))
        elif code not in known:
            problems.append(Problem(code="unknown_metric", field=f"metric_map.{metric_id}",
                                    message=f"{code} is not in the metric library"))
    rates = fx.Rates(body.rates_on or now().date())
    conversions: dict[str, str] = {}
    for currency in sorted({p["currency"] for p in prices} - {body.currency}):
        found = await rates.get(currency, body.currency)
        if found is None:
            problems.append(Problem(
                code="no_exchange_rate", field="currency",
                message=f"{project['code']} is priced in {currency}, and no exchange rate "
                        f"between {currency} and {body.currency} is on record on or before "
                        f"{rates.on}: load the ECB's reference rates (virker import-rates) "
                        f"or draft the contract in {currency}"))
        else:
            conversions[currency] = found.statement()
    if problems:
        codes = {p.code for p in problems}
        code = codes.pop() if len(codes) == 1 else "invalid_reference_draft"
        raise Invalid(problems[0].message if len(problems) == 1 else
                      f"a draft cannot be made from {project['code']} as asked",
                      code=code, problems=problems)

    uses: dict[str, MetricUse] = {}
    new: list[MetricIn] = []
    taken = set(known)
    for metric in metrics:
        metric_id = metric["metric_id"]
        definition = same_definition(metric["definition"])
        if metric_id in body.metric_map:
            uses[metric_id] = MetricUse(metric_id=metric_id, code=body.metric_map[metric_id],
                                        how="mapped")
        elif definition and definition in by_definition:
            code = by_definition[definition]
            how: How = "added" if any(n.code == code for n in new) else "same_definition"
            uses[metric_id] = MetricUse(metric_id=metric_id, code=code, how=how)
        else:
            code = _free(_code(project["code"], metric_id), taken)
            taken.add(code)
            new.append(_new_metric(code, project["code"], metric))
            if definition:
                by_definition[definition] = code
            uses[metric_id] = MetricUse(metric_id=metric_id, code=code, how="added")

    lines: list[dict] = []
    line_codes: set[str] = set()
    for metric in metrics:
        for price in (p for p in prices if p["metric_id"] == metric["metric_id"]):
            use = uses[metric["metric_id"]]
            amount, most = price["amount"], price["max_amount"]
            if price["currency"] != body.currency:
                found = await rates.get(price["currency"], body.currency)
                if found is None:  # refused above
                    raise RuntimeError(f"no rate from {price['currency']}")
                amount = found.convert(amount)
                most = found.convert(most) if most is not None else None
            if amount <= 0:
                continue
            code = _free(use.code, line_codes)
            line_codes.add(code)
            lines.append(dict(code=code, metric_code=use.code,
                              price={"amount": amount, "currency": body.currency},
                              **({"max_amount": {"amount": most, "currency": body.currency}}
                                 if most is not None and most >= amount else {})))
            if use.line is None:
                uses[metric["metric_id"]] = msgspec.structs.replace(use, line=code)
    return _Plan(uses=list(uses.values()), new=new, lines=lines,
                 conversions=[conversions[c] for c in sorted(conversions)])


def based_on(project: dict) -> str:
    """The citation a draft made from `project` carries: the project, and the dataset it
    was imported from (whose data it is)."""
    return (f"Based on reference project {project['code']} \u201c{project['name']}\u201d, "
            f"{project['source']}.")


def _intervention(project: dict, plan: _Plan, on: dt.date) -> str:
    parts = [based_on(project)]
    if plan.conversions:
        parts.append("Prices converted into the contract's currency at "
                     + "; ".join(plan.conversions) + ".")
    unpriced = [u.code for u in plan.uses if u.line is None]
    if unpriced:
        parts.append(f"Outcomes {project['code']} did not price, in the metric library "
                     f"without a line: {', '.join(unpriced)}.")
    parts.append(f"Drafted from the reference library on {on}.")
    head = personal.mask(project["intervention"].strip())
    tail = "\n".join(parts)
    room = 20_000 - len(tail) - 2
    if len(head) > room:
        head = head[:max(room - 1, 0)].rstrip() + "…"
    return personal.mask(f"{head}\n\n{tail}" if head else tail)[:20_000]


async def create_draft(principal: Principal, code: str, body: ReferenceDraftIn
                       ) -> ReferenceDraftOut:
    """A draft contract from the reference project `code` (see the module's docstring)."""
    if principal.role != "commissioner":
        raise Forbidden("only commissioners create contracts", code="commissioner_only")
    if not is_known_currency(body.currency):
        raise Invalid(f"{body.currency} is not a currency Virker pays in",
                      code="unknown_currency",
                      problems=[Problem(code="unknown_currency", field="currency",
                                        message=f"{body.currency} is not a currency Virker "
                                                "pays in")])
    row = await project_row(code)
    _, metrics, prices = await _library(ReferenceProject.id == row["id"])
    plan = await _plan(row, body, metrics, prices)
    commissioners = body.commissioners or [CommissionerShare(
        organisation_id=principal.organisation_id, share_bp=10_000)]
    contract = dict(
        reference=body.reference,
        title=body.title or personal.mask(row["name"])[:300],
        intervention=_intervention(row, plan, now().date()),
        provider_id=str(body.provider_id), currency=body.currency,
        terms=dict(service_period=body.service_period, enrolment_period=body.enrolment_period,
                   claims_deadline=body.claims_deadline, cap=body.cap,
                   commissioners=commissioners, auditor_ids=body.auditor_ids,
                   rate_card=plan.lines))
    try:
        data = msgspec.convert(contract, ContractIn, from_attributes=True)
    except msgspec.ValidationError as exc:
        problem = validation_problem(str(exc).split(" - at `")[0], _at(str(exc)), "body")
        raise Invalid(problem.message, code="invalid_terms", problems=[problem]) from None
    async with write_transaction():
        for metric in plan.new:
            await library.create_metric(principal, metric)
        created = await service.create_contract(principal, data)
    return ReferenceDraftOut(contract=created, based_on=based_on(row), metrics=plan.uses,
                             conversions=plan.conversions)


def _at(message: str) -> str:
    match = re.search(r" - at `\$\.?([^`]*)`", message)
    return match[1] if match else ""
