"""Rates, intervals, effect against a baseline and cost per outcome, for a commissioner.

Each figure answers a question a commissioner in Virker asks of a contract line:

- rate: of the participants whose observation horizon has passed (`observed`), the share who
  achieved the outcome, with its 95 % Wilson interval;
- progress: outcomes achieved against the number the contract expects (`target`);
- uplift: the rate minus the rate expected without the programme (the baseline), with its
  interval: Newcombe's interval when the baseline is a comparison group of known size, the
  Wilson interval shifted by the baseline when the baseline is a fixed agreed rate;
- additional: outcomes achieved beyond those the baseline predicts for the same participants;
- cost per outcome and cost per additional outcome, in whole minor units, or a stated reason
  why the figure does not exist (see UNDEFINED).

Pure: numpy, pandas, scipy and statsmodels only. Every function is vectorised over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

Z95 = 1.959963984540054

UNDEFINED: dict[str, str] = {
    "no_outcomes": "no outcomes achieved yet, so no cost per outcome",
    "no_baseline": "the contract states no baseline, so no cost per additional outcome",
    "no_uplift": "no more outcomes than the baseline predicts, so no cost per additional outcome",
    "suppressed": "hidden because it concerns fewer people than may be shown",
}

UPLIFT_METHODS = ("newcombe", "one_sample", "")


def _floats(values) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce"),
                      dtype=float)


def wilson(x, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """95 % (by default) Wilson interval for x achieved out of n observed participants.

    The range of outcome rates consistent with what was seen: with 7 of 50 achieving, the
    true rate is plausibly anywhere from 7 % to 26 %. NaN where nobody was observed.
    """
    x_arr = _floats(x)
    n_arr = _floats(n)
    if x_arr.shape != n_arr.shape:
        raise ValueError("x and n must have the same length")
    ok = (n_arr > 0) & np.isfinite(n_arr) & np.isfinite(x_arr)
    low = np.full(n_arr.shape, np.nan)
    high = np.full(n_arr.shape, np.nan)
    if ok.any():
        lo, hi = proportion_confint(x_arr[ok], n_arr[ok], alpha=alpha, method="wilson")
        low[ok] = np.clip(lo, 0.0, 1.0)
        high[ok] = np.clip(hi, 0.0, 1.0)
    return low, high


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return _floats(frame[name])


def rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Outcome rate, progress and effect against the baseline, one row per line (or group).

    Input columns: `enrolled`, `observed`, `achieved` (achieved counts only observed
    participants), optional `target`, `baseline_bp` (baseline rate in basis points) and
    `baseline_n` (size of the comparison group; NaN when the baseline is a fixed agreed rate).

    Added columns, all NaN where they cannot be computed:
    rate, rate_low, rate_high: share of observed participants who achieved, 95 % interval;
    progress: achieved / target (a target of 0 or none gives NaN);
    baseline_rate: the rate expected without the programme;
    uplift, uplift_low, uplift_high: rate minus baseline rate, 95 % interval;
    uplift_method: "newcombe" (comparison group), "one_sample" (fixed rate) or "" (no baseline);
    expected_without: outcomes the baseline predicts for the observed participants;
    additional: outcomes achieved beyond that prediction.
    """
    out = frame.copy()
    observed = _column(frame, "observed")
    achieved = _column(frame, "achieved")
    target = _column(frame, "target")
    bp = _column(frame, "baseline_bp")
    base_n = _column(frame, "baseline_n")

    seen = observed > 0
    rate = np.full(len(frame), np.nan)
    np.divide(achieved, observed, out=rate, where=seen)
    low, high = wilson(achieved, observed)
    out["rate"] = rate
    out["rate_low"] = low
    out["rate_high"] = high

    has_target = np.isfinite(target) & (target > 0)
    progress = np.full(len(frame), np.nan)
    np.divide(achieved, target, out=progress, where=has_target)
    out["progress"] = progress

    baseline = bp / 10000.0
    has_base = np.isfinite(baseline)
    group = has_base & np.isfinite(base_n) & (base_n > 0)
    fixed = has_base & ~group
    out["baseline_rate"] = baseline
    out["uplift"] = rate - baseline

    up_low = np.full(len(frame), np.nan)
    up_high = np.full(len(frame), np.nan)
    both = group & seen
    if both.any():
        x2 = np.round(baseline[both] * base_n[both])
        lo, hi = confint_proportions_2indep(achieved[both], observed[both], x2, base_n[both],
                                            method="newcomb", compare="diff")
        up_low[both] = lo
        up_high[both] = hi
    one = fixed & seen
    up_low[one] = low[one] - baseline[one]
    up_high[one] = high[one] - baseline[one]
    out["uplift_low"] = up_low
    out["uplift_high"] = up_high
    out["uplift_method"] = np.where(group, "newcombe", np.where(fixed, "one_sample", ""))

    expected = observed * baseline
    out["expected_without"] = expected
    out["additional"] = achieved - expected
    return out


def score_change(values, threshold: float, direction: str = "increase") -> dict:
    """Summary of a score metric (e.g. a stress score measured before and after).

    `values` are the measured changes per participant (after minus before); `direction` is
    the way the score should move. Returns:
    n: participants with a measured change;
    mean, low, high: the average change with its 95 % t interval (NaN with fewer than two);
    crossed: participants whose score moved the intended way by at least `threshold`;
    crossed_rate, crossed_low, crossed_high: their share of n, with its Wilson interval.
    """
    if direction not in ("increase", "decrease"):
        raise ValueError("direction must be 'increase' or 'decrease'")
    arr = _floats(values)
    arr = arr[np.isfinite(arr)]
    n = len(arr)
    mean = float(arr.mean()) if n else float("nan")
    low = high = float("nan")
    if n >= 2:
        lo, hi = DescrStatsW(arr).tconfint_mean(alpha=0.05)
        low, high = float(lo), float(hi)
    moved = -arr if direction == "decrease" else arr
    crossed = int(np.count_nonzero(moved >= threshold))
    c_low, c_high = wilson([crossed], [n])
    return {
        "n": n,
        "mean": mean,
        "low": low,
        "high": high,
        "crossed": crossed,
        "crossed_rate": crossed / n if n else float("nan"),
        "crossed_low": float(c_low[0]),
        "crossed_high": float(c_high[0]),
    }


def _half_up(numerator: np.ndarray, denominator: np.ndarray,
             ok: np.ndarray) -> pd.arrays.IntegerArray:
    """numerator / denominator rounded half up to whole minor units, <NA> where not ok."""
    quotient = np.zeros(len(ok), dtype=float)
    np.divide(numerator, denominator, out=quotient, where=ok)
    result = np.where(ok, np.floor(quotient + 0.5), 0).astype(np.int64)
    return pd.arrays.IntegerArray(result, mask=~ok)


def money(frame: pd.DataFrame) -> pd.DataFrame:
    """Cost per outcome and cost per additional outcome, in whole minor units.

    Input columns: `paid` (minor units), `achieved`, `additional` (NaN without baseline).
    cost_per_outcome: paid / achieved; when there is none, cost_per_outcome_undefined says why
    ("no_outcomes"). cost_per_additional: paid / additional, what each outcome beyond the
    baseline cost; when there is none, cost_per_additional_undefined says why ("no_baseline"
    or "no_uplift"). Amounts are rounded half up; see UNDEFINED for the sentences shown.
    """
    out = frame.copy()
    paid = _column(frame, "paid")
    achieved = _column(frame, "achieved")
    additional = _column(frame, "additional")

    has_paid = np.isfinite(paid)
    per_outcome = has_paid & np.isfinite(achieved) & (achieved > 0)
    # Whole counts: round half up exactly in integers, (2 paid + achieved) // (2 achieved).
    p = np.where(per_outcome, paid, 0).astype(np.int64)
    a = np.where(per_outcome, achieved, 1).astype(np.int64)
    exact = (2 * p + a) // (2 * a)
    out["cost_per_outcome"] = pd.arrays.IntegerArray(exact, mask=~per_outcome)
    no_outcomes = np.isfinite(achieved) & (achieved <= 0)
    out["cost_per_outcome_undefined"] = np.where(no_outcomes, "no_outcomes", "")

    no_baseline = ~np.isfinite(additional)
    no_uplift = ~no_baseline & (np.nan_to_num(additional, nan=0.0) <= 0)
    per_additional = has_paid & ~no_baseline & ~no_uplift
    out["cost_per_additional"] = _half_up(paid, additional, per_additional)
    out["cost_per_additional_undefined"] = np.where(
        no_baseline, "no_baseline", np.where(no_uplift, "no_uplift", ""))
    return out
