"""The effect report: what a contract's money achieved, or a commissioner's portfolio's, as
PDF/A-3u, and the funnel plot of a comparison as SVG.

Every figure is one the API gives: the report is read through the same service functions
(`effect.service.contract_effect`, `portfolio_effect`, `liability_forecast`,
`comparison`) with the reader's own principal, and their JSON travels with the PDF as
attached files (`effect.json`, `forecast.json`), beside `figures.csv` for spreadsheets.
The body writes the figures for the reader: shares as per cent and differences as
percentage points in the reader's language (Babel's CLDR data), money by
`reports.formats.money`. The statement's pipeline renders it (`reports.render`), in the
report workers (`reports.pool`), which read the data themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal
from uuid import UUID

import msgspec
import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, format_percent

from contracts.identity import Principal
from contracts.service import current_terms
from contracts.tables import Contract, Organisation
from core.clock import now
from effect import funnel, queries, service
from effect.schemas import Comparison, ContractEffect, Figures, Forecast
from reports import formats
from reports.attachments import Attachment, safe_csv
from voice import figures as voice_figures
from voice.schemas import VoiceResults

# The order a line's breakdowns are printed in, and what each is called.
DIMENSIONS = (("cohort", "Cohort"), ("age_band", "Age band"), ("area", "Area"),
              ("quarter", "Enrolment quarter"), ("provider", "Partner"))

VOICE_DIMENSIONS = (("cohort", "Cohort"), ("age_band", "Age band"), ("area", "Area"))

UPLIFT_METHODS = {"newcombe": ", Newcombe", "one_sample": ", Wilson less the baseline"}

# The report's prose is English: the citizen-voice measures are named in English too.
VOICE_LANGUAGE = "en"

FIGURE_COLUMNS = ["contract_id", "reference", "line_code", "metric_code", "dimension",
                  "value", *Figures.__struct_fields__]


# Numbers as the reader writes them ---------------------------------------------------------


def _locale(lang: str) -> Locale:
    return Locale.parse(formats.LOCALES.get(lang, "en_GB"))


def percent(share: float | None, lang: str = "en", digits: int = 1) -> str:
    """A share (0.14) as the reader writes per cent: "14,0 %" in Danish, "14.0%" in
    English; a dash when there is none."""
    if share is None:
        return "–"
    locale = _locale(lang)
    pattern = locale.percent_formats[None].pattern
    if digits:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * digits)
    return format_percent(share, format=pattern, locale=locale)


def points(difference: float | None, lang: str = "en", digits: int = 1) -> str:
    """A difference of two shares (-0.06) in signed percentage points: "-6,0 pp"."""
    if difference is None:
        return "–"
    decimals = "." + "0" * digits if digits else ""
    text = format_decimal(difference * 100, format=f"+#,##0{decimals};-#,##0{decimals}",
                          locale=_locale(lang))
    return f"{text}\u00a0pp"


def count(value: float | None, lang: str = "en") -> str:
    """A count of people (or outcomes, which may be fractional: one decimal)."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return format_decimal(int(value), locale=_locale(lang))
    return format_decimal(value, format="#,##0.0", locale=_locale(lang))


def interval(low: float | None, high: float | None, lang: str = "en",
             kind: Literal["percent", "points"] = "percent") -> str:
    """A 95 % interval: "7,0 % to 26,2 %"."""
    if low is None or high is None:
        return "–"
    write = percent if kind == "percent" else points
    return f"{write(low, lang)} to {write(high, lang)}"


def span(low: float | None, high: float | None, lang: str = "en") -> str:
    """A 95 % interval of a share where space is short: "7,0–26,2 %"."""
    if low is None or high is None:
        return "–"
    return format_decimal(low * 100, format="#,##0.0", locale=_locale(lang)) + "–" + \
        percent(high, lang)


def decimal(value: float | None, lang: str = "en", digits: int = 1) -> str:
    """A mean score (6.25) to `digits` decimals as the reader writes it: "6,3" in Danish."""
    if value is None:
        return "–"
    decimals = "." + "0" * digits if digits else ""
    return format_decimal(value, format=f"#,##0{decimals};-#,##0{decimals}",
                          locale=_locale(lang))


def change(value: float | None, lang: str = "en") -> str:
    """A change of a mean score, signed: "+1,2"."""
    if value is None:
        return "–"
    return format_decimal(value, format="+#,##0.0;-#,##0.0", locale=_locale(lang))


def score(value: float | None, kind: str, lang: str = "en") -> str:
    """A citizen-voice figure: a share as per cent, a mean to one decimal."""
    return percent(value, lang) if kind == "share" else decimal(value, lang)


def score_interval(low: float | None, high: float | None, kind: str, lang: str = "en"
                   ) -> str:
    """The 95 % interval of a citizen-voice figure: "5,1 to 7,3" or "7,0 % to 26,2 %"."""
    if low is None or high is None:
        return "–"
    if kind == "share":
        return interval(low, high, lang)
    if kind == "change":
        return f"{change(low, lang)} to {change(high, lang)}"
    return f"{decimal(low, lang)} to {decimal(high, lang)}"


# The funnel plot ---------------------------------------------------------------------------


def comparison_curve(comparison: Comparison, n_max: float | None = None
                     ) -> pd.DataFrame | None:
    """The funnel's 95 % and 99.8 % limits around the comparison's pooled rate, from one
    observed participant to a little beyond the largest contract shown; None when there is
    no pooled rate (no contract without a small cell has observed participants)."""
    if comparison.pooled_rate is None:
        return None
    shown = [u.figures.observed for u in comparison.units if u.figures.observed]
    top = max([n_max or 0, *shown, 10]) * 1.08
    fit = funnel.Fit(p0=comparison.pooled_rate,
                     phi=float("nan") if comparison.over_dispersion is None
                     else comparison.over_dispersion,
                     tau2=comparison.tau2 or 0.0,
                     units=sum(1 for u in comparison.units if u.limits is not None))
    return funnel.curve(fit, 1.0, float(top))


def comparison_lang(comparison: Comparison, requested: str | None) -> str:
    currencies = {u.price.currency for u in comparison.units}
    return formats.document_lang(currencies.pop() if len(currencies) == 1 else "",
                                 (), requested)


async def funnel_svg_for(principal: Principal, subject: str, *, as_of: dt.date | None = None,
                         lang: str | None = None) -> str:
    """The funnel plot of `GET /api/v1/comparisons/{subject}` for this reader."""
    import asyncio

    from reports.chart import funnel_svg

    comparison = await service.comparison(principal, subject, as_of=as_of)
    return await asyncio.to_thread(funnel_svg, comparison, comparison_curve(comparison),
                                   comparison_lang(comparison, lang))


# The effect report -------------------------------------------------------------------------


class EffectReport(msgspec.Struct, kw_only=True):
    """What an effect report prints: the effect of one contract (or of each contract of a
    portfolio) and its liability forecast, exactly as the API gives them."""

    kind: Literal["contract", "portfolio"]
    title: str
    subject: str  # the contract's reference, or the commissioner's name
    as_of: dt.date
    generated_at: dt.datetime
    effects: list[ContractEffect]
    forecast: Forecast
    lang: str
    attachments: list[Attachment] = []
    # The citizen voice of each contract of `effects` (same order), as GET /voice gives it.
    voices: list[VoiceResults] = []


def figures_frame(effects: Sequence[ContractEffect]) -> pd.DataFrame:
    """One row per contract, line and breakdown value (the line's total has dimension ""),
    every figure of the JSON, money in minor units."""
    rows = []
    for effect in effects:
        for line in effect.lines:
            for dimension, value, figures in [("", "", line.total),
                                              *((p.dimension, p.value, p.figures)
                                                for p in line.parts)]:
                data = msgspec.structs.asdict(figures)
                for name, item in data.items():
                    if isinstance(item, msgspec.Struct):  # Money
                        data[name] = item.amount
                rows.append({"contract_id": str(effect.contract_id),
                             "reference": effect.reference, "line_code": line.line_code,
                             "metric_code": line.metric_code, "dimension": dimension,
                             "value": value, **data})
    frame = pd.DataFrame(rows, columns=FIGURE_COLUMNS)
    return frame.astype(object).where(frame.notna(), None)


def _attachments(effect_json: bytes, forecast: Forecast, effects: Sequence[ContractEffect],
                 *, effect_route: str, forecast_route: str,
                 voices: Sequence[VoiceResults] = (), voice_route: str = "",
                 one: bool = True) -> list[Attachment]:
    frame = figures_frame(effects)
    heard = [v for v in voices if v.waves]
    voice = []
    if heard:
        voice = [Attachment(
            name="voice.json", media_type="application/json",
            data=msgspec.json.encode(heard[0] if one else heard),
            rows=sum(len(v.waves) for v in heard),
            description=f"The citizen-voice figures as {voice_route} gives them")]
    return [*voice,
        Attachment(name="effect.json", media_type="application/json", data=effect_json,
                   rows=sum(len(e.lines) for e in effects),
                   description=f"The effect figures as {effect_route} gives them"),
        Attachment(name="forecast.json", media_type="application/json",
                   data=msgspec.json.encode(forecast),
                   rows=sum(len(c.quarters) for c in forecast.contracts),
                   description=f"The liability forecast as {forecast_route} gives it"),
        Attachment(name="figures.csv", media_type="text/csv", data=safe_csv(frame),
                   rows=len(frame),
                   description="Every figure of every line and breakdown, one row each; "
                               "shares between 0 and 1, money in minor units")]


async def _identifiers(ids: Sequence[UUID]) -> list[str]:
    rows = await Organisation.select(Organisation.id, Organisation.identifier).where(
        Organisation.id.is_in(list(ids))) if ids else []
    by_id = {r["id"]: r["identifier"] for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def contract_report(principal: Principal, contract_id: UUID, *,
                          as_of: dt.date | None = None, lang: str | None = None
                          ) -> EffectReport:
    """The effect report of one contract for `principal` (a party of it, or an
    administrator): GET /effect and GET /forecast of the contract, for the same reader."""
    effect = await service.contract_effect(principal, contract_id, as_of=as_of)
    forecast = await service.liability_forecast(principal, contract_id=contract_id)
    voice = await voice_figures.contract_voice(principal, contract_id, VOICE_LANGUAGE)
    row = await Contract.select(Contract.version).where(Contract.id == contract_id).first()
    terms = await current_terms(contract_id, row["version"])
    identifiers = await _identifiers([c.organisation_id for c in terms.commissioners])
    report = EffectReport(
        kind="contract", title=f"Effect report {effect.reference}", subject=effect.reference,
        as_of=effect.as_of, generated_at=now().replace(microsecond=0), effects=[effect],
        forecast=forecast, lang=formats.document_lang(effect.currency, identifiers, lang),
        voices=[voice])
    report.attachments = _attachments(
        msgspec.json.encode(voice_figures.with_voice(effect, voice)), forecast, [effect],
        effect_route=f"GET /api/v1/contracts/{contract_id}/effect?as_of={effect.as_of}",
        forecast_route=f"GET /api/v1/contracts/{contract_id}/forecast",
        voices=[voice], voice_route=f"GET /api/v1/contracts/{contract_id}/voice")
    return report


async def portfolio_report(principal: Principal, owner: UUID, *,
                           as_of: dt.date | None = None, lang: str | None = None
                           ) -> EffectReport:
    """The effect report of the contracts `owner` commissions (its own commissioner, or an
    administrator naming it): each contract as GET /effect gives it, and GET
    /forecast?organisation_id= of the same reader."""
    forecast = await service.liability_forecast(principal, organisation_id=owner)
    effects = await service.portfolio_effect(principal, organisation_id=owner, as_of=as_of)
    roles = await queries.party_contracts(owner)
    effects = [e for e in effects if "commissioner" in roles.get(str(e.contract_id), ())]
    voices = [await voice_figures.contract_voice(principal, e.contract_id, VOICE_LANGUAGE)
              for e in effects]
    org = await Organisation.select(Organisation.name, Organisation.identifier).where(
        Organisation.id == owner).first() or {"name": str(owner), "identifier": ""}
    currencies = {e.currency for e in effects}
    currency = currencies.pop() if len(currencies) == 1 else ""
    as_of = as_of or (effects[0].as_of if effects else now().date())
    report = EffectReport(
        kind="portfolio", title=f"Effect report: portfolio of {org['name']}",
        subject=org["name"], as_of=as_of, generated_at=now().replace(microsecond=0),
        effects=effects, forecast=forecast,
        lang=formats.document_lang(currency, [org["identifier"]], lang), voices=voices)
    report.attachments = _attachments(
        msgspec.json.encode([voice_figures.with_voice(e, v)
                             for e, v in zip(effects, voices, strict=True)]),
        forecast, effects,
        effect_route="GET /api/v1/contracts/{id}/effect, one per contract,",
        forecast_route=f"GET /api/v1/forecast?organisation_id={owner}",
        voices=voices, voice_route="GET /api/v1/contracts/{id}/voice, one per contract with "
                                   "survey waves,", one=False)
    return report


def _cost(figures: Figures, which: str, currency: str, lang: str,
          undefined: dict[str, str]) -> str:
    """A cost per (additional) outcome, or the sentence why there is none."""
    amount = getattr(figures, which)
    if amount is not None:
        return formats.money(amount.amount, currency, lang)
    reason = getattr(figures, f"{which}_undefined")
    return undefined.get(reason, reason) or "–"


class Note(msgspec.Struct, frozen=True):
    mark: str
    text: str


class Notes:
    """Why a cost in a table is undefined, as a mark in the cell ("none (a)") and the
    sentence once under the table: a sentence in every row would swamp the figures."""

    def __init__(self, undefined: dict[str, str]) -> None:
        self._marks = {key: chr(ord("a") + i) for i, key in enumerate(undefined)}
        self._undefined = undefined
        self.used: dict[str, Note] = {}

    def cost(self, figures: Figures, which: str, currency: str, lang: str) -> str:
        amount = getattr(figures, which)
        if amount is not None:
            return formats.money(amount.amount, currency, lang, unit=False)
        reason = getattr(figures, f"{which}_undefined")
        if not reason:
            return "–"
        mark = self._marks.get(reason, "?")
        self.used[reason] = Note(mark, self._undefined.get(reason, reason))
        return f"none ({mark})"

    def listed(self) -> list[Note]:
        return sorted(self.used.values(), key=lambda n: n.mark)


def report_pdf(report: EffectReport) -> bytes:
    """The report as PDF/A-3u with its JSON and CSV attached."""
    from reports.chart import effect_lines_chart
    from reports.render import html, listing, pdf

    lang = report.lang
    charts = {str(e.contract_id): effect_lines_chart(e, lang) for e in report.effects} \
        if report.kind == "contract" else {}
    template = "effect.html" if report.kind == "contract" else "effect_portfolio.html"
    document = html(
        template, lang, r=report, charts=charts, dimensions=DIMENSIONS,
        attachments=listing(report.attachments),
        percent=lambda v, digits=1: percent(v, lang, digits),
        points=lambda v: points(v, lang), count=lambda v: count(v, lang),
        interval=lambda lo, hi, kind="percent": interval(lo, hi, lang, kind),
        span=lambda lo, hi: span(lo, hi, lang),
        cost=lambda f, which, c, undefined: _cost(f, which, c, lang, undefined),
        notes=Notes,
        share=lambda part, whole: None if not whole else part / whole,
        voices={str(v.contract_id): v for v in report.voices},
        voice_dimensions=VOICE_DIMENSIONS,
        decimal=lambda v, digits=1: decimal(v, lang, digits),
        score=lambda v, kind: score(v, kind, lang),
        score_interval=lambda lo, hi, kind: score_interval(lo, hi, kind, lang),
        change=lambda v: change(v, lang))
    return pdf(document, report.attachments)


# As text, for the command line ------------------------------------------------------------


def _rows(pairs: Sequence[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max(len(label) for label, _ in pairs)
    return [f"{indent}{label.ljust(width)}  {value}" for label, value in pairs]


def effect_text(effect: ContractEffect, lang: str = "en") -> str:
    """A contract's effect figures for a terminal: the money, then a table per line (counts,
    rate with its interval, target and progress, uplift, costs)."""
    c = effect.currency

    def money(m) -> str:
        return "–" if m is None else formats.money(m.amount, c, lang)

    out = [f"{effect.reference}: {effect.title}, delivered by {effect.provider_name} "
           f"({effect.status}); figures as of {effect.as_of}",
           *_rows([("cap", money(effect.cap)), ("committed", money(effect.committed)),
                   ("accrued", money(effect.accrued)), ("paid", money(effect.paid))], "")]
    for line in effect.lines:
        f = line.total
        baseline = "no baseline stated"
        if line.baseline is not None:
            b = line.baseline
            kind = b.kind.replace("_", " ")
            if b.kind == "comparison_group" and b.n:
                kind = f"a comparison group of {count(b.n, lang)}"
            baseline = f"against {percent(b.rate, lang)} ({kind})"
        horizon = (f"observed {line.horizon_days} days after enrolment"
                   if line.horizon_days is not None else "no horizon: every enrolled "
                   "participant counts as observed")
        rows = [
            ("enrolled", count(f.enrolled, lang)), ("observed", count(f.observed, lang)),
            ("achieved", count(f.achieved, lang)),
            ("rate", f"{percent(f.rate, lang)} (95 %: "
                     f"{interval(f.rate_low, f.rate_high, lang)})"),
            ("target", "none agreed" if f.target is None else
             f"{count(f.target, lang)} (progress {percent(f.progress, lang)})"),
            ("uplift", f"{points(f.uplift, lang)} (95 %: "
                       f"{interval(f.uplift_low, f.uplift_high, lang, 'points')}"
                       f"{UPLIFT_METHODS.get(f.uplift_method, '')}) {baseline}"),
            ("accrued", money(f.accrued)), ("paid", money(f.paid)),
            ("cost per outcome", _cost(f, "cost_per_outcome", c, lang, effect.undefined)),
            ("cost per additional outcome",
             _cost(f, "cost_per_additional", c, lang, effect.undefined))]
        if line.score is not None:
            s = line.score
            rows.append(("measured change", "no measurement yet" if s.mean is None else
                         f"mean {count(s.mean, lang)} (95 %: {count(s.low, lang)} to "
                         f"{count(s.high, lang)}) over {s.n}; threshold {s.threshold}"))
        out += ["", f"line {line.line_code}: {line.metric_name}, "
                    f"{money(line.price)} per outcome; {horizon}", *_rows(rows)]
    return "\n".join(out)


def advice_text(advice, lang: str | None = None) -> str:
    """The allocation advice for a terminal: one block per contract, in the order the
    service gives them (by reference), never by performance. In `lang`, by default that
    of the contracts' currency."""
    currencies = {u.price.currency for u in advice.units}
    lang = formats.document_lang(currencies.pop() if len(currencies) == 1 else "", (), lang)
    pooled = ("no pooled rate: fewer than two contracts qualify"
              if advice.pooled_rate is None
              else f"pooled rate {percent(advice.pooled_rate, lang, 0)}")
    out = [f"advice on {advice.subject} ({advice.subject_kind}) as of {advice.as_of}: "
           f"{percent(advice.shift_share, lang, 0)} of a reviewed contract's volume may move; "
           + pooled,
           "contracts by reference, not ranked; a person decides and records why"]
    for u in advice.units:
        price = formats.money(u.price.amount, u.price.currency, lang)
        reprice = "no"
        if u.reprice:
            reprice = "yes: " + (u.reprice_reason or "far above the benchmark")
        rows = [("band", u.band), ("evidence", u.evidence),
                ("rate", f"{percent(u.rate, lang)} (95 %: "
                         f"{interval(u.rate_low, u.rate_high, lang)}), observed "
                         f"{count(u.observed, lang)} over {u.quarters} quarter"
                         + ("" if u.quarters == 1 else "s")),
                ("volume", "hidden: fewer people than may be shown" if u.volume is None
                 else f"{count(u.volume, lang)} next period, change "
                      f"{u.volume_change or 0:+d}"),
                ("price", price + ("" if u.benchmark_cost is None else
                                   "; benchmark cost per additional outcome "
                                   + formats.money(u.benchmark_cost.amount,
                                                   u.benchmark_cost.currency, lang))),
                ("reprice", reprice)]
        if u.decision is not None:
            rows.append(("decision", f"{u.decision.decision} by {u.decision.decided_by} "
                                     f"on {u.decision.decided_at:%Y-%m-%d}"))
        out += ["", f"{u.reference} · {u.provider_name} · line {u.line_code}",
                *_rows(rows)]
    if not advice.units:
        out += ["", "no contract pays for this outcome"]
    return "\n".join(out)
