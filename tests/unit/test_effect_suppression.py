"""Small-cell suppression, attacked the way a curious reader of a published table would.

The reader knows the rules (k, the contract's price per outcome and target) and sees every
figure Virker shows. Each test builds a table, suppresses it and tries to get a hidden small
count back; suppression holds when no attack recovers it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effect.formulas import money, rates
from effect.suppression import DERIVED, suppress

PRICE = 10_000
TARGET = 40.0


def table(rows, *, group="a", baseline_bp=np.nan) -> pd.DataFrame:
    """A table of (enrolled, observed, achieved) rows; a total row is added on top."""
    body = pd.DataFrame(rows, columns=["enrolled", "observed", "achieved"])
    total = body.sum().to_frame().T
    frame = pd.concat([total, body], ignore_index=True)
    frame.insert(0, "group", group)
    frame.insert(1, "is_total", [True] + [False] * len(body))
    frame["target"] = TARGET
    frame["baseline_bp"] = baseline_bp
    frame["baseline_n"] = np.nan
    frame["paid"] = frame["achieved"] * PRICE
    frame["accrued"] = frame["paid"]
    return money(rates(frame))


def shown(value) -> bool:
    return not pd.isna(value)


def recover(shown_frame: pd.DataFrame, k: int, group: str = "group") -> dict:
    """Everything an attacker can work out: {(row, column): value} for hidden counts."""
    found: dict = {}
    for i, row in shown_frame.iterrows():
        if not shown(row["achieved"]):
            if shown(row["rate"]) and shown(row["observed"]):
                found[(i, "achieved")] = round(row["rate"] * row["observed"])
            if shown(row["paid"]):
                found[(i, "achieved")] = round(row["paid"] / PRICE)
            if shown(row["accrued"]):
                found[(i, "achieved")] = round(row["accrued"] / PRICE)
            if shown(row["progress"]):
                found[(i, "achieved")] = round(row["progress"] * TARGET)
            if shown(row["cost_per_outcome"]) and row["cost_per_outcome"] > 0:
                # The payment to date is public elsewhere (the contract's spend).
                spent = row["paid"] if shown(row["paid"]) else row["achieved"]
                if shown(spent):
                    found[(i, "achieved")] = round(spent / row["cost_per_outcome"])
                else:
                    found[(i, "achieved")] = round(PRICE / row["cost_per_outcome"])
            if row["cost_per_outcome_undefined"] == "no_outcomes":
                found[(i, "achieved")] = 0
            if shown(row["additional"]) and shown(row["expected_without"]):
                found[(i, "achieved")] = round(row["additional"] + row["expected_without"])
        if not shown(row["observed"]) and shown(row["expected_without"]):
            baseline = row["baseline_bp"] / 10000
            if baseline > 0:
                found[(i, "observed")] = round(row["expected_without"] / baseline)
    for _, members in shown_frame.groupby(group):
        head = members[members["is_total"]]
        body = members[~members["is_total"]]
        for column in ("enrolled", "observed", "achieved"):
            if head.empty or not shown(head[column].iloc[0]):
                continue
            hidden = [i for i in body.index if not shown(body.at[i, column])
                      and (i, column) not in found]
            if len(hidden) == 1:
                known = sum(int(body.at[i, column]) if shown(body.at[i, column])
                            else found[(i, column)] for i in body.index if i != hidden[0])
                found[(hidden[0], column)] = int(head[column].iloc[0]) - known
    return found


def small(original: pd.DataFrame, k: int) -> set:
    """The counts that must not be known: small counts, and achieved where few did not."""
    cells = set()
    for i, row in original.iterrows():
        for column in ("enrolled", "observed", "achieved"):
            if 0 < row[column] < k:
                cells.add((i, column))
        if 0 < row["observed"] - row["achieved"] < k:
            cells.add((i, "achieved"))
    return cells


def assert_safe(original: pd.DataFrame, out: pd.DataFrame, k: int) -> None:
    found = recover(out, k)
    for cell in small(original, k):
        i, column = cell
        assert not shown(out.at[i, column]), f"small count shown: {cell}"
        assert found.get(cell) != original.at[i, column], f"small count recovered: {cell}"
    # Hidden counts below a shown total must together be at least k, or the pair is a small cell.
    for _, members in out.groupby("group"):
        head = members[members["is_total"]].iloc[0]
        body = members[~members["is_total"]]
        for column in ("enrolled", "observed", "achieved"):
            hidden = [i for i in body.index if not shown(body.at[i, column])]
            if shown(head[column]) and hidden:
                assert len(hidden) >= 2, (column, hidden)
                assert original.loc[hidden, column].sum() >= k, (column, hidden)


def test_the_attacker_recovers_small_cells_from_an_unsuppressed_table():
    # The attack works on the raw table: the tests below would notice a suppression that
    # leaves these doors open.
    original = table([[20, 18, 10], [37, 30, 18], [3, 2, 2]])
    blind = original.copy()
    blind.loc[3, ["enrolled", "observed", "achieved"]] = np.nan
    found = recover(blind, 5)
    assert found[(3, "achieved")] == 2
    assert found[(3, "observed")] == 2


def test_a_small_row_is_hidden_with_a_partner_against_the_total():
    original = table([[20, 18, 10], [37, 30, 18], [3, 2, 2]])
    out = suppress(original)
    assert out["suppression"].tolist() == ["", "complementary", "", "small_cell"]
    assert out["suppressed"].tolist() == [False, True, False, True]
    assert out.loc[0, "achieved"] == 30
    assert out.loc[2, "achieved"] == 18
    assert_safe(original, out, 5)


def test_rate_times_observed_does_not_give_back_achieved():
    # 27 of 30 achieved: the 3 who did not could be recognised.
    original = table([[30, 30, 27], [40, 40, 20], [50, 50, 25]])
    out = suppress(original)
    assert out.loc[1, "observed"] == 30
    assert pd.isna(out.loc[1, "achieved"])
    for column in ("rate", "rate_low", "rate_high"):
        assert math.isnan(out.loc[1, column]), column
    assert_safe(original, out, 5)


def test_payments_divided_by_the_price_do_not_give_back_achieved():
    original = table([[10, 9, 4], [40, 40, 20], [50, 50, 25]])
    out = suppress(original)
    for column in ("paid", "accrued", "cost_per_outcome", "cost_per_additional", "progress"):
        assert pd.isna(out.loc[1, column]), column
    # The total's payment is shown, so a second row's payment must go as well.
    assert out.loc[0, "paid"] == 49 * PRICE
    assert out["paid"].iloc[1:].isna().sum() >= 2
    assert_safe(original, out, 5)


def test_effect_figures_do_not_give_back_achieved_or_observed():
    original = table([[10, 9, 4], [40, 40, 20], [50, 50, 25]], baseline_bp=3000)
    out = suppress(original)
    for column in ("uplift", "uplift_low", "uplift_high", "expected_without", "additional"):
        assert math.isnan(out.loc[1, column]), column
    assert_safe(original, out, 5)


def test_observed_minus_achieved_hides_the_few_who_did_not_achieve():
    original = table([[40, 40, 38], [60, 50, 20], [70, 60, 30]])
    out = suppress(original)
    assert out.loc[1, "observed"] == 40
    assert pd.isna(out.loc[1, "achieved"])
    assert out.loc[1, "suppression"] == "small_cell"
    assert_safe(original, out, 5)


def test_a_zero_row_is_no_partner():
    # Hiding the 0 beside the 2 would leave total minus shown = 2 for the pair; the 50 goes.
    original = table([[8, 6, 2], [9, 9, 0], [80, 70, 50]])
    out = suppress(original)
    assert out.loc[2, "achieved"] == 0
    assert pd.isna(out.loc[3, "achieved"])
    assert_safe(original, out, 5)


def test_pairs_of_small_cells_that_add_up_to_less_than_k_get_a_third():
    original = table([[2, 2, 2], [2, 2, 2], [50, 40, 20], [60, 50, 30]])
    out = suppress(original)
    assert out.loc[3, "suppression"] == "complementary"
    assert out.loc[4, "suppression"] == ""
    assert_safe(original, out, 5)


def test_a_hidden_total_hides_every_non_zero_row():
    # 40 of 42 achieved: the total's achieved count is hidden for the 2 who did not.
    original = table([[20, 20, 20], [22, 22, 20], [0, 0, 0]])
    out = suppress(original)
    assert pd.isna(out.loc[0, "achieved"])
    assert pd.isna(out.loc[1, "achieved"]) and pd.isna(out.loc[2, "achieved"])
    assert out.loc[3, "achieved"] == 0
    assert out.loc[1, "observed"] == 20


def test_a_hidden_enrolled_count_hides_the_rest_of_the_row():
    original = table([[4, 0, 0], [40, 40, 20], [50, 50, 25]])
    out = suppress(original)
    assert out.loc[1, ["enrolled", "observed", "achieved"]].isna().all()
    assert out.loc[1, "cost_per_outcome_undefined"] == "suppressed"
    assert out.loc[1, "cost_per_additional_undefined"] == "suppressed"
    assert_safe(original, out, 5)


def test_cells_at_or_above_k_are_untouched():
    original = table([[5, 5, 0], [20, 15, 5], [30, 30, 25]], baseline_bp=2000)
    out = suppress(original)
    assert not out["suppressed"].any()
    assert (out["suppression"] == "").all()
    pd.testing.assert_frame_equal(out[original.columns], original, check_dtype=False)


def test_k_is_a_parameter():
    original = table([[3, 3, 3], [9, 9, 0], [40, 40, 20]])
    lenient = suppress(original, k=3)
    strict = suppress(original, k=10)
    assert lenient.loc[1, "enrolled"] == 3 and lenient.loc[2, "enrolled"] == 9
    assert not lenient["suppressed"].any()
    assert strict.loc[[1, 2], "enrolled"].isna().all()
    assert strict.loc[3, "enrolled"] == 40
    assert_safe(original, strict, 10)
    assert_safe(original, lenient, 3)


def test_tables_are_separate_and_group_columns_are_configurable():
    pooled = pd.concat([table([[3, 3, 3], [40, 40, 20], [50, 50, 25]], group="line-1"),
                        table([[30, 30, 15], [40, 40, 20]], group="line-2")],
                       ignore_index=True).rename(columns={"group": "pool", "is_total": "sum"})
    out = suppress(pooled, group="pool", total="sum")
    assert out.loc[out["pool"] == "line-2", "suppressed"].eq(False).all()
    assert out.loc[out["pool"] == "line-1", "suppressed"].sum() == 2


def test_a_table_without_total_needs_no_partner():
    frame = table([[3, 3, 3], [40, 40, 20]]).iloc[1:].reset_index(drop=True)
    out = suppress(frame)
    assert out["suppressed"].tolist() == [True, False]


def test_input_is_left_alone_and_index_is_kept():
    original = table([[3, 3, 3], [40, 40, 20], [50, 50, 25]])
    original.index = [10, 11, 12, 13]
    before = original.copy()
    out = suppress(original)
    pd.testing.assert_frame_equal(original, before)
    assert list(out.index) == [10, 11, 12, 13]
    assert str(out["achieved"].dtype) == "Int64"
    assert str(out["paid"].dtype) == "Int64"
    assert out["rate"].dtype == float


def test_every_derived_figure_of_a_count_is_listed():
    for column in ("rate", "paid", "cost_per_outcome", "progress", "additional", "crossed_rate"):
        for count in ("enrolled", "observed", "achieved", "achieved_any"):
            assert column in DERIVED[count]


def test_a_small_count_of_everyone_who_achieved_is_hidden_with_the_money_paid_for_it():
    # Nobody observed has achieved yet, but three recent participants have, and were paid:
    # the payments would give the three away.
    frame = pd.DataFrame({"group": ["g"], "is_total": [True], "enrolled": [40],
                          "observed": [20], "achieved": [0], "achieved_any": [3],
                          "paid": [3 * 15_000.0]})
    out = suppress(frame)
    assert pd.isna(out.loc[0, "achieved_any"]) and pd.isna(out.loc[0, "paid"])


def test_two_total_rows_in_one_table_are_refused():
    frame = table([[30, 30, 15], [40, 40, 20]])
    frame.loc[1, "is_total"] = True
    with pytest.raises(ValueError, match="total"):
        suppress(frame)


row_counts = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)).map(
    lambda t: sorted(t, reverse=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(row_counts, min_size=1, max_size=6), st.sampled_from([3, 5, 10]))
def test_no_attack_recovers_a_small_count(rows, k):
    original = table(rows, baseline_bp=2500)
    out = suppress(original, k=k)
    assert_safe(original, out, k)
