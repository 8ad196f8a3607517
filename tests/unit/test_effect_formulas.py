"""Rates, intervals, effect and cost figures a commissioner reads on a contract line."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from effect.formulas import UNDEFINED, Z95, money, rates, score_change, wilson


def line(**values) -> pd.DataFrame:
    base = {"enrolled": 60, "observed": 50, "achieved": 7, "target": np.nan,
            "baseline_bp": np.nan, "baseline_n": np.nan}
    base.update(values)
    return pd.DataFrame([base])


def quiet(function, *args):
    """Run function, failing on any warning (a division by zero would show one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


def test_z95_is_the_normal_quantile():
    assert Z95 == pytest.approx(stats.norm.ppf(0.975), abs=1e-12)


def test_wilson_seven_of_fifty():
    low, high = wilson([7], [50])
    assert round(low[0], 4) == 0.0695
    assert round(high[0], 4) == 0.2619


def test_wilson_matches_the_closed_form_over_a_series():
    x = pd.Series([0, 3, 12, 40, 40])
    n = pd.Series([10, 10, 30, 41, 40])
    low, high = wilson(x, n)
    p = x / n
    z = Z95
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    np.testing.assert_allclose(low, centre - half, atol=1e-12)
    np.testing.assert_allclose(high, centre + half, atol=1e-12)
    assert np.all((low >= 0) & (high <= 1))


def test_wilson_is_blank_where_nobody_was_observed_without_warning():
    low, high = quiet(wilson, np.array([0, 7]), np.array([0, 50]))
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert round(low[1], 4) == 0.0695


def test_rate_and_interval_of_a_line():
    out = rates(line())
    row = out.iloc[0]
    assert row["rate"] == pytest.approx(0.14)
    assert round(row["rate_low"], 4) == 0.0695
    assert round(row["rate_high"], 4) == 0.2619


def test_rates_returns_a_copy():
    frame = line()
    rates(frame)
    assert "rate" not in frame.columns


def test_progress_against_target_and_none_without_one():
    out = rates(pd.concat([line(target=20.0), line(target=np.nan), line(target=0.0)]))
    assert out["progress"].iloc[0] == pytest.approx(0.35)
    assert out["progress"].iloc[1:].isna().all()


def test_newcombe_difference_against_a_comparison_group():
    # Newcombe (1998), Statistics in Medicine 17, 873-890: 56/70 against 48/80,
    # difference 0.2000 with interval 0.0524 to 0.3339 (method 10).
    row = rates(line(enrolled=70, observed=70, achieved=56, baseline_bp=6000,
                     baseline_n=80)).iloc[0]
    assert row["uplift_method"] == "newcombe"
    assert row["baseline_rate"] == pytest.approx(0.6)
    assert row["uplift"] == pytest.approx(0.2)
    assert round(row["uplift_low"], 4) == 0.0524
    assert round(row["uplift_high"], 4) == 0.3339
    assert row["expected_without"] == pytest.approx(42.0)
    assert row["additional"] == pytest.approx(14.0)


def test_newcombe_is_wider_than_against_a_fixed_rate():
    # A comparison group is itself uncertain; a fixed agreed rate is not.
    group = rates(line(observed=70, achieved=56, baseline_bp=6000, baseline_n=80)).iloc[0]
    fixed = rates(line(observed=70, achieved=56, baseline_bp=6000)).iloc[0]
    assert fixed["uplift_method"] == "one_sample"
    assert group["uplift_high"] - group["uplift_low"] > fixed["uplift_high"] - fixed["uplift_low"]


def test_one_sample_uplift_against_a_fixed_rate():
    row = rates(line(baseline_bp=1000)).iloc[0]
    assert row["uplift_method"] == "one_sample"
    assert row["uplift"] == pytest.approx(0.04)
    assert row["uplift_low"] == pytest.approx(0.069508 - 0.1, abs=1e-6)
    assert row["uplift_high"] == pytest.approx(0.261862 - 0.1, abs=1e-6)
    assert row["expected_without"] == pytest.approx(5.0)
    assert row["additional"] == pytest.approx(2.0)


def test_no_baseline_means_no_effect_figures():
    row = rates(line()).iloc[0]
    assert row["uplift_method"] == ""
    assert math.isnan(row["uplift"])
    assert math.isnan(row["uplift_low"])
    assert math.isnan(row["additional"])


def test_nobody_observed_yet_gives_blank_rate_without_warning():
    frame = line(enrolled=12, observed=0, achieved=0, target=10.0, baseline_bp=3000,
                 baseline_n=100)
    row = quiet(rates, frame).iloc[0]
    for column in ("rate", "rate_low", "rate_high", "uplift", "uplift_low", "uplift_high"):
        assert math.isnan(row[column]), column
    assert row["progress"] == 0.0
    assert row["expected_without"] == 0.0


def test_rows_are_independent_in_one_frame():
    frame = pd.concat([line(), line(observed=70, achieved=56, baseline_bp=6000,
                                    baseline_n=80), line(observed=0, achieved=0)])
    out = quiet(rates, frame)
    assert list(out["uplift_method"]) == ["", "newcombe", ""]
    assert round(out["rate_low"].iloc[0], 4) == 0.0695
    assert round(out["uplift_low"].iloc[1], 4) == 0.0524


def money_frame(paid, achieved, additional) -> pd.DataFrame:
    return pd.DataFrame({"paid": paid, "achieved": achieved, "additional": additional})


def test_cost_per_outcome_rounds_half_up_in_whole_minor_units():
    out = money(money_frame([10, 14, 700001], [4, 4, 7], [np.nan] * 3))
    assert str(out["cost_per_outcome"].dtype) == "Int64"
    assert list(out["cost_per_outcome"]) == [3, 4, 100000]
    assert list(out["cost_per_outcome_undefined"]) == ["", "", ""]


def test_cost_per_additional_outcome():
    out = money(money_frame([700001], [7], [2.0]))
    assert out["cost_per_additional"].iloc[0] == 350001
    assert out["cost_per_additional_undefined"].iloc[0] == ""


def test_undefined_costs_say_why_and_never_divide_by_zero():
    frame = money_frame([0, 50000, 50000, 50000], [0, 5, 5, 5], [0.0, np.nan, 0.0, -1.5])
    out = quiet(money, frame)
    assert out["cost_per_outcome"].isna().tolist() == [True, False, False, False]
    assert list(out["cost_per_outcome_undefined"]) == ["no_outcomes", "", "", ""]
    assert out["cost_per_additional"].isna().all()
    assert list(out["cost_per_additional_undefined"]) == [
        "no_uplift", "no_baseline", "no_uplift", "no_uplift"]
    for code in ("no_outcomes", "no_baseline", "no_uplift"):
        assert UNDEFINED[code]


def test_money_after_rates_gives_cost_per_additional():
    frame = line(observed=70, achieved=56, baseline_bp=6000, baseline_n=80)
    frame["paid"] = 1_400_000
    row = money(rates(frame)).iloc[0]
    assert row["cost_per_outcome"] == 25000
    assert row["cost_per_additional"] == 100000


def test_score_change_t_interval_by_hand():
    values = [-6.0, -3.0, -4.0, 1.0, -8.0, -2.5, np.nan]
    result = score_change(values, threshold=4, direction="decrease")
    seen = np.array(values[:-1])
    n = len(seen)
    half = stats.t.ppf(0.975, n - 1) * seen.std(ddof=1) / math.sqrt(n)
    assert result["n"] == 6
    assert result["mean"] == pytest.approx(seen.mean())
    assert result["low"] == pytest.approx(seen.mean() - half)
    assert result["high"] == pytest.approx(seen.mean() + half)


def test_score_change_counts_those_who_moved_the_intended_way():
    values = [-6.0, -4.0, -3.9, 5.0]
    falling = score_change(values, threshold=4, direction="decrease")
    rising = score_change(values, threshold=4, direction="increase")
    assert falling["crossed"] == 2  # exactly at the threshold counts
    assert falling["crossed_rate"] == pytest.approx(0.5)
    low, high = wilson([2], [4])
    assert falling["crossed_low"] == pytest.approx(low[0])
    assert falling["crossed_high"] == pytest.approx(high[0])
    assert rising["crossed"] == 1


def test_score_change_with_one_value_has_no_interval():
    result = quiet(score_change, [3.0], 2)
    assert result["n"] == 1
    assert result["mean"] == 3.0
    assert math.isnan(result["low"]) and math.isnan(result["high"])
    empty = quiet(score_change, [], 2)
    assert empty["n"] == 0 and math.isnan(empty["crossed_rate"])


def test_score_change_rejects_an_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        score_change([1.0, 2.0], 1, direction="up")
