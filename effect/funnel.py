"""Funnel plot with additive over-dispersion (Spiegelhalter 2005), for comparing contracts.

A commissioner in Virker compares the outcome rate of contracts that deliver the same metric.
Rank order among contracts inside the limits is noise, so Virker draws a funnel instead of a
league table: the pooled rate p0, and control limits that narrow as the number of observed
participants n grows. Real contracts differ more than binomial sampling alone explains
(different areas, different participants), so the limits are widened by a between-contract
variance tau2 estimated from winsorised z-scores (DerSimonian-Laird style):

    s_i = sqrt(p0 (1 - p0) / n_i),  z_i = (p_i - p0) / s_i
    phi = mean(winsorised z_i ** 2)   (10 % each side)
    tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w**2 / sum w)),  w_i = 1 / s_i**2
    limits = p0 +/- z sqrt(s_i**2 + tau2)

Pure: numpy, pandas and scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import mstats

Z95 = 1.959964
Z998 = 3.090232

POSITIONS = ("above_998", "above_95", "inside", "below_95", "below_998")


@dataclass(frozen=True)
class Fit:
    """The fitted funnel.

    p0: pooled rate, sum of achieved over sum of observed.
    phi: over-dispersion factor, the mean squared winsorised z-score (about 1 when contracts
        differ only by chance; NaN when it cannot be estimated).
    tau2: between-contract variance added to every contract's sampling variance (0 when
        there is no over-dispersion or too little to estimate it).
    units: number of contracts with at least one observed participant.
    """

    # Below this many contracts the spread between them is estimated from the very contracts
    # being judged (one far-out contract widens its own limits until it sits inside): Virker
    # then draws the plain binomial limits and reports phi without adding tau2.

    p0: float
    phi: float
    tau2: float
    units: int


MIN_UNITS_FOR_DISPERSION = 10


def fit(x, n, winsor: float = 0.1, min_units: int = MIN_UNITS_FOR_DISPERSION) -> Fit:
    """Fit the funnel to achieved counts `x` among `n` observed participants per contract.

    Contracts with n == 0 are ignored. With no observed participant at all p0 is NaN; with
    p0 at 0 or 1, or fewer than two contracts, tau2 is 0 (nothing to estimate it from);
    with fewer than `min_units` contracts tau2 is 0 too (plain binomial limits) while phi is
    still reported.
    """
    x_arr = np.asarray(x, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    if x_arr.shape != n_arr.shape:
        raise ValueError("x and n must have the same length")
    if np.any(n_arr < 0) or np.any(x_arr < 0) or np.any(x_arr > n_arr):
        raise ValueError("need 0 <= x <= n for every contract")
    if not 0 <= winsor < 0.5:
        raise ValueError("winsor must be at least 0 and below 0.5")
    keep = n_arr > 0
    x_arr, n_arr = x_arr[keep], n_arr[keep]
    units = int(n_arr.size)
    if units == 0:
        return Fit(p0=float("nan"), phi=float("nan"), tau2=0.0, units=0)
    p0 = float(x_arr.sum() / n_arr.sum())
    if p0 <= 0.0 or p0 >= 1.0:
        # Every contract at 0 % (or 100 %): no spread to measure.
        return Fit(p0=p0, phi=float("nan"), tau2=0.0, units=units)
    s2 = p0 * (1.0 - p0) / n_arr
    z = (x_arr / n_arr - p0) / np.sqrt(s2)
    z_w = np.asarray(mstats.winsorize(z, limits=(winsor, winsor)), dtype=float)
    phi = float(np.mean(z_w**2))
    if units < max(2, min_units):
        return Fit(p0=p0, phi=phi, tau2=0.0, units=units)
    w = 1.0 / s2
    denominator = float(w.sum() - (w**2).sum() / w.sum())
    tau2 = (units * phi - (units - 1)) / denominator if denominator > 0 else 0.0
    return Fit(p0=p0, phi=phi, tau2=float(max(0.0, tau2)), units=units)


_fit = fit  # place() and callers take a parameter named fit


def limits(fit: Fit, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper over-dispersed limits at `n` observed participants, within [0, 1].

    At n == 0 the limits are the whole range 0 to 1.
    """
    n_arr = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(fit.p0 * (1.0 - fit.p0) / n_arr + fit.tau2)
    return np.clip(fit.p0 - half, 0.0, 1.0), np.clip(fit.p0 + half, 0.0, 1.0)


def place(frame: pd.DataFrame, fit: Fit | None = None) -> pd.DataFrame:
    """Place each contract on the funnel. `frame` has columns `x` and `n`; a copy is returned.

    Adds p, z (binomial only), z_adjusted (with tau2), the over-dispersed limits low95,
    high95, low998, high998, and position: above_998, above_95, inside, below_95 or
    below_998. A contract with no observed participant has no rate and no position (None).
    The row order is kept.
    """
    if fit is None:
        fit = _fit(frame["x"], frame["n"])
    out = frame.copy()
    x_arr = out["x"].to_numpy(dtype=float)
    n_arr = out["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_arr > 0, x_arr / np.where(n_arr > 0, n_arr, 1.0), np.nan)
        s2 = np.where(n_arr > 0, fit.p0 * (1.0 - fit.p0) / np.where(n_arr > 0, n_arr, 1.0),
                      np.nan)
        z = (p - fit.p0) / np.sqrt(s2)
        z_adjusted = (p - fit.p0) / np.sqrt(s2 + fit.tau2)
    low95, high95 = limits(fit, n_arr, Z95)
    low998, high998 = limits(fit, n_arr, Z998)
    position = np.select(
        [p > high998, p > high95, p < low998, p < low95, p >= 0],
        ["above_998", "above_95", "below_998", "below_95", "inside"],
        default="",
    )
    out["p"] = p
    out["z"] = z
    out["z_adjusted"] = z_adjusted
    out["low95"], out["high95"] = low95, high95
    out["low998"], out["high998"] = low998, high998
    out["position"] = pd.Series(
        [value if value else None for value in position], index=out.index, dtype=object
    )
    return out


def curve(fit: Fit, n_min: float, n_max: float, points: int = 200) -> pd.DataFrame:
    """The funnel's limit lines from n_min to n_max observed participants, for drawing.

    The points are spaced evenly on a log scale, where the funnel bends most at small n.
    """
    if not 0 < n_min <= n_max:
        raise ValueError("need 0 < n_min <= n_max")
    if points < 2:
        raise ValueError("need at least 2 points")
    n = np.geomspace(n_min, n_max, points)
    low95, high95 = limits(fit, n, Z95)
    low998, high998 = limits(fit, n, Z998)
    return pd.DataFrame(
        {"n": n, "low95": low95, "high95": high95, "low998": low998, "high998": high998}
    )
