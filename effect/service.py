"""What the money achieved: effect per contract, comparison across contracts, allocation
advice with the commissioner's decision, and the liability forecast.

Counts come from `effect.queries` (the database counts; pandas sums the fine grain); every
figure is computed by the pure modules (formulas, funnel, suppression, advice, forecast).
Access: a contract's parties see its effect in full; a partner of a partnership sees the
partnership's figures and its own part, not the other partners'. Anyone signed in sees a
comparison, in which contracts the caller is not a party to are shown with small cells
suppressed (`effect.suppression`), and a pooled rate that leaves out every contract with a
small cell, for everyone alike, so that it cannot give one back.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from uuid import UUID

import msgspec
import numpy as np
import pandas as pd

from contracts import service as contracts
from contracts.errors import Forbidden, Invalid, NotFound, Problem
from contracts.identity import Principal
from contracts.library import metrics_by_code
from contracts.money import Money
from contracts.schemas import ContractTerms, RateCardLine
from contracts.tables import AdviceDecision
from core.clock import now
from core.database import write_transaction
from core.ids import new_id
from core.settings import get_settings
from effect import advice as advice_rules
from effect import forecast as forecasting
from effect import formulas, funnel, queries, suppression
from effect.queries import DIMENSIONS, ContractInfo
from effect.schemas import (
    Advice,
    AdviceDecisionIn,
    AdviceDecisionOut,
    BaselineOut,
    ComparedUnit,
    Comparison,
    ContractEffect,
    ContractForecast,
    Figures,
    Forecast,
    FunnelLimits,
    LineEffect,
    Part,
    QuarterAmount,
    ScoreFigures,
    UnitAdvice,
)

COUNTS = ("enrolled", "observed", "achieved", "achieved_any", "accrued", "paid",
          "paid_people", "paid_observed")

METHOD = (
    "A participant counts as observed for a line once the line's horizon (days after "
    "enrolment) has passed, or, without a horizon, once its window from enrolment has closed; "
    "without either, every enrolled participant counts as observed and the rate is a lower "
    "bound until the claims deadline. The rate is the share of observed participants with a "
    "standing claim for the line (accepted, sampled, verified, approved or paid), with its "
    "95 % Wilson interval. Progress is the outcomes achieved against the agreed target. The "
    "uplift is the rate minus the baseline rate: against a comparison group of known size "
    "with Newcombe's interval for a difference of two proportions, against a fixed rate with "
    "the Wilson interval of the rate shifted by the baseline. Cost per outcome is the money "
    "paid on a line over the participants who achieved it; cost per additional outcome is the "
    "money paid over the outcomes beyond what the baseline predicts for the observed "
    "participants, and is undefined, not a number, when there is no baseline or no uplift."
)

DIMENSION_NAMES = {"age_band": "age band", "area": "area", "cohort": "cohort",
                   "quarter": "enrolment quarter", "provider": "provider"}


def _k() -> int:
    return get_settings().small_cell_k


def _today() -> dt.date:
    return now().date()


def _f(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def _i(value) -> int | None:
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else int(value)


def _money(value, currency: str) -> Money | None:
    """Whole minor units, rounded half up (a benchmark cost is a quotient)."""
    if value is None or value is pd.NA or math.isnan(float(value)):
        return None
    return Money(amount=math.floor(float(value) + 0.5), currency=currency)


def _figures(row: pd.Series, currency: str) -> Figures:
    get = row.get
    return Figures(
        enrolled=_i(get("enrolled")), observed=_i(get("observed")),
        achieved=_i(get("achieved")), rate=_f(get("rate")), rate_low=_f(get("rate_low")),
        rate_high=_f(get("rate_high")), target=_i(get("target")),
        progress=_f(get("progress")), baseline_rate=_f(get("baseline_rate")),
        uplift=_f(get("uplift")), uplift_low=_f(get("uplift_low")),
        uplift_high=_f(get("uplift_high")), uplift_method=str(get("uplift_method") or ""),
        additional=_f(get("additional")), accrued=_money(get("accrued"), currency),
        paid=_money(get("paid"), currency),
        cost_per_outcome=_money(get("cost_per_outcome"), currency),
        cost_per_outcome_undefined=str(get("cost_per_outcome_undefined") or ""),
        cost_per_additional=_money(get("cost_per_additional"), currency),
        cost_per_additional_undefined=str(get("cost_per_additional_undefined") or ""),
        suppressed=bool(get("suppressed", False)), suppression=str(get("suppression") or ""),
    )


def _line_terms(line: RateCardLine) -> dict:
    baseline = line.baseline
    return {
        "target": float(line.target) if line.target is not None else np.nan,
        "baseline_bp": float(baseline.rate_bp) if baseline is not None else np.nan,
        "baseline_n": float(baseline.n) if baseline is not None and baseline.n else np.nan,
    }


def _compute(rows: pd.DataFrame) -> pd.DataFrame:
    """Rates, effect and money for rows of counts (with target and baseline columns)."""
    out = formulas.rates(rows)
    # Cost per outcome: what was paid over the participants it was paid for. Cost per
    # additional outcome: what was paid for observed participants over the outcomes beyond
    # the baseline among them (recent successes, not yet observed, count in neither).
    per_outcome = formulas.money(out.assign(achieved=out["paid_people"]))
    per_additional = formulas.money(out.assign(paid=out["paid_observed"]))
    out["cost_per_outcome"] = per_outcome["cost_per_outcome"]
    out["cost_per_outcome_undefined"] = per_outcome["cost_per_outcome_undefined"]
    out["cost_per_additional"] = per_additional["cost_per_additional"]
    out["cost_per_additional_undefined"] = per_additional["cost_per_additional_undefined"]
    return out


def _lines_frame(infos: Sequence[ContractInfo], codes: set[str] | None = None
                 ) -> pd.DataFrame:
    """One row per contract and line (given `codes`, only outcome lines paying for one of
    them): its target and baseline, for `formulas.rates`."""
    rows = [{"contract": str(info.id), "line": line.code, "order": i, **_line_terms(line)}
            for info in infos for i, line in enumerate(info.terms.rate_card)
            if codes is None or (line.kind == "outcome" and line.metric_code in codes)]
    return pd.DataFrame(rows, columns=["contract", "line", "order", "target", "baseline_bp",
                                       "baseline_n"])


def table(grain: pd.DataFrame, lines: pd.DataFrame, dimensions: Sequence[str]) -> pd.DataFrame:
    """For every line of `lines`: its total row (dimension "") and one row per value of each
    dimension, with rates, effect and money computed for all rows at once."""
    keys = ["contract", "line"]
    counts = list(COUNTS)
    grain = grain.merge(lines[keys], on=keys) if len(grain) else grain
    total = lines[keys].merge(grain.groupby(keys, sort=False)[counts].sum().reset_index(),
                              on=keys, how="left")
    total[counts] = total[counts].fillna(0)
    total["dimension"], total["value"] = "", ""
    frames = [total]
    for dim in dimensions:
        part = grain.groupby([*keys, dim], sort=True)[counts].sum().reset_index()
        frames.append(part.rename(columns={dim: "value"}).assign(dimension=dim))
    rows = pd.concat(frames, ignore_index=True)
    for name in counts:
        rows[name] = rows[name].astype("int64")
    rows = rows.merge(lines, on=keys, how="left")
    rows["target"] = np.where(rows["dimension"] == "", rows["target"], np.nan)
    return _compute(rows)


def _suppressed_tables(rows: pd.DataFrame, k: int) -> pd.DataFrame:
    """Suppress small cells in each dimension's table, the total being every table's total
    (a total hidden in one table is hidden in all)."""
    total = rows[rows["dimension"] == ""]
    tables = []
    for dim in [d for d in rows["dimension"].unique() if d]:
        table = pd.concat([total, rows[rows["dimension"] == dim]], ignore_index=True)
        table["is_total"] = table["dimension"] == ""
        table["group"] = dim
        tables.append(suppression.suppress(table, k=k))
    if not tables:
        one = total.assign(is_total=True, group="")
        return suppression.suppress(one, k=k).drop(columns=["is_total", "group"])
    totals = [t[t["is_total"]] for t in tables]
    hidden_total = pd.concat(totals, ignore_index=True)
    # The most hidden version of the total, so that no table shows what another hides.
    worst = hidden_total.loc[[hidden_total.isna().sum(axis=1).idxmax()]]
    parts = [t[~t["is_total"]] for t in tables]
    out = pd.concat([worst, *parts], ignore_index=True)
    return out.drop(columns=["is_total", "group"])


async def _metric_names(codes: set[str]) -> dict[str, object]:
    return await metrics_by_code(codes)


async def _scope(principal: Principal, info: ContractInfo) -> str | None:
    """The provider whose part a partner may see; None when the caller sees every part."""
    scope = await contracts.provider_scope(principal, {"provider": info.provider_id})
    return None if scope is None else str(scope)


# Effect of one contract --------------------------------------------------------------------


async def contract_effect(principal: Principal, contract_id: UUID, *,
                          as_of: dt.date | None = None) -> ContractEffect:
    await contracts.relation(principal, contract_id)
    as_of = as_of or _today()
    infos = await queries.contracts([contract_id], include_drafts=True)
    info = infos[0]
    grain = await queries.counts(infos, as_of)
    scores = await queries.score_values(infos)
    metrics = await _metric_names({line.metric_code for line in info.terms.rate_card})
    scope = await _scope(principal, info)
    names = await queries.organisation_names(
        [UUID(p) for p in grain["provider"].unique() if p])
    return build_contract_effect(info, grain, scores, metrics, as_of=as_of, scope=scope,
                                 provider_names=names)


def build_contract_effect(info: ContractInfo, grain: pd.DataFrame, scores: pd.DataFrame,
                          metrics: dict, *, as_of: dt.date, scope: str | None = None,
                          provider_names: dict[str, str] | None = None,
                          rows: pd.DataFrame | None = None) -> ContractEffect:
    """The effect figures of one contract from its counts (no database); `rows`, the
    contract's part of `table`, when the caller computed it for many contracts at once."""
    currency = info.currency
    grain = grain[grain["contract"] == str(info.id)]
    if rows is None:
        rows = table(grain, _lines_frame([info]), DIMENSIONS)
    if not info.terms.partners:
        rows = rows[rows["dimension"] != "provider"]
    elif scope is not None:
        rows = rows[(rows["dimension"] != "provider") | (rows["value"] == scope)]
    by_line: dict[str, list[dict]] = {}
    for r in rows.to_dict("records"):
        by_line.setdefault(r["line"], []).append(r)
    lines = []
    for line in info.terms.rate_card:
        records = by_line.get(line.code, [])
        total = next(r for r in records if r["dimension"] == "")
        parts = []
        for r in records:
            if r["dimension"] == "":
                continue
            value = str(r["value"])
            if r["dimension"] == "provider":
                value = (provider_names or {}).get(value, value)
            parts.append(Part(dimension=str(r["dimension"]), value=value or "(not given)",
                              figures=_figures(r, currency)))
        metric = metrics.get(line.metric_code)
        score = None
        if line.threshold is not None:
            values = scores[(scores["contract"] == str(info.id)) & (scores["line"] == line.code)]
            direction = getattr(metric, "direction", "increase")
            s = formulas.score_change(values["value"].to_numpy(dtype=float),
                                      float(line.threshold), direction)
            score = ScoreFigures(n=int(s["n"]), mean=_f(s["mean"]), low=_f(s["low"]),
                                 high=_f(s["high"]), threshold=str(line.threshold))
        baseline = line.baseline
        lines.append(LineEffect(
            line_code=line.code, metric_code=line.metric_code,
            metric_name=getattr(metric, "name", line.metric_code), kind=line.kind,
            price=line.price, horizon_days=queries.horizon(line),
            baseline=BaselineOut(kind=baseline.kind, rate=baseline.rate_bp / 10_000,
                                 source=baseline.source, n=baseline.n) if baseline else None,
            total=_figures(total, currency), score=score, parts=parts))
    accrued = int(grain["accrued"].sum()) if len(grain) else 0
    paid = int(grain["paid"].sum()) if len(grain) else 0
    cap = info.terms.cap.amount
    return ContractEffect(
        contract_id=info.id, reference=info.reference, title=info.title,
        provider_name=info.provider_name, currency=currency, status=info.status, as_of=as_of,
        committed=Money(amount=cap if info.status != "draft" else 0, currency=currency),
        accrued=Money(amount=accrued, currency=currency),
        paid=Money(amount=paid, currency=currency),
        cap=Money(amount=cap, currency=currency), lines=lines, method=METHOD,
        undefined=dict(formulas.UNDEFINED))


# Comparison across contracts ---------------------------------------------------------------


async def _subject(subject: str) -> tuple[str, list[str]]:
    kind, codes = await queries.metric_codes_for(subject)
    if not codes:
        raise NotFound(f"{subject} is neither a metric nor a category of the metric library",
                       code="subject_not_found")
    return kind, codes


async def _read(subject: str, as_of: dt.date
                ) -> tuple[str, list[str], list[ContractInfo], pd.DataFrame]:
    """What a comparison or advice on `subject` is computed from: its kind and metric
    codes, the contracts paying for them and their counts."""
    kind, codes = await _subject(subject)
    infos = await queries.contracts(metric_codes=codes)
    return kind, codes, infos, await queries.counts(infos, as_of, set(codes))


async def _own_contracts(principal: Principal) -> set[str]:
    if principal.is_admin:
        return {"*"}
    if principal.organisation_id is None:
        return set()
    return set(await queries.party_contracts(principal.organisation_id))


def _unit_rows(infos: Sequence[ContractInfo], grain: pd.DataFrame, codes: set[str],
               by: str | None) -> pd.DataFrame:
    """One row per contract and outcome line paying for one of `codes` (the unit's total)
    and, given `by`, one row per value of that dimension under it."""
    lines = _lines_frame(infos, codes)
    if lines.empty:
        return pd.DataFrame()
    rows = table(grain, lines, [by] if by else [])
    rows = rows.sort_values(["order"], kind="stable")
    rows["unit"] = rows["contract"] + "/" + rows["line"]
    # Contracts in reference order (infos are), each unit's total first.
    position = {str(info.id): i for i, info in enumerate(infos)}
    rows["_at"] = rows["contract"].map(position)
    rows["_part"] = rows["dimension"] != ""
    rows = rows.sort_values(["_at", "order", "_part"], kind="stable")
    return rows.drop(columns=["_at", "_part"]).reset_index(drop=True)


def _quarters_observed(grain: pd.DataFrame) -> pd.Series:
    seen = grain[grain["observed"] > 0]
    return seen.groupby(["contract", "line"])["quarter"].nunique()


def _safe(x: np.ndarray, n: np.ndarray, k: int) -> np.ndarray:
    """Units whose counts hold no small cell: they alone make the pooled rate."""
    return (n >= k) & ((x == 0) | (x >= k)) & ((n - x == 0) | (n - x >= k))


async def comparison(principal: Principal, subject: str, *, by: str | None = None,
                     as_of: dt.date | None = None) -> Comparison:
    if by is not None and by not in ("age_band", "area", "cohort", "quarter"):
        raise Invalid("unknown breakdown", code="invalid_field", problems=[Problem(
            code="invalid_field", field="by",
            message="break down by age_band, area, cohort or quarter")])
    as_of = as_of or _today()
    kind, codes, infos, grain = await _read(subject, as_of)
    own = await _own_contracts(principal)
    return build_comparison(subject, kind, codes, infos, grain, own=own, by=by, as_of=as_of,
                            k=_k())


def build_comparison(subject: str, kind: str, codes: list[str],
                     infos: Sequence[ContractInfo], grain: pd.DataFrame, *, own: set[str],
                     by: str | None, as_of: dt.date, k: int) -> Comparison:
    rows = _unit_rows(infos, grain, set(codes), by)
    by_id = {str(i.id): i for i in infos}
    if rows.empty:
        return Comparison(subject=subject, subject_kind=kind, metric_codes=codes, as_of=as_of,
                          small_cell_k=k, pooled_rate=None, over_dispersion=None, tau2=None,
                          units=[], method=funnel_method(k))
    totals = rows[rows["dimension"] == ""].reset_index(drop=True)
    x = totals["achieved"].to_numpy(dtype=float)
    n = totals["observed"].to_numpy(dtype=float)
    safe = _safe(x, n, k)
    fit = funnel.fit(x[safe], n[safe]) if safe.any() else None
    placed = funnel.place(pd.DataFrame({"x": x, "n": n}), fit) if fit is not None else None
    units = []
    for i, total in totals.iterrows():
        contract = total["contract"]
        info = by_id[contract]
        mine = "*" in own or contract in own
        unit_rows = rows[rows["unit"] == total["unit"]]
        if not mine:
            unit_rows = _suppressed_tables(unit_rows, k)
        shown = unit_rows[unit_rows["dimension"] == ""].iloc[0]
        line = next(li for li in info.terms.rate_card if li.code == total["line"])
        position = limits = None
        hidden = bool(shown.get("suppressed", False))
        if placed is not None and not (hidden and not mine) and not np.isnan(placed["p"][i]):
            p = placed.iloc[i]
            position = str(p["position"]) if p["position"] is not None else None
            limits = FunnelLimits(low95=_f(p["low95"]), high95=_f(p["high95"]),
                                  low998=_f(p["low998"]), high998=_f(p["high998"]))
        parts = [Part(dimension=str(r["dimension"]), value=str(r["value"]) or "(not given)",
                      figures=_figures(r, info.currency))
                 for _, r in unit_rows[unit_rows["dimension"] != ""].iterrows()]
        units.append(ComparedUnit(
            contract_id=info.id, reference=info.reference, provider_name=info.provider_name,
            line_code=line.code, metric_code=line.metric_code, price=line.price,
            figures=_figures(shown, info.currency), position=position, limits=limits,
            own=mine, parts=parts))
    return Comparison(
        subject=subject, subject_kind=kind, metric_codes=codes, as_of=as_of, small_cell_k=k,
        pooled_rate=_f(fit.p0) if fit else None, over_dispersion=_f(fit.phi) if fit else None,
        tau2=_f(fit.tau2) if fit else None, units=units, method=funnel_method(k))


def funnel_method(k: int) -> str:
    return (
        "Contracts are placed on a funnel plot (Spiegelhalter 2005) around the pooled rate "
        "of the contracts compared, with control limits at 95 % and 99.8 % that narrow as the"
        " number of observed participants grows; from ten contracts up the limits are widened"
        " for the real differences between contracts (additive over-dispersion from z-scores "
        "winsorised at 10 % each side). Units are listed by contract reference: the order "
        "among contracts inside the limits is noise, so Virker never ranks them. Outside a "
        f"contract's own parties, a figure about fewer than {k} people is suppressed together"
        " with every figure derived from it, and a second figure where a total would give the"
        " first back; the pooled rate leaves out every contract with such a small cell, for "
        "every reader alike."
    )


# Allocation advice -------------------------------------------------------------------------


def _volume(grain: pd.DataFrame, contract: str, line: str, as_of: dt.date) -> int:
    """Next period's volume: participants enrolled in the last four quarters."""
    rows = grain[(grain["contract"] == contract) & (grain["line"] == line)]
    first = pd.Period(as_of, freq="Q") - 3
    recent = rows[rows["quarter"] >= f"{first.year}Q{first.quarter}"]
    return int(recent["enrolled"].sum())


async def advise(principal: Principal, subject: str, *, shift_share: float = 0.10,
                 as_of: dt.date | None = None) -> Advice:
    if not principal.is_admin and principal.role != "commissioner":
        raise Forbidden("advice on allocation is for commissioners", code="commissioner_only")
    if not advice_rules.SHIFT_SHARE_MIN <= shift_share <= advice_rules.SHIFT_SHARE_MAX:
        raise Invalid("the shift is out of bounds", code="invalid_field", problems=[Problem(
            code="invalid_field", field="shift",
            message="move between 5 % and 10 % of a reviewed contract's volume (0.05–0.10)")])
    as_of = as_of or _today()
    kind, codes, infos, grain = await _read(subject, as_of)
    own = await _own_contracts(principal)
    decisions = await _latest_decisions(subject)
    return build_advice(subject, kind, infos, grain, codes=codes, own=own,
                        shift_share=shift_share, as_of=as_of, k=_k(), decisions=decisions)


async def comparison_and_advice(principal: Principal, subject: str, *, by: str | None = None,
                                shift_share: float = 0.10, as_of: dt.date | None = None
                                ) -> tuple[Comparison, Advice | None]:
    """`comparison` and, for those `advise` serves (commissioners, administrators), `advise`
    from one read of the contracts and their counts: the same figures as the two calls, for
    a page that shows both (the advice is None for everyone else)."""
    if by is not None and by not in ("age_band", "area", "cohort", "quarter"):
        raise Invalid("unknown breakdown", code="invalid_field", problems=[Problem(
            code="invalid_field", field="by",
            message="break down by age_band, area, cohort or quarter")])
    advising = principal.is_admin or principal.role == "commissioner"
    if advising and not advice_rules.SHIFT_SHARE_MIN <= shift_share <= \
            advice_rules.SHIFT_SHARE_MAX:
        raise Invalid("the shift is out of bounds", code="invalid_field", problems=[Problem(
            code="invalid_field", field="shift",
            message="move between 5 % and 10 % of a reviewed contract's volume (0.05–0.10)")])
    as_of = as_of or _today()
    kind, codes, infos, grain = await _read(subject, as_of)
    own = await _own_contracts(principal)
    k = _k()
    compared = build_comparison(subject, kind, codes, infos, grain, own=own, by=by,
                                as_of=as_of, k=k)
    if not advising:
        return compared, None
    decisions = await _latest_decisions(subject)
    return compared, build_advice(subject, kind, infos, grain, codes=codes, own=own,
                                  shift_share=shift_share, as_of=as_of, k=k,
                                  decisions=decisions)


def build_advice(subject: str, kind: str, infos: Sequence[ContractInfo], grain: pd.DataFrame,
                 *, codes: list[str], own: set[str], shift_share: float, as_of: dt.date,
                 k: int, decisions: dict[str, AdviceDecisionOut] | None = None) -> Advice:
    rows = _unit_rows(infos, grain, set(codes), None)
    by_id = {str(i.id): i for i in infos}
    if rows.empty:
        return Advice(subject=subject, subject_kind=kind, as_of=as_of, shift_share=shift_share,
                      pooled_rate=None, units=[], method=advice_rules.METHOD)
    quarters = _quarters_observed(grain)
    units = rows.reset_index(drop=True)
    keys = list(zip(units["contract"], units["line"], strict=True))
    frame = pd.DataFrame({
        "unit": units["unit"], "x": units["achieved"], "n": units["observed"],
        "quarters": [int(quarters.get(key, 0)) for key in keys],
        "volume": [_volume(grain, c, li, as_of) for c, li in keys],
        "price": [next(x.price.amount for x in by_id[c].terms.rate_card if x.code == li)
                  for c, li in keys],
        "paid": units["paid_observed"], "additional": units["additional"],
        "currency": [by_id[c].currency for c in units["contract"]],
        # A contract with a small cell stays out of the pooled rate and the benchmark, for
        # every reader alike, so that neither can give the cell back.
        "pooled": _safe(units["achieved"].to_numpy(float), units["observed"].to_numpy(float),
                        k),
    })
    advised = advice_rules.advise(frame, shift_share=shift_share)
    eligible = (advised["band"] != "insufficient_evidence") & frame["pooled"]
    pooled = None
    if eligible.sum() >= 2:
        pooled = float(advised.loc[eligible, "x"].sum() / advised.loc[eligible, "n"].sum())
    out = []
    for i, r in advised.iterrows():
        contract = units.loc[i, "contract"]
        info = by_id[contract]
        mine = "*" in own or contract in own
        hide = not bool(frame["pooled"][i]) and not mine
        volume = int(r["volume"])
        few = 0 < volume < k and not mine
        price = Money(amount=int(r["price"]), currency=info.currency)
        out.append(UnitAdvice(
            contract_id=info.id, reference=info.reference, provider_name=info.provider_name,
            line_code=units.loc[i, "line"], band=str(r["band"]),
            evidence=(f"suppressed: fewer than {k} people in a figure" if hide
                      else str(r["evidence"])),
            rate=None if hide else _f(r["p"]), rate_low=None if hide else _f(r["rate_low"]),
            rate_high=None if hide else _f(r["rate_high"]),
            observed=None if hide else _i(r["n"]), quarters=int(r["quarters"]),
            volume=None if few else volume,
            volume_change=None if few else int(r["volume_change"]), price=price,
            benchmark_cost=_money(r["benchmark_cost"], info.currency),
            reprice=bool(r["reprice"]), reprice_reason=str(r["reprice_reason"] or ""),
            own=mine, decision=(decisions or {}).get(contract) if mine else None))
    return Advice(subject=subject, subject_kind=kind, as_of=as_of, shift_share=shift_share,
                  pooled_rate=None if pooled is None else round(pooled, 2), units=out,
                  method=advice_rules.METHOD)


def draft_terms(terms: ContractTerms, line_code: str, volume: int, change: int
                ) -> ContractTerms | None:
    """The variation Virker drafts when a commissioner accepts advice to move `change`
    participants of next period's volume: the line's target and maximum count, and the
    contract's cap, scaled by (volume + change) / volume. None when nothing moves."""
    if change == 0 or volume <= 0:
        return None
    factor = (volume + change) / volume

    def scaled(value: int | None) -> int | None:
        return None if value is None else max(1, round(value * factor))

    lines = []
    for line in terms.rate_card:
        if line.code == line_code:
            line = msgspec.structs.replace(line, target=scaled(line.target),
                                           max_count=scaled(line.max_count))
        lines.append(line)
    cap = msgspec.structs.replace(terms.cap, amount=max(1, round(terms.cap.amount * factor)))
    return msgspec.structs.replace(terms, rate_card=lines, cap=cap)


def _decision_out(r: dict) -> AdviceDecisionOut:
    draft = r.get("draft_terms")
    return AdviceDecisionOut(
        id=r["id"], contract_id=r["contract"], subject=r["subject"], decision=r["decision"],
        band=r["band"], justification=r["justification"],
        draft_terms=contracts.decode_terms(draft) if draft else None,
        decided_by=r["decided_by"], organisation_id=r["organisation"],
        decided_at=r["decided_at"])


async def _latest_decisions(subject: str) -> dict[str, AdviceDecisionOut]:
    rows = await AdviceDecision.select().where(AdviceDecision.subject == subject).order_by(
        AdviceDecision.decided_at)
    return {str(r["contract"]): _decision_out(r) for r in rows}


async def list_decisions(principal: Principal, subject: str) -> list[AdviceDecisionOut]:
    if not principal.is_admin and principal.role != "commissioner":
        raise Forbidden("advice on allocation is for commissioners", code="commissioner_only")
    own = await _own_contracts(principal)
    rows = await AdviceDecision.select().where(AdviceDecision.subject == subject).order_by(
        AdviceDecision.decided_at)
    return [_decision_out(r) for r in rows if "*" in own or str(r["contract"]) in own]


async def decide(principal: Principal, subject: str, data: AdviceDecisionIn
                 ) -> AdviceDecisionOut:
    """Record a commissioner's decision on the advice for one of its contracts, with who
    and when: accepted (with the drafted variation to review and propose) or overridden
    with a written justification."""
    await contracts.require_role(principal, data.contract_id, "commissioner")
    if data.decision == "override" and len(data.justification.strip()) < 10:
        raise Invalid("an override needs its reason", code="justification_required",
                      problems=[Problem(code="justification_required", field="justification",
                                        message="say in a sentence why the advice is not "
                                                "followed (at least 10 characters)")])
    advice = await advise(principal, subject, shift_share=data.shift)
    unit = next((u for u in advice.units if u.contract_id == data.contract_id), None)
    if unit is None:
        raise NotFound(f"no advice on {subject} for this contract", code="advice_not_found")
    draft = None
    if data.decision == "accept":
        terms = await queries.latest_version_terms(data.contract_id)
        drafted = draft_terms(terms, unit.line_code, unit.volume or 0, unit.volume_change or 0)
        draft = msgspec.json.encode(drafted).decode() if drafted is not None else None
    row = AdviceDecision(
        id=new_id(), contract=data.contract_id, subject=subject,
        decision="accepted" if data.decision == "accept" else "overridden", band=unit.band,
        advice=msgspec.json.encode(unit).decode(), justification=data.justification,
        draft_terms=draft, organisation=principal.organisation_id,
        decided_by=principal.label, decided_at=now())
    async with write_transaction():
        await row.save()
    return _decision_out(row.to_dict())


# Liability forecast ------------------------------------------------------------------------


def _window_end(line: RateCardLine, terms: ContractTerms) -> int | None:
    """Days from enrolment to the end of the line's window, or None (until the deadline)."""
    if line.window is None:
        return None
    if line.window.anchor == "enrolment":
        return line.window.end_day
    prerequisite = next((x for x in terms.rate_card if x.metric_code == line.prerequisite_metric
                         and x.window is not None and x.window.anchor == "enrolment"), None)
    if prerequisite is None:
        return None
    return prerequisite.window.end_day + line.window.end_day


def _quarter(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def forecast_inputs(infos: Sequence[ContractInfo], open_frame: pd.DataFrame,
                    grain: pd.DataFrame, today: dt.date
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The open rows, contract caps and line caps `effect.forecast` takes."""
    open_rows, caps, line_caps = [], [], []
    for info in infos:
        cid = str(info.id)
        mine = grain[grain["contract"] == cid]
        caps.append({"contract": cid,
                     "remaining": max(0, info.terms.cap.amount - int(mine["accrued"].sum()))})
        deadline = info.terms.claims_deadline
        for line in info.terms.rate_card:
            if line.kind != "outcome":
                continue
            counts = mine[mine["line"] == line.code]
            observed, achieved = int(counts["observed"].sum()), int(counts["achieved"].sum())
            enrolled = int(counts["enrolled"].sum())
            if observed >= 30 or line.target is None:
                p = achieved / observed if observed else 0.0
            else:
                p = min(1.0, line.target / max(enrolled, 1))
            accrued = int(counts["accrued"].sum())
            remaining = np.nan
            if line.max_amount is not None:
                remaining = max(0, line.max_amount.amount - accrued)
            elif line.max_count is not None:
                remaining = max(0, line.max_count * line.price.amount - accrued)
            line_caps.append({"contract": cid, "line": line.code, "remaining": remaining})
            days = _window_end(line, info.terms)
            rows = open_frame[(open_frame["contract"] == cid) & (open_frame["line"] == line.code)]
            if rows.empty:
                continue
            ends = [min(deadline, e + dt.timedelta(days=days)) if days is not None
                    else deadline for e in rows["enrolled_on"]]
            frame = pd.DataFrame({"end": ends, "open": rows["open"].to_numpy()})
            frame = frame[frame["end"] >= today]
            if frame.empty:
                continue
            frame["quarter"] = [_quarter(d) for d in frame["end"]]
            for quarter, count in frame.groupby("quarter")["open"].sum().items():
                open_rows.append({"contract": cid, "line": line.code, "quarter": quarter,
                                  "open": int(count), "p": p, "price": line.price.amount})
    return (pd.DataFrame(open_rows, columns=["contract", "line", "quarter", "open", "p",
                                             "price"]),
            pd.DataFrame(caps, columns=["contract", "remaining"]),
            pd.DataFrame(line_caps, columns=["contract", "line", "remaining"]))


def _amounts(frame: pd.DataFrame, currency: str) -> list[QuarterAmount]:
    return [QuarterAmount(quarter=str(r["quarter"]),
                          expected=Money(amount=int(r["expected"]), currency=currency),
                          p90=Money(amount=int(r["p90"]), currency=currency),
                          cumulative_expected=Money(amount=int(r["cumulative_expected"]),
                                                    currency=currency),
                          cumulative_p90=Money(amount=int(r["cumulative_p90"]),
                                               currency=currency))
            for _, r in frame.sort_values("quarter").iterrows()]


async def liability_forecast(principal: Principal, *, contract_id: UUID | None = None,
                             organisation_id: UUID | None = None) -> Forecast:
    """Outcome payments still to come: for one contract (any party), or for a commissioner
    across the contracts it pays for (its own organisation; administrators name one)."""
    today = _today()
    owner = None
    if contract_id is not None:
        await contracts.relation(principal, contract_id)
        infos = await queries.contracts([contract_id])
        weights = None
    else:
        if principal.is_admin:
            owner = organisation_id
        elif principal.role == "commissioner":
            if organisation_id not in (None, principal.organisation_id):
                raise Forbidden("a commissioner sees its own portfolio",
                                code="not_your_organisation")
            owner = principal.organisation_id
        else:
            raise Forbidden("a portfolio forecast is for commissioners; providers and auditors"
                            " ask for one contract's", code="commissioner_only")
        if owner is None:
            raise Invalid("name the commissioner", code="invalid_field", problems=[Problem(
                code="invalid_field", field="organisation_id",
                message="an administrator names the commissioner whose portfolio to forecast")])
        parties = await queries.party_contracts(owner)
        ids = [UUID(c) for c, roles in parties.items() if "commissioner" in roles]
        infos = [i for i in await queries.contracts(ids) if i.status in ("active", "suspended")]
        weights = pd.DataFrame(
            [{"contract": str(i.id), "owner": str(owner),
              "share": next((c.share_bp for c in i.terms.commissioners
                             if c.organisation_id == owner), 0) / 10_000} for i in infos],
            columns=["contract", "owner", "share"])
    infos = [i for i in infos if i.status in ("active", "suspended")]
    grain = await queries.counts(infos, today)
    open_frame = await queries.open_windows(infos, today)
    return build_forecast(infos, grain, open_frame, today=today, weights=weights,
                          owner=owner)


def build_forecast(infos: Sequence[ContractInfo], grain: pd.DataFrame, open_frame: pd.DataFrame,
                   *, today: dt.date, weights: pd.DataFrame | None,
                   owner: UUID | None) -> Forecast:
    open_rows, caps, line_caps = forecast_inputs(infos, open_frame, grain, today)
    per_contract = forecasting.forecast(open_rows, caps, line_caps)
    contracts_out = []
    for info in infos:
        rows = per_contract[per_contract["contract"] == str(info.id)]
        remaining = caps.loc[caps["contract"] == str(info.id), "remaining"]
        contracts_out.append(ContractForecast(
            contract_id=info.id, reference=info.reference, currency=info.currency,
            remaining_cap=Money(amount=int(remaining.iloc[0]) if len(remaining) else 0,
                                currency=info.currency),
            quarters=_amounts(rows, info.currency)))
    currencies = {i.currency for i in infos}
    currency = currencies.pop() if len(currencies) == 1 else None
    portfolio: list[QuarterAmount] = []
    if weights is not None and currency is not None and len(weights):
        joint = forecasting.portfolio(open_rows, caps, weights, line_caps=line_caps)
        portfolio = _amounts(joint, currency)
    return Forecast(as_of=today, organisation_id=owner, currency=currency,
                    contracts=contracts_out, portfolio=portfolio,
                    method=forecasting.METHOD + " " + FORECAST_RATES)


FORECAST_RATES = (
    "The chance that a participant whose window is still open achieves the outcome is the "
    "line's observed rate, or, while fewer than 30 participants are observed, the agreed "
    "target over the participants enrolled. A participant counts once per line; a window "
    "counted from a prerequisite outcome is taken to close at the sum of both windows, and "
    "every window closes at the claims deadline at the latest."
)


# A commissioner's portfolio ----------------------------------------------------------------


async def portfolio_effect(principal: Principal, *, organisation_id: UUID | None = None,
                           as_of: dt.date | None = None) -> list[ContractEffect]:
    """The effect of every contract an organisation is a party to (its own; administrators
    name one, or see every contract), counted in one query."""
    as_of = as_of or _today()
    if principal.is_admin:
        ids = None
        if organisation_id is not None:
            ids = [UUID(c) for c in await queries.party_contracts(organisation_id)]
    else:
        if organisation_id not in (None, principal.organisation_id):
            raise Forbidden("you see your own organisation's portfolio",
                            code="not_your_organisation")
        ids = [UUID(c) for c, roles in
               (await queries.party_contracts(principal.organisation_id)).items()
               if principal.role in roles]
    infos = await queries.contracts(ids)
    grain = await queries.counts(infos, as_of)
    scores = await queries.score_values(infos)
    metrics = await _metric_names({line.metric_code for i in infos
                                   for line in i.terms.rate_card})
    names = await queries.organisation_names(
        [UUID(p) for p in grain["provider"].unique() if p])
    rows = table(grain, _lines_frame(infos), DIMENSIONS)
    rows_of = dict(tuple(rows.groupby("contract", sort=False))) if len(rows) else {}
    grain_of = dict(tuple(grain.groupby("contract", sort=False))) if len(grain) else {}
    out = []
    for info in infos:
        scope = await _scope(principal, info)
        key = str(info.id)
        out.append(build_contract_effect(
            info, grain_of.get(key, grain.iloc[0:0]), scores, metrics, as_of=as_of,
            scope=scope, provider_names=names, rows=rows_of.get(key, rows.iloc[0:0])))
    return out
