"""The funnel a commissioner sees when comparing contracts that deliver the same outcome.

Worked examples are computed by hand in the tests, from the formulas in ANALYTICS.md, and
compared with what Virker computes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from effect import funnel

# Six contracts, worked through by hand. Pooled rate 200 / 700 = 2/7, so p0 (1 - p0) = 10/49.
SIX_X = [10, 12, 30, 30, 60, 58]
SIX_N = [50, 80, 100, 120, 150, 200]


def by_hand(x: list[int], n: list[int], winsorised: list[float] | None = None):
    """p0, z-scores, phi and tau2 written out term by term."""
    p0 = sum(x) / sum(n)
    s = [math.sqrt(p0 * (1 - p0) / k) for k in n]
    z = [(a / k - p0) / si for a, k, si in zip(x, n, s)]
    zw = winsorised if winsorised is not None else z
    phi = sum(v * v for v in zw) / len(zw)
    w = [1 / si**2 for si in s]
    tau2 = max(0.0, (len(n) * phi - (len(n) - 1)) / (sum(w) - sum(v * v for v in w) / sum(w)))
    return p0, z, phi, tau2


def test_six_contracts_worked_by_hand():
    p0, z, phi, tau2 = by_hand(SIX_X, SIX_N)
    assert p0 == pytest.approx(2 / 7)
    # Contract 3: 30 of 100 = 0.3; s = sqrt(10/49/100) = sqrt(10)/70; z = (0.3 - 2/7) * 70 /
    # sqrt(10) = 1/sqrt(10).
    assert z[2] == pytest.approx(1 / math.sqrt(10))
    # z² terms: 1.8, 7.22, 0.1, 0.75, 9.6, 0.018 -> phi = 19.488 / 6 = 3.248.
    assert [v * v for v in z] == pytest.approx([1.8, 7.22, 0.1, 0.75, 9.6, 0.018])
    assert phi == pytest.approx(3.248)
    # w = n * 49/10: sum w = 3430, sum w² / sum w = 4.9 * 95 800 / 700; tau2 = 14.488 / 2759.4.
    assert tau2 == pytest.approx(14.488 / (4.9 * (700 - 95_800 / 700)))
    assert tau2 == pytest.approx(0.0052504, abs=1e-7)

    # The formula at work on six contracts (Virker itself adds tau2 from ten contracts up).
    fitted = funnel.fit(SIX_X, SIX_N, min_units=2)
    assert fitted.units == 6
    assert fitted.p0 == pytest.approx(p0)
    # Six contracts: 10 % of 6 rounds down to none, so winsorising changes nothing.
    assert fitted.phi == pytest.approx(3.248)
    assert fitted.tau2 == pytest.approx(tau2)

    # Limits for a contract with 100 observed participants, by hand.
    half95 = 1.959964 * math.sqrt(10 / 49 / 100 + tau2)
    half998 = 3.090232 * math.sqrt(10 / 49 / 100 + tau2)
    low, high = funnel.limits(fitted, 100, funnel.Z95)
    assert (float(low), float(high)) == pytest.approx((2 / 7 - half95, 2 / 7 + half95))
    assert (float(low), float(high)) == pytest.approx((0.1184, 0.4531), abs=1e-4)
    low, high = funnel.limits(fitted, 100, funnel.Z998)
    assert (float(low), float(high)) == pytest.approx((2 / 7 - half998, 2 / 7 + half998))
    # The over-dispersed limits are wider than the binomial ones.
    assert half95 > 1.959964 * math.sqrt(10 / 49 / 100)


def test_twenty_contracts_winsorising_pulls_in_the_extremes():
    n = [100] * 20
    x = [5, 12, 20, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 38, 48, 70]
    p0, z, _, _ = by_hand(x, n)
    assert p0 == pytest.approx(sum(x) / 2000)
    # Equal n keeps the z order equal to the x order. 10 % of 20 is 2 each side: the two
    # lowest take the third lowest's value, the two highest the third highest's.
    winsorised = [z[2], z[2], *z[2:18], z[17], z[17]]
    _, _, phi, tau2 = by_hand(x, n, winsorised)
    _, _, phi_raw, tau2_raw = by_hand(x, n)
    assert phi < phi_raw  # the two extreme contracts no longer set the width on their own
    assert tau2 < tau2_raw

    fitted = funnel.fit(x, n)
    assert fitted.phi == pytest.approx(phi)
    assert fitted.tau2 == pytest.approx(tau2)
    assert funnel.fit(x, n, winsor=0).phi == pytest.approx(phi_raw)

    placed = funnel.place(pd.DataFrame({"x": x, "n": n}))
    assert placed["position"].iloc[-1] == "above_998"  # 70 % where the pool is about 31 %
    assert placed["position"].iloc[0] == "below_998"  # 5 %
    assert set(placed["position"].iloc[3:17]) == {"inside"}


def binomial_contracts(seed: int, units: int = 30, rate: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(80, 400, size=units)
    return pd.DataFrame({"x": rng.binomial(n, rate), "n": n})


def test_no_over_dispersion_when_contracts_differ_only_by_chance():
    frame = binomial_contracts(seed=7)
    fitted = funnel.fit(frame["x"], frame["n"])
    assert fitted.tau2 == 0
    assert fitted.p0 == pytest.approx(0.3, abs=0.02)
    # Then the limits are the plain binomial ones.
    low, high = funnel.limits(fitted, 200, funnel.Z95)
    half = 1.959964 * math.sqrt(fitted.p0 * (1 - fitted.p0) / 200)
    assert (float(low), float(high)) == pytest.approx((fitted.p0 - half, fitted.p0 + half))


def test_real_differences_between_contracts_widen_the_limits():
    rng = np.random.default_rng(11)
    n = np.full(30, 300)
    true_rates = rng.uniform(0.15, 0.45, size=30)  # contracts really do differ
    x = rng.binomial(n, true_rates)
    fitted = funnel.fit(x, n)
    assert fitted.phi > 2
    assert fitted.tau2 > 0
    low, high = funnel.limits(fitted, 300, funnel.Z95)
    binomial_half = 1.959964 * math.sqrt(fitted.p0 * (1 - fitted.p0) / 300)
    assert float(high) - float(low) > 2 * binomial_half * 1.5


def test_a_contract_far_above_the_others_is_above_the_998_limit():
    frame = binomial_contracts(seed=7)
    frame.loc[len(frame)] = {"x": 150, "n": 250}  # 60 % against a pool of about 30 %
    placed = funnel.place(frame)
    last = placed.iloc[-1]
    assert last["position"] == "above_998"
    assert last["p"] == pytest.approx(0.6)
    assert last["p"] > last["high998"] > last["high95"] > last["low95"] > last["low998"]
    assert last["z_adjusted"] > funnel.Z998
    assert last["z"] >= last["z_adjusted"]
    assert (placed["position"].iloc[:-1] != "above_998").all()


def test_place_keeps_rows_and_columns_and_labels_all_five_positions():
    frame = pd.DataFrame(
        {"unit": ["a", "b", "c", "d", "e"], "x": [30, 30, 30, 30, 30], "n": [100] * 5}
    )
    fitted = funnel.Fit(p0=0.3, phi=1.0, tau2=0.0, units=5)
    frame["x"] = [30 + 16, 30 + 10, 30, 30 - 10, 30 - 16]  # about ±3.5 and ±2.2 s
    placed = funnel.place(frame, fitted)
    assert list(placed["unit"]) == ["a", "b", "c", "d", "e"]
    assert list(placed["position"]) == [
        "above_998", "above_95", "inside", "below_95", "below_998"
    ]
    s = math.sqrt(0.21 / 100)
    assert placed["z"].tolist() == pytest.approx([0.16 / s, 0.1 / s, 0, -0.1 / s, -0.16 / s])
    assert placed["z_adjusted"].tolist() == pytest.approx(placed["z"].tolist())
    assert "position" not in frame.columns  # the caller's frame is left alone


def test_contracts_without_observed_participants_are_left_out():
    with_empty = funnel.fit([10, 12, 30, 0, 30, 60, 58], [50, 80, 100, 0, 120, 150, 200])
    assert with_empty == funnel.fit(SIX_X, SIX_N)
    placed = funnel.place(pd.DataFrame({"x": [10, 0, 30], "n": [50, 0, 100]}))
    assert placed["position"].iloc[1] is None
    assert math.isnan(placed["p"].iloc[1])
    assert placed["position"].iloc[0] in funnel.POSITIONS


@pytest.mark.parametrize(
    ("x", "n"),
    [
        ([0, 0, 0], [40, 50, 60]),  # nobody achieved it
        ([40, 50, 60], [40, 50, 60]),  # everybody did
        ([12], [40]),  # one contract
        ([], []),  # none
        ([0], [0]),  # none observed
    ],
)
def test_degenerate_cases_give_no_over_dispersion_and_no_crash(x, n):
    fitted = funnel.fit(x, n)
    assert fitted.tau2 == 0
    placed = funnel.place(pd.DataFrame({"x": x, "n": n}, dtype=float), fitted)
    assert len(placed) == len(x)
    assert len(funnel.curve(fitted, 10, 100, points=5)) == 5


def test_curve_narrows_as_observed_participants_grow():
    fitted = funnel.fit(SIX_X, SIX_N)
    drawn = funnel.curve(fitted, 20, 2000, points=50)
    assert list(drawn.columns) == ["n", "low95", "high95", "low998", "high998"]
    assert drawn["n"].iloc[0] == pytest.approx(20)
    assert drawn["n"].iloc[-1] == pytest.approx(2000)
    width = drawn["high95"] - drawn["low95"]
    assert (np.diff(width) < 0).all()
    assert (drawn["high998"] >= drawn["high95"]).all()
    assert (drawn["low998"] <= drawn["low95"]).all()
    assert drawn[["low998", "high998"]].stack().between(0, 1).all()
    # Far out the funnel does not close to a point: tau2 keeps it open.
    half = 1.959964 * math.sqrt(fitted.tau2)
    assert width.iloc[-1] > 2 * half
    with pytest.raises(ValueError):
        funnel.curve(fitted, 0, 100)


def test_limits_stay_within_zero_and_one():
    fitted = funnel.Fit(p0=0.05, phi=1.0, tau2=0.0, units=10)
    low, high = funnel.limits(fitted, np.array([5, 50, 5000]), funnel.Z998)
    assert low[0] == 0.0
    assert (low >= 0).all()
    assert (high <= 1).all()


def test_with_fewer_than_ten_contracts_the_limits_are_binomial_and_an_outlier_shows():
    # Four providers: one far above. Estimating the spread from these four would widen the
    # limits until the outlier sits inside; Virker draws the binomial limits instead.
    x, n = [74, 76, 72, 120], [200, 200, 200, 200]
    fitted = funnel.fit(x, n)
    assert fitted.tau2 == 0
    assert fitted.phi > 1
    placed = funnel.place(pd.DataFrame({"x": x, "n": n}), fitted)
    assert list(placed["position"]) == ["inside", "inside", "inside", "above_998"]
    assert funnel.fit(x, n, min_units=2).tau2 > 0
