"""Virker's advice to a commissioner: expand, maintain, review or insufficient evidence.

Constructed contracts whose right answer is known: about 30 % achieve the outcome at most
providers, one provider reaches 60 % and one 5 %.

Twenty comparable providers rather than six: with six, the two extreme providers themselves make
up most of the spread the over-dispersion estimate sees (10 % winsorising of six contracts trims
none), and the widened limits then hold every provider. Twenty lets winsorising do its job.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from effect import advice, funnel

N = [200, 195, 205, 190, 210, 200, 198, 202, 200, 196, 204, 200, 193, 207, 200, 199, 201, 200]
OFFSET = [-9, -6, -5, -4, -3, -2, -1, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, -8]


def providers(high=(120,), low=(10,), volume=100) -> pd.DataFrame:
    """18 providers near 30 %, then providers at 120 of 200 (60 %) and 10 of 200 (5 %)."""
    x = [round(0.3 * k) + o for k, o in zip(N, OFFSET)] + list(high) + list(low)
    n = [*N, *([200] * (len(high) + len(low)))]
    units = len(x)
    return pd.DataFrame(
        {
            "unit": [f"provider-{i:02d}" for i in range(units)],
            "x": x,
            "n": n,
            "quarters": [4] * units,
            "volume": [volume] * units,
            "price": [100_000] * units,
            "paid": [1_000_000] * units,
            "additional": [10.0] * units,
        }
    )


def row(frame: pd.DataFrame, unit: str) -> pd.Series:
    return frame.loc[frame["unit"] == unit].iloc[0]


def test_the_strong_provider_expands_the_weak_one_is_reviewed_the_rest_maintain():
    result = advice.advise(providers())
    assert row(result, "provider-18")["band"] == "expand"  # 60 %
    assert row(result, "provider-19")["band"] == "review"  # 5 %
    assert set(result["band"].iloc[:18]) == {"maintain"}
    assert set(result["band"]) <= set(advice.BANDS)


def test_evidence_states_the_numbers_behind_the_advice():
    frame = providers()
    result = advice.advise(frame)
    p0 = frame["x"].sum() / frame["n"].sum()
    assert p0 == pytest.approx(0.30, abs=0.005)
    # No over-dispersion among these providers once the extremes are winsorised, so the limits
    # at n = 200 are the binomial ones: p0 ± 1.96 sqrt(p0 (1 - p0) / 200) = 24–36 %.
    half = 1.959964 * math.sqrt(p0 * (1 - p0) / 200)
    assert (round(100 * (p0 - half)), round(100 * (p0 + half))) == (24, 36)
    strong = row(result, "provider-18")
    assert strong["low95"] == pytest.approx(p0 - half)
    assert strong["high95"] == pytest.approx(p0 + half)
    assert strong["p"] == pytest.approx(0.6)
    assert strong["evidence"] == (
        "120 of 200 observed participants achieved it (60 %, 95 % interval 53–67 %) over "
        "4 quarters; the funnel's 95 % limits at n = 200 are 24–36 % around the "
        "pooled rate 30 % (99.8 % limits 20–40 %)."
    )
    weak = row(result, "provider-19")
    assert weak["p"] < weak["low998"]
    assert "10 of 200 observed participants achieved it (5 %" in weak["evidence"]


def test_wilson_interval_of_a_providers_own_rate():
    frame = providers()
    frame.loc[0, ["x", "n"]] = [7, 50]  # ANALYTICS.md: 7 of 50 gives 0.0695 to 0.2619
    result = advice.advise(frame)
    assert result.loc[0, "rate_low"] == pytest.approx(0.0695, abs=1e-4)
    assert result.loc[0, "rate_high"] == pytest.approx(0.2619, abs=1e-4)
    assert "(14 %, 95 % interval 7–26 %)" in result.loc[0, "evidence"]


def test_too_few_observed_participants_is_insufficient_evidence():
    frame = providers()
    frame.loc[len(frame)] = ["small", 20, 25, 4, 100, 100_000, 1_000_000, 10.0]  # 80 % of 25
    frame.loc[len(frame)] = ["limit", 9, 30, 2, 100, 100_000, 1_000_000, 10.0]  # just enough
    result = advice.advise(frame)
    small = row(result, "small")
    assert small["band"] == "insufficient_evidence"
    assert "at least 30 observed participants" in small["evidence"]
    assert small["volume_change"] == 0
    assert row(result, "limit")["band"] == "maintain"


def test_one_quarter_only_is_insufficient_evidence_however_large():
    frame = providers()
    frame.loc[len(frame)] = ["new", 140, 200, 1, 100, 100_000, 1_000_000, 10.0]  # 70 %
    result = advice.advise(frame)
    new = row(result, "new")
    assert new["band"] == "insufficient_evidence"
    assert "over 1 quarter;" in new["evidence"]
    assert "at least 2 quarters" in new["evidence"]


def test_the_funnel_is_fitted_on_eligible_providers_only():
    frame = providers()
    eligible = advice.advise(frame)
    frame.loc[len(frame)] = ["small", 25, 25, 4, 100, 100_000, 1_000_000, 10.0]
    frame.loc[len(frame)] = ["new", 200, 200, 1, 100, 100_000, 1_000_000, 10.0]
    with_ineligible = advice.advise(frame)
    # 100 % at two ineligible providers moves neither the pooled rate nor any limit.
    columns = ["band", "low95", "high95", "low998", "high998"]
    pd.testing.assert_frame_equal(with_ineligible[columns].iloc[:20], eligible[columns])


def test_fewer_than_two_eligible_providers_means_nothing_to_compare_with():
    frame = providers().iloc[[18, 19]].reset_index(drop=True)
    frame.loc[1, "quarters"] = 1
    result = advice.advise(frame)
    assert list(result["band"]) == ["insufficient_evidence"] * 2
    assert "no other contract" in result.loc[0, "evidence"]
    assert list(result["volume_change"]) == [0, 0]
    assert result[["low95", "high95"]].isna().all().all()


def test_volume_moves_from_review_to_expand_and_sums_to_zero():
    frame = providers(high=(120, 118), low=(10, 12))
    frame["volume"] = [100] * 18 + [100, 200, 137, 80]
    result = advice.advise(frame)
    assert list(result["band"].iloc[18:]) == ["expand", "expand", "review", "review"]
    changes = result["volume_change"].tolist()
    assert sum(changes) == 0
    # The review providers give up 10 % of next period's volume: round(13.7) and 8.
    assert changes[20:] == [-round(0.1 * 137), -round(0.1 * 80)] == [-14, -8]
    # 22 referrals go 1 : 2 to the expanding providers: 7.33 and 14.67, the spare one to the
    # larger fraction.
    assert changes[18:20] == [7, 15]
    assert set(changes[:18]) == {0}


def test_a_smaller_shift_share_moves_less():
    frame = providers()
    frame["volume"] = 137
    result = advice.advise(frame, shift_share=0.05)
    assert row(result, "provider-19")["volume_change"] == -round(0.05 * 137) == -7
    assert row(result, "provider-18")["volume_change"] == 7


def test_nothing_moves_without_both_an_expanding_and_a_reviewed_provider():
    result = advice.advise(providers(high=()))
    assert row(result, "provider-18")["band"] == "review"
    assert (result["volume_change"] == 0).all()


@pytest.mark.parametrize("share", [0.2, 0.04, 0.0, -0.1])
def test_shift_share_outside_five_to_ten_percent_is_refused(share):
    with pytest.raises(ValueError, match="shift_share"):
        advice.advise(providers(), shift_share=share)


def test_price_far_above_the_benchmark_cost_per_additional_outcome_is_flagged():
    frame = providers()
    # Eligible providers with additional outcomes were paid 50 000 minor units for each one.
    frame["additional"] = 20.0
    frame["paid"] = 50_000 * 20
    frame.loc[0, ["additional", "paid"]] = [float("nan"), 9_000_000]  # no baseline: left out
    frame.loc[1, ["additional", "paid"]] = [-3.0, 9_000_000]  # no additional outcomes
    frame.loc[len(frame)] = ["small", 20, 25, 4, 100, 100_000, 9_000_000, 1.0]  # ineligible
    frame["price"] = 50_000
    frame.loc[2, "price"] = 150_000  # three times the benchmark
    frame.loc[3, "price"] = 75_000  # exactly 1.5 times: not above it
    result = advice.advise(frame)
    assert (result["benchmark_cost"] == 50_000).all()
    assert list(result["reprice"].iloc[:5]) == [False, False, True, False, False]
    assert "3.0 times the benchmark cost per additional outcome, 500,00" in (
        result.loc[2, "reprice_reason"]
    )
    assert "18 eligible contracts" in result.loc[2, "reprice_reason"]  # 20 less the two left out
    assert result.loc[4, "reprice_reason"] == ""
    assert advice.advise(frame, price_factor=1.4)["reprice"].iloc[3]


def test_no_benchmark_without_additional_outcomes():
    frame = providers()
    frame["additional"] = np.nan
    result = advice.advise(frame)
    assert result["benchmark_cost"].isna().all()
    assert not result["reprice"].any()


def test_output_keeps_the_input_order_and_never_ranks():
    frame = providers()
    shuffled = frame.sample(frac=1, random_state=3)
    result = advice.advise(shuffled)
    assert list(result["unit"]) == list(shuffled["unit"])
    assert list(result.index) == list(shuffled.index)
    assert not result["p"].is_monotonic_increasing
    assert not result["p"].is_monotonic_decreasing
    assert "rank" not in " ".join(result.columns)


def test_the_input_frame_is_left_alone():
    frame = providers()
    before = frame.copy()
    advice.advise(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_the_limits_match_the_funnel_on_eligible_providers():
    frame = providers()
    fitted = funnel.fit(frame["x"], frame["n"])
    low, high = funnel.limits(fitted, frame["n"], funnel.Z998)
    result = advice.advise(frame)
    assert result["low998"].tolist() == pytest.approx(low.tolist())
    assert result["high998"].tolist() == pytest.approx(high.tolist())


def test_method_states_the_rule_and_that_a_person_decides():
    text = advice.METHOD
    for part in ["funnel", "95 %", "99.8 %", "30 observed participants", "2 enrolment",
                 "5 % and 10 %", "1.5 times", "a person decides", "not a league table"]:
        assert part in text


def test_review_needs_the_998_limit_where_expand_needs_only_the_95_limit():
    frame = providers()
    frame.loc[0, ["x", "n"]] = [44, 200]  # 22 %: below the lower 95 % limit, above the 99.8 %
    frame.loc[1, ["x", "n"]] = [76, 200]  # 38 %: above the upper 95 % limit
    result = advice.advise(frame)
    low = result.loc[0]
    assert low["low998"] < low["p"] < low["low95"]
    assert low["band"] == "maintain"
    high = result.loc[1]
    assert high["high95"] < high["p"] < high["high998"]
    assert high["band"] == "expand"
