"""Small-cell suppression for figures Virker shows outside a contract's own parties.

A figure about fewer than k people (default 5, as in Danish register research) could point at
a person, so Virker hides it, and hides everything that would give it back:

1. Primary (small_cell): a count of enrolled, observed or achieved participants between 1 and
   k - 1 is hidden; so is the achieved count when the few who did not achieve (observed minus
   achieved, between 1 and k - 1) could be recognised. A hidden enrolled count hides the
   observed and achieved counts of the row; a hidden observed count hides the achieved count.
2. Derived figures: a hidden count hides every figure computed from it (rate, intervals,
   progress, effect, payments, cost per outcome; see DERIVED), and a reason why a cost is
   undefined reads "suppressed" instead (a reason like "no_outcomes" would give the count away).
3. Complementary: rows of one table (same `group`) add up to the table's total row. Where one
   hidden count could be worked out as the total minus the shown counts, or where the hidden
   counts together are fewer than k, the next smallest shown count is hidden too, until at
   least two are hidden and together they are at least k; when no shown count is left to hide,
   the total itself is hidden. A hidden total hides every non-zero count of its table.

The result says per row whether anything was hidden (`suppressed`) and why (`suppression`:
"small_cell" if any count of the row is small itself, "complementary" if counts were hidden
only to protect another row, "" otherwise).

Pure: numpy and pandas only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# achieved_any: every participant who achieved, observed or not (what payments are made for).
# paid_people: participants paid for (cost per outcome divides by them).
COUNTS = ("enrolled", "observed", "achieved", "achieved_any", "paid_people")

_FIGURES = (
    "rate", "rate_low", "rate_high", "progress",
    "uplift", "uplift_low", "uplift_high", "expected_without", "additional",
    "paid", "accrued", "cost_per_outcome", "cost_per_additional",
    "crossed", "crossed_rate", "crossed_low", "crossed_high",
    "mean", "low", "high", "n", "spend", "paid_observed",
)

DERIVED: dict[str, list[str]] = {
    "achieved": list(_FIGURES),
    "observed": list(_FIGURES),
    "enrolled": list(_FIGURES),
    "achieved_any": list(_FIGURES),
    "paid_people": list(_FIGURES),
}

# What a hidden count hides of the other counts of the same row (primary suppression only).
_CASCADE = {"enrolled": ("observed", "achieved", "achieved_any", "paid_people"),
            "observed": ("achieved", "achieved_any", "paid_people"),
            "achieved": ("achieved_any", "paid_people"), "achieved_any": ("paid_people",),
            "paid_people": ()}

_PRIMARY = 2
_COMPLEMENTARY = 1


def _blank(frame: pd.DataFrame, column: str, mask: np.ndarray) -> None:
    """Blank frame[column] where mask: NaN in float columns, <NA> in whole-number columns."""
    series = frame[column]
    if series.dtype == bool:
        series = series.astype("boolean")
    elif pd.api.types.is_integer_dtype(series.dtype):
        series = series.astype("Int64")
    frame[column] = series.mask(mask) if mask.any() else series


def _complement(values: np.ndarray, level: np.ndarray, total: int | None, rows: np.ndarray,
                k: int) -> None:
    """Hide further counts of one column in one table until no hidden count can be recovered.

    values: the column's counts (NaN = unknown); level: suppression level per position, updated
    in place; total: position of the table's total row (None when the table has none); rows:
    positions of the other rows.
    """
    if total is None:
        return
    while level[total] == 0:
        hidden = rows[level[rows] > 0]
        if hidden.size == 0:
            return
        hidden_sum = np.nansum(values[hidden])
        if hidden.size >= 2 and hidden_sum >= k:
            return
        shown = rows[(level[rows] == 0) & (np.nan_to_num(values[rows]) > 0)]
        if shown.size:
            # Smallest first; ties broken by position, so the result does not depend on luck.
            order = np.lexsort((shown, values[shown]))
            level[shown[order[0]]] = _COMPLEMENTARY
        else:
            level[total] = _COMPLEMENTARY
    # The total is hidden: no shown row may add up to it.
    reveal = rows[(level[rows] == 0) & (np.nan_to_num(values[rows]) != 0)]
    level[reveal] = _COMPLEMENTARY


def suppress(frame: pd.DataFrame, *, k: int = 5, group: str = "group",
             total: str = "is_total") -> pd.DataFrame:
    """Hide counts of fewer than k people, the figures derived from them, and any count that
    would let a reader work a hidden one out from a table's total.

    Rows with the same value in `group` form one table (the whole frame when the column is
    absent); its row with `total` True is the sum of the others. Returns a copy with counts as
    nullable integers, hidden figures blank, and columns `suppressed` and `suppression` added.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    out = frame.copy().reset_index(drop=True)
    size = len(out)
    counts = [c for c in COUNTS if c in out.columns]
    values = {c: pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float) for c in counts}
    level = {c: np.zeros(size, dtype=np.int8) for c in counts}

    # 1. Primary suppression.
    for c in counts:
        v = values[c]
        level[c][(v > 0) & (v < k)] = _PRIMARY
    if "achieved" in values and "observed" in values:
        missing = values["observed"] - values["achieved"]
        level["achieved"][(missing > 0) & (missing < k)] = _PRIMARY
    for c in counts:
        for lower in _CASCADE[c]:
            if lower in level:
                level[lower][level[c] == _PRIMARY] = _PRIMARY

    # 3. Complementary suppression, table by table.
    if group in out.columns:
        keys = out[group].astype(object).where(out[group].notna(), "\0none").to_numpy()
    else:
        keys = np.zeros(size, dtype=object)
    if total in out.columns:
        is_total = out[total].fillna(False).astype(bool).to_numpy()
    else:
        is_total = np.zeros(size, dtype=bool)
    for key in pd.unique(keys):
        members = np.flatnonzero(keys == key)
        totals = members[is_total[members]]
        if totals.size > 1:
            raise ValueError(f"table {key!r} has more than one total row")
        rows = members[~is_total[members]]
        head = int(totals[0]) if totals.size else None
        for c in counts:
            _complement(values[c], level[c], head, rows, k)

    # 2. Blank the counts and what is derived from them.
    any_hidden = np.zeros(size, dtype=bool)
    primary = np.zeros(size, dtype=bool)
    figures: dict[str, np.ndarray] = {}
    for c in counts:
        hidden = level[c] > 0
        any_hidden |= hidden
        primary |= level[c] == _PRIMARY
        _blank(out, c, hidden)
        for figure in DERIVED[c]:
            if figure in out.columns:
                figures[figure] = figures.get(figure, np.zeros(size, dtype=bool)) | hidden
    for figure, mask in figures.items():
        _blank(out, figure, mask)
    for column in out.columns:
        if str(column).endswith("_undefined"):
            out[column] = out[column].mask(any_hidden, "suppressed")

    out["suppressed"] = any_hidden
    out["suppression"] = np.where(primary, "small_cell",
                                  np.where(any_hidden, "complementary", ""))
    out.index = frame.index
    return out
