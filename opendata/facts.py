"""What the open-data exports (OCDS, INDIGO, 360Giving) are made of, read once for any
number of contracts (`gather`): the contracts with their current terms and parties, the metrics they
pay for, their results as a reader outside the contract sees them, their payments from the
journal, and their citizen voice.

Only what may leave is read: a contract's parts (`opendata.publication.PARTS`) that are
public, or every part when its commissioner asks for its own contract with private parts
included. Results are always the effect service's view for a reader outside the contract:
every figure about fewer than k people (`core.settings` small_cell_k) is blank, with the
figures derived from it and any figure a total would give it back from
(`effect.suppression`), whoever asks. Nothing about a participant is read at all: counts
come from the database already summed.

Money stays integer minor units here; `major` turns an amount into the decimal number of
major units the standards write (exactly, by the currency's digits in ISO 4217 as Babel
knows them), which the exports encode as a JSON number (`encode`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import pandas as pd
from babel.numbers import get_currency_precision
from piccolo.engine.sqlite import SQLiteEngine

from contracts.library import metrics_by_code
from contracts.schemas import ContractTerms, MetricOut, RateCardLine
from contracts.tables import Contract, ContractEvent, Organisation
from core.clock import now
from core.settings import get_settings
from effect import queries as effect_queries
from effect import service as effect_service
from effect import suppression
from opendata import publication
from outcomes.tables import CohortEvaluation, PaymentRun
from voice import figures as voice_figures
from voice import results as voice_results

ALL_PARTS = frozenset(publication.PARTS)
# Organisation kinds that fund outcomes by grants rather than by contracts (360Giving).
GRANT_MAKERS = frozenset({"outcome_fund", "foundation"})

_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(document: Any, *, indent: int = 2) -> bytes:
    """An export as JSON, its Decimal amounts as JSON numbers, every digit kept."""
    data = _encoder.encode(document)
    return msgspec.json.format(data, indent=indent) if indent else data


def major(amount: int, currency: str) -> Decimal:
    """`amount` minor units as the exact decimal number of major units (15000000 DKK øre →
    150000.00)."""
    return Decimal(amount).scaleb(-get_currency_precision(currency))


def day_start(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def day_end(day: dt.date) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def moment(at: dt.datetime) -> str:
    """A timestamp in UTC, to the second, as OCDS and 360Giving write date-times."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC)
    return at.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def quarter_period(quarter: str) -> tuple[dt.date, dt.date]:
    """"2024Q3" → (2024-07-01, 2024-09-30)."""
    year, q = int(quarter[:4]), int(quarter[-1])
    start = dt.date(year, 3 * (q - 1) + 1, 1)
    following = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return start, following - dt.timedelta(days=1)


# What is read -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    id: UUID
    name: str
    kind: str
    identifier: str

    @property
    def scheme(self) -> str:
        """The org-id.guide list the identifier comes from ("DK-CVR" of DK-CVR-29189846)."""
        return "-".join(self.identifier.split("-")[:2])

    @property
    def local_id(self) -> str:
        return self.identifier.split("-", 2)[-1]

    @property
    def country(self) -> str:
        return self.identifier[:2]


@dataclass(frozen=True)
class Figures:
    """Participants enrolled, observed and achieving, and the rate with its 95 % interval;
    None where suppressed."""

    enrolled: int | None
    observed: int | None
    achieved: int | None
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    suppressed: bool


@dataclass(frozen=True)
class LineResults:
    line_code: str
    total: Figures
    # Per enrolment quarter ("2024Q1"), in order.
    quarters: list[tuple[str, Figures]]


@dataclass(frozen=True)
class Payment:
    """What one commissioner paid in one paid payment run, from the journal."""

    run_id: UUID
    paid_at: dt.datetime
    period_from: dt.date
    period_to: dt.date
    payer: UUID
    amount: int


@dataclass
class ContractFacts:
    id: UUID
    reference: str
    title: str
    intervention: str
    currency: str
    status: str
    version: int
    created_at: dt.datetime
    terms: ContractTerms
    provider: Party
    commissioners: list[tuple[Party, int]]
    auditors: list[Party]
    partners: list[Party]
    parts: frozenset[str]
    activated_at: dt.datetime | None = None
    metrics: dict[str, MetricOut] = field(default_factory=dict)
    results: dict[str, LineResults] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    # (payer, effective day) → net amount accrued for outcomes that day (approved claims).
    accrued: dict[tuple[UUID, dt.date], int] = field(default_factory=dict)
    evaluations: dict[str, dt.datetime] = field(default_factory=dict)
    voice: list[VoiceWave] = field(default_factory=list)
    # Commissioners of an earlier version of the terms who paid or accrued for outcomes.
    former_payers: list[Party] = field(default_factory=list)
    as_of: dt.date = field(default_factory=lambda: now().date())

    def shows(self, part: str) -> bool:
        return part in self.parts

    def line_name(self, line: RateCardLine) -> str:
        metric = self.metrics.get(line.metric_code)
        return metric.name if metric else line.metric_code

    def payers(self) -> dict[UUID, Party]:
        """Everyone who pays or paid for the contract's outcomes, by id."""
        return {**{p.id: p for p in self.former_payers},
                **{party.id: party for party, _ in self.commissioners}}

    def paid_by(self) -> dict[UUID, int]:
        out: dict[UUID, int] = defaultdict(int)
        for p in self.payments:
            out[p.payer] += p.amount
        return dict(out)

    def money(self, amount: int) -> dict:
        """A Value: the amount in major units and the currency."""
        return {"amount": major(amount, self.currency), "currency": self.currency}


def rules(f: ContractFacts, line: RateCardLine) -> str:
    """The line's payment rules in words."""
    said = []
    if line.kind == "cohort":
        said.append(f"paid per participant of cohort {line.cohort} when, on "
                    f"{line.evaluation_on}, at least {(line.cohort_threshold_bp or 0) / 100:g} %"
                    " of the cohort achieved the outcome")
    if line.window is not None:
        anchor = "enrolment" if line.window.anchor == "enrolment" else \
            f"achieving {line.prerequisite_metric}"
        said.append(f"achieved {line.window.start_day} to {line.window.end_day} days after "
                    f"{anchor}")
    if line.threshold is not None:
        said.append(f"a change of at least {line.threshold}")
    if line.max_claims_per_participant != 1:
        said.append(f"at most {line.max_claims_per_participant} times per participant")
    if line.max_count is not None:
        said.append(f"at most {line.max_count} outcomes")
    if line.max_amount is not None:
        said.append(f"at most {f.money(line.max_amount.amount)['amount']} {f.currency} in all")
    if line.exclusivity_group:
        said.append(f"one outcome of group {line.exclusivity_group} per participant")
    return "; ".join(said)


async def public_contract_ids() -> list[UUID]:
    """The contracts whose `contract` part is public, by reference."""
    public = await publication.public_contracts()
    if not public:
        return []
    rows = await Contract.select(Contract.id).where(Contract.id.is_in(list(public))
                                                    ).order_by(Contract.reference)
    return [r["id"] for r in rows]


async def gather(contract_ids: Sequence[UUID], *, include_private: bool = False,
                 as_of: dt.date | None = None) -> list[ContractFacts]:
    """Everything the exports say of these contracts, as far as it may leave: a contract
    whose `contract` part is private is left out, unless `include_private` (the contract's
    commissioner asking for its own), which reads every part. In reference order."""
    as_of = as_of or now().date()
    if not contract_ids:
        return []
    if include_private:
        parts = {cid: ALL_PARTS for cid in contract_ids}
    else:
        public = await publication.public_contracts()
        parts = {cid: frozenset(public[cid]) for cid in contract_ids if cid in public}
    ids = list(parts)
    if not ids:
        return []
    infos = await effect_queries.contracts(ids, include_drafts=True)
    rows = {r["id"]: r for r in await Contract.select().where(Contract.id.is_in(ids))}
    org_ids = set()
    for info in infos:
        t = info.terms
        org_ids |= {info.provider_id, *(c.organisation_id for c in t.commissioners),
                    *t.auditor_ids, *(p.organisation_id for p in t.partners)}
    orgs = {r["id"]: Party(id=r["id"], name=r["name"], kind=r["kind"],
                           identifier=r["identifier"])
            for r in await Organisation.select().where(Organisation.id.is_in(list(org_ids)))}
    activated: dict[UUID, dt.datetime] = {}
    for r in await ContractEvent.select(ContractEvent.contract, ContractEvent.recorded_at).where(
            ContractEvent.contract.is_in(ids) & (ContractEvent.to_status == "active")
    ).order_by(ContractEvent.recorded_at):
        activated.setdefault(r["contract"], r["recorded_at"])
    metrics = await metrics_by_code({line.metric_code for info in infos
                                     for line in info.terms.rate_card})
    out = []
    for info in infos:
        t, row = info.terms, rows[info.id]
        out.append(ContractFacts(
            id=info.id, reference=info.reference, title=info.title,
            intervention=row["intervention"], currency=info.currency, status=info.status,
            version=row["version"], created_at=row["created_at"], terms=t,
            provider=orgs[info.provider_id],
            commissioners=[(orgs[c.organisation_id], c.share_bp) for c in t.commissioners],
            auditors=[orgs[a] for a in t.auditor_ids],
            partners=[orgs[p.organisation_id] for p in t.partners
                      if p.organisation_id != info.provider_id],
            parts=parts[info.id], activated_at=activated.get(info.id),
            metrics={line.metric_code: metrics[line.metric_code] for line in t.rate_card
                     if line.metric_code in metrics},
            as_of=as_of))
    by_id = {f.id: f for f in out}
    showing = [i for i in infos if by_id[i.id].shows("results")]
    if showing:
        for cid, lines in (await results(showing, as_of)).items():
            by_id[cid].results = lines
    paying = [f.id for f in out if f.shows("payments")]
    for p in await payments(paying):
        by_id[p[0]].payments.append(p[1])
    for (cid, payer, day), amount in (await accruals(paying)).items():
        by_id[cid].accrued[(payer, day)] = amount
    # A commissioner a variation removed still paid what it paid: it stays a payer.
    former = {p.payer for f in out for p in f.payments} | \
        {payer for f in out for payer, _ in f.accrued}
    former -= set(orgs)
    if former:
        for r in await Organisation.select().where(Organisation.id.is_in(list(former))):
            orgs[r["id"]] = Party(id=r["id"], name=r["name"], kind=r["kind"],
                                  identifier=r["identifier"])
    for f in out:
        current = {party.id for party, _ in f.commissioners}
        paid = [p.payer for p in f.payments] + [payer for payer, _ in f.accrued]
        f.former_payers = [orgs[o] for o in dict.fromkeys(paid)
                           if o not in current and o in orgs]
    carded = [f.id for f in out if f.shows("rate_card")]
    if carded:
        for r in await CohortEvaluation.select(
                CohortEvaluation.contract, CohortEvaluation.line_code,
                CohortEvaluation.evaluated_at).where(CohortEvaluation.contract.is_in(carded)):
            by_id[r["contract"]].evaluations[r["line_code"]] = r["evaluated_at"]
    for f in out:
        if f.shows("voice"):
            f.voice = await voice(f.id)
    return out


# Results, as a reader outside the contract sees them ---------------------------------------


def _num(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if value != value else round(value, 6)


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _figures(row: dict) -> Figures:
    return Figures(enrolled=_int(row.get("enrolled")), observed=_int(row.get("observed")),
                   achieved=_int(row.get("achieved")), rate=_num(row.get("rate")),
                   rate_low=_num(row.get("rate_low")), rate_high=_num(row.get("rate_high")),
                   suppressed=bool(row.get("suppressed", False)))


async def results(infos: Sequence[effect_queries.ContractInfo], as_of: dt.date
                  ) -> dict[UUID, dict[str, LineResults]]:
    """Per contract and rate card line: the total and each enrolment quarter, suppressed
    as the effect comparison suppresses a contract for a reader who is not its party
    (`suppressed_units`). One count query for all the contracts."""
    grain = await effect_queries.counts(infos, as_of)
    rows = effect_service.table(grain, effect_service._lines_frame(infos),
                                effect_queries.DIMENSIONS)
    partnered = {str(i.id) for i in infos if i.terms.partners}
    shown = suppressed_units(rows, get_settings().small_cell_k, partnered)
    by_unit = dict(tuple(shown.groupby(["contract", "line"], sort=False))) if len(shown) \
        else {}
    out: dict[UUID, dict[str, LineResults]] = {}
    for info in infos:
        lines = {}
        for line in info.terms.rate_card:
            unit = by_unit.get((str(info.id), line.code))
            if unit is None:
                continue
            records = unit.to_dict("records")
            total = next(r for r in records if r["dimension"] == "")
            quarters = sorted((str(r["value"]), _figures(r)) for r in records
                              if r["dimension"] == "quarter" and r["value"])
            lines[line.code] = LineResults(line_code=line.code, total=_figures(total),
                                           quarters=quarters)
        out[info.id] = lines
    return out


def suppressed_units(rows: pd.DataFrame, k: int, partnered: set[str]) -> pd.DataFrame:
    """`effect.service._suppressed_tables` for every unit (contract and line) of `rows` (the
    effect service's `table`) at once: each breakdown of a unit is a table with the unit's
    total (the provider breakdown only in a partnership), all of them suppressed in one
    call of `effect.suppression.suppress`, and the most hidden version of each unit's total
    stands, so that no breakdown shown anywhere gives back what another hides."""
    keys = ["contract", "line"]
    if rows.empty:
        return rows
    rows = rows[(rows["dimension"] != "provider") | rows["contract"].isin(partnered)]
    totals = rows[rows["dimension"] == ""]
    unit = rows["contract"] + "/" + rows["line"]
    tables = []
    covered = set()
    for dim in [d for d in rows["dimension"].unique() if d]:
        parts = rows[rows["dimension"] == dim]
        having = parts[keys].drop_duplicates()
        covered |= set(zip(having["contract"], having["line"], strict=True))
        head = totals.merge(having, on=keys)
        table = pd.concat([head.assign(is_total=True), parts.assign(is_total=False)],
                          ignore_index=True)
        tables.append(table.assign(group=table["contract"] + "/" + table["line"] + "/" + dim))
    alone = totals[[(c, li) not in covered for c, li in
                    zip(totals["contract"], totals["line"], strict=True)]]
    if len(alone):
        tables.append(alone.assign(is_total=True, group=unit[alone.index] + "/"))
    hidden = suppression.suppress(pd.concat(tables, ignore_index=True), k=k)
    head = hidden[hidden["is_total"]].copy()
    head["_blank"] = head.isna().sum(axis=1)
    # Per unit the first of its most hidden totals, in the order of the breakdowns.
    head = head.loc[head.groupby(keys, sort=False)["_blank"].idxmax()]
    parts = hidden[~hidden["is_total"]]
    out = pd.concat([head.drop(columns=["_blank"]), parts], ignore_index=True)
    return out.drop(columns=["is_total", "group"])


# Payments, from the journal ----------------------------------------------------------------


def _sqlite() -> bool:
    return isinstance(Contract._meta.db, SQLiteEngine)


# A list of contract ids as one parameter (`_ids`), by engine. The queries are constants:
# every value travels as a parameter.
_IN = {True: " IN (SELECT value FROM json_each({}))", False: " = ANY({}::uuid[])"}
PAYMENTS = (
    "SELECT r.contract AS contract, r.id AS run, r.paid_at AS paid_at, "
    "r.period_from AS period_from, r.period_to AS period_to, a.organisation AS payer, "
    "SUM(p.amount) AS amount FROM payment_run r "
    "JOIN payment_run_line l ON l.run = r.id "
    "JOIN journal_entry e ON e.idempotency_key = 'pay:' || CAST(l.claim AS TEXT) "
    "JOIN posting p ON p.entry = e.id JOIN account a ON a.id = p.account "
    "WHERE r.status = 'paid' AND a.code = 'payable' AND r.contract <IN> "
    "GROUP BY r.contract, r.id, r.paid_at, r.period_from, r.period_to, a.organisation")
ACCRUALS = (
    "SELECT a.contract AS contract, a.organisation AS payer, e.effective_on AS day, "
    "SUM(p.amount) AS amount FROM account a JOIN posting p ON p.account = a.id "
    "JOIN journal_entry e ON e.id = p.entry WHERE a.code = 'accrued' AND a.contract <IN> "
    "GROUP BY a.contract, a.organisation, e.effective_on")


def _sql(query: str) -> str:
    return query.replace(" <IN>", _IN[_sqlite()])


def _ids(values: Iterable[UUID]) -> object:
    values = list(values)
    return json.dumps([str(v) for v in values]) if _sqlite() else values


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _moment(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).astimezone(dt.UTC)


async def payments(contract_ids: Sequence[UUID]) -> list[tuple[UUID, Payment]]:
    """Per paid payment run and commissioner, what the journal's payment entries of the
    run's claims (`pay:<claim>`) took from that commissioner's payable: one query, summed
    in the database."""
    if not contract_ids:
        return []
    rows = await PaymentRun.raw(_sql(PAYMENTS), _ids(contract_ids))
    out = [(_uuid(r["contract"]), Payment(
        run_id=_uuid(r["run"]), paid_at=_moment(r["paid_at"]),
        period_from=_date(r["period_from"]), period_to=_date(r["period_to"]),
        payer=_uuid(r["payer"]), amount=int(r["amount"] or 0))) for r in rows]
    return sorted(out, key=lambda p: (p[1].paid_at, str(p[1].run_id), str(p[1].payer)))


async def accruals(contract_ids: Sequence[UUID]) -> dict[tuple[UUID, UUID, dt.date], int]:
    """(contract, commissioner, day) → what the day's accruals of approved claims, less its
    clawbacks, added to the commissioner's accrued account."""
    if not contract_ids:
        return {}
    rows = await PaymentRun.raw(_sql(ACCRUALS), _ids(contract_ids))
    return {(_uuid(r["contract"]), _uuid(r["payer"]), _date(r["day"])): int(r["amount"] or 0)
            for r in rows}


# Citizen voice ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceMeasure:
    code: str
    name: str
    kind: str
    better: str
    minimum: float
    maximum: float
    # None where fewer than k answered.
    n: int | None
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class VoiceWave:
    wave_id: UUID
    title: str
    instrument_name: str
    attribution: str
    opens_on: dt.date
    closes_on: dt.date
    measures: list[VoiceMeasure]


async def voice(contract_id: UUID) -> list[VoiceWave]:
    """Per survey wave of the contract, each measure's respondents and mean (or share) with
    its interval, over every answer, as `voice.results` computes them; blank below k
    respondents (as for every reader). No breakdown: an export carries the wave's figures."""
    waves = await voice_figures.waves_of(contract_id, None)
    if not waves:
        return []
    frame = await voice_figures.answers({"id": contract_id}, None)
    k = get_settings().small_cell_k
    out = []
    for wave in sorted(waves, key=lambda w: (w.opens_on, w.title)):
        mine = frame[frame["wave"] == str(wave.id)] if len(frame) else frame
        table = voice_results.measures_table(mine, wave.instrument.measures, k)
        rows = {r["code"]: r for r in table.to_dict("records")}
        out.append(VoiceWave(
            wave_id=wave.id, title=wave.title, instrument_name=wave.instrument.name,
            attribution=wave.instrument.attribution, opens_on=wave.opens_on,
            closes_on=wave.closes_on,
            measures=[VoiceMeasure(
                code=m.code, name=m.name.get("en"), kind=m.kind, better=m.better,
                minimum=float(m.minimum), maximum=float(m.maximum),
                n=_int(rows[m.code].get("n")), value=_num(rows[m.code].get("mean")),
                low=_num(rows[m.code].get("low")), high=_num(rows[m.code].get("high")))
                for m in wave.instrument.measures]))
    return out


# Publisher ----------------------------------------------------------------------------------


async def publisher(facts: Sequence[ContractFacts]) -> str:
    """Who publishes: the name in the settings, else the operator organisation's, else the
    first contract's first commissioner's."""
    name = get_settings().publisher_name
    if name:
        return name
    row = await Organisation.select(Organisation.name).where(
        Organisation.kind == "operator").order_by(Organisation.created_at).first()
    if row is not None:
        return row["name"]
    for f in facts:
        if f.commissioners:
            return f.commissioners[0][0].name
    return "Virker"


def base_url(given: str | None = None) -> str:
    """The public address of this Virker: the settings' public_url, else what the caller
    was reached at, else the address it serves on."""
    settings = get_settings()
    url = settings.public_url or given or f"http://{settings.host}:{settings.port}"
    return url.rstrip("/")
