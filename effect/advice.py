"""Funding follows effect: Virker's advice to a commissioner on volumes and prices.

The advice rule is a design choice of Virker, modelled on the UK Work Programme's market share
shift. It is advice, never a decision: a person decides and records the reason. The output
keeps the order it was given and is never a ranking.

Pure: numpy, pandas, statsmodels and the funnel in effect.funnel.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from effect import funnel

BANDS = ("expand", "maintain", "review", "insufficient_evidence")
MIN_OBSERVED = 30
MIN_QUARTERS = 2
SHIFT_SHARE_MIN = 0.05
SHIFT_SHARE_MAX = 0.10

REQUIRED = ("unit", "x", "n", "quarters", "volume", "price", "paid", "additional")

METHOD = (
    "Virker compares contracts that deliver the same outcome with a funnel plot "
    "(Spiegelhalter 2005), not a league table: the order among contracts inside the limits is"
    " noise. The pooled rate is the sum of outcomes achieved over the sum of observed "
    "participants, counting only participants whose observation period has passed. Control "
    "limits at 95 % and 99.8 % narrow as a contract's number of observed participants grows, "
    "and are widened for the real differences between contracts (additive over-dispersion "
    "estimated from z-scores winsorised at 10 % each side) when at least ten contracts are "
    "compared; with fewer, that spread would be estimated from the very contracts being "
    "judged, so the plain binomial limits are drawn and the over-dispersion factor is only "
    "reported. A contract is compared only when it "
    f"has at least {MIN_OBSERVED} observed participants over at least {MIN_QUARTERS} enrolment"
    " quarters, and only when at least two contracts qualify; otherwise the advice is "
    "'insufficient evidence'. A contract above the upper 95 % limit is advised to expand, one"
    " below the lower 99.8 % limit to be reviewed, and every other contract to be maintained."
    f" Between {100 * SHIFT_SHARE_MIN:.0f} % and {100 * SHIFT_SHARE_MAX:.0f} % of each reviewed "
    "contract's next-period volume "
    "may move to the expanding contracts in proportion to their volume, so total volume stays"
    " the same; nothing moves unless there is both a contract to expand and one to review. "
    "The benchmark cost per additional outcome is the payments made to eligible contracts "
    "with a positive number of additional outcomes (achieved minus what the baseline "
    "predicts), divided by those additional outcomes; a price per outcome far above it (by "
    "default more than 1.5 times) is flagged for repricing. This is advice: a person decides,"
    " and the reason for the decision is recorded."
)


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def _pct_range(low: float, high: float) -> str:
    return f"{100 * low:.0f}–{100 * high:.0f} %"


def _money(minor: float, currency: str | None) -> str:
    text = f"{minor / 100:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} {currency}" if currency else text


def _quarters(q: int) -> str:
    return f"{q} quarter" if q == 1 else f"{q} quarters"


def _contracts(k: int) -> str:
    return "1 eligible contract" if k == 1 else f"{k} eligible contracts"


def _shift(volume: np.ndarray, band: np.ndarray, shift_share: float) -> np.ndarray:
    """Volume changes: review contracts give up a share, expand contracts take it in
    proportion to their volume (largest remainder, earlier rows first on ties). Sums to 0."""
    change = np.zeros(volume.size, dtype=np.int64)
    review = np.flatnonzero(band == "review")
    expand = np.flatnonzero(band == "expand")
    expand_volume = int(volume[expand].sum()) if expand.size else 0
    if review.size == 0 or expand.size == 0 or expand_volume <= 0:
        return change
    given = [round(shift_share * int(volume[i])) for i in review]
    total = sum(given)
    for i, amount in zip(review, given, strict=True):
        change[i] = -amount
    floors = [total * int(volume[i]) // expand_volume for i in expand]
    remainders = sorted(
        ((total * int(volume[i]) % expand_volume, -k) for k, i in enumerate(expand)),
        reverse=True,
    )
    for _, neg_k in remainders[: total - sum(floors)]:
        floors[-neg_k] += 1
    for i, amount in zip(expand, floors, strict=True):
        change[i] = amount
    return change


def advise(
    units: pd.DataFrame, *, shift_share: float = 0.10, price_factor: float = 1.5
) -> pd.DataFrame:
    """Advise expand, maintain, review or insufficient_evidence for each contract.

    `units` has one row per contract delivering the same metric: unit, x (achieved among
    observed), n (observed), quarters (enrolment quarters with observed participants), volume
    (next period's referrals), price and paid (minor units), additional (achieved minus the
    baseline's prediction, NaN without a baseline); an optional `currency` column is used in
    the repricing sentence, an optional `pooled` column (bool) names the units that may make
    the pooled rate and the benchmark (all by default). Returns a copy in the same order with
    band, p, the funnel limits, rate_low and rate_high (Wilson 95 %), evidence, volume_change,
    benchmark_cost, reprice and reprice_reason added. See METHOD.
    """
    if not SHIFT_SHARE_MIN <= shift_share <= SHIFT_SHARE_MAX:
        raise ValueError(
            f"shift_share must be between {SHIFT_SHARE_MIN} and {SHIFT_SHARE_MAX}, "
            f"got {shift_share}"
        )
    if not price_factor > 0:
        raise ValueError(f"price_factor must be positive, got {price_factor}")
    missing = [column for column in REQUIRED if column not in units.columns]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")

    out = units.copy()
    x = out["x"].to_numpy(dtype=float)
    n = out["n"].to_numpy(dtype=float)
    quarters = out["quarters"].to_numpy(dtype=float)
    if np.any(n < 0) or np.any(x < 0) or np.any(x > n):
        raise ValueError("need 0 <= x <= n for every contract")
    observed = n > 0
    eligible = (n >= MIN_OBSERVED) & (quarters >= MIN_QUARTERS)
    # Units that may make the pooled rate and the benchmark (the caller leaves out those
    # whose small cells the pooled figures could give back); all by default.
    pool = (out["pooled"].to_numpy(dtype=bool) if "pooled" in out.columns
            else np.ones(n.size, dtype=bool))
    compared = int((eligible & pool).sum()) >= 2  # nothing to compare with otherwise

    p = np.full(n.size, np.nan)
    p[observed] = x[observed] / n[observed]
    rate_low = np.full(n.size, np.nan)
    rate_high = np.full(n.size, np.nan)
    if observed.any():
        low, high = proportion_confint(x[observed], n[observed], alpha=0.05, method="wilson")
        rate_low[observed] = np.asarray(low, dtype=float)
        rate_high[observed] = np.asarray(high, dtype=float)

    nan = np.full(n.size, np.nan)
    low95, high95, low998, high998 = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    band = np.full(n.size, "insufficient_evidence", dtype=object)
    fitted = None
    if compared:
        fitted = funnel.fit(x[eligible & pool], n[eligible & pool])
        low95[observed], high95[observed] = funnel.limits(fitted, n[observed], funnel.Z95)
        low998[observed], high998[observed] = funnel.limits(fitted, n[observed], funnel.Z998)
        band[eligible] = "maintain"
        band[eligible & (p > high95)] = "expand"
        band[eligible & (p < low998)] = "review"

    # From ten contracts up the limits carry the spread between contracts (effect.funnel).
    limit_kind = "over-dispersed " if fitted is not None and fitted.tau2 > 0 else ""
    evidence = []
    for i in range(n.size):
        if observed[i]:
            seen = (
                f"{x[i]:.0f} of {n[i]:.0f} observed participants achieved it ({_pct(p[i])}, "
                f"95 % interval {_pct_range(rate_low[i], rate_high[i])}) over "
                f"{_quarters(int(quarters[i]))}"
            )
        else:
            seen = f"no observed participants yet over {_quarters(int(quarters[i]))}"
        if not eligible[i]:
            evidence.append(
                f"{seen}; too little evidence to compare: advice needs at least "
                f"{MIN_OBSERVED} observed participants over at least {MIN_QUARTERS} quarters."
            )
        elif not compared:
            evidence.append(
                f"{seen}; no other contract delivering this has enough evidence to compare "
                "with, so there is no funnel yet."
            )
        else:
            evidence.append(
                f"{seen}; the funnel's {limit_kind}95 % limits at n = {n[i]:.0f} are "
                f"{_pct_range(low95[i], high95[i])} around the pooled rate {_pct(fitted.p0)} "
                f"(99.8 % limits {_pct_range(low998[i], high998[i])})."
            )

    volume = out["volume"].to_numpy(dtype=np.int64)
    volume_change = _shift(volume, band, shift_share)

    paid = out["paid"].to_numpy(dtype=float)
    additional = out["additional"].to_numpy(dtype=float)
    benchmarked = eligible & pool & (additional > 0)
    benchmark_cost = (
        float(paid[benchmarked].sum() / additional[benchmarked].sum())
        if benchmarked.any()
        else float("nan")
    )
    price = out["price"].to_numpy(dtype=float)
    if math.isnan(benchmark_cost):
        reprice = np.zeros(n.size, dtype=bool)
    else:
        reprice = price > price_factor * benchmark_cost
    currencies = out["currency"].tolist() if "currency" in out.columns else [None] * n.size
    reprice_reason = [
        (
            f"The price per outcome, {_money(price[i], currencies[i])}, is "
            f"{price[i] / benchmark_cost:.1f} times the benchmark cost per additional outcome, "
            f"{_money(benchmark_cost, currencies[i])} (payments divided by additional outcomes "
            f"over {_contracts(int(benchmarked.sum()))}); the flag is raised above "
            f"{price_factor:g} times."
        )
        if reprice[i]
        else ""
        for i in range(n.size)
    ]

    out["band"] = pd.Series(list(band), index=out.index, dtype=object)
    out["p"] = p
    out["low95"], out["high95"] = low95, high95
    out["low998"], out["high998"] = low998, high998
    out["rate_low"], out["rate_high"] = rate_low, rate_high
    out["evidence"] = pd.Series(evidence, index=out.index, dtype=object)
    out["volume_change"] = volume_change
    out["benchmark_cost"] = benchmark_cost
    out["reprice"] = reprice
    out["reprice_reason"] = pd.Series(reprice_reason, index=out.index, dtype=object)
    return out
