"""Liability forecast: what a commissioner may still owe, and never more than the cap allows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from effect.forecast import METHOD, forecast, portfolio

UNCAPPED = 10**12


def rows(*entries) -> pd.DataFrame:
    return pd.DataFrame(entries, columns=["contract", "line", "quarter", "open", "p", "price"])


def caps(**remaining) -> pd.DataFrame:
    return pd.DataFrame({"contract": list(remaining), "remaining": list(remaining.values())})


OPEN = rows(
    ("A", "job", "2027Q1", 120, 0.35, 40_000),
    ("A", "job", "2027Q2", 80, 0.30, 40_000),
    ("A", "housing", "2027Q2", 60, 0.55, 25_000),
    ("A", "housing", "2027Q3", 40, 0.50, 25_000),
)


def test_with_plenty_of_cap_the_expected_total_is_open_times_p_times_price():
    draws = 4000
    out = forecast(OPEN, caps(A=UNCAPPED), draws=draws, seed=1)
    mean = float((OPEN["open"] * OPEN["p"] * OPEN["price"]).sum())
    variance = float((OPEN["open"] * OPEN["p"] * (1 - OPEN["p"]) * OPEN["price"] ** 2).sum())
    error = math.sqrt(variance / draws)
    total = out["cumulative_expected"].iloc[-1]
    assert abs(total - mean) < 4 * error
    assert out["expected"].sum() == total


def test_each_quarter_gets_its_own_expected_amount():
    out = forecast(OPEN, caps(A=UNCAPPED), draws=4000, seed=2).set_index("quarter")
    assert list(out.index) == ["2027Q1", "2027Q2", "2027Q3"]
    by_quarter = (OPEN["open"] * OPEN["p"] * OPEN["price"]).groupby(OPEN["quarter"]).sum()
    np.testing.assert_allclose(out["expected"], by_quarter, rtol=0.03)
    assert (out["p90"] >= out["expected"]).all()
    assert out["cumulative_p90"].is_monotonic_increasing


@pytest.mark.parametrize("remaining", [150_000, 3_500_000])
def test_a_nearly_used_cap_is_never_exceeded(remaining):
    out = forecast(OPEN, caps(A=remaining), draws=2000, seed=3)
    assert (out["cumulative_p90"] <= remaining).all()
    assert (out["cumulative_expected"] <= remaining).all()
    assert (out["p90"] <= remaining).all()
    # Without the cap nine futures in ten would owe far more; with it, the cap binds.
    assert out["cumulative_p90"].iloc[-1] == remaining


def test_payments_stop_in_the_quarter_the_cap_is_reached():
    sure = rows(("A", "job", "2027Q1", 2, 1.0, 1000), ("A", "job", "2027Q2", 2, 1.0, 1000),
                ("A", "job", "2027Q3", 2, 1.0, 1000))
    out = forecast(sure, caps(A=2500), draws=50)
    assert out["expected"].tolist() == [2000, 500, 0]
    assert out["p90"].tolist() == [2000, 500, 0]
    assert out["cumulative_expected"].tolist() == [2000, 2500, 2500]
    assert out["cumulative_p90"].tolist() == [2000, 2500, 2500]


def test_line_caps_hold_and_leave_other_lines_alone():
    sure = rows(("A", "job", "2027Q1", 4, 1.0, 1000), ("A", "job", "2027Q2", 4, 1.0, 1000),
                ("A", "housing", "2027Q2", 3, 1.0, 500))
    line_caps = pd.DataFrame({"contract": ["A", "A"], "line": ["job", "housing"],
                              "remaining": [5000, np.nan]})
    out = forecast(sure, caps(A=UNCAPPED), line_caps, draws=20)
    assert out["expected"].tolist() == [4000, 1000 + 1500]
    tighter = forecast(sure, caps(A=4200), line_caps, draws=20)
    assert tighter["cumulative_expected"].tolist() == [4000, 4200]


def test_a_contract_without_a_cap_row_is_not_capped():
    sure = rows(("B", "job", "2027Q1", 3, 1.0, 1000))
    out = forecast(sure, caps(A=10), draws=10)
    assert out["expected"].tolist() == [3000]


def test_the_same_seed_gives_the_same_numbers():
    first = forecast(OPEN, caps(A=3_500_000), draws=500, seed=7)
    again = forecast(OPEN, caps(A=3_500_000), draws=500, seed=7)
    other = forecast(OPEN, caps(A=3_500_000), draws=500, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_adding_a_contract_does_not_change_another_contracts_forecast():
    alone = forecast(OPEN, caps(A=UNCAPPED), draws=500, seed=4)
    more = pd.concat([OPEN, rows(("B", "job", "2027Q1", 500, 0.5, 1000))])
    together = forecast(more, caps(A=UNCAPPED, B=UNCAPPED), draws=500, seed=4)
    pd.testing.assert_frame_equal(together[together["contract"] == "A"], alone)


def test_nobody_open_gives_zeros():
    empty = rows(("A", "job", "2027Q1", 0, 0.4, 40_000), ("A", "job", "2027Q2", 0, 0.9, 1000))
    out = forecast(empty, caps(A=UNCAPPED), draws=100)
    assert out["quarter"].tolist() == ["2027Q1", "2027Q2"]
    for column in ("expected", "p90", "cumulative_expected", "cumulative_p90"):
        assert out[column].tolist() == [0, 0]
    assert forecast(empty.iloc[:0], caps(A=1), draws=10).empty


def test_amounts_are_whole_minor_units():
    out = forecast(OPEN, caps(A=UNCAPPED), draws=200)
    for column in ("expected", "p90", "cumulative_expected", "cumulative_p90"):
        assert out[column].dtype == np.int64


def test_impossible_chances_are_refused():
    with pytest.raises(ValueError, match="p must"):
        forecast(rows(("A", "job", "2027Q1", 3, 1.5, 1000)), caps(A=1))


TWO = pd.concat([OPEN, rows(("B", "job", "2027Q1", 150, 0.4, 30_000),
                            ("B", "job", "2027Q2", 150, 0.4, 30_000))], ignore_index=True)
TWO_CAPS = caps(A=UNCAPPED, B=UNCAPPED)


def test_portfolio_p90_is_of_the_sum_not_the_sum_of_p90s():
    weights = pd.DataFrame({"contract": ["A", "B"], "owner": ["k1", "k1"], "share": [1.0, 1.0]})
    each = forecast(TWO, TWO_CAPS, draws=2000, seed=5)
    both = portfolio(TWO, TWO_CAPS, weights, draws=2000, seed=5).set_index("quarter")
    # Carry each contract's running p90 into quarters it has no rows for.
    running = each.pivot(index="quarter", columns="contract",
                         values="cumulative_p90").ffill().fillna(0)
    assert (both["cumulative_p90"] <= running.sum(axis=1)).all()
    assert (both["cumulative_p90"] >= running.max(axis=1)).all()
    assert both.loc["2027Q3", "cumulative_p90"] < running.loc["2027Q3"].sum()
    expected = each.groupby("quarter")["expected"].sum()
    np.testing.assert_allclose(both["expected"], expected, atol=1)


def test_portfolio_applies_each_owners_share():
    sure = rows(("A", "job", "2027Q1", 4, 1.0, 1000), ("B", "job", "2027Q2", 2, 1.0, 3000))
    weights = pd.DataFrame({"contract": ["A", "A", "B"], "owner": ["state", "town", "town"],
                            "share": [0.75, 0.25, 1.0]})
    out = portfolio(sure, caps(A=UNCAPPED, B=5000), weights, draws=20)
    state = out[out["owner"] == "state"]
    town = out[out["owner"] == "town"]
    assert state["quarter"].tolist() == ["2027Q1"]
    assert state["expected"].tolist() == [3000]
    assert town["expected"].tolist() == [1000, 5000]
    assert town["cumulative_p90"].tolist() == [1000, 6000]


def test_portfolio_of_one_contract_matches_its_forecast():
    weights = pd.DataFrame({"contract": ["A"], "owner": ["k1"], "share": [1.0]})
    alone = forecast(OPEN, caps(A=500_000), draws=300, seed=9)
    owned = portfolio(OPEN, caps(A=500_000), weights, draws=300, seed=9)
    columns = ["quarter", "expected", "p90", "cumulative_expected", "cumulative_p90"]
    pd.testing.assert_frame_equal(owned[columns], alone[columns])


def test_method_is_stated_in_plain_words():
    assert "cap" in METHOD and "90" in METHOD


def test_two_alike_contracts_do_not_move_in_lockstep():
    # Two contracts with the same open participants are still separate people: their peaks
    # seldom coincide, so the owner's p90 is less than twice one contract's.
    twin = pd.concat([OPEN, OPEN.assign(contract="A2")], ignore_index=True)
    limits = caps(A=UNCAPPED, A2=UNCAPPED)
    weights = pd.DataFrame({"contract": ["A", "A2"], "owner": ["k1", "k1"], "share": [1.0, 1.0]})
    each = forecast(twin, limits, draws=2000, seed=6)
    both = portfolio(twin, limits, weights, draws=2000, seed=6)
    single = each.loc[each["contract"] == "A", "cumulative_p90"].to_numpy()
    double = each.loc[each["contract"] == "A2", "cumulative_p90"].to_numpy()
    assert (both["cumulative_p90"].to_numpy() < single + double).all()
