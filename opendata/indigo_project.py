"""One INDIGO 4.1 project document, read into the reference library's rows: the project's
columns, its metrics and prices, and `data`, the whole project as imported (see
opendata.indigo). Every value that cannot be read is told to the Log, with where it was.

`data` (its shape: opendata.indigo_data.Data) holds, left out where empty: code, name,
alternative_names, stage, country and country_from (INDIGO's jurisdiction; else the one
country the name names, else the one jurisdiction of all payers, of all providers), dates
({text, on} each, start_from, end_from), purpose, beneficiaries, finance and investment (money
as {currency, amount in minor units, amount_usd as INDIGO's text}), metrics, prices, payers
and providers (with their organisations' names), results (per metric: period, achieved,
engaged, positive, description), outcome_payments by type ("planned", "actual"),
outcome_payment_plans, outcome_funds, sources (INDIGO's evidence) and source (whose data it
is).

`source_hash` is what the importer compares to decide whether a project has changed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from pathlib import Path
from typing import Any, TypeVar

import babel
import msgspec
from babel import Locale

from opendata.amounts import NotAnAmount, currency_code, minor_units
from opendata.dates import partial_date
from opendata.indigo_csv import ORGANISATIONS, Where, clean_id, split_ids
from opendata.indigo_data import (
    Alterations,
    Beneficiaries,
    Bounds,
    Commitment,
    Data,
    Dates,
    Finance,
    Fund,
    Invested,
    Investment,
    Metric,
    Money,
    Organisation,
    Payer,
    Payment,
    Period,
    Plan,
    Price,
    Provider,
    Purpose,
    Result,
    ReturnRate,
    Source,
    some,
)


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    """Something of the source that was not loaded as it stood, and why. `kind`: a whole
    `project` skipped, a sub-table `row` skipped, a `value` left out, a date kept as `text`
    only, or a `note` on something loaded."""

    kind: str
    message: str
    project: str | None = None
    file: str | None = None
    line: int | None = None


class Log:
    """What a run could not load as it stood, in the order met."""

    def __init__(self) -> None:
        self.items: list[Skipped] = []
        self._seen: set[tuple[str | None, str]] = set()

    def record(self, kind: str, text: str, project: str | None = None,
               where: Where | None = None, once: bool = False) -> None:
        if once:
            if (project, text) in self._seen:
                return
            self._seen.add((project, text))
        file, line = (where.file, where.line) if where is not None else (None, None)
        place = f"{file} line {line}" if line else file
        prefix = f"{project} ({place})" if project and place else project or place
        self.items.append(Skipped(kind=kind, message=f"{prefix}: {text}" if prefix else text,
                                  project=project, file=file, line=line))


# ---------------------------------------------------------------- reading values


def value_of(node: Any, *path: str) -> Any:
    """The value at `path`: {"value": x} unwrapped, a PRIVATE field or an empty text None."""
    for key in path:
        if type(node) is not dict:
            return None
        node = node.get(key)
    if type(node) is dict:
        if "status" in node and str(node["status"]).upper() == "PRIVATE":
            return None
        node = node.get("value")
    if type(node) is str:
        return node.strip() or None
    return node


def text_at(node: Any, *path: str) -> str | None:
    """The text of the value at `path` (value_of, then text_of; in one, as it is called for
    every field of every project)."""
    for key in path:
        if type(node) is not dict:
            return None
        node = node.get(key)
    if type(node) is dict:
        if "status" in node and str(node["status"]).upper() == "PRIVATE":
            return None
        node = node.get("value")
    if node is None:
        return None
    if type(node) is str:
        return node.strip() or None
    return text_of(node)


def text_of(value: Any) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None


def _items(doc: dict, key: str) -> list[dict]:
    """The rows of a sub-table, without those marked PRIVATE."""
    rows = doc.get(key)
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict)
            and str(r.get("status", "")).upper() != "PRIVATE"]


def _prune(value: Any) -> Any:
    """Without empty values (None, "", [], {}), however deep: for what `data` keeps as the
    source gave it (other_fields). 0 and False stay."""
    if type(value) is dict:
        pruned = {key: _prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item or item == 0}
    if type(value) is list:
        return [item for item in map(_prune, value) if item or item == 0]
    return value


_NON_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}


_WORD = re.compile(r"\w+")


@functools.cache
def _territories() -> tuple[dict[str, str], re.Pattern[str], dict[str, str], frozenset[str]]:
    names = {code: name for code, name in Locale("en").territories.items()
             if re.fullmatch("[A-Z]{2}", code) and code not in _NON_COUNTRIES}
    by_name = {name: code for code, name in names.items()}
    # Longest names first, so that "Papua New Guinea" is read before "Guinea".
    pattern = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    # A text names a country only if one of its words is the first word of a country's name
    # (each name begins with a letter, so the pattern's \b makes that word one of the text's).
    first_words = frozenset(_WORD.findall(name)[0] for name in by_name)
    return names, re.compile(rf"(?<!New )\b(?:{pattern})\b"), by_name, first_words


def country_code(value: Any) -> str | None:
    """An ISO 3166 alpha-2 code from a code ("gb") or an English name ("Denmark")."""
    text = text_of(value)
    if not text:
        return None
    names, _, by_name, _ = _territories()
    if text.upper() in names:
        return text.upper()
    return by_name.get(text)


def country_named_in(text: str) -> str | None:
    """The one country a project's name names ("Reducing homelessness - Denmark" → DK)."""
    _, pattern, by_name, first_words = _territories()
    if first_words.isdisjoint(_WORD.findall(text)):
        return None
    codes = {by_name[m.group(0)] for m in pattern.finditer(text)}
    return codes.pop() if len(codes) == 1 else None


# ---------------------------------------------------------------- one project


class Built(msgspec.Struct, kw_only=True):
    code: str
    row: dict[str, Any]
    metrics: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    content_hash: str = ""


T = TypeVar("T")
_DATES = ["outcomes_contract_signed", "contracts_between_all_parties_signed",
          "anticipated_completion_date", "actual_completion_date",
          "start_date_of_service_provision", "anticipated_end_date_of_service_provision",
          "actual_end_date_of_service_provision"]
_START = ["start_date_of_service_provision", "outcomes_contract_signed"]
_END = ["actual_end_date_of_service_provision", "anticipated_end_date_of_service_provision",
        "actual_completion_date", "anticipated_completion_date"]
_SDG = ["primary_sdg_goal", "secondary_sdg_goals", "primary_sdg_target", "secondary_sdg_targets"]
_BOUNDS = ("min", "exact", "max")
_FINANCE = {  # data's name: INDIGO's
    "maximum_potential_loss": "maximum_potential_loss",
    "maximum_potential_return_type": "maximum_potential_return_type",
    "maximum_potential_return": "maximum_potential_return",
    "configuration_of_contracting_parties": "configuration_contracting_parties",
    "investor_repayment": "investor_repayment",
    "notes": "notes",
}
_SOURCE = ("id", "name", "type", "url", "publication_date", "accessed_date")
_BENEFICIARIES = {
    "target_population": "target_population",
    "targeted_number": "targeted_number_service_users_or_beneficiaries_total",
    "targeted_unit_type": "unit_type_targeted_service_users_or_beneficiaries",
    "targeted_unit_description": "unit_description_of_service_user_or_beneficiaries",
    "actual_number": "actual_number_service_users_or_beneficiaries_total",
    "actual_unit_type": "unit_type_actual_service_users_or_beneficiaries",
    "actual_unit_description": "unit_description_of_actual_service_user_or_beneficiaries",
    "notes": "notes",
}


class ProjectReader:
    """Reads one INDIGO 4.1 project document into rows and data, reporting as it goes."""

    def __init__(self, doc: dict, code: str, organisations: dict[str, dict], log: Log):
        self.doc, self.code, self.orgs, self.log = doc, code, organisations, log
        self.where = doc.get("_where")
        self.currency: str | None = None

    def say(self, kind: str, text: str, where: Where | None = None, once: bool = False) -> None:
        self.log.record(kind, text, self.code, where or self.where, once=once)

    def date(self, value: Any, label: str, where: Where | None = None) -> dict | None:
        if value is None:
            return None
        node, problem = _date(text_of(value))
        if problem:
            self.say("text", f"{label}: {problem}; kept as text", where)
        return node

    def period(self, node: Any, label: str, where: Where | None,
               start: str = "start_date", end: str = "end_date") -> Period | None:
        if type(node) is not dict:
            return None
        first = self.date(value_of(node, start), f"{label} start", where)
        last = self.date(value_of(node, end), f"{label} end", where)
        return Period(start=first, end=last) if first or last else None

    def amount(self, value: Any, currency: str | None, label: str,
               where: Where | None = None) -> int | None:
        if value is None or currency is None:
            return None
        try:
            return minor_units(value, currency)
        except NotAnAmount as exc:
            self.say("value", f"{label} is {text_of(value)!r}, {exc.reason}", where)
            return None

    def currency_of(self, value: Any, label: str, where: Where | None,
                    needed: bool) -> tuple[str | None, bool]:
        """The currency's code and whether it is the project's (none given). `needed`: an
        amount depends on it."""
        raw = text_of(value)
        code = currency_code(raw)
        if code:
            return code, False
        if raw is not None:
            if needed:
                self.say("value", f"{label} is in {raw!r}, which names no currency; the "
                                  "amount is skipped", where)
            return None, False
        if needed and self.currency is None:
            self.say("value", f"{label} has an amount but no currency; the amount is skipped",
                     where)
        return (self.currency, True) if needed else (None, False)

    def money(self, node: Any, label: str, where: Where | None = None,
              kind: type[Money] = Money) -> Money | None:
        """A money node: its currency, its amount (minor units), INDIGO's amount_usd (text)."""
        value = value_of(node, "amount")
        usd = text_at(node, "amount_usd")
        if value is not None:
            code, assumed = self.currency_of(value_of(node, "currency"), label, where, needed=True)
            units = self.amount(value, code, label, where)
            if units is not None:
                return kind(amount_usd=usd, currency=code, amount=units,
                            currency_from_project=assumed or None)
        return kind(amount_usd=usd) if usd is not None else None

    def organisations(self, value: Any, label: str, where: Where | None) -> list[Organisation]:
        out = []
        for org_id in _ids(text_of(value)):
            org = self.orgs.get(org_id)
            if org is None and self.orgs:
                self.say("note", f"{label} names {org_id}, which {ORGANISATIONS} does not have",
                         where, once=True)
            out.append(Organisation(id=org_id, name=(org and org.get("name")) or None))
        return out

    # ------------------------------------------------------------ the parts

    def build(self, source: str) -> Built | None:
        doc = self.doc
        name = text_at(doc, "name")
        if not name:
            self.say("project", "a project without a name is skipped")
            return None
        dates = {key: self.date(value_of(doc, "dates", key), key.replace("_", " "))
                 for key in _DATES}
        start_key = next((k for k in _START if dates[k]), None)
        end_key = next((k for k in _END if dates[k]), None)
        start, end = dates.get(start_key or ""), dates.get(end_key or "")
        self.currency = self.project_currency()
        finance = self.finance()
        metrics, metric_data = self.metrics()
        prices, price_data = self.prices({m["metric_id"] for m in metrics})
        payers = self.payers()
        providers = self.providers()
        country, country_from = self.country(name, payers, providers)
        purpose = Purpose(**{key: text_at(doc, "purpose_and_classifications", key)
                             for key in ["social_challenge", "intervention", "policy_sector",
                                         *_SDG, "notes"]})
        sectors = list(dict.fromkeys(s for s in [purpose.policy_sector,
                                                 *(m["policy_sector"] for m in metrics)] if s))
        sb = doc.get("service_and_beneficiaries")
        beneficiaries = Beneficiaries(**{key: text_at(sb, field)
                                         for key, field in _BENEFICIARIES.items()})
        stage = text_at(doc, "stage_development")
        # In this order, as each reports what it cannot read.
        investment = self.investment()
        results = self.results()
        outcome_payments = self.outcome_payments()
        plans = [some(Plan(id=text_at(p, "id"), notes=text_at(p, "notes"),
                           period=self.period(p.get("period"), "payment plan period",
                                              p.get("_where"))))
                 for p in _items(doc, "outcome_payment_plans")]
        funds = [some(Fund(id=clean_id(text_at(f, "id") or ""), notes=text_at(f, "notes")))
                 for f in _items(doc, "outcome_funds")]
        sources = [some(Source(**{key: text_at(s, key) for key in _SOURCE}))
                   for s in _items(doc, "sources")]
        data = Data(
            code=self.code,
            name=name,
            alternative_names=text_at(doc, "alternative_names"),
            stage=stage,
            social_investment_prototype=text_at(doc, "social_investment_prototype"),
            country=country,
            country_from=country_from,
            jurisdiction=text_at(doc, "jurisdiction", "jurisdiction"),
            dates=some(Dates(
                **dates, start_from=start_key, end_from=end_key,
                anticipated_duration_months=text_at(
                    doc, "dates", "anticipated_duration_of_service_provision"),
                actual_duration_months=text_at(
                    doc, "dates", "actual_duration_of_service_provision"),
                notes=text_at(doc, "dates", "notes"))),
            purpose=some(purpose),
            beneficiaries=some(beneficiaries),
            finance=some(finance),
            investment=investment,
            changes_due_to_covid19=text_at(doc, "changes_to_project_due_to_covid19"),
            notes=text_at(doc, "notes"),
            metrics=metric_data,
            prices=price_data,
            payers=_present(payers),
            providers=_present(providers),
            results=results,
            outcome_payments=outcome_payments,
            outcome_payment_plans=_present(plans),
            outcome_funds=_present(funds),
            sources=_present(sources),
            other_fields=_prune(doc.get("other_fields")) or None,
            source=source,
        )
        max_payment = finance.maximum_potential_outcome_payment or Money()
        made = finance.total_outcome_payments_made or Money()
        row = {
            "code": self.code,
            "name": name,
            "stage": _fit(stage, 100),
            "country": country,
            "policy_sectors": "; ".join(sectors),
            "social_challenge": purpose.social_challenge or "",
            "intervention": purpose.intervention or "",
            "target_population": beneficiaries.target_population or "",
            "start_text": _fit(start and start["text"], 32),
            "start_on": start and start.get("on") and dt.date.fromisoformat(start["on"]),
            "end_text": _fit(end and end["text"], 32),
            "end_on": end and end.get("on") and dt.date.fromisoformat(end["on"]),
            "currency": self.currency,
            "max_outcome_payment": max_payment.amount
            if max_payment.currency == self.currency else None,
            "outcome_payments_made": made.amount if made.currency == self.currency else None,
            "source": source[:200],
            "data": msgspec.json.encode(data).decode(),
        }
        return Built(code=self.code, row=row, metrics=metrics, prices=prices)

    def project_currency(self) -> str | None:
        """That of its outcome payments, else of its investment, else of all its prices."""
        fin = self.doc.get("overall_project_finance") or {}
        for node in (fin.get("maximum_potential_outcome_payment_v2"),
                     fin.get("maximum_potential_outcome_payment"),
                     fin.get("total_outcome_payments_made"),
                     fin.get("total_investment_commitment")):
            code = currency_code(text_at(node, "currency"))
            if code:
                return code
        priced = {currency_code(text_at(p, "currency"))
                  for p in _items(self.doc, "outcome_pricings")}
        priced.discard(None)
        return priced.pop() if len(priced) == 1 else None

    def finance(self) -> Finance:
        fin = self.doc.get("overall_project_finance") or {}
        max_node = fin.get("maximum_potential_outcome_payment_v2") or \
            fin.get("maximum_potential_outcome_payment")
        made_node = fin.get("total_outcome_payments_made")
        tic = fin.get("total_investment_commitment") or {}
        max_payment = self.money(max_node, "maximum potential outcome payment")
        made = self.money(made_node, "total outcome payments made")
        code, assumed = self.currency_of(value_of(tic, "currency"), "total investment commitment",
                                         None, needed=any(value_of(tic, "amount", b) is not None
                                                          for b in _BOUNDS))
        commitment = Commitment(
            currency=code, currency_from_project=assumed or None,
            **{b: self.amount(value_of(tic, "amount", b), code,
                              f"total investment commitment ({b})") for b in _BOUNDS},
            usd=some(Bounds(**{b: text_at(tic, "amount_usd", b) for b in _BOUNDS})))
        return Finance(
            maximum_potential_outcome_payment=max_payment,
            total_outcome_payments_made=made,
            total_investment_commitment=some(commitment),
            **{key: text_at(fin, field) for key, field in _FINANCE.items()})

    def investment(self) -> Investment | None:
        inv = self.doc.get("investment_details") or {}
        latest = (inv.get("total_funds_invested") or {}).get("latest")
        irr = inv.get("internal_rate_of_return")
        funds = self.money(latest, "total funds invested", kind=Invested) or Invested()
        funds.date = self.date(value_of(latest, "date"), "total funds invested date")
        return some(Investment(
            total_funds_invested=some(funds),
            internal_rate_of_return=some(ReturnRate(
                target=text_at(irr, "target"), latest=text_at(irr, "latest"),
                date=self.date(value_of(irr, "date"), "internal rate of return date"))),
            notes=text_at(inv, "notes")))

    def metrics(self) -> tuple[list[dict], list[Metric]]:
        rows: list[dict] = []
        extra: list[Metric] = []
        seen: set[str] = set()
        project_sector = text_at(self.doc, "purpose_and_classifications", "policy_sector")
        for m in _items(self.doc, "outcome_metrics"):
            where = m.get("_where")
            metric_id = clean_id(text_at(m, "id") or "")
            if not metric_id:
                self.say("row", "an outcome metric without an Id is skipped", where)
                continue
            if metric_id in seen:
                self.say("note", f"outcome metric {metric_id} is defined more than once; "
                                 "each is loaded", where)
            seen.add(metric_id)
            number = text_at(m, "targeted_number_of_service_users_or_beneficiaries_total")
            unit_type = text_at(m, "unit_type_of_targeted_service_users_or_beneficiaries")
            unit = text_at(m, "unit_description_of_service_user_or_beneficiaries")
            target_text = text_at(m, "outcome_metric_target")
            other = text_at(m, "other_target_for_meeting_outcome_metric_target")
            counted = f"Targeted number: {number}" + (
                f" ({'; '.join(u for u in (unit_type, unit) if u)})" if unit_type or unit
                else "") if number else None
            sector = text_at(m, "policy_sector")
            row = {
                "metric_id": metric_id,
                "definition": text_at(m, "definition") or "",
                "target_population": text_at(m, "target_population") or "",
                "target": "\n".join(t for t in (target_text, other, counted) if t),
                "validation_method": text_at(m, "outcome_validation_method") or "",
                "data_source": text_at(m, "data_source_for_outcome_validation") or "",
                "policy_sector": sector or project_sector or "",
            }
            rows.append(row)
            extra.append(Metric(
                **row, policy_sector_from=None if sector or not project_sector else "project",
                targeted_number=number, unit_type=unit_type, unit_description=unit,
                outcome_metric_target=target_text, other_target=other,
                **{k: text_at(m, k) for k in _SDG}, notes=text_at(m, "notes")))
        return rows, extra

    def prices(self, metric_ids: set[str]) -> tuple[list[dict], list[Price]]:
        rows: list[dict] = []
        extra: list[Price] = []
        for p in _items(self.doc, "outcome_pricings"):
            where = p.get("_where")
            metric_id = clean_id(text_at(p, "outcome_metric_id") or "")
            if not metric_id:
                self.say("row", "a price without an outcome metric id is skipped", where)
                continue
            label = f"price of {metric_id}"
            value = value_of(p, "price_per_unit", "amount")
            if value is None:
                continue
            code, _ = self.currency_of(value_of(p, "currency"), label, where, needed=True)
            amount = self.amount(value, code, label, where)
            if amount is None:
                continue
            if metric_id not in metric_ids:
                self.say("note", f"{label} is for an outcome metric the project does not "
                                 "define; the price is loaded", where)
            max_amount = self.amount(value_of(p, "maximum_price_if_all_targets_achieved", "amount"),
                                     code, f"maximum price of {metric_id}", where)
            increases = text_at(p, "contracted_increases_to_outcome_pricing")
            notes = [text_at(p, "notes"),
                     increases and f"Contracted increases to outcome pricing: {increases}"]
            row = {"metric_id": metric_id, "currency": code, "amount": amount,
                   "max_amount": max_amount,
                   "description": text_at(p, "price_description") or "",
                   "notes": "\n\n".join(n for n in notes if n)}
            rows.append(row)
            extra.append(Price(**row, amount_usd=text_at(p, "price_per_unit", "amount_usd"),
                               contracted_increases=increases))
        return rows, extra

    def alterations(self, node: Any) -> Alterations | None:
        what, why = text_at(node, "alterations", "description"), text_at(node, "alterations",
                                                                         "reason")
        return Alterations(description=what, reason=why) if what or why else None

    def payers(self) -> list[Payer | None]:
        """Each commitment, None where it holds nothing."""
        out = []
        for c in _items(self.doc, "outcome_payment_commitments"):
            where = c.get("_where")
            orgs = self.organisations(value_of(c, "organisation_id"), "an outcome payer", where)
            who = ", ".join(o.id for o in orgs) or "an outcome payer"
            out.append(some(Payer(
                organisations=orgs,
                role=text_at(c, "organisation_role_category"),
                max_payment=self.money(c.get("maximum_potential_outcome_payment"),
                                       f"maximum outcome payment of {who}", where),
                result_type=text_at(c, "result_type"),
                period=self.period(c.get("period"), f"commitment period of {who}", where),
                payments_made=self.money(c.get("total_outcome_payments"),
                                         f"outcome payments made by {who}", where),
                alterations=self.alterations(c),
                notes=text_at(c, "notes"))))
        return out

    def providers(self) -> list[Provider | None]:
        """Each service provision, None where it holds nothing."""
        out = []
        for s in _items(self.doc, "service_provisions"):
            where = s.get("_where")
            out.append(some(Provider(
                id=text_at(s, "id"),
                organisations=self.organisations(value_of(s, "organisation_id"), "a provider",
                                                 where),
                role=text_at(s, "organisation_role_category"),
                intervention=text_at(s, "intervention"),
                planned=self.period(s.get("planned_service"), "planned service", where),
                actual=self.period(s.get("actual_service"), "actual service", where),
                alterations=self.alterations(s),
                notes=text_at(s, "notes"))))
        return out

    def results(self) -> list[Result]:
        out = []
        for r in _items(self.doc, "results"):
            where = r.get("_where")
            metric_id = clean_id(text_at(r, "outcome_metric_id") or "") or None
            label = f"result period of {metric_id}" if metric_id else "result period"
            result = some(Result(
                metric_id=metric_id,
                level=text_at(r, "result_level"),
                type=text_at(r, "result_type"),
                period=self.period(r.get("period"), label, where),
                achieved=text_at(r, "outcomes_achieved"),
                engaged=text_at(r, "number_engaged_in_impact_bond"),
                positive=text_at(r, "number_with_positive_social_outcomes"),
                description=text_at(r, "other_description_of_result"),
                validators=self.organisations(value_of(r, "outcomes_validator_organisation_ids"),
                                              "a validator", where),
                evaluation_documents=text_at(r, "evaluation_documents_source_ids"),
                notes=text_at(r, "notes")))
            if result is not None:
                out.append(result)
        return out

    def outcome_payments(self) -> dict[str, list[Payment]]:
        out: dict[str, list[Payment]] = {}
        for p in _items(self.doc, "outcome_payments"):
            where = p.get("_where")
            kind = (text_at(p, "type") or "unspecified").lower()
            period = self.period(p.get("period"), f"{kind} outcome payment period", where)
            when = (period and period.start and period.start["text"]) or "undated"
            payment = some(Payment(
                plan_id=text_at(p, "outcome_payment_plan_id"),
                metric_id=text_at(p, "outcome_metric_id"),
                period=period,
                payers=self.organisations(value_of(p, "payer_organisation_id"),
                                          "an outcome payer", where),
                recipients=self.organisations(value_of(p, "recipient_organisation_id"),
                                              "a recipient", where),
                money=self.money(p.get("money"), f"{kind} outcome payment from {when}", where),
                notes=text_at(p, "notes")))
            rows = out.setdefault(kind, [])  # each kind where it first appears
            if payment is not None:
                rows.append(payment)
        return {kind: rows for kind, rows in out.items() if rows}

    def country(self, name: str, payers: list[Payer | None],
                providers: list[Provider | None]) -> tuple[str | None, str | None]:
        """INDIGO's jurisdiction; when it gives none (most projects), the one country the
        project's name names, else the one jurisdiction of all its payers, of its providers."""
        code = country_code(value_of(self.doc, "jurisdiction", "jurisdiction"))
        if code:
            return code, "jurisdiction"
        code = country_named_in(name)
        if code:
            return code, "name"
        for label, parties in (("outcome payers", payers), ("providers", providers)):
            found = {country_code((self.orgs.get(o.id) or {}).get("jurisdiction"))
                     for p in parties if p is not None for o in p.organisations}
            found.discard(None)
            if len(found) == 1:
                return found.pop(), label
        return None, None


@functools.lru_cache(maxsize=4096)
def _date(text: str | None) -> tuple[dict | None, str | None]:
    """A date's part of `data`, {text, on} (shared by every value written alike: nothing
    changes it; no `on` when it names no day), and why it names no day if it should."""
    found = partial_date(text)
    if found is None:
        return None, None
    node = {"text": found.text} if found.on is None else \
        {"text": found.text, "on": found.on.isoformat()}
    return node, found.problem


@functools.lru_cache(maxsize=4096)
def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(split_ids(value))


def _present(parts: list[T | None]) -> list[T]:
    """The parts that hold something (`some` gives None for the others)."""
    return [part for part in parts if part is not None]


def _fit(text: str | None, length: int) -> str | None:
    """A column's text when it fits the column; `data` keeps every text whole."""
    return text if text is None or len(text) <= length else None


# ---------------------------------------------------------------- what a project is read from

# Where a project names organisations (its rows, their field): the reader looks each one up.
_NAMING = (("outcome_payment_commitments", "organisation_id"),
           ("service_provisions", "organisation_id"),
           ("results", "outcomes_validator_organisation_ids"),
           ("outcome_payments", "payer_organisation_id"),
           ("outcome_payments", "recipient_organisation_id"))
_READER = ("indigo_project.py", "indigo_data.py", "indigo_csv.py", "amounts.py", "dates.py")


@functools.cache
def reader_version() -> str:
    """The code that reads projects, and the CLDR data (Babel's) it reads currencies and
    countries by: a project read by other code is read again, though its source is the same."""
    digest = hashlib.sha256(f"babel {babel.__version__}".encode())
    for name in _READER:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()


def _unplaced(value: Any) -> Any:
    if isinstance(value, Where):
        return None  # where a row was read is for the report, not part of the project
    raise NotImplementedError


def source_hash(doc: dict, organisations: dict[str, dict], source: str) -> str:
    """The hash of everything a project's rows are read from: its document, the organisations
    it names, the source's attribution and the reader (reader_version). The same hash, the
    same rows: the import reads again only the projects whose hash has changed."""
    named = {org_id: organisations.get(org_id) for key, field in _NAMING
             for row in _items(doc, key) for org_id in _ids(text_at(row, field))}
    body = msgspec.json.encode([reader_version(), source, named, doc], order="sorted",
                               enc_hook=_unplaced)
    return hashlib.sha256(body).hexdigest()
