"""What works, in public: per outcome (a metric of the library, or a category of metrics),
the contracts whose commissioners published them, with their prices, targets, rates with
intervals, effect, the funnel plot and what their participants said, for a reader who is no
party to any contract and need not sign in.

Which contract shows what (`opendata.publication`): a contract appears only with its
`contract` part public, and on an outcome's page only when a part about its outcomes is
public too (`rate_card`, `targets` or `results`: each names the outcomes it pays for). Then:

- `rate_card`: the price per outcome;
- `targets`: the agreed target and the baseline rate;
- `results`: participants enrolled, observed and achieving, the rate with its 95 % interval
  and the position against the funnel's limits; with `targets` also the progress against
  the target and the effect against the baseline (which would give the baseline back);
- `payments` with `results` and `rate_card`: the money paid for the outcome and the cost
  per outcome (without the rate card, either would give the price back: paid over
  achieved);
- `voice`: per survey wave, the response rate and the scores with their intervals, and the
  commissioner's "you said, we did".

The figures are those `effect.service.comparison` gives a signed-in reader who is party to
none of the contracts: the same build (`build_comparison` with no own contract), so the
same small-cell suppression, with the derived figures and a second figure where a total
would give the first back. Only contracts with public results are compared: they alone are
plotted, and the pooled rate (the funnel's centre) is over those of them with no small cell.
Citizen-voice scores are `voice.results`' (suppressed below k for every reader), with the
comparison's rule for x of n on shares and on the count of answers.

Nothing about a participant is here: figures are aggregates, and contracts are listed by
reference, never ranked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import pandas as pd

from contracts import library
from contracts.errors import NotFound
from contracts.money import Money
from contracts.schemas import Output
from core.clock import now
from core.settings import get_settings
from effect import queries, suppression
from effect import service as effect
from effect.queries import ContractInfo
from effect.schemas import ComparedUnit, Comparison, FunnelLimits
from opendata import publication
from voice import figures as voice_figures
from voice import results as voice_results
from voice.schemas import MeasureResult, Timepoint, WaveResult

# The parts that name a contract's outcomes: with one of them public, the contract is listed
# on the pages of the outcomes it pays for.
ABOUT_OUTCOMES = frozenset({"rate_card", "targets", "results"})

METHOD = (
    "Contracts are listed by reference, never ranked. The rate is the share of observed "
    "participants who achieved the outcome, with its 95 % Wilson interval. Each contract with "
    "published results is a point on a funnel plot (Spiegelhalter 2005) around the pooled "
    "rate of the published contracts with no small cell, with control limits at 95 % and "
    "99.8 % that narrow as the number of observed participants grows: inside the limits, "
    "differences are what chance alone would give, so the order among those contracts means "
    "nothing. A figure about fewer than {k} people is not shown, nor any figure derived from "
    "it, nor a second figure where a total would give the first back. A figure is shown only "
    "when the contract's commissioner has published the part it belongs to."
)


class PublicUnit(Output, kw_only=True):
    """One contract's line for the outcome, as the public may see it. A figure is null when
    its part is not published (`published` lists those that are), when it is suppressed
    (`suppressed`), or when there is none yet."""

    contract_id: UUID
    reference: str
    title: str
    provider_name: str
    currency: str
    line_code: str
    metric_code: str
    metric_name: str
    published: list[str]
    price: Money | None = None
    target: int | None = None
    baseline_rate: float | None = None
    enrolled: int | None = None
    observed: int | None = None
    achieved: int | None = None
    rate: float | None = None
    rate_low: float | None = None
    rate_high: float | None = None
    progress: float | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None
    position: str | None = None
    limits: FunnelLimits | None = None
    paid: Money | None = None
    cost_per_outcome: Money | None = None
    cost_per_outcome_undefined: str = ""
    suppressed: bool = False


class PublicMeasure(Output, kw_only=True):
    code: str
    name: str
    kind: str
    better: str
    minimum: float
    maximum: float
    n: int | None
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool = False


class PublicWave(Output, kw_only=True):
    title: str
    instrument_name: str
    attribution: str
    timepoint: Timepoint
    days: int | None
    opens_on: dt.date
    closes_on: dt.date
    invited: int
    responded: int | None
    response_rate: float | None
    response_rate_low: float | None
    response_rate_high: float | None
    measures: list[PublicMeasure]
    you_said: str | None = None
    we_did: str | None = None


class PublicVoice(Output, kw_only=True):
    contract_id: UUID
    reference: str
    waves: list[PublicWave]


class MetricInfo(Output, kw_only=True):
    code: str
    name: str
    definition: str
    unit: str


class WhatWorks(Output, kw_only=True):
    subject: str
    subject_kind: str
    metric_codes: list[str]
    metrics: list[MetricInfo]
    as_of: dt.date
    small_cell_k: int
    pooled_rate: float | None
    over_dispersion: float | None
    tau2: float | None
    units: list[PublicUnit]
    voice: list[PublicVoice]
    method: str


class Subject(Output, kw_only=True):
    """An outcome of the library (a category, or a metric) and how many public contracts
    are listed on its page."""

    code: str
    name: str
    kind: str
    contracts: int
    metrics: list[Subject] = []


@dataclass
class Read:
    """What a page is drawn from: the public figures, and the comparison of the contracts
    with published results (for the funnel plot; it holds nothing `figures` does not)."""

    figures: WhatWorks
    comparison: Comparison


def _k() -> int:
    return get_settings().small_cell_k


async def _listed(codes: Sequence[str] | None = None
                  ) -> tuple[list[ContractInfo], dict[UUID, set[str]]]:
    """The public contracts (not drafts) that may be listed on an outcome's page, paying
    for one of `codes` (all outcomes: None), and each one's public parts."""
    public = await publication.public_contracts()
    shown = {cid: parts for cid, parts in public.items() if parts & ABOUT_OUTCOMES}
    if not shown:
        return [], {}
    infos = await queries.contracts(list(shown), metric_codes=codes)
    return infos, shown


async def subjects() -> list[Subject]:
    """The library's categories (each with its metrics) and the metrics of no category that
    at least one public contract pays for, each with the number of those contracts."""
    infos, _ = await _listed()
    paying: dict[str, set[UUID]] = {}
    for info in infos:
        for line in info.terms.rate_card:
            if line.kind == "outcome":
                paying.setdefault(line.metric_code, set()).add(info.id)
    metrics = await library.metrics_by_code(set(paying))
    categories: dict[str, tuple[Subject, set[UUID]]] = {}
    loose: list[Subject] = []
    for code in sorted(paying):
        m = metrics.get(code)
        if m is None:
            continue
        one = Subject(code=code, name=m.name, kind="metric", contracts=len(paying[code]))
        if m.category:
            category, ids = categories.setdefault(m.category, (Subject(
                code=m.category, name=m.category, kind="category", contracts=0,
                metrics=[]), set()))
            category.metrics.append(one)
            ids.update(paying[code])
        else:
            loose.append(one)
    out = []
    for code in sorted(categories):
        category, ids = categories[code]
        category.contracts = len(ids)
        out.append(category)
    return [*out, *loose]


def _money(value: Money | None, shown: bool) -> Money | None:
    return value if shown else None


def public_unit(info: ContractInfo, line_code: str, parts: set[str], metric_name: str,
                unit: ComparedUnit | None) -> PublicUnit:
    """A contract's line as the public sees it: only what its public parts hold, the
    results as the comparison gives them to a reader who is party to nothing."""
    line = next(li for li in info.terms.rate_card if li.code == line_code)
    card, targets = "rate_card" in parts, "targets" in parts
    results, payments = "results" in parts and unit is not None, "payments" in parts
    out = dict(
        contract_id=info.id, reference=info.reference, title=info.title,
        provider_name=info.provider_name, currency=info.currency, line_code=line.code,
        metric_code=line.metric_code, metric_name=metric_name,
        published=[p for p in publication.PARTS if p in parts],
        price=line.price if card else None,
        target=line.target if targets else None,
        baseline_rate=(line.baseline.rate_bp / 10_000
                       if targets and line.baseline is not None else None))
    if results:
        f = unit.figures
        out.update(
            enrolled=f.enrolled, observed=f.observed, achieved=f.achieved, rate=f.rate,
            rate_low=f.rate_low, rate_high=f.rate_high, position=unit.position,
            limits=unit.limits, suppressed=f.suppressed)
        if targets:
            out.update(progress=f.progress, uplift=f.uplift, uplift_low=f.uplift_low,
                       uplift_high=f.uplift_high)
        if payments and card:
            out.update(paid=f.paid, cost_per_outcome=f.cost_per_outcome,
                       cost_per_outcome_undefined=f.cost_per_outcome_undefined)
    return PublicUnit(**out)


async def read(subject: str, *, as_of: dt.date | None = None, language: str = "en") -> Read:
    """The public figures of `subject` (a metric or a category of the library; NotFound
    `subject_not_found` otherwise), and the comparison its funnel plot is drawn from."""
    kind, codes = await queries.metric_codes_for(subject)
    if not codes:
        raise NotFound(f"{subject} is neither a metric nor a category of the metric library",
                       code="subject_not_found")
    as_of = as_of or now().date()
    k = _k()
    infos, parts = await _listed(codes)
    compared = [i for i in infos if "results" in parts[i.id]]
    grain = await queries.counts(compared, as_of, set(codes))
    # A reader who is party to none of them: `own` is empty.
    comparison = effect.build_comparison(subject, kind, codes, compared, grain, own=set(),
                                         by=None, as_of=as_of, k=k)
    units_of = {(u.contract_id, u.line_code): u for u in comparison.units}
    metrics = await library.metrics_by_code(set(codes))
    units = []
    for info in infos:
        for line in info.terms.rate_card:
            if line.kind != "outcome" or line.metric_code not in codes:
                continue
            metric = metrics.get(line.metric_code)
            units.append(public_unit(info, line.code, parts[info.id],
                                     metric.name if metric else line.metric_code,
                                     units_of.get((info.id, line.code))))
    voices = [await contract_voice(info, k, language) for info in infos
              if "voice" in parts[info.id]]
    figures = WhatWorks(
        subject=subject, subject_kind=kind, metric_codes=codes,
        metrics=[MetricInfo(code=m.code, name=m.name, definition=m.definition, unit=m.unit)
                 for m in sorted(metrics.values(), key=lambda m: m.code)],
        as_of=as_of, small_cell_k=k, pooled_rate=comparison.pooled_rate,
        over_dispersion=comparison.over_dispersion, tau2=comparison.tau2, units=units,
        voice=[v for v in voices if v.waves], method=METHOD.format(k=k))
    return Read(figures=figures, comparison=comparison)


async def what_works(subject: str, *, as_of: dt.date | None = None,
                     language: str = "en") -> WhatWorks:
    return (await read(subject, as_of=as_of, language=language)).figures


# Citizen voice ------------------------------------------------------------------------------


def _x_of_n(n: int | None, x: float | None, row: dict, k: int) -> dict:
    """`row` (mean, low, high) with the comparison's rule for x of n applied: hidden when
    x or n - x is between 1 and k - 1."""
    if n is None or x is None:
        return row
    frame = pd.DataFrame([{"enrolled": n, "observed": n, "achieved": round(x), **row}])
    hidden = suppression.suppress(frame, k=k).iloc[0]
    if not bool(hidden["suppressed"]):
        return row
    return {**dict.fromkeys(row), "suppressed": True}


def public_measure(m: MeasureResult, k: int) -> PublicMeasure:
    row = {"mean": m.value, "low": m.low, "high": m.high, "suppressed": m.suppressed}
    if m.kind == "share" and not m.suppressed and m.value is not None:
        row = _x_of_n(m.n, m.value * (m.n or 0), row, k)
    hidden = bool(row["suppressed"])
    return PublicMeasure(code=m.code, name=m.name, kind=m.kind, better=m.better,
                         minimum=m.minimum, maximum=m.maximum,
                         n=None if hidden else m.n, value=row["mean"], low=row["low"],
                         high=row["high"], suppressed=hidden)


def public_wave(w: WaveResult, k: int) -> PublicWave:
    # The answers are counted for the public only from k up (the parties see every count).
    few = 0 < w.responded < k
    return PublicWave(
        title=w.title, instrument_name=w.instrument_name, attribution=w.attribution,
        timepoint=w.timepoint, days=w.days, opens_on=w.opens_on, closes_on=w.closes_on,
        invited=w.invited, responded=None if few else w.responded,
        response_rate=None if few else w.response_rate,
        response_rate_low=None if few else w.response_rate_low,
        response_rate_high=None if few else w.response_rate_high,
        measures=[public_measure(m, k) for m in w.measures],
        you_said=w.you_said, we_did=w.we_did)


async def contract_voice(info: ContractInfo, k: int, language: str = "en") -> PublicVoice:
    """A public contract's citizen voice: `voice.results` over every answer (no partner's
    scope), per wave without the breakdowns, the changes and continuity."""
    language = language if language in ("da", "nb", "en") else "en"
    waves = await voice_figures.waves_of(info.id, None)
    answers = await voice_figures.answers({"id": info.id}, None)
    found = voice_results.build(info.id, waves, answers, k=k, language=language)
    return PublicVoice(contract_id=info.id, reference=info.reference,
                       waves=[public_wave(w, k) for w in found.waves])


# The feed -----------------------------------------------------------------------------------


class FeedEntry(Output, kw_only=True):
    """A decision to publish a part of a contract that still stands."""

    id: UUID
    contract_id: UUID
    reference: str
    title: str
    part: str
    published_at: dt.datetime
    subject: str | None


async def feed(limit: int = 50) -> list[FeedEntry]:
    """The newest decisions to publish that still stand (`opendata.publication.feed`), with
    the contract's reference and title, and the outcome page it is listed on (the category,
    or the metric, of its first outcome; None when no part about its outcomes is public)."""
    rows = await publication.feed(limit)
    if not rows:
        return []
    public = await publication.public_contracts()
    infos = {i.id: i for i in await queries.contracts(list({r["contract"] for r in rows}))}
    codes = {line.metric_code for i in infos.values() for line in i.terms.rate_card}
    metrics = await library.metrics_by_code(codes)
    out = []
    for r in rows:
        info = infos.get(r["contract"])
        if info is None:  # a draft: nothing of it is shown
            continue
        subject = None
        if public.get(info.id, set()) & ABOUT_OUTCOMES:
            first = next((li for li in info.terms.rate_card if li.kind == "outcome"), None)
            if first is not None:
                metric = metrics.get(first.metric_code)
                subject = (metric.category if metric and metric.category
                           else first.metric_code)
        at = r["decided_at"]
        if isinstance(at, str):
            at = dt.datetime.fromisoformat(at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        out.append(FeedEntry(id=UUID(str(r["id"])), contract_id=info.id, reference=info.reference,
                             title=info.title, part=r["field"], published_at=at,
                             subject=subject))
    return out
