"""Liability forecast: the outcome payments a commissioner may still owe, quarter by quarter.

Pure: numpy and pandas only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

METHOD = (
    "Virker simulates the outcome payments still to come. For each contract, line and quarter "
    "it takes the participants whose window to achieve the outcome is still open and closes in "
    "that quarter, and the chance that one of them achieves it by then (from the contract's own "
    "record so far). In each of many simulated futures every such participant achieves the "
    "outcome or not, by chance, and each outcome is paid at the line's price. A line never pays "
    "more than its own remaining maximum and a contract never more than what is left under its "
    "cap, so payments stop once a cap is reached. 'Expected' is the average over the simulated "
    "futures; 'p90' is an amount that nine futures in ten do not exceed, a prudent figure to "
    "budget for. Both are shown per quarter and added up to date ('cumulative'). For a group of "
    "contracts the futures are added before the 90th percentile is taken, so contracts that "
    "are unlikely to peak together are not budgeted as if they did. The forecast assumes "
    "participants achieve independently of each other and at the rate seen so far; it does not "
    "include participants not yet enrolled."
)

COLUMNS = ("expected", "p90", "cumulative_expected", "cumulative_p90")


def _rng(contract: str, seed: int) -> np.random.Generator:
    """A random stream of the contract's own, so adding a contract changes no other's figures."""
    digest = hashlib.sha256(str(contract).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:16], "big")])


def _check(open_rows: pd.DataFrame) -> None:
    needed = {"contract", "line", "quarter", "open", "p", "price"}
    missing = needed - set(open_rows.columns)
    if missing:
        raise ValueError(f"open_rows lacks columns: {', '.join(sorted(missing))}")
    p = open_rows["p"].to_numpy(dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p must lie between 0 and 1")
    if np.any(open_rows["open"].to_numpy() < 0) or np.any(open_rows["price"].to_numpy() < 0):
        raise ValueError("open and price must not be negative")


def _limits(caps: pd.DataFrame | None, keys: list[str]) -> dict:
    """Remaining amount per key; missing or NaN means no cap."""
    if caps is None or caps.empty:
        return {}
    remaining = pd.to_numeric(caps["remaining"], errors="coerce")
    index = caps[keys].astype(str).apply(tuple, axis=1) if len(keys) > 1 \
        else caps[keys[0]].astype(str)
    return {key: float(value) for key, value in zip(index, remaining, strict=True)
            if np.isfinite(value)}


def _capped(amounts: np.ndarray, remaining: float | None) -> np.ndarray:
    """Cap the running total of (quarters, draws) amounts; return the capped per-quarter amounts."""
    if remaining is None:
        return amounts
    cumulative = np.minimum(np.cumsum(amounts, axis=0), max(0, int(remaining)))
    return np.diff(cumulative, axis=0, prepend=0)


def _paths(rows: pd.DataFrame, quarters: list[str], contract: str, draws: int, seed: int,
           cap: float | None, line_caps: dict) -> np.ndarray:
    """Simulated capped payments of one contract: int64 array (quarters, draws)."""
    rng = _rng(contract, seed)
    position = {q: i for i, q in enumerate(quarters)}
    total = np.zeros((len(quarters), draws), dtype=np.int64)
    rows = rows.sort_values(["line", "quarter"], kind="stable")
    for line, part in rows.groupby("line", sort=True):
        amounts = np.zeros((len(quarters), draws), dtype=np.int64)
        open_ = part["open"].to_numpy(dtype=np.int64)
        p = part["p"].to_numpy(dtype=float)
        price = part["price"].to_numpy(dtype=np.int64)
        counts = rng.binomial(open_[:, None], p[:, None], size=(len(part), draws))
        counts = counts.astype(np.int32)
        for i, quarter in enumerate(part["quarter"].astype(str)):
            amounts[position[quarter]] += counts[i].astype(np.int64) * price[i]
        total += _capped(amounts, line_caps.get((str(contract), str(line))))
    return _capped(total, cap)


def _whole(amounts: np.ndarray) -> np.ndarray:
    """Round half up to whole minor units."""
    return np.floor(np.asarray(amounts, dtype=float) + 0.5).astype(np.int64)


def _summary(paths: np.ndarray) -> dict[str, np.ndarray]:
    """Expected and 90th percentile per quarter and to date, in whole minor units."""
    cumulative = np.cumsum(paths, axis=0)
    cumulative_expected = _whole(cumulative.mean(axis=1))
    return {
        # Quarter figures are the steps of the running total, so they add up to it.
        "expected": np.diff(cumulative_expected, prepend=0),
        "p90": _whole(np.quantile(paths, 0.9, axis=1, method="inverted_cdf")),
        "cumulative_expected": cumulative_expected,
        "cumulative_p90": _whole(np.quantile(cumulative, 0.9, axis=1, method="inverted_cdf")),
    }


def _empty(key: str) -> pd.DataFrame:
    frame = pd.DataFrame({key: pd.Series(dtype=object), "quarter": pd.Series(dtype=object)})
    for column in COLUMNS:
        frame[column] = pd.Series(dtype=np.int64)
    return frame


def _simulate(open_rows: pd.DataFrame, caps: pd.DataFrame,
              line_caps: pd.DataFrame | None, draws: int, seed: int):
    """Yield (contract, its quarters, its capped paths) for every contract, in order."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    _check(open_rows)
    contract_caps = _limits(caps, ["contract"])
    line_limits = _limits(line_caps, ["contract", "line"])
    rows = open_rows.assign(contract=open_rows["contract"].astype(str),
                            line=open_rows["line"].astype(str),
                            quarter=open_rows["quarter"].astype(str))
    for contract, part in rows.groupby("contract", sort=True):
        quarters = sorted(part["quarter"].unique())
        paths = _paths(part, quarters, str(contract), draws, seed,
                       contract_caps.get(str(contract)), line_limits)
        yield str(contract), quarters, paths


def forecast(open_rows: pd.DataFrame, caps: pd.DataFrame,
             line_caps: pd.DataFrame | None = None, *, draws: int = 1000,
             seed: int = 0) -> pd.DataFrame:
    """Outcome payments each contract may still owe, per quarter until its claims deadline.

    open_rows: one row per contract, line and quarter with `open` (participants whose window
    closes that quarter and who have not achieved yet), `p` (the chance one of them achieves)
    and `price` (minor units). caps: `contract`, `remaining` (what the contract can still accrue
    under its cap; a contract not listed, or NaN, has no cap). line_caps: `contract`, `line`,
    `remaining` (NaN = no line cap).

    Returns one row per contract and quarter: `expected` (average), `p90` (nine futures in ten
    pay no more that quarter), `cumulative_expected` and `cumulative_p90` (the same for the
    total paid up to and including the quarter), all whole minor units and never above the cap.
    See METHOD.
    """
    frames = []
    for contract, quarters, paths in _simulate(open_rows, caps, line_caps, draws, seed):
        frame = pd.DataFrame({"contract": contract, "quarter": quarters, **_summary(paths)})
        frames.append(frame)
    if not frames:
        return _empty("contract")
    return pd.concat(frames, ignore_index=True)


def portfolio(open_rows: pd.DataFrame, caps: pd.DataFrame, weights: pd.DataFrame, *,
              line_caps: pd.DataFrame | None = None, draws: int = 1000,
              seed: int = 0) -> pd.DataFrame:
    """Outcome payments an owner (e.g. a commissioner) may still owe across its contracts.

    weights: `contract`, `owner`, `share` (the owner's share of each of the contract's
    payments, 0..1). Each simulated future of every contract is the same as in `forecast`;
    the owner's futures are the sums of its shares of them, and the 90th percentiles are taken
    of those sums, so the owner's p90 is at most the sum of its contracts' p90s. Returns one
    row per owner and quarter with the same four columns as `forecast`.
    """
    shares = weights.assign(contract=weights["contract"].astype(str),
                            owner=weights["owner"].astype(str))
    if not shares["share"].between(0, 1).all():
        raise ValueError("share must lie between 0 and 1")
    owners = sorted(shares["owner"].unique())
    relevant = open_rows[open_rows["contract"].astype(str).isin(set(shares["contract"]))]
    all_quarters = sorted(relevant["quarter"].astype(str).unique())
    position = {q: i for i, q in enumerate(all_quarters)}
    totals = {owner: np.zeros((len(all_quarters), draws)) for owner in owners}
    seen = {owner: set() for owner in owners}
    for contract, quarters, paths in _simulate(relevant, caps, line_caps, draws, seed):
        rows = [position[q] for q in quarters]
        for owner, share in shares.loc[shares["contract"] == contract,
                                       ["owner", "share"]].itertuples(index=False):
            totals[owner][rows] += paths * float(share)
            seen[owner].update(quarters)
    frames = []
    for owner in owners:
        if not seen[owner]:
            continue
        keep = [position[q] for q in all_quarters if q in seen[owner]]
        summary = _summary(totals[owner][keep])
        frames.append(pd.DataFrame({"owner": owner,
                                    "quarter": [all_quarters[i] for i in keep], **summary}))
    if not frames:
        return _empty("owner")
    return pd.concat(frames, ignore_index=True)
